/**
 * Progress on stderr: a bar on a terminal (targets done/total, open ports, findings, rate,
 * ETA), plain periodic lines otherwise, nothing with --quiet. Never on stdout.
 */
import cliProgress from 'cli-progress';
import type { RunStats } from '../engine/run-scan.js';

export interface Progress {
  update(s: RunStats): void;
  stop(): void;
}

function rate(s: RunStats): number {
  return s.elapsedMs > 0 ? (s.probes * 1000) / s.elapsedMs : 0;
}

export function makeProgress(mode: 'auto' | 'quiet', stream: NodeJS.WriteStream = process.stderr): Progress {
  if (mode === 'quiet') return { update() {}, stop() {} };
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: 'scanning |{bar}| {value}/{total} hosts | open {open} | findings {findings} | {rate} probes/s | ETA {eta_formatted}',
        hideCursor: true,
        stream,
        etaBuffer: 200,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(s) {
        if (!started) {
          bar.start(s.targets, 0, { open: 0, findings: 0, rate: '0' });
          started = true;
        }
        bar.update(s.hostsDone, { open: s.open, findings: s.findings, rate: rate(s).toFixed(0) });
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = 0;
  let lastLine = '';
  const line = (s: RunStats) =>
    `progress: ${s.hostsDone}/${s.targets} hosts, ${s.probes} probes, ${s.open} open, ${s.findings} findings, ${rate(s).toFixed(0)} probes/s, ${(s.elapsedMs / 1000).toFixed(1)} s\n`;
  let latest: RunStats | null = null;
  return {
    update(s) {
      latest = s;
      if (Date.now() - last >= 5000) {
        last = Date.now();
        lastLine = line(s);
        stream.write(lastLine);
      }
    },
    stop() {
      if (latest && line(latest) !== lastLine) stream.write(line(latest));
    },
  };
}
