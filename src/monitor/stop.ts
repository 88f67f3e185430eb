/**
 * Emergency stop (`medsurface stop --all`): a file protocol in a state directory, so a stop
 * reaches every scan on the host, whichever process (monitor, `medsurface scan`, worker) runs it
 * and whichever user started it, without signals or a daemon.
 *
 *   <dir>/stop-all          {"at": ISO time, "pid": n, "hold": bool}; written atomically (rename).
 *                           Every running scan polls it (~500 ms, watchStop) and aborts when `at`
 *                           is not older than its own start. A file that cannot be read as JSON
 *                           (e.g. made with `touch`) counts as a stop at its modification time.
 *                           `hold: true` also keeps monitors from starting new runs until cleared.
 *   <dir>/runs/<runId>.json {"runId", "pid", "host", "startedAt", "label"}: one per running scan
 *                           (registerRun), so `stop --all` can say which runs it reached and wait
 *                           for them to end. Entries of dead processes are pruned when listed.
 *
 * Scans started after a stop request are not affected (unless it holds): the request ends what
 * is running, it does not disable the tool.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from '../core/errors.js';

export const STOP_FILE = 'stop-all';
export const RUNS_DIR = 'runs';
/** Bytes read of a stop or run file; they are a few dozen. */
const MAX_STATE_FILE_BYTES = 4096;
/** Run entries read when listing. */
const MAX_RUN_ENTRIES = 10_000;
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class StopDirError extends UsageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StopDirError';
  }
}

export interface StopRequest {
  /** When the stop was requested. */
  at: Date;
  pid: number | null;
  hold: boolean;
}

const StopFileSchema = z.object({ at: z.iso.datetime(), pid: z.number().int().nullable().optional(), hold: z.boolean().optional() });

export interface RunEntry {
  runId: string;
  pid: number;
  host: string;
  startedAt: string;
  label: string | null;
}

const RunEntrySchema = z.object({
  runId: z.string().regex(RUN_ID),
  pid: z.number().int().positive(),
  host: z.string().max(255),
  startedAt: z.string().max(40),
  label: z.string().max(200).nullable(),
});

/** MEDSURFACE_STOP_DIR, else $XDG_STATE_HOME/medsurface/stop, else ~/.local/state/medsurface/stop. */
export function defaultStopDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.MEDSURFACE_STOP_DIR;
  if (explicit !== undefined && explicit !== '') return explicit;
  const xdg = env.XDG_STATE_HOME;
  const base = xdg !== undefined && xdg !== '' && path.isAbsolute(xdg) ? xdg : path.join(homedir(), '.local', 'state');
  return path.join(base, 'medsurface', 'stop');
}

function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new StopDirError(`cannot create the stop directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Writes through a temporary file and a rename, so a poller never reads half a file. Readable
 * by all: a stop written by root must be readable by the service user (the contents are times,
 * process ids and run ids).
 */
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, file);
}

/** The first MAX_STATE_FILE_BYTES of a file, or null when it does not exist. */
function readSmall(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const buf = Buffer.alloc(MAX_STATE_FILE_BYTES);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * The current stop request, or null. Its time is the later of the written `at` and the file's
 * modification time, so `touch <dir>/stop-all` is a stop request too, even over an old file.
 */
export function readStopRequest(dir: string): StopRequest | null {
  const file = path.join(dir, STOP_FILE);
  let mtime: Date;
  try {
    mtime = statSync(file).mtime;
  } catch {
    return null;
  }
  let text: string | null;
  try {
    text = readSmall(file);
  } catch {
    // Present but unreadable to us: still a request, at its modification time.
    return { at: mtime, pid: null, hold: false };
  }
  if (text === null) return null;
  try {
    const parsed = StopFileSchema.parse(JSON.parse(text));
    const at = new Date(Math.max(Date.parse(parsed.at), mtime.getTime()));
    return { at, pid: parsed.pid ?? null, hold: parsed.hold ?? false };
  } catch {
    return { at: mtime, pid: null, hold: false };
  }
}

/**
 * Asks every running scan that uses `dir` to stop now. `hold` also keeps monitors from
 * starting runs until clearStop. Returns the request and the runs registered at that moment.
 */
export function requestStopAll(dir: string, options: { hold?: boolean; now?: Date } = {}): { request: StopRequest; runs: RunEntry[] } {
  ensureDir(dir);
  const request: StopRequest = { at: options.now ?? new Date(), pid: process.pid, hold: options.hold === true };
  try {
    writeAtomic(path.join(dir, STOP_FILE), `${JSON.stringify({ at: request.at.toISOString(), pid: request.pid, hold: request.hold })}\n`);
  } catch (err) {
    throw new StopDirError(`cannot write ${path.join(dir, STOP_FILE)}: ${(err as Error).message}`, { cause: err });
  }
  return { request, runs: listRuns(dir) };
}

/** Removes the stop request (and with it a hold). */
export function clearStop(dir: string): void {
  try {
    unlinkSync(path.join(dir, STOP_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StopDirError(`cannot remove ${path.join(dir, STOP_FILE)}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Polls the stop file every `intervalMs` and calls onStop once when a request at or after
 * `startedAt` (default: now) appears. Returns the function that stops watching. Only the file's
 * modification time is checked between reads, so a poll costs one stat.
 */
export function watchStop(dir: string, onStop: (request: StopRequest) => void, options: { startedAt?: Date; intervalMs?: number } = {}): () => void {
  const startedAt = (options.startedAt ?? new Date()).getTime();
  const file = path.join(dir, STOP_FILE);
  let lastMtime = -1;
  let done = false;
  const poll = (): void => {
    if (done) return;
    let mtime: number;
    try {
      mtime = statSync(file).mtimeMs;
    } catch {
      lastMtime = -1;
      return;
    }
    if (mtime === lastMtime) return;
    lastMtime = mtime;
    const request = readStopRequest(dir);
    if (request && request.at.getTime() >= startedAt) {
      stop();
      onStop(request);
    }
  };
  const timer = setInterval(poll, options.intervalMs ?? 500);
  timer.unref();
  const stop = (): void => {
    done = true;
    clearInterval(timer);
  };
  return stop;
}

function assertRunId(runId: string): void {
  if (!RUN_ID.test(runId)) throw new StopDirError(`run id "${runId.slice(0, 40)}" cannot name a registry file (letters, digits, ".", "_", "-")`);
}

/** Records a running scan; the returned function removes the entry (idempotent). */
export function registerRun(dir: string, runId: string, options: { label?: string; startedAt?: Date } = {}): () => void {
  assertRunId(runId);
  const runsDir = path.join(dir, RUNS_DIR);
  ensureDir(runsDir);
  const file = path.join(runsDir, `${runId}.json`);
  const entry: RunEntry = {
    runId,
    pid: process.pid,
    host: hostname(),
    startedAt: (options.startedAt ?? new Date()).toISOString(),
    label: options.label ?? null,
  };
  writeAtomic(file, `${JSON.stringify(entry)}\n`);
  let registered = true;
  return () => {
    if (!registered) return;
    registered = false;
    try {
      // Another process may have re-registered the same run id (a resume): leave its entry alone.
      const current = readRunEntry(file);
      if (current === null || current.pid === process.pid) unlinkSync(file);
    } catch {
      // Already gone.
    }
  };
}

function readRunEntry(file: string): RunEntry | null {
  const text = readSmall(file);
  if (text === null) return null;
  try {
    return RunEntrySchema.parse(JSON.parse(text));
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The registered runs, oldest first. Entries of dead processes on this host are removed. */
export function listRuns(dir: string): RunEntry[] {
  const runsDir = path.join(dir, RUNS_DIR);
  let names: string[];
  try {
    names = readdirSync(runsDir).filter((n) => n.endsWith('.json'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new StopDirError(`cannot read ${runsDir}: ${(err as Error).message}`, { cause: err });
  }
  const host = hostname();
  const out: RunEntry[] = [];
  for (const name of names.slice(0, MAX_RUN_ENTRIES)) {
    const file = path.join(runsDir, name);
    let entry: RunEntry | null;
    try {
      entry = readRunEntry(file);
    } catch {
      continue;
    }
    if (entry === null) continue;
    if (entry.host === host && !processAlive(entry.pid)) {
      try {
        unlinkSync(file);
      } catch {
        // Not ours to remove (permissions): leave it.
      }
      continue;
    }
    out.push(entry);
  }
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** Waits until the given runs have left the registry or `timeoutMs` passed. */
export async function waitForRuns(dir: string, runIds: string[], timeoutMs: number, pollMs = 200): Promise<{ stopped: string[]; running: string[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = new Set(listRuns(dir).map((r) => r.runId));
    const running = runIds.filter((id) => live.has(id));
    if (running.length === 0 || Date.now() >= deadline) return { stopped: runIds.filter((id) => !live.has(id)), running };
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
  }
}
