/**
 * Reading target and address lists: `@file` arguments, `--exclude-file`, `--scope FILE` and
 * stdin (`-`). One entry per line, or several separated by commas/whitespace; `#` starts a
 * comment. Every token remembers where it came from (`file:line`), so an error names it.
 */
import fs from 'node:fs/promises';
import { UsageError, messageOf } from '../core/errors.js';
import { IpSet, SpanCollector, parseToken, quoteToken, splitTokens } from './ipset.js';

/**
 * Largest list file or stdin we read, in bytes. A list is user input, but a wrong path
 * (a disk image, /dev/zero piped in) must fail fast rather than fill memory. 64 MiB holds
 * about four million addresses one per line; larger sets are better written as CIDRs.
 */
export const MAX_LIST_BYTES = 64 * 1024 * 1024;

export type ReadFileFn = (path: string) => Promise<string>;

/** Default reader: refuses non-files and files over MAX_LIST_BYTES before reading them. */
export async function readListFile(path: string): Promise<string> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(path, 'r');
    const st = await handle.stat();
    if (!st.isFile()) throw new UsageError(`cannot read list ${JSON.stringify(path)}: not a regular file`);
    if (st.size > MAX_LIST_BYTES) {
      throw new UsageError(`list ${JSON.stringify(path)} is ${st.size} bytes, over the ${MAX_LIST_BYTES}-byte cap; use CIDRs or ranges`);
    }
    return await handle.readFile({ encoding: 'utf8' });
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read list ${JSON.stringify(path)}: ${messageOf(err)}`, { cause: err });
  } finally {
    await handle?.close();
  }
}

/** Reads a whole list through `readFile` (or the default reader), enforcing the size cap. */
export async function readList(path: string, readFile?: ReadFileFn): Promise<string> {
  if (readFile === undefined) return readListFile(path);
  let text: string;
  try {
    text = await readFile(path);
  } catch (err) {
    throw new UsageError(`cannot read list ${JSON.stringify(path)}: ${messageOf(err)}`, { cause: err });
  }
  if (text.length > MAX_LIST_BYTES) {
    throw new UsageError(`list ${JSON.stringify(path)} is over the ${MAX_LIST_BYTES}-byte cap; use CIDRs or ranges`);
  }
  return text;
}

/** Reads a stream (stdin) to the end, counting bytes as they arrive (STYLE.md §3). */
export async function readStream(stream: NodeJS.ReadableStream, label = 'stdin'): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    total += buf.length;
    if (total > MAX_LIST_BYTES) {
      throw new UsageError(`${label} holds more than ${MAX_LIST_BYTES} bytes of targets; use CIDRs or ranges`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

/**
 * Calls `fn` for each token of list text, with its 1-based line number: `#` comments and blank
 * lines are skipped, lines may hold several entries. Walks the text in place, building no
 * array of lines, so a long list costs its own size and no more.
 */
export function forEachToken(text: string, fn: (token: string, line: number) => void): void {
  let pos = 0;
  let line = 0;
  while (pos <= text.length) {
    let eol = text.indexOf('\n', pos);
    if (eol === -1) eol = text.length;
    line++;
    let content = text.slice(pos, eol);
    const hash = content.indexOf('#');
    if (hash !== -1) content = content.slice(0, hash);
    for (const token of splitTokens(content)) fn(token, line);
    pos = eol + 1;
  }
}

/** Parses list text into an IpSet; errors name `file:line`. Host names are refused. */
export function ipSetOfText(text: string, source: string, label: string): IpSet {
  const spans = new SpanCollector();
  forEachToken(text, (token, line) => {
    const where = `${source}:${line}`;
    const p = parseToken(token);
    if (p.kind === 'error') throw new UsageError(`${label}: ${where}: bad entry ${quoteToken(token)}: ${p.reason}`);
    if (p.kind === 'name') {
      throw new UsageError(`${label}: ${where}: ${quoteToken(token)} is a host name; only addresses, CIDRs and ranges are accepted here`);
    }
    spans.add(p.family, p.start, p.end);
  });
  return spans.toIpSet();
}

/** Reads `path` when it is an existing regular file; `null` otherwise. */
async function readIfFile(path: string, readFile?: ReadFileFn): Promise<string | null> {
  if (readFile !== undefined) {
    try {
      return await readFile(path);
    } catch {
      return null;
    }
  }
  try {
    if (!(await fs.stat(path)).isFile()) return null;
  } catch {
    return null;
  }
  return readListFile(path);
}

/**
 * Loads `--exclude` / `--exclude-file` / `--scope` values into one set. A value is parsed as
 * addresses first (so `127.0.0.0/8` is never mistaken for a path); when that fails and the
 * value names an existing file, the file is read as a list. `@path` always means a file.
 */
export async function loadIpSetSpecs(
  values: string[],
  files: string[],
  readFile?: ReadFileFn,
  label = 'address list',
): Promise<IpSet> {
  let set = IpSet.empty();
  for (const value of values) {
    const trimmed = value.trim();
    if (trimmed.startsWith('@')) {
      const path = trimmed.slice(1);
      set = set.union(ipSetOfText(await readList(path, readFile), path, label));
      continue;
    }
    try {
      set = set.union(IpSet.parse([value], label));
    } catch (err) {
      if (!(err instanceof UsageError) || /[\s,]/.test(trimmed)) throw err;
      const text = await readIfFile(trimmed, readFile);
      if (text === null) throw new UsageError(`${err.message} (and no file of that name exists)`, { cause: err });
      if (text.length > MAX_LIST_BYTES) throw new UsageError(`${label}: list ${JSON.stringify(trimmed)} is over the ${MAX_LIST_BYTES}-byte cap`);
      set = set.union(ipSetOfText(text, trimmed, label));
    }
  }
  for (const path of files) set = set.union(ipSetOfText(await readList(path, readFile), path, label));
  return set;
}
