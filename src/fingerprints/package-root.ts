/**
 * Locates the package root (the folder holding package.json), so that data files that ship
 * as YAML under src/ are found both when running from src/ through tsx and from dist/ after
 * tsc (dist/ has no YAML: package.json "files" ships src/fingerprints/db and
 * src/fingerprints/identifiers beside dist/).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null = null;

/** Walks up from this module's folder to the first folder that holds a package.json. */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 32; i++) {
    if (existsSync(path.join(dir, 'package.json'))) {
      cached = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`package root not found above ${fileURLToPath(import.meta.url)}`);
}

/** Default folder of the fingerprint database. */
export function defaultDbDir(): string {
  return path.join(packageRoot(), 'src', 'fingerprints', 'db');
}

/** Folder of the identifier lists (allowed vendor, product and device-type names). */
export function defaultIdentifiersDir(): string {
  return path.join(packageRoot(), 'src', 'fingerprints', 'identifiers');
}
