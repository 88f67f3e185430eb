/**
 * The global rate limit of a distributed run (`--rate`: connection starts per second for the
 * whole scan, all workers together): a token bucket in Redis, one per run, refilled from the
 * Redis server's clock (TIME), so the workers' clocks do not matter.
 *
 * A worker takes tokens in small batches (about 50 ms of the global rate each) and spends them
 * locally, so Redis sees tens of calls per second, not one per connection. The bucket lends:
 * a taker always gets its batch and is told how long to wait first (the bucket goes into debt),
 * which serves takers in arrival order and holds the long-run rate exactly. The engine calls
 * `take()` before every connection start (scan-service.ts), so this subclass of the engine's
 * RateLimiter drops in where the single-machine limiter goes.
 */
import type { Redis } from 'ioredis';
import { RateLimiter, sleep } from '../engine/rate-limiter.js';
import { LuaScript } from './redis.js';

/**
 * KEYS[1] bucket; ARGV rate (tokens/s), burst (tokens), n (tokens wanted).
 * Returns the wait in ms before the n tokens may be spent.
 */
const TAKE = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + (now - ts) * rate / 1000) - n
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], 3600000)
if tokens >= 0 then return 0 end
return math.ceil(-tokens * 1000 / rate)`);

/** Tokens per Redis call: about 50 ms of the global rate, between 1 and 100. */
export function batchFor(perSecond: number): number {
  return Math.max(1, Math.min(100, Math.floor(perSecond / 20)));
}

export class SharedRateLimiter extends RateLimiter {
  private local = 0;
  private refilling: Promise<void> | null = null;
  private readonly batch: number;
  /** Redis calls made (for the bench's overhead figures). */
  calls = 0;

  constructor(
    private readonly client: Redis,
    private readonly key: string,
    perSecond: number,
  ) {
    super(perSecond);
    this.batch = batchFor(perSecond);
  }

  override async take(signal?: AbortSignal): Promise<void> {
    while (this.local <= 0) {
      if (signal?.aborted) return;
      this.refilling ??= this.refill(signal).finally(() => {
        this.refilling = null;
      });
      await this.refilling;
    }
    this.local--;
  }

  private async refill(signal?: AbortSignal): Promise<void> {
    this.calls++;
    // Burst: one batch per worker may start at once; more would let idle time pile up into a spike.
    const wait = Number(await TAKE.run(this.client, [this.key], [this.perSecond, this.batch, this.batch]));
    if (wait > 0) await sleep(wait, signal);
    this.local += this.batch;
  }
}
