import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/**
 * Reads one of our YAML data files (fingerprints, checks): bounded in size, and any failure
 * reported through the caller's own error class with the file named.
 */
export function readYamlFile(file: string, maxBytes: number, makeError: (message: string, cause?: unknown) => Error): unknown {
  const text = readFileSync(file, 'utf8');
  if (text.length > maxBytes) throw makeError(`${file}: larger than ${maxBytes} bytes`);
  try {
    return parseYaml(text);
  } catch (err) {
    throw makeError(`${file}: not valid YAML`, err);
  }
}
