/**
 * The spool directory on disk: its layout, atomic writes and the single-owner lock.
 *
 * ```
 * <dir>/outbox.lock        {"pid":…,"host":…,"since":…}: one outbox per spool at a time
 * <dir>/pending/<id>.json  a delivery still to make (one sink, one event)
 * <dir>/dead/<id>.json     a delivery given up on (max attempts or max age): kept, listed
 * <dir>/corrupt/<name>     a spool or store file that could not be read back: kept, listed
 * <dir>/seen/<sink>.json   the sink's de-duplication store (dedup.ts)
 * <dir>/tmp/               files being written
 * ```
 *
 * A write is atomic: a new file in tmp/ is written, fsynced, closed and renamed over the target,
 * and the target's folder is fsynced, so after a crash a spool file is either the old or the new
 * one, never a torn mix (tmp/ is emptied on open). Folders are 0700, files 0600: events name
 * exposed systems.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { messageOf } from '../core/errors.js';

export const SPOOL_FOLDERS = ['pending', 'dead', 'corrupt', 'seen', 'tmp'] as const;
export type SpoolFolder = (typeof SPOOL_FOLDERS)[number];

/** The spool cannot be used (not writable, locked by another process, ...). */
export class OutboxError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OutboxError';
  }
}

/** Another live process (or another outbox in this one) holds the spool. */
export class OutboxLockedError extends OutboxError {
  constructor(message: string) {
    super(message);
    this.name = 'OutboxLockedError';
  }
}

export async function ensureLayout(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const f of SPOOL_FOLDERS) await mkdir(path.join(dir, f), { recursive: true, mode: 0o700 });
    // Left-overs of writes a crash interrupted: never renamed, so never part of the spool.
    for (const name of await readdir(path.join(dir, 'tmp'))) await rm(path.join(dir, 'tmp', name), { force: true });
  } catch (err) {
    throw new OutboxError(`spool directory ${dir} is not usable: ${messageOf(err)}`, { cause: err });
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `<dir>/<folder>/<name>` atomically (tmp + fsync + rename + fsync of the folder). */
export async function writeAtomic(dir: string, folder: SpoolFolder, name: string, data: string): Promise<void> {
  const tmp = path.join(dir, 'tmp', `${name}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(data, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path.join(dir, folder, name));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(path.join(dir, folder));
}

/** Moves a spool file between folders (one rename: atomic), then fsyncs both folders. */
export async function moveFile(dir: string, from: SpoolFolder, to: SpoolFolder, name: string, newName = name): Promise<void> {
  await rename(path.join(dir, from, name), path.join(dir, to, newName));
  await fsyncDir(path.join(dir, to));
  await fsyncDir(path.join(dir, from));
}

export async function removeFile(dir: string, folder: SpoolFolder, name: string): Promise<void> {
  await unlink(path.join(dir, folder, name));
  await fsyncDir(path.join(dir, folder));
}

export async function exists(dir: string, folder: SpoolFolder, name: string): Promise<boolean> {
  try {
    await stat(path.join(dir, folder, name));
    return true;
  } catch {
    return false;
  }
}

export async function listFolder(dir: string, folder: SpoolFolder): Promise<string[]> {
  return (await readdir(path.join(dir, folder))).sort();
}

/** Reads a spool file of at most `maxBytes`; null when it is larger (the caller treats it as corrupt). */
export async function readBounded(dir: string, folder: SpoolFolder, name: string, maxBytes: number): Promise<string | null> {
  const file = path.join(dir, folder, name);
  const st = await stat(file);
  if (st.size > maxBytes) return null;
  return readFile(file, 'utf8');
}

interface LockInfo {
  pid: number;
  host: string;
  since: string;
}

/** Spool folders locked by this process, by resolved path: a second outbox over one spool would deliver twice. */
const heldHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/**
 * Takes the spool's lock file. A lock left by a process that no longer exists on this machine (or
 * by an earlier life of this pid, as after a container restart) is taken over; a live one, or
 * one written on another host, is an OutboxLockedError.
 */
export async function acquireLock(dir: string): Promise<string> {
  const lockFile = path.join(dir, 'outbox.lock');
  const key = path.resolve(dir);
  if (heldHere.has(key)) throw new OutboxLockedError(`spool ${dir} is already open in this process (close the other AlertOutbox first)`);
  for (let tries = 0; tries < 2; tries++) {
    const info: LockInfo = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
    try {
      const fh = await open(lockFile, 'wx', 0o600);
      try {
        await fh.writeFile(JSON.stringify(info));
        await fh.sync();
      } finally {
        await fh.close();
      }
      heldHere.add(key);
      return lockFile;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw new OutboxError(`cannot create ${lockFile}: ${messageOf(err)}`, { cause: err });
    }
    let held: Partial<LockInfo> = {};
    try {
      held = JSON.parse((await readFile(lockFile, 'utf8')).slice(0, 4096)) as Partial<LockInfo>;
    } catch {
      // An empty or torn lock file: its writer died before finishing it.
    }
    const sameHost = held.host === undefined || held.host === os.hostname();
    const stale = sameHost && (typeof held.pid !== 'number' || held.pid === process.pid || !alive(held.pid));
    if (!stale) {
      throw new OutboxLockedError(
        `spool ${dir} is in use by process ${held.pid ?? '?'} on ${held.host ?? '?'} since ${held.since ?? '?'}; if that process is gone, delete ${lockFile}`,
      );
    }
    await rm(lockFile, { force: true });
  }
  throw new OutboxLockedError(`spool ${dir}: could not take ${lockFile} (another process keeps taking it)`);
}

export async function releaseLock(dir: string, lockFile: string): Promise<void> {
  heldHere.delete(path.resolve(dir));
  await rm(lockFile, { force: true });
}
