/**
 * The de-duplication store of one sink: the event keys already queued for it (an event's `key`
 * names the exposure and its state, so the same key means nothing new to say), each with the last
 * time it was offered. Kept in `<spool>/seen/<sink>.json`, rewritten atomically after each batch.
 *
 * Bounded two ways: a key not offered for `horizonMs` (default 180 days) is forgotten, and at
 * most `maxKeys` (default 100,000) are kept, the least recently offered dropped first. A forgotten
 * key that comes back is alerted again: a repeat alert, never a lost one. A store that cannot be
 * read back is moved to corrupt/ and started afresh, for the same reason.
 */
import { z } from 'zod';
import { writeAtomic, moveFile, readBounded, exists } from './spool.js';

export const DEFAULT_DEDUP_HORIZON_MS = 180 * 24 * 3600 * 1000;
export const DEFAULT_DEDUP_MAX_KEYS = 100_000;
/** A store file larger than this is not read (100,000 keys of ~200 bytes fit well within it). */
const MAX_STORE_BYTES = 64 * 1024 * 1024;

const StoreFile = z.object({
  v: z.literal(1),
  sink: z.string(),
  keys: z.array(z.tuple([z.string().max(1024), z.number()])),
});

export interface SeenStoreOptions {
  horizonMs: number;
  maxKeys: number;
  onWarning: (message: string) => void;
}

export class SeenStore {
  private readonly keys: Map<string, number>;
  private dirty = false;

  private constructor(
    private readonly dir: string,
    private readonly sink: string,
    private readonly opts: SeenStoreOptions,
    keys: Map<string, number>,
  ) {
    this.keys = keys;
  }

  static fileName(sink: string): string {
    return `${sink}.json`;
  }

  static async load(dir: string, sink: string, opts: SeenStoreOptions, now: number): Promise<SeenStore> {
    const name = SeenStore.fileName(sink);
    const keys = new Map<string, number>();
    if (await exists(dir, 'seen', name)) {
      let parsed: z.infer<typeof StoreFile> | null = null;
      try {
        const text = await readBounded(dir, 'seen', name, MAX_STORE_BYTES);
        const r = text === null ? null : StoreFile.safeParse(JSON.parse(text));
        if (r?.success && r.data.sink === sink) parsed = r.data;
      } catch {
        parsed = null;
      }
      if (parsed) {
        // Oldest first, so that Map order is offer order.
        for (const [k, t] of parsed.keys.sort((a, b) => a[1] - b[1])) keys.set(k, t);
      } else {
        const aside = `seen-${name}.${now}`;
        await moveFile(dir, 'seen', 'corrupt', name, aside);
        opts.onWarning(`de-duplication store of sink "${sink}" was unreadable: moved to corrupt/${aside}; its events may be alerted again`);
      }
    }
    const store = new SeenStore(dir, sink, opts, keys);
    store.prune(now);
    return store;
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  /** Records that `key` was offered at `now` (queued, or skipped as a duplicate). */
  touch(key: string, now: number): void {
    this.keys.delete(key);
    this.keys.set(key, now);
    this.dirty = true;
  }

  get size(): number {
    return this.keys.size;
  }

  /** Forgets keys older than the horizon, then the least recently offered beyond maxKeys. */
  prune(now: number): void {
    const cutoff = now - this.opts.horizonMs;
    for (const [k, t] of this.keys) {
      if (t < cutoff) {
        this.keys.delete(k);
        this.dirty = true;
      }
    }
    if (this.keys.size > this.opts.maxKeys) {
      let extra = this.keys.size - this.opts.maxKeys;
      for (const k of this.keys.keys()) {
        if (extra-- <= 0) break;
        this.keys.delete(k);
      }
      this.dirty = true;
    }
  }

  /** Writes the store if it changed. */
  async save(now: number): Promise<void> {
    this.prune(now);
    if (!this.dirty) return;
    const body = JSON.stringify({ v: 1, sink: this.sink, keys: [...this.keys] });
    await writeAtomic(this.dir, 'seen', SeenStore.fileName(this.sink), body);
    this.dirty = false;
  }
}
