/**
 * Retrying database work through a short PostgreSQL outage (a restart, a failover, a dropped
 * connection): results are retried, not dropped. Only failures that say "the connection or the
 * server went away" are retried, with capped exponential backoff until a deadline; anything
 * else (a constraint, a bug) fails at once. When the deadline passes, the caller's job fails
 * and BullMQ retries the shard later from its last checkpoint, which never covers unwritten
 * records.
 */
import { sleep } from '../engine/rate-limiter.js';

/** Network errno codes of a lost or refused connection. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * SQLSTATEs worth retrying: class 08 (connection exception), 57P01-57P03 (admin shutdown,
 * crash shutdown, cannot connect now), 53300 (too many connections), 40001 and 40P01
 * (serialization failure, deadlock: the transaction can simply run again).
 */
export function isTransient(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown } | null;
  if (e === null || typeof e !== 'object') return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (NETWORK_CODES.has(code)) return true;
  if (/^08/.test(code) || ['57P01', '57P02', '57P03', '53300', '40001', '40P01'].includes(code)) return true;
  const msg = typeof e.message === 'string' ? e.message : '';
  // node-postgres reports a socket closed mid-query with these messages and no code.
  if (/Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(msg)) return true;
  return e.cause !== undefined && e.cause !== err && isTransient(e.cause);
}

export interface RetryOptions {
  /** Give up after this long (ms). */
  deadlineMs: number;
  signal?: AbortSignal;
  /** Told about each retry (for the worker's log). */
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
}

export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const wait = Math.min(5000, 250 * 2 ** Math.min(attempt - 1, 5));
      if (!isTransient(err) || Date.now() - started + wait > opts.deadlineMs || opts.signal?.aborted) throw err;
      opts.onRetry?.(err, attempt, wait);
      await sleep(wait, opts.signal);
    }
  }
}
