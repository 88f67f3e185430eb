/**
 * Importing L4 discovery results as scan targets (`scan --from-masscan/--from-zmap/--from-nmap/
 * --from-list`): the file is detected, streamed through its parser into an EndpointCollector,
 * and summed up in a report. Addresses outside the scope or in the exclusion list are kept
 * (the scan's scope check and guard refuse them, as for any target) but counted, so the user
 * sees before the scan how much of the file will be refused.
 */
import type { IpSet } from '../ipset.js';
import { type DiscoveryStats, ParseContext, type ParseOptions } from './context.js';
import { type DiscoveredEndpoints, EndpointCollector, type EndpointCount, MAX_DISCOVERED_ENDPOINTS } from './endpoints.js';
import { DiscoveryFormatError } from './errors.js';
import { masscanFormatOf, parseMasscanText } from './masscan.js';
import { parseNmapXml } from './nmap-xml.js';
import { parseEndpointList } from './list.js';
import { type TextSource, forEachLine, openTextSource, peekSource } from './text-source.js';
import { parseZmap } from './zmap.js';

/** The tool whose output the user names (`--from-<kind>`). */
export type DiscoveryKind = 'masscan' | 'zmap' | 'nmap' | 'list';
export const DISCOVERY_KINDS: readonly DiscoveryKind[] = ['masscan', 'zmap', 'nmap', 'list'];

export interface LoadDiscoveredOptions extends ParseOptions {
  /** The authorised scope: addresses outside it are counted (report.outsideScope), not dropped. */
  scope?: IpSet;
  /** The exclusion list: addresses in it are counted (report.excluded), not dropped. */
  exclude?: IpSet;
  /** Cap on distinct endpoints (default MAX_DISCOVERED_ENDPOINTS). */
  maxEndpoints?: number;
  /** Where `-` reads from (default process.stdin). */
  stdin?: NodeJS.ReadableStream;
}

export interface DiscoveryReport extends DiscoveryStats {
  /** The file as named (`stdin` for `-`). */
  file: string;
  /** SHA-256 of the bytes read: a resumed scan can check that the file did not change. */
  sha256: string;
  /** Distinct open (address, port) pairs, and distinct addresses. */
  endpoints: number;
  hosts: number;
  /** Open records that repeated an endpoint already seen. */
  duplicates: number;
  /** Addresses (and their endpoints) outside the scope; null without a scope. */
  outsideScope: EndpointCount | null;
  /** Addresses (and their endpoints) in the exclusion list; null without one. */
  excluded: EndpointCount | null;
}

export interface DiscoveryResult {
  endpoints: DiscoveredEndpoints;
  report: DiscoveryReport;
}

/** True once `head` holds a complete non-blank line (the first line tells the formats apart). Linear in `head`. */
function hasFirstLine(head: string): boolean {
  const start = head.search(/\S/);
  return start !== -1 && head.indexOf('\n', start) !== -1;
}

function firstLineOf(head: string): string {
  const start = head.search(/\S/);
  if (start === -1) return '';
  const end = head.indexOf('\n', start);
  return head.slice(start, end === -1 ? head.length : end).trim();
}

/** A file of blank lines only (an empty result): read to the end to count and hash it. */
async function blankFile(src: TextSource, ctx: ParseContext): Promise<void> {
  ctx.stats.lines = await forEachLine(src, (text, line) => {
    if (text.trim() !== '') throw ctx.error(line, "content after a quarter megabyte of blank lines: not a scanner's output file");
  });
}

async function parseAs(kind: DiscoveryKind, src: TextSource, ctx: ParseContext): Promise<void> {
  const { head, source } = await peekSource(src, hasFirstLine);
  const first = firstLineOf(head);
  switch (kind) {
    case 'nmap':
      if (!first.startsWith('<')) throw new DiscoveryFormatError(src.name, 1, 'not XML: --from-nmap reads nmap -oX output');
      return parseNmapXml(source, ctx);
    case 'masscan': {
      if (first === '') return blankFile(source, ctx);
      if (first.startsWith('<')) return parseNmapXml(source, ctx);
      const format = masscanFormatOf(first);
      if (format === null) {
        throw new DiscoveryFormatError(src.name, 1, 'not a masscan output file (expected -oJ, -oD, -oL, -oG or -oX output)');
      }
      return parseMasscanText(source, ctx, format);
    }
    case 'zmap':
      if (first === '') return blankFile(source, ctx); /* ZMap's default output with no response */
      return parseZmap(source, ctx, first);
    case 'list':
      return parseEndpointList(source, ctx);
  }
}

/** Parses a discovery source already opened (tests and callers holding the text use textSource()). */
export async function parseDiscovered(kind: DiscoveryKind, src: TextSource, opts: LoadDiscoveredOptions = {}): Promise<DiscoveryResult> {
  if (!DISCOVERY_KINDS.includes(kind)) throw new RangeError(`unknown discovery kind ${String(kind)}`);
  const collector = new EndpointCollector(opts.maxEndpoints ?? MAX_DISCOVERED_ENDPOINTS);
  const ctx = new ParseContext(src.name, collector, opts);
  try {
    await parseAs(kind, src, ctx);
  } finally {
    src.close();
  }
  const endpoints = collector.finish();
  const report: DiscoveryReport = {
    ...ctx.stats,
    format: ctx.stats.format ?? (kind === 'list' ? 'endpoint-list' : null),
    file: src.name,
    sha256: src.sha256(),
    endpoints: endpoints.size,
    hosts: endpoints.hostCount,
    duplicates: ctx.stats.open - endpoints.size,
    outsideScope: null,
    excluded: null,
  };
  if (opts.scope) {
    const inside = endpoints.countIn(opts.scope);
    report.outsideScope = { hosts: endpoints.hostCount - inside.hosts, endpoints: endpoints.size - inside.endpoints };
  }
  if (opts.exclude) report.excluded = endpoints.countIn(opts.exclude);
  return { endpoints, report };
}

/**
 * Reads a masscan, ZMap, nmap or endpoint-list file (`-` for stdin) into its open TCP
 * endpoints. Errors are DiscoveryFormatError (a UsageError) naming the file and line.
 */
export async function loadDiscovered(kind: DiscoveryKind, file: string, opts: LoadDiscoveredOptions = {}): Promise<DiscoveryResult> {
  return parseDiscovered(kind, await openTextSource(file, opts.stdin), opts);
}

/** One line for the user (stderr) about an import. */
export function describeDiscovery(r: DiscoveryReport): string {
  const skipped = Object.entries(r.skipped)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const parts = [
    `${r.file} (${r.format ?? 'empty'}): ${r.endpoints} open endpoint(s) on ${r.hosts} host(s)`,
    r.duplicates > 0 ? `${r.duplicates} repeat(s) merged` : '',
    skipped !== '' ? `not kept: ${skipped}` : '',
    r.outsideScope && r.outsideScope.hosts > 0 ? `${r.outsideScope.hosts} host(s) outside the scope` : '',
    r.excluded && r.excluded.hosts > 0 ? `${r.excluded.hosts} host(s) in the exclusion list` : '',
    r.complete ? '' : 'the file has no end marker: the scanner was probably interrupted, results may be partial',
  ];
  return parts.filter((p) => p !== '').join('; ');
}
