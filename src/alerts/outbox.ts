/**
 * The alert outbox: every (sink, event) delivery is a file in a spool directory until the sink has
 * taken it, so an alert survives failed deliveries, crashes and restarts (docs/alerts.md
 * "Delivery"). The monitor calls `enqueue` after each run and `flush` periodically.
 *
 * - enqueue: each event goes to each sink whose filter it passes, unless that sink has already
 *   had (or is still to get) the same `key` (dedup.ts); a queued delivery is written atomically
 *   to pending/ before enqueue returns.
 * - flush: tries every due delivery. Success removes the file. Failure counts an attempt and sets
 *   the next one after an exponential backoff with jitter; after `maxAttempts` attempts, or once
 *   the delivery is `maxAgeMs` old, it moves to dead/, where it stays (list(), requeueDead()).
 *   Sinks are tried in parallel, each sink's deliveries in queue order; when a sink is unavailable
 *   (DeliveryError scope 'sink'), its other deliveries wait for the next flush without an attempt
 *   being counted, so an unreachable sink costs one timeout per flush, not one per alert.
 * - Delivery is at least once: a crash after the sink took an event and before its file is
 *   removed sends it again on the next flush; the id a webhook receives (X-Medsurface-Delivery)
 *   stays the same, so receivers can de-duplicate.
 *
 * One outbox per spool directory at a time (a lock file, spool.ts). The clock and the jitter's
 * random source are injectable for tests.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import { z } from 'zod';
import type { ExposureEvent } from '../core/events.js';
import { messageOf } from '../core/errors.js';
import { type HostResolver, createHostResolver } from '../scope/resolver.js';
import { type SinkConfig, type SinkGuard, SinkConfigError, assertSinksInScope } from './config.js';
import { DEFAULT_DEDUP_HORIZON_MS, DEFAULT_DEDUP_MAX_KEYS, SeenStore } from './dedup.js';
import { deliver } from './deliver.js';
import { ExposureEventSchema } from './event-schema.js';
import { type HoneypotPredicate, eventMatches } from './filter.js';
import { summarize } from './message.js';
import {
  OutboxError,
  acquireLock,
  ensureLayout,
  exists,
  listFolder,
  moveFile,
  readBounded,
  releaseLock,
  removeFile,
  writeAtomic,
} from './spool.js';
import { type DeliveryContext, DeliveryError, errorText } from './transport.js';

/** The events handed to enqueue() are not valid ExposureEvents (a bug in the caller). */
export class AlertInputError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AlertInputError';
  }
}

export interface RetryPolicy {
  /** Delay before the 2nd attempt; doubles with each failure (before jitter). */
  baseDelayMs: number;
  /** Longest delay between two attempts. */
  maxDelayMs: number;
  /** Attempts after which a delivery moves to dead/. */
  maxAttempts: number;
  /** Age (since queued) after which a delivery moves to dead/ without a further attempt. */
  maxAgeMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  baseDelayMs: 30_000,
  maxDelayMs: 3_600_000,
  maxAttempts: 48,
  maxAgeMs: 7 * 24 * 3_600_000,
};

export interface OutboxOptions {
  /** Scope check of every destination (see SinkGuard). Required: nothing connects without it. */
  guard: SinkGuard;
  /** Host-name resolver for sinks configured by name (default: the system resolver). */
  resolve?: HostResolver;
  /** Clock, ms since the epoch (default Date.now). */
  now?: () => number;
  /** Random source in [0, 1) for the backoff jitter (default Math.random). */
  random?: () => number;
  retry?: Partial<RetryPolicy>;
  /** A key not offered for this long is forgotten (default 180 days). */
  dedupHorizonMs?: number;
  /** Keys remembered per sink at most (default 100,000). */
  dedupMaxKeys?: number;
  /** Flags honeypot hosts; without it, `includeHoneypots` filters are not applied. */
  isHoneypot?: HoneypotPredicate;
  /** This machine's name for syslog HOSTNAME and the SMTP greeting (default os.hostname()). */
  hostname?: string;
  /** Non-fatal problems (an unreadable spool file set aside). Default: process.emitWarning. */
  onWarning?: (message: string) => void;
}

export interface EnqueueOptions {
  /** Only these sinks (by name); default all. */
  sinks?: readonly string[];
}

export interface EnqueueResult {
  /** (sink, event) deliveries written to the spool. */
  queued: number;
  /** (sink, event) pairs skipped because the sink already had, or is to get, the same key. */
  deduped: number;
  /** (sink, event) pairs the sink's filter left out. */
  filtered: number;
}

export interface FlushCounts {
  /** Deliveries that succeeded in this flush. */
  delivered: number;
  /** Attempts that failed in this flush. */
  failed: number;
  /** Deliveries in pending/ after the flush. */
  pending: number;
  /** Deliveries in dead/ after the flush. */
  dead: number;
  /** Of those, moved to dead/ by this flush. */
  movedToDead: number;
}

export interface OutboxItem {
  state: 'pending' | 'dead' | 'corrupt';
  /** Delivery id (the same on every attempt; sent to webhooks as X-Medsurface-Delivery). */
  id: string;
  /** Path inside the spool directory. */
  file: string;
  sink: string | null;
  /** False when no configured sink has this name any more: the delivery waits (and ages) until one does. */
  sinkConfigured: boolean;
  event: ExposureEvent | null;
  summary: string | null;
  createdAt: string | null;
  attempts: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  lastError: string | null;
  deadAt: string | null;
  deadReason: string | null;
}

const SpoolEntrySchema = z.object({
  v: z.literal(1),
  id: z.string().regex(/^[0-9a-f]{32}$/),
  sink: z.string().min(1).max(64),
  event: ExposureEventSchema,
  createdAt: z.number(),
  /** Position in its enqueue() batch: queue order among deliveries queued at the same time. */
  seq: z.number().int().min(0),
  attempts: z.number().int().min(0),
  nextAttemptAt: z.number(),
  lastAttemptAt: z.number().nullable(),
  lastError: z.string().max(1000).nullable(),
  deadAt: z.number().nullable(),
  deadReason: z.string().max(1000).nullable(),
});
type SpoolEntry = z.infer<typeof SpoolEntrySchema>;

const MAX_ENTRY_BYTES = 256 * 1024;
/** Slack on top of a sink's own timeout before an attempt is abandoned (a library that never calls back). */
const ATTEMPT_GRACE_MS = 5_000;
const JSONL_ATTEMPT_MS = 30_000;

/** The delivery id of (sink, key): stable, so a re-enqueue finds the file and a receiver sees one id. */
export function deliveryId(sink: string, key: string): string {
  return createHash('sha256').update(`${sink}\0${key}`, 'utf8').digest('hex').slice(0, 32);
}

/** Delay before the next attempt after `attempts` failures: min(max, base × 2^(attempts−1)), then "equal jitter" in [½, 1) of it. */
export function backoffDelay(attempts: number, policy: RetryPolicy, random: () => number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(Math.max(attempts - 1, 0), 40));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(exp / 2 + (exp / 2) * r);
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeliveryError(`${what}: no outcome within ${ms} ms`, 'sink')), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export class AlertOutbox {
  private readonly sinks: Map<string, SinkConfig>;
  private readonly retry: RetryPolicy;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly ctx: DeliveryContext;
  private readonly warn: (message: string) => void;
  private readonly seen = new Map<string, SeenStore>();
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly dir: string,
    sinks: readonly SinkConfig[],
    private readonly lockFile: string,
    private readonly opts: OutboxOptions,
  ) {
    this.sinks = new Map(sinks.map((s) => [s.name, s]));
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.warn = opts.onWarning ?? ((m) => process.emitWarning(m, 'MedsurfaceAlertWarning'));
    this.ctx = { guard: opts.guard, resolve: opts.resolve ?? createHostResolver(), now: this.now, hostname: opts.hostname ?? os.hostname() };
  }

  /**
   * Opens (creating it if needed) the spool directory `dir` for `sinks` (from parseSinksConfig),
   * takes its lock and loads the de-duplication stores. Whatever an earlier process left pending is
   * delivered by the next flush(). Throws SinkConfigError (a destination outside the guard),
   * OutboxLockedError (the spool is in use) or OutboxError.
   */
  static async open(dir: string, sinks: readonly SinkConfig[], opts: OutboxOptions): Promise<AlertOutbox> {
    const names = new Set<string>();
    for (const s of sinks) {
      if (names.has(s.name.toLowerCase())) throw new SinkConfigError(`sink "${s.name}": name: used twice`);
      names.add(s.name.toLowerCase());
    }
    assertSinksInScope(sinks, opts.guard);
    await ensureLayout(dir);
    const lockFile = await acquireLock(dir);
    const box = new AlertOutbox(dir, sinks, lockFile, opts);
    try {
      const storeOpts = {
        horizonMs: opts.dedupHorizonMs ?? DEFAULT_DEDUP_HORIZON_MS,
        maxKeys: opts.dedupMaxKeys ?? DEFAULT_DEDUP_MAX_KEYS,
        onWarning: box.warn,
      };
      for (const s of sinks) box.seen.set(s.name, await SeenStore.load(dir, s.name, storeOpts, box.now()));
    } catch (err) {
      await releaseLock(dir, lockFile);
      throw err instanceof OutboxError ? err : new OutboxError(`spool ${dir}: ${messageOf(err)}`, { cause: err });
    }
    return box;
  }

  /** Runs `fn` after every earlier operation: enqueue, flush and list never interleave. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new OutboxError('the outbox is closed'));
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Queues each event for each sink that wants it and has not had its key. See EnqueueResult.
   * `opts.sinks` limits the batch to the named sinks (a monitor job's `alerts:` list); an unknown
   * name is an AlertInputError, raised before anything is written.
   */
  enqueue(events: readonly ExposureEvent[], opts: EnqueueOptions = {}): Promise<EnqueueResult> {
    return this.serial(async () => {
      let targets = [...this.sinks.values()];
      if (opts.sinks) {
        const unknown = opts.sinks.filter((n) => !this.sinks.has(n));
        if (unknown.length) throw new AlertInputError(`unknown sink(s): ${unknown.map((n) => `"${n.slice(0, 64)}"`).join(', ')} (configured: ${[...this.sinks.keys()].join(', ') || 'none'})`);
        const want = new Set(opts.sinks);
        targets = targets.filter((s) => want.has(s.name));
      }
      const valid = events.map((e, i) => {
        const r = ExposureEventSchema.safeParse(e);
        if (!r.success) {
          const iss = r.error.issues[0];
          throw new AlertInputError(`event #${i + 1}: ${iss ? `${iss.path.join('.') || '(event)'}: ${iss.message}` : 'invalid'}`, { cause: r.error });
        }
        return r.data;
      });
      const result: EnqueueResult = { queued: 0, deduped: 0, filtered: 0 };
      const now = this.now();
      for (const store of this.seen.values()) store.prune(now);
      let seq = 0;
      try {
        for (const event of valid) {
          for (const sink of targets) {
            if (!eventMatches(sink.filter, event, this.opts.isHoneypot)) {
              result.filtered++;
              continue;
            }
            const seen = this.seen.get(sink.name)!;
            const id = deliveryId(sink.name, event.key);
            const name = `${id}.json`;
            if (seen.has(event.key) || (await exists(this.dir, 'pending', name)) || (await exists(this.dir, 'dead', name))) {
              seen.touch(event.key, now);
              result.deduped++;
              continue;
            }
            const entry: SpoolEntry = {
              v: 1,
              id,
              sink: sink.name,
              event,
              createdAt: now,
              seq: seq++,
              attempts: 0,
              nextAttemptAt: now,
              lastAttemptAt: null,
              lastError: null,
              deadAt: null,
              deadReason: null,
            };
            await writeAtomic(this.dir, 'pending', name, JSON.stringify(entry));
            seen.touch(event.key, now);
            result.queued++;
          }
        }
      } finally {
        for (const s of this.seen.values()) await s.save(now);
      }
      return result;
    });
  }

  /** Reads one spool file; an unreadable one is moved to corrupt/ (kept, listed) and null returned. */
  private async readEntry(folder: 'pending' | 'dead', name: string): Promise<SpoolEntry | null> {
    let entry: SpoolEntry | null = null;
    try {
      const text = await readBounded(this.dir, folder, name, MAX_ENTRY_BYTES);
      const r = text === null ? null : SpoolEntrySchema.safeParse(JSON.parse(text));
      if (r?.success && `${r.data.id}.json` === name) entry = r.data;
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return null;
    }
    if (entry) return entry;
    const aside = `${folder}-${name}`;
    await moveFile(this.dir, folder, 'corrupt', name, aside);
    this.warn(`spool file ${folder}/${name} could not be read back: moved to corrupt/${aside}`);
    return null;
  }

  private async readFolder(folder: 'pending' | 'dead'): Promise<SpoolEntry[]> {
    const out: SpoolEntry[] = [];
    for (const name of await listFolder(this.dir, folder)) {
      if (!name.endsWith('.json')) continue;
      const e = await this.readEntry(folder, name);
      if (e) out.push(e);
    }
    return out;
  }

  private async toDead(entry: SpoolEntry, reason: string): Promise<void> {
    entry.deadAt = this.now();
    entry.deadReason = reason;
    const name = `${entry.id}.json`;
    // Rewrite in place, then one rename: a crash in between leaves a pending file marked dead, which the next flush moves.
    await writeAtomic(this.dir, 'pending', name, JSON.stringify(entry));
    await moveFile(this.dir, 'pending', 'dead', name);
  }

  private attemptBudgetMs(sink: SinkConfig): number {
    return sink.type === 'jsonl' ? JSONL_ATTEMPT_MS : sink.timeoutMs * 3 + ATTEMPT_GRACE_MS;
  }

  /** One sink's due deliveries, in queue order. */
  private async flushSink(sinkName: string, entries: SpoolEntry[], counts: FlushCounts): Promise<void> {
    const sink = this.sinks.get(sinkName);
    let sinkDown = false;
    for (const entry of entries) {
      const now = this.now();
      if (entry.deadAt !== null) {
        await moveFile(this.dir, 'pending', 'dead', `${entry.id}.json`);
        counts.movedToDead++;
        continue;
      }
      if (now - entry.createdAt >= this.retry.maxAgeMs) {
        const why = sink ? (entry.lastError ?? 'no attempt succeeded') : `sink "${sinkName}" is not configured`;
        await this.toDead(entry, `max age of ${Math.round(this.retry.maxAgeMs / 60_000)} min reached after ${entry.attempts} attempt(s): ${why}`);
        counts.movedToDead++;
        continue;
      }
      if (!sink || sinkDown || entry.nextAttemptAt > now) continue;
      try {
        await withDeadline(deliver(sink, entry.id, entry.event, this.ctx), this.attemptBudgetMs(sink), `sink "${sink.name}"`);
      } catch (err) {
        const at = this.now();
        entry.attempts++;
        entry.lastAttemptAt = at;
        entry.lastError = errorText(err, 500);
        counts.failed++;
        if (!(err instanceof DeliveryError) || err.scope === 'sink') sinkDown = true;
        if (entry.attempts >= this.retry.maxAttempts) {
          await this.toDead(entry, `max attempts (${this.retry.maxAttempts}) reached: ${entry.lastError}`);
          counts.movedToDead++;
        } else {
          const delay = backoffDelay(entry.attempts, this.retry, this.random);
          const asked = err instanceof DeliveryError && err.retryAfterMs !== undefined ? Math.min(err.retryAfterMs, this.retry.maxDelayMs) : 0;
          entry.nextAttemptAt = at + Math.max(delay, asked);
          await writeAtomic(this.dir, 'pending', `${entry.id}.json`, JSON.stringify(entry));
        }
        continue;
      }
      await removeFile(this.dir, 'pending', `${entry.id}.json`);
      // The key is remembered at enqueue; this covers a crash between the spool write and the store's.
      this.seen.get(sink.name)?.touch(entry.event.key, this.now());
      counts.delivered++;
    }
  }

  /** Tries every delivery that is due now. See FlushCounts. */
  flush(): Promise<FlushCounts> {
    return this.serial(async () => {
      const counts: FlushCounts = { delivered: 0, failed: 0, pending: 0, dead: 0, movedToDead: 0 };
      const bySink = new Map<string, SpoolEntry[]>();
      for (const e of await this.readFolder('pending')) {
        const list = bySink.get(e.sink) ?? [];
        list.push(e);
        bySink.set(e.sink, list);
      }
      for (const list of bySink.values()) list.sort((a, b) => a.createdAt - b.createdAt || a.seq - b.seq || a.id.localeCompare(b.id));
      await Promise.all([...bySink].map(([name, list]) => this.flushSink(name, list, counts)));
      for (const s of this.seen.values()) await s.save(this.now());
      counts.pending = (await listFolder(this.dir, 'pending')).filter((n) => n.endsWith('.json')).length;
      counts.dead = (await listFolder(this.dir, 'dead')).filter((n) => n.endsWith('.json')).length;
      return counts;
    });
  }

  private item(state: 'pending' | 'dead', e: SpoolEntry): OutboxItem {
    return {
      state,
      id: e.id,
      file: `${state}/${e.id}.json`,
      sink: e.sink,
      sinkConfigured: this.sinks.has(e.sink),
      event: e.event,
      summary: summarize(e.event),
      createdAt: iso(e.createdAt),
      attempts: e.attempts,
      nextAttemptAt: state === 'pending' ? iso(e.nextAttemptAt) : null,
      lastAttemptAt: iso(e.lastAttemptAt),
      lastError: e.lastError,
      deadAt: iso(e.deadAt),
      deadReason: e.deadReason,
    };
  }

  /** Every delivery not yet made: pending, dead, and spool files that could not be read (corrupt). */
  list(): Promise<OutboxItem[]> {
    return this.serial(async () => {
      const out: OutboxItem[] = [];
      for (const e of await this.readFolder('pending')) out.push(this.item('pending', e));
      for (const e of await this.readFolder('dead')) out.push(this.item('dead', e));
      for (const name of await listFolder(this.dir, 'corrupt')) {
        out.push({
          state: 'corrupt',
          id: name,
          file: `corrupt/${name}`,
          sink: null,
          sinkConfigured: false,
          event: null,
          summary: null,
          createdAt: null,
          attempts: 0,
          nextAttemptAt: null,
          lastAttemptAt: null,
          lastError: null,
          deadAt: null,
          deadReason: 'unreadable spool file',
        });
      }
      return out;
    });
  }

  /**
   * Moves dead deliveries (all, or those with the given ids) back to pending, as if just queued:
   * attempts and age start again. For after the receiver is fixed. Returns how many moved.
   */
  requeueDead(ids?: readonly string[]): Promise<number> {
    return this.serial(async () => {
      const want = ids ? new Set(ids) : null;
      let n = 0;
      for (const e of await this.readFolder('dead')) {
        if (want && !want.has(e.id)) continue;
        const now = this.now();
        const fresh: SpoolEntry = { ...e, createdAt: now, attempts: 0, nextAttemptAt: now, deadAt: null, deadReason: null };
        await writeAtomic(this.dir, 'pending', `${e.id}.json`, JSON.stringify(fresh));
        await removeFile(this.dir, 'dead', `${e.id}.json`);
        n++;
      }
      return n;
    });
  }

  /** Waits for running operations, then releases the spool. Pending deliveries stay for the next open(). */
  async close(): Promise<void> {
    if (this.closed) return;
    const last = this.chain;
    this.closed = true;
    await last;
    await releaseLock(this.dir, this.lockFile);
  }
}
