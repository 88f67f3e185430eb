/**
 * What every discovery parser shares: the counters a user sees after an import, the rule for
 * an endpoint (a valid address, a TCP port 1-65535, else an error naming the line), the port
 * filter, and the collector the endpoints go to. Parsers only decide what a record says.
 */
import { parseAddress } from '../ip.js';
import { quoteToken } from '../ipset.js';
import type { EndpointCollector } from './endpoints.js';
import { DiscoveryFormatError } from './errors.js';

/** The formats recognised, named after the tool and its output option. */
export type DiscoveryFormat =
  | 'masscan-json' /* -oJ */
  | 'masscan-ndjson' /* -oD */
  | 'masscan-list' /* -oL */
  | 'masscan-grepable' /* -oG */
  | 'masscan-xml' /* -oX */
  | 'nmap-xml' /* -oX */
  | 'zmap-csv' /* -O csv, the default */
  | 'zmap-json' /* -O json */
  | 'endpoint-list'; /* ip:port lines */

export interface DiscoveryStats {
  format: DiscoveryFormat | null;
  /** Lines read (for XML: lines of the file). */
  lines: number;
  /** Port records read, whatever their state. */
  records: number;
  /** Open TCP records kept, repeats included (the distinct ones are the endpoints). */
  open: number;
  /** Records not kept, by reason: `closed`, `udp`, `banner`, `rst`, `port-not-selected`, ... */
  skipped: Record<string, number>;
  /**
   * False when the format has an end marker (masscan -oJ `]`, -oL `# end`, -oG `# Masscan done`,
   * XML `</nmaprun>`) and it is missing: the scanner was probably interrupted, so the file may
   * hold only part of the scan. Formats without an end marker are always complete.
   */
  complete: boolean;
}

export interface ParseOptions {
  /**
   * Ports for records that name only an address: ZMap's default output (`saddr` alone, the
   * port being ZMap's `-p`), list lines without a port.
   */
  ports?: readonly number[];
  /** Keep only these ports (e.g. the scan's --ports); others are counted as `port-not-selected`. */
  onlyPorts?: readonly number[];
}

export class ParseContext {
  readonly stats: DiscoveryStats = { format: null, lines: 0, records: 0, open: 0, skipped: {}, complete: true };
  readonly source: string;
  readonly defaultPorts: readonly number[];
  private readonly collector: EndpointCollector;
  private readonly only: ReadonlySet<number> | null;

  constructor(source: string, collector: EndpointCollector, opts: ParseOptions = {}) {
    this.source = source;
    this.collector = collector;
    this.defaultPorts = opts.ports ?? [];
    this.only = opts.onlyPorts ? new Set(opts.onlyPorts) : null;
    for (const p of [...this.defaultPorts, ...(opts.onlyPorts ?? [])]) {
      if (!Number.isInteger(p) || p < 1 || p > 65535) throw new RangeError(`bad port ${p}: need 1-65535`);
    }
  }

  error(line: number, message: string): DiscoveryFormatError {
    return new DiscoveryFormatError(this.source, line, message);
  }

  /** Counts a record that is not kept. */
  skip(reason: string): void {
    this.stats.skipped[reason] = (this.stats.skipped[reason] ?? 0) + 1;
  }

  /** A TCP port from the file: an integer 1-65535 (a number or its decimal text), else an error. */
  port(value: unknown, line: number): number {
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^[0-9]{1,5}$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isInteger(n) || n < 1 || n > 65535) {
      throw this.error(line, `bad port ${typeof value === 'string' ? quoteToken(value) : String(value).slice(0, 20)}: need 1-65535`);
    }
    return n;
  }

  /** Keeps one open TCP endpoint; the address must be an IPv4 or IPv6 address. */
  open(ip: unknown, port: number, line: number): void {
    const text = typeof ip === 'string' ? ip.trim() : '';
    const selected = this.only === null || this.only.has(port);
    const ok = selected ? this.collector.add(text, port) : parseAddress(text) !== null;
    if (!ok) {
      throw this.error(line, `bad address ${typeof ip === 'string' ? quoteToken(ip) : String(ip).slice(0, 20)}: need an IPv4 or IPv6 address`);
    }
    if (selected) this.stats.open++;
    else this.skip('port-not-selected');
  }
}
