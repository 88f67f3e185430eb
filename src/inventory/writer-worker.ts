/**
 * The inventory writer thread: receives batches of service records and writes them, so the
 * scan's event loop never blocks on SQLite (better-sqlite3 is synchronous).
 *
 * Group commit: batches that queue up while a transaction runs are written together, up to
 * GROUP_MAX records per transaction, and each is acknowledged once that transaction commits.
 * A fast producer (a large scan, an import) so gets large transactions, and the cost of a
 * commit (the WAL pages of every index touched) is paid once for many batches; a slow one
 * still gets each batch committed as soon as it arrives. Writing batches of one run together
 * gives the same rows as writing them one after the other (recordServices plans a batch in
 * order, a later record of a service replacing an earlier one). An error fails every batch
 * of the transaction.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ServiceRecord } from '../core/types.js';
import { sql } from 'kysely';
import { openKyselyInventory } from './db.js';

/**
 * Records per transaction at most when batches are grouped. A commit writes every page the
 * transaction dirtied to the WAL, and the indexes keyed by address, time or risk are dirtied all
 * over at every commit: at 1.2 M services, the same rows written in transactions of 100,000
 * instead of 20,000 cost 51 s instead of 91 s of SQLite's own time (docs/inventory-scale.md). A group of
 * 100,000 records is about 100 MB in memory and takes seconds to write; a slow producer still
 * gets each batch committed as soon as it arrives.
 */
export const GROUP_MAX = 100_000;

/**
 * Page cache of the writer's connection, KiB: a large transaction's dirty pages stay in memory
 * until its commit instead of being spilled to the WAL and written again. SQLite takes it only
 * as it needs it.
 */
const WRITER_CACHE_KIB = 1024 * 1024;

type Message = { id: number; runId: string; recs: ServiceRecord[] } | { id: number; close: true };

const { location } = workerData as { location: string };
const inv = await openKyselyInventory(location);
if (inv.kind === 'sqlite') await sql.raw(`PRAGMA cache_size = -${WRITER_CACHE_KIB}`).execute(inv.db);
const queue: Message[] = [];
let busy = false;

/** Acknowledges the batches of one transaction; `group` is how many batches it held. */
function reply(ids: number[], error?: unknown): void {
  for (const id of ids) {
    parentPort!.postMessage(
      error === undefined
        ? { id, ok: true, group: ids.length }
        : { id, ok: false, group: ids.length, error: error instanceof Error ? error.message : String(error) },
    );
  }
}

async function drain(): Promise<void> {
  busy = true;
  try {
    while (queue.length > 0) {
      // Let the messages already sent be delivered first: the store's awaits settle as
      // microtasks, so without a turn of the event loop no message arrives during a write.
      await new Promise((resolve) => setImmediate(resolve));
      const first = queue.shift()!;
      if ('close' in first) {
        try {
          await inv.close();
          reply([first.id]);
        } catch (err) {
          reply([first.id], err);
        }
        parentPort!.close();
        return;
      }
      const ids = [first.id];
      const parts = [first.recs];
      let size = first.recs.length;
      while (queue.length > 0) {
        const next = queue[0]!;
        if ('close' in next || next.runId !== first.runId || size + next.recs.length > GROUP_MAX) break;
        queue.shift();
        ids.push(next.id);
        parts.push(next.recs);
        size += next.recs.length;
      }
      const recs = parts.length === 1 ? first.recs : parts.flat();
      try {
        await inv.recordServices(first.runId, recs);
        reply(ids);
      } catch (err) {
        reply(ids, err);
      }
    }
  } finally {
    busy = false;
  }
}

parentPort!.on('message', (msg: Message) => {
  queue.push(msg);
  if (!busy) void drain();
});
parentPort!.postMessage({ ready: true });
