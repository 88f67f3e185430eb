/**
 * `medsurface worker --queue redis://HOST:PORT --db postgres://...`: one scanning machine of a
 * distributed run (src/distributed/). Runs until SIGINT/SIGTERM (or `medsurface stop --all`),
 * taking shard jobs as the coordinator (`medsurface scan ... --queue`) enqueues them; on a
 * signal it checkpoints the shards in hand and gives them back to the queue.
 */
import type { Command } from 'commander';
import { DEFAULT_LOCK_MS, DEFAULT_PREFIX, startWorker } from '../../distributed/index.js';
import { loadIpSetSpecs } from '../../scope/index.js';
import { intOption, listOption } from '../options.js';

export interface WorkerCliOptions {
  queue: string;
  db: string;
  concurrency?: number;
  jobs: number;
  queuePrefix: string;
  name?: string;
  lockDuration: number;
  exclude: string[];
  excludeFile: string[];
  optOutFile: string[];
  sendLogDir?: string;
  stopDir?: string;
  quiet?: boolean;
}

/** Starts a worker from the command line's options and waits until it has stopped. */
export async function runWorkerCommand(o: WorkerCliOptions): Promise<void> {
  const extra = o.exclude.length > 0 || o.excludeFile.length > 0 ? await loadIpSetSpecs(o.exclude, o.excludeFile) : undefined;
  const w = await startWorker({
    queueUrl: o.queue,
    dbUrl: o.db,
    prefix: o.queuePrefix,
    jobs: o.jobs,
    lockMs: o.lockDuration,
    ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
    ...(o.name ? { name: o.name } : {}),
    ...(extra ? { extraExclude: extra } : {}),
    ...(o.optOutFile.length > 0 ? { optOutFiles: o.optOutFile } : {}),
    ...(o.sendLogDir ? { sendLogDir: o.sendLogDir } : {}),
    ...(o.stopDir ? { stopDir: o.stopDir } : {}),
    ...(o.quiet ? { log: () => {} } : {}),
  });
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals === 1) {
      process.stderr.write(`medsurface worker ${w.id}: stopping; shards in hand are checkpointed and given back (signal again to quit now)\n`);
      void w.stop();
    } else process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await w.closed;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('scan shards of distributed runs from a Redis queue into a PostgreSQL inventory (see docs/distributed.md)')
    .requiredOption('--queue <url>', 'Redis holding the shard queue: redis://HOST:PORT[/DB] (rediss:// for TLS)')
    .requiredOption('--db <url>', "the run's PostgreSQL inventory: postgres://USER@HOST/DB")
    .option('-c, --concurrency <n>', "hosts this worker scans in parallel (default: the run's --concurrency)", intOption('--concurrency'))
    .option('--jobs <n>', 'shards this worker works on at once', intOption('--jobs'), 1)
    .option('--queue-prefix <name>', 'key prefix in Redis (the coordinator must use the same)', DEFAULT_PREFIX)
    .option('--name <id>', 'worker id in logs and shard state (default HOST-PID)')
    .option('--lock-duration <ms>', "how long a dead worker's shard stays locked before another worker takes it", intOption('--lock-duration'), DEFAULT_LOCK_MS)
    .option('--exclude <cidrs>', "never connect to these, on top of the run's exclusion list (repeatable)", (v, prev: string[]) => [...prev, ...listOption(v)], [])
    .option('--exclude-file <file>', "an opt-out list this worker honours on top of the run's (repeatable)", (v, prev: string[]) => [...prev, v], [])
    .option(
      '--opt-out-file <file>',
      "opt-out list of this machine (one address or CIDR a line), re-read with the inventory's opt-out list every minute (repeatable)",
      (v, prev: string[]) => [...prev, v],
      [],
    )
    .option('--send-log-dir <dir>', 'folder of the device-safety send logs (default beside the inventory data)')
    .option('--stop-dir <dir>', 'emergency-stop folder watched for `medsurface stop --all` (default $MEDSURFACE_STOP_DIR or XDG state dir)')
    .option('-q, --quiet', 'no log lines')
    .addHelpText(
      'after',
      `
The coordinator is \`medsurface scan TARGETS --queue URL --db URL\`; start any number of workers,
on any machines, with the same --queue and --db. Scope, exclusions and options come from the run;
the inventory's opt-out list (medsurface optout) is reloaded at every shard start and every minute.

Example:
  medsurface worker --queue redis://10.0.0.5:6379 --db postgres://medsurface@10.0.0.6/inventory -c 512`,
    )
    .action(async (o: WorkerCliOptions) => {
      await runWorkerCommand(o);
    });
}
