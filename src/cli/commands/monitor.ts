/**
 * `medsurface monitor --config monitor.yaml [--once]` and `medsurface stop --all`.
 *
 * The monitor (src/monitor/) decides when each job may run; this file gives it the real parts:
 * the scan (executeScan, the same function as `medsurface scan`), the job state in the
 * inventory's monitor_jobs table, and after each run the diff against the job's previous run
 * (src/inventory/diff.ts) handed to the alert outbox (src/alerts/), which keeps undelivered
 * alerts in a spool beside the inventory and retries them. Logs are JSON lines on stderr.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { AlertOutbox, parseSinksConfig } from '../../alerts/index.js';
import { UsageError } from '../../core/errors.js';
import { defaultInventoryPath, openKyselyInventory } from '../../inventory/index.js';
import { diffRuns } from '../../inventory/diff.js';
import { InventoryJobStateStore } from '../../inventory/job-state-store.js';
import {
  Monitor,
  clearStop,
  configProblems,
  defaultStopDir,
  formatIssue,
  jsonLinesLogger,
  loadMonitorConfig,
  requestStopAll,
  waitForRuns,
} from '../../monitor/index.js';
import type { JobConfig, RunJob } from '../../monitor/index.js';
import { executeScan, scanOptions } from './scan.js';

export interface MonitorCliOptions {
  config: string;
  once?: boolean;
  db?: string;
  /** Alert spool folder (default `<inventory dir>/alerts`). */
  spool?: string;
  stopDir?: string;
}

const devNull = () =>
  new Writable({
    write(_c, _e, cb) {
      cb();
    },
  }) as unknown as NodeJS.WriteStream;

export interface MonitorSession {
  monitor: Monitor;
  outbox: AlertOutbox | null;
  close(): Promise<void>;
}

/** Builds the monitor from a config file (the CLI and the tests share this). */
export async function openMonitor(o: MonitorCliOptions, stderr: NodeJS.WritableStream = process.stderr): Promise<MonitorSession> {
  const config = loadMonitorConfig(o.config);
  const problems = configProblems(config, new Date());
  for (const p of problems) stderr.write(`medsurface monitor: ${p.severity}: ${formatIssue(p)}\n`);
  const location = o.db ?? config.inventory ?? undefined;
  const inv = await openKyselyInventory(location);
  const dataDir = inv.kind === 'sqlite' && inv.location !== ':memory:' ? path.dirname(inv.location) : path.dirname(defaultInventoryPath());
  const stopDir = o.stopDir ?? defaultStopDir();
  // Sinks are the operator's own destinations (a SOC webhook, a syslog collector): no scan scope applies to them.
  const guard = () => {};
  const sinks = config.sinks === undefined || config.sinks === null ? [] : parseSinksConfig(config.sinks, { guard, baseDir: path.dirname(o.config) });
  let outbox: AlertOutbox | null = null;
  if (sinks.length > 0) {
    const spool = o.spool ?? path.join(dataDir, 'alerts');
    mkdirSync(spool, { recursive: true });
    outbox = await AlertOutbox.open(spool, sinks, { guard, onWarning: (m) => stderr.write(`medsurface monitor: alerts: ${m}\n`) });
  }
  const runJob: RunJob = async (job, signal, ctx) => {
    const s = await executeScan(
      job.targets,
      scanOptions({
        profile: job.profile,
        exclude: job.exclude,
        ...(job.ports ? { ports: job.ports.join(',') } : {}),
        db: inv.location === ':memory:' ? undefined : (o.db ?? config.inventory ?? undefined),
        quiet: true,
        json: true,
      }),
      { stdout: devNull(), stderr: devNull(), signal, writer: { count: 0, write() {}, close: async () => {} }, onRunCreated: (id) => ctx.onStarted(id), stopDir },
    );
    if (!s.runId) throw new Error(`job ${job.name}: the scan recorded no run`);
    return { runId: s.runId, state: s.state === 'running' ? 'interrupted' : s.state };
  };
  const previous = new Map<string, string | null>();
  const onRunFinished = async (job: JobConfig, result: { runId: string | null; state: string }) => {
    if (!result.runId) return;
    const before = previous.get(job.name) ?? (await lastCompletedRunOf(inv, job, result.runId));
    const diff = await diffRuns(inv.db, before, result.runId);
    if (result.state === 'completed') previous.set(job.name, result.runId);
    stderr.write(`${JSON.stringify({ level: 'info', msg: 'diff', job: job.name, from: before, to: result.runId, events: diff.events.length })}\n`);
    if (outbox && job.alerts.length > 0 && diff.events.length > 0) {
      const q = await outbox.enqueue(diff.events, { sinks: job.alerts });
      const f = await outbox.flush();
      stderr.write(`${JSON.stringify({ level: 'info', msg: 'alerts', job: job.name, ...q, ...f })}\n`);
    }
  };
  const monitor = new Monitor({
    jobs: config.jobs,
    store: new InventoryJobStateStore(inv.db),
    runJob,
    onRunFinished,
    logger: jsonLinesLogger(stderr),
    stopDir,
  });
  return {
    monitor,
    outbox,
    close: async () => {
      await outbox?.close();
      await inv.close();
    },
  };
}

/** The job's last completed run before `runId` (the baseline of its diff), from the job state or the run list. */
async function lastCompletedRunOf(inv: Awaited<ReturnType<typeof openKyselyInventory>>, job: JobConfig, runId: string): Promise<string | null> {
  const targets = JSON.stringify(job.targets);
  const rows = await inv.db
    .selectFrom('scan_runs')
    .select(['id', 'targets_spec'])
    .where('state', '=', 'completed')
    .where('id', '!=', runId)
    .orderBy('started_at', 'desc')
    .limit(200)
    .execute();
  return rows.find((r) => r.targets_spec === targets)?.id ?? null;
}

export function registerMonitor(program: Command): void {
  program
    .command('monitor')
    .description('run scan jobs on their schedules under rules of engagement, diff each run, send alerts (docs/monitor.md)')
    .requiredOption('--config <file>', 'monitor.yaml: jobs (targets, schedule, windows, blackouts, authorisation) and alert sinks')
    .option('--once', 'run the jobs that are due now, then exit (for cron or a systemd timer)')
    .option('--db <path|url>', 'inventory (wins over the config file)')
    .option('--spool <dir>', 'alert spool folder (default beside the inventory)')
    .action(async (o: MonitorCliOptions) => {
      const session = await openMonitor(o);
      if (o.once) {
        try {
          await session.monitor.runOnce();
          await session.outbox?.flush();
        } finally {
          await session.close();
        }
        return;
      }
      session.monitor.start();
      const flushTimer = setInterval(() => void session.outbox?.flush().catch(() => {}), 60_000);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      clearInterval(flushTimer);
      await session.monitor.stop();
      await session.close();
    });
}

export function registerStop(program: Command): void {
  program
    .command('stop')
    .description('emergency stop: end every running scan (monitor jobs and scans in other processes) at once')
    .option('--all', 'stop every running scan (required)')
    .option('--hold', 'also keep monitors from starting new runs until `stop --clear`')
    .option('--clear', 'remove the stop request (and a hold)')
    .option('--wait <seconds>', 'how long to wait for the scans to end', '30')
    .action(async (o: { all?: boolean; hold?: boolean; clear?: boolean; wait: string }) => {
      const dir = defaultStopDir();
      if (o.clear) {
        clearStop(dir);
        process.stdout.write('stop request cleared: monitors may start runs again\n');
        return;
      }
      if (!o.all) throw new UsageError('say `medsurface stop --all` (every running scan is stopped; there is no partial stop)');
      const { runs } = requestStopAll(dir, { hold: Boolean(o.hold) });
      process.stdout.write(`stop requested${o.hold ? ' (hold: no new runs until `medsurface stop --clear`)' : ''}; ${runs.length} running scan(s) signalled\n`);
      for (const r of runs) process.stdout.write(`  ${r.runId} (pid ${r.pid}${r.label ? `, ${r.label}` : ''}, started ${r.startedAt})\n`);
      const waitS = Number(o.wait);
      if (runs.length > 0 && Number.isFinite(waitS) && waitS > 0) {
        const res = await waitForRuns(
          dir,
          runs.map((r) => r.runId),
          waitS * 1000,
        );
        process.stdout.write(`stopped: ${res.stopped.length}; still running: ${res.running.length}\n`);
        if (res.running.length > 0) process.exitCode = 1;
      }
    });
}
