/**
 * Writes service records to the inventory from a worker thread. Batches are written in order;
 * batches that queue up while the thread writes are committed together (writer-worker.ts).
 */
import type { Worker } from 'node:worker_threads';
import type { ServiceRecord } from '../core/types.js';
import { moduleWorker } from '../core/worker.js';
import { InventoryError } from './kysely-store.js';

export class InventoryWriterThread {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private readonly ready: Promise<void>;
  private error: Error | null = null;
  /** Batches acknowledged, and the transactions that committed them (fewer when grouped). */
  readonly stats = { batches: 0, transactions: 0 };

  constructor(location: string) {
    this.worker = moduleWorker(import.meta.url, 'writer-worker', { location });
    this.ready = new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(new InventoryError(`inventory writer thread failed: ${err.message}`));
      this.worker.once('error', onError);
      this.worker.on('message', (m: { ready?: boolean; id?: number; ok?: boolean; group?: number; error?: string }) => {
        if (m.ready) {
          this.worker.off('error', onError);
          this.worker.on('error', (err) => this.failAll(err));
          resolve();
          return;
        }
        const p = this.pending.get(m.id!);
        if (!p) return;
        this.pending.delete(m.id!);
        this.stats.batches++;
        this.stats.transactions += 1 / (m.group ?? 1);
        if (m.ok) p.resolve();
        else p.reject(new InventoryError(`inventory write failed: ${m.error}`));
      });
    });
  }

  private failAll(err: Error) {
    this.error ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private send(msg: Record<string, unknown>): Promise<void> {
    const id = this.nextId++;
    return this.ready.then(
      () =>
        new Promise<void>((resolve, reject) => {
          if (this.error) return reject(this.error);
          this.pending.set(id, { resolve, reject });
          this.worker.postMessage({ id, ...msg });
        }),
    );
  }

  /** Queues one batch; the returned promise settles when it is committed. */
  write(runId: string, recs: ServiceRecord[]): Promise<void> {
    return this.send({ runId, recs });
  }

  async close(): Promise<void> {
    await this.send({ close: true }).catch(() => {});
    await this.worker.terminate();
  }
}
