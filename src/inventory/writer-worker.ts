/**
 * The inventory writer thread: receives batches of service records and writes them, so the
 * scan's event loop never blocks on SQLite (better-sqlite3 is synchronous).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ServiceRecord } from '../core/types.js';
import { openInventory } from './db.js';

const { location } = workerData as { location: string };
const inv = await openInventory(location);

parentPort!.on('message', async (msg: { id: number; runId: string; recs: ServiceRecord[] } | { id: number; close: true }) => {
  try {
    if ('close' in msg) {
      await inv.close();
      parentPort!.postMessage({ id: msg.id, ok: true });
      parentPort!.close();
      return;
    }
    await inv.recordServices(msg.runId, msg.recs);
    parentPort!.postMessage({ id: msg.id, ok: true });
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) });
  }
});
parentPort!.postMessage({ ready: true });
