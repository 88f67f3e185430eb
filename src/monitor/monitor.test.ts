import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ManualClock, systemClock } from './clock.js';
import { parseMonitorConfig } from './config.js';
import { jsonLinesLogger, memoryLogger } from './log.js';
import { Monitor, type MonitorOptions, RunAbortedError } from './monitor.js';
import { MemoryJobStateStore } from './state-store.js';
import { clearStop, requestStopAll } from './stop.js';
import type { JobConfig, RunContext, RunJob, RunResult, RunState } from './types.js';

const TARGET = '127.77.3.0/24';

function makeJob(over: Record<string, unknown> = {}): JobConfig {
  return parseMonitorConfig({
    jobs: [
      {
        name: 'dmz',
        targets: [TARGET],
        schedule: '0 * * * *',
        authorisation: { approvedBy: 'CISO Test', reference: 'CHG-1', until: '2099-01-01' },
        ...over,
      },
    ],
  }).jobs[0]!;
}

interface Call {
  job: JobConfig;
  signal: AbortSignal;
  context: RunContext;
  finish(state?: RunState): void;
}

/**
 * A stand-in for the scan engine. `mode`: `complete` returns at once; `hold` waits for finish();
 * `until-abort` waits for the signal and returns interrupted (what the engine does).
 */
function fakeEngine(mode: 'complete' | 'hold' | 'until-abort' | 'throw', clock?: ManualClock) {
  const calls: Call[] = [];
  let n = 0;
  const runJob: RunJob = async (job, signal, context) => {
    const runId = `run-${++n}`;
    await context.onStarted(runId);
    if (mode === 'throw') throw new Error('engine exploded');
    let finish: (state?: RunState) => void = () => {};
    const done = new Promise<RunState>((resolve) => {
      finish = (state = 'completed') => resolve(state);
    });
    calls.push({ job, signal, context, finish });
    if (mode === 'complete') return { runId, state: 'completed' };
    if (mode === 'until-abort') {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return { runId, state: 'interrupted' };
    }
    const state = await Promise.race([
      done,
      new Promise<RunState>((resolve) => signal.addEventListener('abort', () => resolve('interrupted'), { once: true })),
    ]);
    if (clock) clock.advance(1000);
    return { runId, state };
  };
  return { runJob, calls };
}

async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function monitor(over: Partial<MonitorOptions> & Pick<MonitorOptions, 'jobs' | 'store' | 'runJob'>) {
  const log = memoryLogger();
  const finished: RunResult[] = [];
  const m = new Monitor({
    logger: log,
    onRunFinished: async (_job, result) => {
      finished.push(result);
    },
    leaseMs: 60_000,
    renewEveryMs: 10,
    guardEveryMs: 5,
    ...over,
  });
  return { m, log, finished };
}

test('runOnce is idempotent: called twice, one run', async () => {
  const clock = new ManualClock('2026-05-04T10:20:00Z');
  const store = new MemoryJobStateStore();
  const engine = fakeEngine('complete');
  const { m, finished } = monitor({ jobs: [makeJob()], store, runJob: engine.runJob, clock });
  const first = await m.runOnce();
  assert.deepEqual(first.map((o) => [o.decision, o.runId, o.state]), [['ran', 'run-1', 'completed']]);
  assert.equal(first[0]!.scheduledAt?.toISOString(), '2026-05-04T10:00:00.000Z');
  clock.advance(60_000);
  const second = await m.runOnce();
  assert.deepEqual(second.map((o) => o.decision), ['not-due']);
  assert.equal(engine.calls.length, 1);
  assert.equal(finished.length, 1);
  const state = await store.get('dmz');
  assert.equal(state?.lastRunId, 'run-1');
  assert.equal(state?.state, 'completed');
  assert.equal(state?.lockOwner, null);
  assert.equal(state?.runningRunId, null);
  // The next fire makes it due again.
  clock.set('2026-05-04T11:00:00Z');
  assert.deepEqual((await m.runOnce()).map((o) => o.decision), ['ran']);
});

test('after downtime exactly one missed run is caught up, by runOnce and by start()', async () => {
  const store = new MemoryJobStateStore();
  // The last run finished at 01:30; the monitor was down through the 02:00, 03:00, 04:00 and 05:00 fires.
  await store.acquire('dmz', 'old-process', 60_000, new Date('2026-05-04T01:00:00Z'));
  await store.release('dmz', 'old-process', { runId: 'run-old', finishedAt: new Date('2026-05-04T01:30:00Z'), state: 'completed' });

  const clock = new ManualClock('2026-05-04T05:10:00Z');
  const engine = fakeEngine('complete');
  const once = monitor({ jobs: [makeJob()], store, runJob: engine.runJob, clock });
  const outcomes = await once.m.runOnce();
  assert.deepEqual(outcomes.map((o) => [o.decision, o.scheduledAt?.toISOString()]), [['ran', '2026-05-04T05:00:00.000Z']]);
  assert.deepEqual((await once.m.runOnce()).map((o) => o.decision), ['not-due']);
  assert.equal(engine.calls.length, 1);

  // Same again through start(): a restarted long-running monitor.
  const store2 = new MemoryJobStateStore();
  await store2.acquire('dmz', 'old-process', 60_000, new Date('2026-05-04T01:00:00Z'));
  await store2.release('dmz', 'old-process', { runId: 'run-old', finishedAt: new Date('2026-05-04T01:30:00Z'), state: 'completed' });
  const engine2 = fakeEngine('complete');
  // A yearly schedule (4 May 05:00), so croner's real-time timer cannot fire during the test.
  const daemon = monitor({ jobs: [makeJob({ schedule: '0 5 4 5 *' })], store: store2, runJob: engine2.runJob, clock });
  daemon.m.start();
  await daemon.m.idle();
  await daemon.m.stop();
  assert.equal(engine2.calls.length, 1);
  assert.equal(engine2.calls[0]!.context.scheduledAt.toISOString(), '2026-05-04T05:00:00.000Z');
  assert.equal(engine2.calls[0]!.context.previous?.lastRunId, 'run-old');
  const scheduled = daemon.log.entries.find((e) => e.event === 'scheduled');
  assert.equal(scheduled?.job, 'dmz');
  assert.match(scheduled?.nextRun ?? '', /^\d{4}-05-04T05:00:00.000Z$/);
});

test('no overlap: two monitors over one store, only one runs; the other skips, then finds the fire settled', async () => {
  const clock = new ManualClock('2026-05-04T10:00:00Z');
  const store = new MemoryJobStateStore();
  const engineA = fakeEngine('hold', clock);
  const engineB = fakeEngine('complete');
  const a = monitor({ jobs: [makeJob()], store, runJob: engineA.runJob, clock, owner: 'A' });
  const b = monitor({ jobs: [makeJob()], store, runJob: engineB.runJob, clock, owner: 'B' });
  const fire = new Date('2026-05-04T10:00:00Z');
  const running = a.m.fire('dmz', fire);
  await until(() => engineA.calls.length === 1, 'A to start');
  const bOutcome = await b.m.fire('dmz', fire);
  assert.equal(bOutcome.decision, 'skipped');
  assert.equal(bOutcome.reason, 'overlap');
  const skipLog = b.log.entries.find((e) => e.event === 'skipped');
  assert.deepEqual([skipLog?.job, skipLog?.reason, skipLog?.runId, skipLog?.scheduledAt], ['dmz', 'overlap', 'run-1', fire.toISOString()]);
  // The same monitor firing again while it runs: skipped too.
  const again = await a.m.fire('dmz', new Date('2026-05-04T10:00:30Z'));
  assert.equal(again.reason, 'overlap');
  engineA.calls[0]!.finish();
  assert.equal((await running).state, 'completed');
  // B's runOnce afterwards: the fire was settled by A.
  assert.deepEqual((await b.m.runOnce()).map((o) => o.decision), ['not-due']);
  assert.equal(engineB.calls.length, 0);
});

test('a crashed process: its lease blocks the job until it expires, then the job runs again', async () => {
  const store = new MemoryJobStateStore();
  const t0 = new Date('2026-05-04T10:00:05Z');
  // A process took the job, started run-dead, and died without releasing.
  assert.equal(await store.acquire('dmz', 'dead', 60_000, t0), true);
  await store.markStarted('dmz', 'dead', 'run-dead', t0);

  const clock = new ManualClock('2026-05-04T10:00:35Z');
  const engine = fakeEngine('complete');
  const { m, log } = monitor({ jobs: [makeJob()], store, runJob: engine.runJob, clock, owner: 'B' });
  const blocked = await m.runOnce();
  assert.deepEqual(blocked.map((o) => [o.decision, o.reason]), [['skipped', 'overlap']]);
  assert.equal(engine.calls.length, 0);

  clock.set('2026-05-04T10:01:06Z'); // lease ran out at 10:01:05
  const outcomes = await m.runOnce();
  assert.deepEqual(outcomes.map((o) => [o.decision, o.state]), [['ran', 'completed']]);
  // The dead run did not settle the 10:00 fire: that is the one caught up.
  assert.equal(outcomes[0]!.scheduledAt?.toISOString(), '2026-05-04T10:00:00.000Z');
  assert.equal(engine.calls[0]!.context.previous?.runningRunId, 'run-dead');
  const stale = log.entries.find((e) => e.event === 'stale-lease');
  assert.equal(stale?.runId, 'run-dead');
  const state = await store.get('dmz');
  assert.deepEqual([state?.lastRunId, state?.runningRunId, state?.lockOwner], ['run-1', null, null]);
});

test('a window closing while a scan runs aborts it; the run is recorded as interrupted', async () => {
  const clock = new ManualClock('2026-05-04T05:50:00Z'); // Monday 05:50, Sunday night's window
  const store = new MemoryJobStateStore();
  const engine = fakeEngine('until-abort');
  const job = makeJob({ schedule: '50 5 * * *', windows: ['daily 19:00-06:00'] });
  const { m, finished } = monitor({ jobs: [job], store, runJob: engine.runJob, clock });
  const outcome = m.fire('dmz', new Date('2026-05-04T05:50:00Z'));
  await until(() => engine.calls.length === 1, 'the run to start');
  const { signal } = engine.calls[0]!;
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(signal.aborted, false, 'still inside the window');
  clock.set('2026-05-04T06:00:00Z');
  const result = await outcome;
  assert.equal(signal.aborted, true);
  assert.ok(signal.reason instanceof RunAbortedError);
  assert.equal(signal.reason.reason, 'outside-window');
  assert.deepEqual([result.decision, result.state, result.runId], ['ran', 'interrupted', 'run-1']);
  assert.equal(finished[0]?.state, 'interrupted');
  assert.equal(finished[0]?.interruptedBy, 'outside-window');
  assert.equal((await store.get('dmz'))?.state, 'interrupted');
});

test('a blackout starting mid-run aborts it too', async () => {
  const clock = new ManualClock('2026-05-04T07:00:00Z');
  const engine = fakeEngine('until-abort');
  const job = makeJob({ schedule: '0 7 * * *', blackouts: ['daily 07:30-08:30'] });
  const { m, finished } = monitor({ jobs: [job], store: new MemoryJobStateStore(), runJob: engine.runJob, clock });
  const outcome = m.fire('dmz', new Date('2026-05-04T07:00:00Z'));
  await until(() => engine.calls.length === 1, 'the run to start');
  clock.set('2026-05-04T07:30:00Z');
  assert.equal((await outcome).state, 'interrupted');
  assert.equal(finished[0]?.interruptedBy, 'blackout');
});

test('a fire outside the windows is skipped, recorded, and not deferred', async () => {
  const clock = new ManualClock('2026-05-04T12:00:00Z');
  const store = new MemoryJobStateStore();
  const engine = fakeEngine('complete');
  const job = makeJob({ schedule: '0 12 * * *', windows: ['Mon-Fri 19:00-06:00'] });
  const { m, log } = monitor({ jobs: [job], store, runJob: engine.runJob, clock });
  const [o] = await m.runOnce();
  assert.deepEqual([o?.decision, o?.reason], ['skipped', 'outside-window']);
  assert.equal((await store.get('dmz'))?.state, 'skipped-outside-window');
  const entry = log.entries.find((e) => e.event === 'skipped');
  assert.equal(entry?.level, 'warn');
  assert.match(entry?.detail ?? '', /Mon-Fri 19:00-06:00/);
  // When the window opens the skipped fire is not run late.
  clock.set('2026-05-04T20:00:00Z');
  assert.deepEqual((await m.runOnce()).map((o) => o.decision), ['not-due']);
  assert.equal(engine.calls.length, 0);
});

test('blackout and authorisation skips; an expired or missing authorisation never runs', async () => {
  const clock = new ManualClock('2026-12-24T02:00:00Z');
  const engine = fakeEngine('complete');
  const jobs = [
    makeJob({ name: 'xmas', schedule: '0 2 * * *', blackouts: ['2026-12-24 00:00/2026-12-27 00:00'] }),
    makeJob({ name: 'expired', schedule: '0 2 * * *', authorisation: { approvedBy: 'CISO', reference: 'CHG-9', until: '2026-12-23' } }),
    makeJob({ name: 'unapproved', schedule: '0 2 * * *', authorisation: undefined }),
  ];
  const store = new MemoryJobStateStore();
  const { m, log } = monitor({ jobs, store, runJob: engine.runJob, clock });
  const outcomes = await m.runOnce();
  assert.deepEqual(
    outcomes.map((o) => [o.job, o.decision, o.reason]),
    [
      ['xmas', 'skipped', 'blackout'],
      ['expired', 'skipped', 'authorisation-expired'],
      ['unapproved', 'skipped', 'authorisation-missing'],
    ],
  );
  // Each following day: still never run.
  for (let day = 25; day <= 28; day++) {
    clock.set(`2026-12-${day}T02:00:00Z`);
    for (const o of await m.runOnce()) if (o.job !== 'xmas') assert.equal(o.reason ?? o.decision, o.job === 'expired' ? 'authorisation-expired' : 'authorisation-missing');
  }
  assert.equal(engine.calls.filter((c) => c.job.name !== 'xmas').length, 0);
  // The blackout ended at the start of the 27th: xmas ran on the 27th and the 28th, not before.
  assert.deepEqual(engine.calls.map((c) => c.context.scheduledAt.toISOString()), ['2026-12-27T02:00:00.000Z', '2026-12-28T02:00:00.000Z']);
  assert.match(log.entries.find((e) => e.job === 'expired' && e.event === 'skipped')?.detail ?? '', /CHG-9 expired/);
});

test('jitter delays the start; the rules are checked at the delayed start', async () => {
  const clock = new ManualClock('2026-05-04T02:00:00Z');
  const engine = fakeEngine('complete');
  const job = makeJob({ schedule: '0 2 * * *', jitter: '10m', windows: ['daily 19:00-02:08'] });
  const { m, finished } = monitor({ jobs: [job], store: new MemoryJobStateStore(), runJob: engine.runJob, clock, random: () => 0.5 });
  const o = await m.fire('dmz', new Date('2026-05-04T02:00:00Z'));
  assert.equal(o.decision, 'ran');
  assert.equal(finished[0]?.startedAt.toISOString(), '2026-05-04T02:05:00.000Z');
  // A draw of 0.9 lands at 02:09, after the window closed: skipped.
  clock.set('2026-05-05T02:00:00Z');
  const late = new Monitor({ jobs: [job], store: new MemoryJobStateStore(), runJob: engine.runJob, clock, random: () => 0.9 });
  const skipped = await late.fire('dmz', new Date('2026-05-05T02:00:00Z'));
  assert.deepEqual([skipped.decision, skipped.reason], ['skipped', 'outside-window']);
  assert.equal(clock.now().toISOString(), '2026-05-05T02:09:00.000Z');
});

test('stop() aborts running scans and waits for them', async () => {
  const clock = new ManualClock('2026-05-04T10:00:00Z');
  const engine = fakeEngine('until-abort');
  const store = new MemoryJobStateStore();
  const { m, finished } = monitor({ jobs: [makeJob(), makeJob({ name: 'second' })], store, runJob: engine.runJob, clock });
  const outcomes = m.runOnce();
  await until(() => engine.calls.length === 2, 'both runs to start');
  await m.stop();
  assert.deepEqual((await outcomes).map((o) => o.state), ['interrupted', 'interrupted']);
  assert.deepEqual(finished.map((f) => f.interruptedBy), ['monitor-stopping', 'monitor-stopping']);
  assert.equal((await store.get('second'))?.lockOwner, null);
  assert.equal((await m.fire('dmz', new Date('2026-05-04T11:00:00Z'))).reason, 'stopping');
});

test('an engine that throws: the run is failed, recorded, and the lease released', async () => {
  const clock = new ManualClock('2026-05-04T10:00:00Z');
  const store = new MemoryJobStateStore();
  const { m, log, finished } = monitor({ jobs: [makeJob()], store, runJob: fakeEngine('throw').runJob, clock });
  const [o] = await m.runOnce();
  assert.deepEqual([o?.decision, o?.state, o?.runId], ['ran', 'failed', 'run-1']);
  assert.equal(finished[0]?.state, 'failed');
  const state = await store.get('dmz');
  assert.deepEqual([state?.state, state?.lockOwner, state?.lastRunId], ['failed', null, 'run-1']);
  assert.match(log.entries.find((e) => e.event === 'run-failed')?.detail ?? '', /engine exploded/);
});

test('the lease is renewed while a run lasts; a lost lease aborts the run', async () => {
  const clock = new ManualClock('2026-05-04T10:00:00Z');
  const store = new MemoryJobStateStore();
  const engine = fakeEngine('until-abort');
  const { m, finished, log } = monitor({ jobs: [makeJob()], store, runJob: engine.runJob, clock, owner: 'A', renewEveryMs: 20 });
  const outcome = m.fire('dmz', new Date('2026-05-04T10:00:00Z'));
  await until(() => engine.calls.length === 1, 'the run to start');
  clock.set('2026-05-04T10:00:50Z');
  await until(() => (store as unknown as { rows: Map<string, { lockUntil: Date }> }).rows.get('dmz')?.lockUntil.toISOString() === '2026-05-04T10:01:50.000Z', 'a renewal');
  // The process stalls past its lease and another monitor takes the job.
  clock.set('2026-05-04T10:03:00Z');
  assert.equal(await store.acquire('dmz', 'thief', 60_000, clock.now()), true);
  const result = await outcome;
  assert.equal(result.state, 'interrupted');
  assert.equal(finished[0]?.interruptedBy, 'lease-lost');
  assert.ok(log.entries.some((e) => e.event === 'lease-lost'));
  // The thief's lease is untouched by A's release attempt.
  assert.equal((await store.get('dmz'))?.lockOwner, 'thief');
});

test('stop --all reaches the monitor\'s runs; a hold keeps new runs from starting until cleared', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-monitor-stop-'));
  try {
    const clock = new ManualClock('2026-05-04T10:00:00Z');
    const engine = fakeEngine('until-abort');
    const store = new MemoryJobStateStore();
    const { m, finished } = monitor({ jobs: [makeJob()], store, runJob: engine.runJob, clock, stopDir: dir, stopPollMs: 20 });
    const outcome = m.fire('dmz', new Date('2026-05-04T10:00:00Z'));
    await until(() => engine.calls.length === 1, 'the run to start');
    const { runs } = requestStopAll(dir, { hold: true });
    assert.deepEqual(runs.map((r) => [r.runId, r.label, r.pid]), [['run-1', 'dmz', process.pid]]);
    assert.equal((await outcome).state, 'interrupted');
    assert.equal(finished[0]?.interruptedBy, 'emergency-stop');
    const held = await m.fire('dmz', new Date('2026-05-04T11:00:00Z'));
    assert.deepEqual([held.decision, held.reason], ['skipped', 'emergency-hold']);
    clearStop(dir);
    const engine2 = fakeEngine('complete');
    const m2 = new Monitor({ jobs: [makeJob()], store, runJob: engine2.runJob, clock, stopDir: dir });
    assert.equal((await m2.fire('dmz', new Date('2026-05-04T12:00:00Z'))).decision, 'ran');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('logs carry job names, times, run ids and reasons, never targets', async () => {
  const clock = new ManualClock('2026-05-04T10:00:00Z');
  const engine = fakeEngine('complete');
  const { m, log } = monitor({ jobs: [makeJob({ windows: ['daily 09:00-11:00'] })], store: new MemoryJobStateStore(), runJob: engine.runJob, clock });
  await m.runOnce();
  clock.set('2026-05-04T12:00:00Z');
  await m.runOnce();
  const events = log.entries.map((e) => e.event);
  assert.deepEqual(events, ['run-started', 'run-id', 'run-finished', 'skipped']);
  const text = JSON.stringify(log.entries);
  assert.equal(text.includes('127.77.3'), false);
  for (const e of log.entries) {
    assert.equal(e.job, 'dmz');
    assert.ok(!Number.isNaN(Date.parse(e.at)));
  }
});

test('start() wires croner: a six-field schedule fires within a second and stops with stop()', async () => {
  const store = new MemoryJobStateStore();
  const engine = fakeEngine('complete');
  const job = makeJob({ schedule: '* * * * * *' });
  // Mark the current second's fire as settled so only the cron callback can start a run.
  await store.acquire('dmz', 'x', 1000, new Date());
  await store.release('dmz', 'x', { runId: null, finishedAt: new Date(Date.now() + 500), state: 'completed' });
  const { m } = monitor({ jobs: [job], store, runJob: engine.runJob, clock: systemClock });
  m.start();
  assert.throws(() => m.start(), /already started/);
  await until(() => engine.calls.length >= 1, 'a cron fire', 4000);
  await m.stop();
  const fired = engine.calls[0]!.context.scheduledAt;
  assert.equal(fired.getUTCMilliseconds(), 0, 'the fire time, not the callback time');
  const count = engine.calls.length;
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal(engine.calls.length, count, 'no fires after stop()');
});

test('jsonLinesLogger writes one JSON object per line at or above its level', () => {
  const lines: string[] = [];
  const log = jsonLinesLogger({ write: (l: string) => lines.push(l) }, 'info');
  log({ level: 'debug', event: 'not-due', at: '2026-05-04T10:00:00.000Z', job: 'dmz' });
  log({ level: 'warn', event: 'skipped', at: '2026-05-04T10:00:00.000Z', job: 'dmz', reason: 'blackout' });
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.endsWith('\n'));
  assert.deepEqual(JSON.parse(lines[0]!), { level: 'warn', event: 'skipped', at: '2026-05-04T10:00:00.000Z', job: 'dmz', reason: 'blackout' });
});
