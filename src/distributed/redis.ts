/**
 * The Redis side of distributed mode: the `--queue redis://HOST:PORT[/DB]` URL, the clients
 * (ioredis, handed to BullMQ as a constructed instance: in native ESM BullMQ cannot load
 * ioredis from connection options), the key names and a small Lua-script runner.
 *
 * Redis carries only work in flight (jobs, locks, the rate bucket); everything that must
 * survive a Redis restart (run, shard state, checkpoints, results) lives in PostgreSQL.
 */
import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { DistributedError } from './types.js';

/** BullMQ queue of shard jobs (one queue for every run; job ids name the run). */
export const QUEUE_NAME = 'scan-shards';
/** Default key prefix: every key of distributed mode starts with it (`--queue-prefix`). */
export const DEFAULT_PREFIX = 'medsurface';

export interface QueueTarget {
  /** The URL as given, for connecting. */
  url: string;
  /** The URL without its password, for messages. */
  display: string;
}

/** Checks a `--queue` URL: redis:// or rediss:// (TLS), a host, an optional port and database number. */
export function parseQueueUrl(url: string): QueueTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DistributedError(`--queue: ${JSON.stringify(url.slice(0, 200))} is not a URL (expected redis://HOST:PORT, e.g. redis://127.0.0.1:6379)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new DistributedError(`--queue: only redis:// and rediss:// URLs are supported (got ${u.protocol}//)`);
  }
  if (u.hostname === '') throw new DistributedError('--queue: the URL names no host (expected redis://HOST:PORT)');
  if (u.pathname !== '' && u.pathname !== '/' && !/^\/\d{1,2}$/.test(u.pathname)) {
    throw new DistributedError(`--queue: the path must be a database number (redis://HOST:PORT/0), got ${JSON.stringify(u.pathname)}`);
  }
  const display = new URL(url);
  if (display.password !== '') display.password = '***';
  return { url, display: display.toString() };
}

/** Checks a key prefix: it becomes part of every key name. */
export function checkPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(prefix)) {
    throw new DistributedError(`--queue-prefix must be 1-64 letters, digits, '.', '_' or '-' (got ${JSON.stringify(prefix.slice(0, 80))})`);
  }
  return prefix;
}

/**
 * A client. `blocking`: commands wait for a reconnect instead of failing (what BullMQ workers
 * need, and what the rate limiter and locks want: no connection start while Redis is away).
 * Otherwise commands fail after a few retries, so the coordinator's loop can report and go on.
 */
export function redisClient(target: QueueTarget, opts: { blocking: boolean; name: string }): Redis {
  const options: RedisOptions = {
    maxRetriesPerRequest: opts.blocking ? null : 2,
    connectionName: opts.name,
    // Reconnect for ever, at most every 2 s: Redis coming back is a normal event here.
    retryStrategy: (times) => Math.min(200 * times, 2000),
    connectTimeout: 5000,
    enableReadyCheck: true,
  };
  const client = new Redis(target.url, options);
  // Connection errors are reported by the commands that fail; an unhandled 'error' would crash the process.
  client.on('error', () => {});
  return client;
}

export const keys = {
  /** Present while a run's jobs are in Redis: its absence tells the coordinator Redis lost its data. */
  sentinel: (prefix: string, runId: string) => `${prefix}:dist:run:${runId}`,
  /** The run's global token bucket (connections per second for the whole scan). */
  rate: (prefix: string, runId: string) => `${prefix}:dist:rate:${runId}`,
  /** The politeness lock of one destination network, across runs. */
  net: (prefix: string, net: string) => `${prefix}:dist:net:${net}`,
};

/** BullMQ job id of a shard: one per (run, shard), so enqueueing twice adds nothing. */
export function shardJobId(runId: string, shard: number): string {
  return `${runId}.s${shard}`;
}

/**
 * A Lua script run by SHA (EVALSHA), loaded again after NOSCRIPT (a restarted Redis has no
 * scripts). Scripts see only the keys they are given: they are safe on a shared Redis.
 */
export class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Redis, keyList: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keyList.length, ...keyList, ...args);
    } catch (err) {
      if (!String((err as Error)?.message ?? '').startsWith('NOSCRIPT')) throw err;
      return client.eval(this.source, keyList.length, ...keyList, ...args);
    }
  }
}
