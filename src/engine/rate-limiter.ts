/**
 * A global connection-rate limiter: connection starts are spaced 1/rate seconds apart
 * (a token bucket of depth `burst`). Sleeping is skipped below 1 ms so high rates stay cheap.
 */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const realClock: Clock = { now: () => performance.now(), sleep: (ms, signal) => sleep(ms, signal) };

export class RateLimiter {
  private next = 0;
  private readonly interval: number;

  constructor(
    readonly perSecond: number,
    private readonly burst = Math.max(1, Math.ceil(perSecond / 100)),
    private readonly clock: Clock = realClock,
  ) {
    this.interval = 1000 / perSecond;
  }

  async take(signal?: AbortSignal): Promise<void> {
    const now = this.clock.now();
    const earliest = now - this.burst * this.interval;
    if (this.next < earliest) this.next = earliest;
    const at = this.next;
    this.next += this.interval;
    const wait = at - now;
    if (wait >= 1) await this.clock.sleep(wait, signal);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
