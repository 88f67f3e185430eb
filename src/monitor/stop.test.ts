import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  clearStop,
  defaultStopDir,
  listRuns,
  readStopRequest,
  registerRun,
  requestStopAll,
  RUNS_DIR,
  STOP_FILE,
  StopDirError,
  waitForRuns,
  watchStop,
} from './stop.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'stop-child.ts');

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'medsurface-stop-'));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('default stop directory: MEDSURFACE_STOP_DIR, then XDG_STATE_HOME', () => {
  assert.equal(defaultStopDir({ MEDSURFACE_STOP_DIR: '/run/ms' }), '/run/ms');
  assert.equal(defaultStopDir({ XDG_STATE_HOME: '/state' }), '/state/medsurface/stop');
  assert.match(defaultStopDir({ XDG_STATE_HOME: 'relative' }), /\.local\/state\/medsurface\/stop$/);
});

test('a stop request round-trips; clearStop removes it; a touched file is a request too', () => {
  const dir = tempDir();
  try {
    assert.equal(readStopRequest(dir), null);
    const { request, runs } = requestStopAll(dir, { hold: true });
    assert.deepEqual(runs, []);
    const read = readStopRequest(dir);
    assert.equal(read?.hold, true);
    assert.equal(read?.pid, process.pid);
    assert.ok(read && read.at.getTime() >= request.at.getTime());
    assert.match(readFileSync(path.join(dir, STOP_FILE), 'utf8'), /"hold":true/);
    clearStop(dir);
    clearStop(dir); // idempotent
    assert.equal(readStopRequest(dir), null);
    // `touch stop-all` (an empty file) stops at its modification time, without a hold.
    writeFileSync(path.join(dir, STOP_FILE), '');
    const when = new Date('2030-01-01T00:00:00Z');
    utimesSync(path.join(dir, STOP_FILE), when, when);
    assert.deepEqual(readStopRequest(dir), { at: when, pid: null, hold: false });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('watchStop fires for a request made after the scan started, not for an older one', async () => {
  const dir = tempDir();
  try {
    requestStopAll(dir, { now: new Date(Date.now() - 60_000) });
    // An old request on disk (written a minute "ago" but the file is new: pin its mtime too).
    const old = new Date(Date.now() - 60_000);
    utimesSync(path.join(dir, STOP_FILE), old, old);
    let stops = 0;
    const unwatch = watchStop(dir, () => stops++, { intervalMs: 10 });
    await sleep(200);
    assert.equal(stops, 0, 'an older request does not stop a newer scan');
    requestStopAll(dir);
    await sleep(200);
    assert.equal(stops, 1);
    requestStopAll(dir);
    await sleep(50);
    assert.equal(stops, 1, 'onStop is called once');
    unwatch();
    // After unwatch nothing more is reported.
    let late = 0;
    const un2 = watchStop(dir, () => late++, { intervalMs: 10 });
    un2();
    requestStopAll(dir);
    await sleep(50);
    assert.equal(late, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run registry: register, list, unregister; bad ids refused; dead processes pruned', async () => {
  const dir = tempDir();
  try {
    const un = registerRun(dir, 'r-20261128-abc', { label: 'radiology-dmz' });
    const [entry] = listRuns(dir);
    assert.deepEqual([entry?.runId, entry?.pid, entry?.label], ['r-20261128-abc', process.pid, 'radiology-dmz']);
    un();
    un();
    assert.deepEqual(listRuns(dir), []);
    assert.throws(() => registerRun(dir, '../../etc/passwd'), StopDirError);
    assert.throws(() => registerRun(dir, ''), StopDirError);
    // An entry left by a process that has exited.
    const dead = spawn(process.execPath, ['-e', '0']);
    const deadPid = dead.pid!;
    await new Promise((r) => dead.on('exit', r));
    mkdirSync(path.join(dir, RUNS_DIR), { recursive: true });
    const stale = path.join(dir, RUNS_DIR, 'r-dead.json');
    writeFileSync(stale, JSON.stringify({ runId: 'r-dead', pid: deadPid, host: (await import('node:os')).hostname(), startedAt: new Date().toISOString(), label: null }));
    // Garbage in the registry is ignored, not fatal.
    writeFileSync(path.join(dir, RUNS_DIR, 'junk.json'), '{not json');
    assert.deepEqual(listRuns(dir), []);
    assert.throws(() => readFileSync(stale), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function startChild(dir: string, runId: string): { child: ChildProcess; ready: Promise<void>; stopped: Promise<string>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, runId], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let resolveReady: () => void = () => {};
  let resolveStopped: (line: string) => void = () => {};
  const ready = new Promise<void>((r) => (resolveReady = r));
  const stopped = new Promise<string>((r) => (resolveStopped = r));
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes('ready\n')) resolveReady();
    const m = /stopped (\S+)\n/.exec(out);
    if (m) resolveStopped(m[1]!);
  });
  child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, ready, stopped, exited };
}

test('stop --all ends scans in two other processes at once and reports which runs it reached', async () => {
  const dir = tempDir();
  const children = [startChild(dir, 'run-a'), startChild(dir, 'run-b')];
  try {
    await Promise.all(children.map((c) => c.ready));
    assert.deepEqual(listRuns(dir).map((r) => r.runId).sort(), ['run-a', 'run-b']);
    const pids = children.map((c) => c.child.pid);
    assert.deepEqual(listRuns(dir).map((r) => r.pid).sort(), [...pids].sort());

    const { runs } = requestStopAll(dir);
    assert.deepEqual(runs.map((r) => r.runId).sort(), ['run-a', 'run-b']);
    const result = await waitForRuns(dir, runs.map((r) => r.runId), 10_000, 20);
    assert.deepEqual(result.running, []);
    assert.deepEqual(result.stopped.sort(), ['run-a', 'run-b']);
    assert.deepEqual((await Promise.all(children.map((c) => c.stopped))).sort(), ['run-a', 'run-b']);
    assert.deepEqual(await Promise.all(children.map((c) => c.exited)), [0, 0]);
    assert.deepEqual(listRuns(dir), []);
  } finally {
    for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('waitForRuns gives up after its timeout and names the runs still going', async () => {
  const dir = tempDir();
  try {
    const un = registerRun(dir, 'run-stuck');
    const started = Date.now();
    const result = await waitForRuns(dir, ['run-stuck', 'run-gone'], 100, 20);
    assert.ok(Date.now() - started >= 90);
    assert.deepEqual(result, { stopped: ['run-gone'], running: ['run-stuck'] });
    un();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
