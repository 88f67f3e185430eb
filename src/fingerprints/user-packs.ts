/**
 * Where user fingerprint packs live. A pack is a folder of rule files in the built-in format
 * (db/*.yaml, without index.yaml), written by `medsurface fingerprints import` or by hand. The
 * engine loads them after the built-in rules:
 * 1. `MEDSURFACE_FINGERPRINTS_DIR`, when set (it must then exist: a typo should not silently
 *    scan without the user's rules);
 * 2. the default user folder, `$XDG_CONFIG_HOME/medsurface/fingerprints` (XDG Base Directory
 *    spec; `~/.config/medsurface/fingerprints` when XDG_CONFIG_HOME is unset or relative), when it
 *    exists.
 */
import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FingerprintDbError } from './errors.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The default user fingerprint folder (also the default `--out` of the importer). */
export function defaultUserFingerprintDir(env: Env = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'medsurface', 'fingerprints');
}

function isDirectory(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory();
}

/** The user pack folders to load, in order, without duplicates. */
export function userFingerprintDirs(env: Env = process.env): string[] {
  const out: string[] = [];
  const extra = env.MEDSURFACE_FINGERPRINTS_DIR;
  if (extra) {
    const dir = path.resolve(extra);
    if (!isDirectory(dir)) throw new FingerprintDbError(`MEDSURFACE_FINGERPRINTS_DIR=${extra}: not a directory`);
    out.push(dir);
  }
  const def = path.resolve(defaultUserFingerprintDir(env));
  if (!out.includes(def) && isDirectory(def)) out.push(def);
  return out;
}
