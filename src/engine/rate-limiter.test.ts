import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Clock, RateLimiter } from './rate-limiter.js';

/** A virtual clock: sleeping advances time, so the test checks the schedule, not the machine's speed. */
function virtualClock(): Clock & { t: number; starts: number[] } {
  const c = {
    t: 0,
    starts: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms;
    },
  };
  return c;
}

test('connection starts are spaced 1/rate apart after the burst', async () => {
  const clock = virtualClock();
  const rl = new RateLimiter(100, 1, clock);
  for (let i = 0; i < 50; i++) {
    await rl.take();
    clock.starts.push(clock.t);
  }
  // 50 starts at 100/s: the last one no earlier than 490 ms after the first.
  assert.ok(clock.starts.at(-1)! - clock.starts[0]! >= 490 - 1e-9, `span ${clock.starts.at(-1)! - clock.starts[0]!}`);
  for (let i = 1; i < clock.starts.length; i++) assert.ok(clock.starts[i]! - clock.starts[i - 1]! >= 10 - 1e-9);
});

test('the burst lets a few starts through at once, then the rate holds', async () => {
  const clock = virtualClock();
  const rl = new RateLimiter(1000, 10, clock);
  for (let i = 0; i < 1010; i++) await rl.take();
  // 1010 starts at 1000/s with a burst of 10: about one second of virtual time.
  assert.ok(clock.t >= 990 && clock.t <= 1010, `virtual time ${clock.t}`);
});
