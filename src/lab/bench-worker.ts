/**
 * Worker-thread entry of the bench lab: runs the N DICOM endpoints on their own event loop,
 * so that on a 2-core machine the lab and the scanner under test each get a core. Counters
 * live in a SharedArrayBuffer the main thread reads directly (dicom-scp.ts sharedStats).
 *
 * Messages: worker → main `{ type: 'ready' }` or `{ type: 'error', message }`; main → worker
 * `{ type: 'stop' }`, answered by `{ type: 'stopped' }` once every listener is closed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DicomScpNode, STATS_KEYS, sharedStats } from './dicom-scp.js';
import { benchProfile } from './bench-profile.js';

export interface BenchWorkerData {
  endpoints: { ip: string; port: number }[];
  stats: SharedArrayBuffer;
  backlog: number;
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('bench-worker must run in a worker thread');
  const data = workerData as BenchWorkerData;
  const cells = new Float64Array(data.stats);
  if (cells.length < data.endpoints.length * STATS_KEYS.length) throw new Error('bench-worker: stats buffer too small');
  const profile = benchProfile();
  const nodes = data.endpoints.map(
    ({ ip, port: p }, i) => new DicomScpNode({ name: `bench-${ip}:${p}`, ip, port: p, profile, stats: sharedStats(cells, i) }),
  );
  const started: DicomScpNode[] = [];
  let next = 0;
  let failure: Error | null = null;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < nodes.length && failure === null) {
        const n = nodes[next++]!;
        try {
          await n.start(data.backlog);
          started.push(n);
        } catch (err) {
          failure ??= err as Error;
        }
      }
    }),
  );
  const stopAll = () => Promise.all(started.map((n) => n.stop()));
  if (failure !== null) {
    await stopAll();
    port.postMessage({ type: 'error', message: (failure as Error).message });
    port.close();
    return;
  }
  port.on('message', (m: { type?: string }) => {
    if (m?.type !== 'stop') return;
    void stopAll().then(() => {
      port.postMessage({ type: 'stopped' });
      port.close();
    });
  });
  port.postMessage({ type: 'ready' });
}

main().catch((err: unknown) => {
  parentPort?.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  parentPort?.close();
});
