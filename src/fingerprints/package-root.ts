/**
 * Locates the package root (the folder holding package.json), so that data files that ship
 * as YAML under src/ are found both when running from src/ through tsx and from dist/ after
 * tsc (dist/ has no YAML: package.json "files" ships src/fingerprints/db and
 * src/fingerprints/identifiers beside dist/).
 */
import path from 'node:path';
import { packageRoot } from '../core/paths.js';

export { packageRoot };

/** Default folder of the fingerprint database. */
export function defaultDbDir(): string {
  return path.join(packageRoot(), 'src', 'fingerprints', 'db');
}

/** Folder of the identifier lists (allowed vendor, product and device-type names). */
export function defaultIdentifiersDir(): string {
  return path.join(packageRoot(), 'src', 'fingerprints', 'identifiers');
}
