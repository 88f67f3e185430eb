/**
 * The coordinator's aggregate progress on stderr: targets done of the whole run (positions
 * finished across every shard, excluded ones included, so the bar reaches its end) and the
 * shards by state, stalled ones apart. A bar on a terminal (cli-progress, as the
 * single-machine scan's src/output/progress.ts), a plain line every few seconds otherwise (a
 * journal, a log file), nothing with --quiet. Never on stdout.
 */
import cliProgress from 'cli-progress';
import type { RunStats } from '../engine/run-scan.js';
import type { ShardRow } from './types.js';

/** Seconds between two plain progress lines when stderr is not a terminal. */
const LINE_EVERY_MS = 5000;

export interface ShardCounts {
  shards: number;
  pending: number;
  running: number;
  done: number;
  failed: number;
  cancelled: number;
  /** Running shards whose worker sent no heartbeat for `stallMs`. */
  stalled: number;
}

export function shardCounts(rows: readonly ShardRow[], stallMs: number): ShardCounts {
  const c: ShardCounts = { shards: rows.length, pending: 0, running: 0, done: 0, failed: 0, cancelled: 0, stalled: 0 };
  for (const r of rows) {
    c[r.state]++;
    if (r.state === 'running' && r.heartbeatAgeMs !== null && r.heartbeatAgeMs > stallMs) c.stalled++;
  }
  return c;
}

/** "3/16 done, 4 running, 1 failed, 1 stalled" (zero counts of failed, stalled and cancelled left out). */
export function shardText(c: ShardCounts): string {
  const extra = [
    c.failed > 0 ? `${c.failed} failed` : '',
    c.stalled > 0 ? `${c.stalled} stalled` : '',
    c.cancelled > 0 ? `${c.cancelled} cancelled` : '',
  ].filter(Boolean);
  return [`${c.done}/${c.shards} done`, `${c.running} running`, ...extra].join(', ');
}

export interface DistributedProgress {
  update(s: RunStats, shards: ShardCounts): void;
  stop(): void;
}

export function makeDistributedProgress(mode: 'auto' | 'quiet', stream: NodeJS.WriteStream = process.stderr): DistributedProgress {
  if (mode === 'quiet') return { update() {}, stop() {} };
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: 'scanning |{bar}| {value}/{total} targets | shards {shards} | open {open} | findings {findings} | ETA {eta_formatted}',
        hideCursor: true,
        stream,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(s, c) {
        const payload = { shards: shardText(c), open: s.open, findings: s.findings };
        if (!started) {
          bar.start(s.targets, 0, payload);
          started = true;
        }
        bar.update(s.hostsDone, payload);
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = 0;
  let lastLine = '';
  let latest: string | null = null;
  const line = (s: RunStats, c: ShardCounts) =>
    `progress: ${s.hostsDone}/${s.targets} targets, shards ${shardText(c)}, ${s.open} open, ${s.findings} findings, ${(s.elapsedMs / 1000).toFixed(1)} s\n`;
  return {
    update(s, c) {
      latest = line(s, c);
      if (Date.now() - last >= LINE_EVERY_MS) {
        last = Date.now();
        lastLine = latest;
        stream.write(latest);
      }
    },
    stop() {
      if (latest !== null && latest !== lastLine) stream.write(latest);
    },
  };
}
