import { readFileSync } from 'node:fs';
import { packageRoot } from './paths.js';

/** The package version, read once from package.json (so the DICOM version name and User-Agent stay true). */
export const VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(`${packageRoot()}/package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();
