/**
 * Helpers for the discovery tests: fixture paths, endpoints as sorted `ip|port` strings, a text
 * source cut into chunks at chosen places (to exercise chunk boundaries), and readers of the
 * exported files that follow the tools' own parsers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IpSet } from '../ipset.js';
import type { DiscoveredEndpoints } from './endpoints.js';
import { type TextSource, textSource } from './text-source.js';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

/** Endpoints as `ip|port` strings, in the collector's order (IPv4 first, by address then port). */
export function pairs(e: DiscoveredEndpoints): string[] {
  return [...e.entries()].map(({ ip, port }) => `${ip}|${port}`);
}

/** The text cut every `size` characters (1 = one character a chunk). */
export function chunked(name: string, text: string, size: number): TextSource {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
  return textSource(name, parts);
}

export function sameSet(a: IpSet, b: IpSet): boolean {
  return a.containsAll(b) && b.containsAll(a);
}

/** A ZMap list read as zmap lib/blocklist.c init_from_file does: cut at '#', first token, IPv4 or IPv4/len. */
export function readZmapFile(file: string): IpSet {
  const entries: string[] = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    assert.ok(raw.length < 1000, 'ZMap reads lines of up to 1000 bytes');
    const token = raw.split('#')[0]!.trim().split(/\s+/)[0]!;
    if (token === '') continue;
    assert.match(token, /^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/, `ZMap entry ${token}`);
    entries.push(token);
  }
  return IpSet.parse(entries, 'zmap file');
}

/** A masscan include/exclude file read as massip-parse.c does: `#` lines skipped, one entry a line. */
export function readMasscanFile(file: string): IpSet {
  const entries: string[] = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    assert.doesNotMatch(line, /\s/, 'one entry a line');
    entries.push(line);
  }
  return IpSet.parse(entries, 'masscan file');
}
