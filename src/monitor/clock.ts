/**
 * Time sources for the monitor: the system clock for the CLI, and a manual clock for tests, so
 * no test waits for a real cron minute. The manual clock's sleep advances its own time and
 * returns at once, which is what a jittered start looks like to the code under test.
 */
import type { Clock } from './types.js';

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted || ms <= 0) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    }),
};

/** A clock that moves only when told to (tests). */
export class ManualClock implements Clock {
  private ms: number;
  constructor(start: Date | string) {
    this.ms = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.ms);
  }
  set(to: Date | string): void {
    this.ms = new Date(to).getTime();
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  async sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (!signal.aborted && ms > 0) this.ms += ms;
  }
}
