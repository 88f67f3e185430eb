/**
 * The reverse of the import: target (allow-list) and blocklist files for an L4 scanner, from
 * the same target, scope and exclusion specs a scan takes (`medsurface targets export`), so
 * that ZMap or masscan sweeps exactly what medsurface is allowed to probe afterwards.
 *
 * ZMap (zmap lib/blocklist.c init_from_file): one entry a line, `#` starts a comment, each
 * entry an IPv4 address or CIDR block (read by inet_aton; lines are cut at 1000 bytes).
 * ZMap scans IPv4 only, so IPv6 ranges cannot be written and are counted instead. Ranges
 * are written as their minimal CIDR cover.
 * masscan (src/massip-parse.c massip_parse_file, behind --includefile and --excludefile): one
 * entry a line, a line starting with `#` is a comment, entries are IPv4 or IPv6 addresses,
 * CIDR blocks or `first-last` ranges, so each merged range is one line.
 *
 * The target file already has the blocklist subtracted: a user who forgets the blocklist
 * option still cannot sweep an excluded address. The blocklist is written too, because both
 * tools apply it to everything they send, and ZMap replaces its own default blocklist
 * (/etc/zmap/blocklist.conf) with the file given to --blocklist-file.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { formatIPv4, formatIPv6 } from '../ip.js';
import { type IpSet, type Span, formatRange } from '../ipset.js';

export type ExportFormat = 'zmap' | 'masscan';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['zmap', 'masscan'];

/** File names written in the output folder, per format. */
export const EXPORT_FILES: Readonly<Record<ExportFormat, { targets: string; blocklist: string }>> = {
  zmap: { targets: 'zmap-allowlist.txt', blocklist: 'zmap-blocklist.txt' },
  masscan: { targets: 'masscan-include.txt', blocklist: 'masscan-exclude.txt' },
};

/** The minimal list of CIDR blocks covering [start, end] exactly. */
export function* cidrCover(family: 4 | 6, start: bigint, end: bigint): Generator<string> {
  const bits = family === 4 ? 32 : 128;
  const fmt = family === 4 ? (v: bigint) => formatIPv4(Number(v)) : formatIPv6;
  let s = start;
  while (s <= end) {
    /* Largest block aligned at s (the lowest set bit of s; the whole space at 0)... */
    let size = s === 0n ? 1n << BigInt(bits) : s & -s;
    /* ...that does not pass end. */
    while (size > end - s + 1n) size >>= 1n;
    const prefix = bits - (size.toString(2).length - 1);
    yield `${fmt(s)}/${prefix}`;
    s += size;
  }
}

function* spans(set: IpSet, family: 4 | 6): Generator<Span> {
  if (family === 4) {
    const r = set.v4Ranges();
    for (let i = 0; i < r.starts.length; i++) yield { start: BigInt(r.starts[i]!), end: BigInt(r.ends[i]!) };
  } else {
    const r = set.v6Ranges();
    for (let i = 0; i < r.starts.length; i++) yield { start: r.starts[i]!, end: r.ends[i]! };
  }
}

/** Lines of a ZMap allow-list or blocklist: IPv4 CIDR blocks (IPv6 cannot be written). */
export function* zmapLines(set: IpSet): Generator<string> {
  for (const s of spans(set, 4)) yield* cidrCover(4, s.start, s.end);
}

/** Lines of a masscan include or exclude file: one range a line, IPv4 then IPv6. */
export function* masscanLines(set: IpSet): Generator<string> {
  for (const family of [4, 6] as const) for (const s of spans(set, family)) yield formatRange(family, s);
}

/** Number of IPv6 ranges (and addresses) in a set: what a ZMap file leaves out. */
export function ipv6Part(set: IpSet): { ranges: number; addresses: bigint } {
  let ranges = 0;
  let addresses = 0n;
  for (const s of spans(set, 6)) {
    ranges++;
    addresses += s.end - s.start + 1n;
  }
  return { ranges, addresses };
}

/** Writes lines to a file in 64 KiB writes, with a comment header; returns the number of entry lines. */
async function writeLines(file: string, header: string[], lines: Iterable<string>): Promise<number> {
  const out = createWriteStream(file, { encoding: 'utf8', mode: 0o644 });
  const failed = once(out, 'error').then(([err]) => {
    throw err;
  });
  failed.catch(() => {});
  let batch = header.map((h) => `# ${h}\n`).join('');
  let count = 0;
  const flush = async () => {
    if (!out.write(batch)) await Promise.race([once(out, 'drain'), failed]);
    batch = '';
  };
  for (const l of lines) {
    batch += `${l}\n`;
    count++;
    if (batch.length >= 64 * 1024) await flush();
  }
  await flush();
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
  return count;
}

export interface TargetExport {
  format: ExportFormat;
  /** Files written (absolute paths). */
  targetsFile: string;
  blocklistFile: string;
  /** Entry lines written to each. */
  targetLines: number;
  blocklistLines: number;
  /** Addresses the target file allows (after the blocklist), IPv4 and IPv6 as written. */
  targetAddresses: bigint;
  /** ZMap only: IPv6 target ranges and addresses that could not be written. */
  droppedIpv6Targets: { ranges: number; addresses: bigint };
}

/**
 * Writes the target file (`allow` minus `block`) and the blocklist file (`block`) for `format`
 * into `dir` (created if missing). `note` lines go into each file's header comment.
 */
export async function writeTargetExport(opts: {
  format: ExportFormat;
  dir: string;
  allow: IpSet;
  block: IpSet;
  note?: string[];
}): Promise<TargetExport> {
  const { format } = opts;
  const dir = path.resolve(opts.dir);
  await mkdir(dir, { recursive: true });
  const targets = opts.allow.subtract(opts.block);
  const names = EXPORT_FILES[format];
  const targetsFile = path.join(dir, names.targets);
  const blocklistFile = path.join(dir, names.blocklist);
  const lines = format === 'zmap' ? zmapLines : masscanLines;
  const v6 = ipv6Part(targets);
  const dropped = format === 'zmap' ? v6 : { ranges: 0, addresses: 0n };
  const option = format === 'zmap' ? ['--allowlist-file', '--blocklist-file'] : ['--includefile', '--excludefile'];
  const note = opts.note ?? [];
  const targetLines = await writeLines(targetsFile, [`medsurface targets export: ${format} targets (${option[0]}), blocklist already subtracted`, ...note], lines(targets));
  const blocklistLines = await writeLines(blocklistFile, [`medsurface targets export: ${format} blocklist (${option[1]})`, ...note], lines(opts.block));
  return {
    format,
    targetsFile,
    blocklistFile,
    targetLines,
    blocklistLines,
    targetAddresses: targets.size - dropped.addresses,
    droppedIpv6Targets: dropped,
  };
}
