/**
 * The open (address, port) pairs an L4 scanner found, deduplicated, in compact form: the input
 * of the ZMap → ZGrab2 pattern, where application probes run only on the ports found open.
 *
 * Each IPv4 endpoint is one double (address × 65536 + port, exact below 2^53) in a sorted
 * Float64Array: 8 bytes an endpoint, so the 1.2 million exposed devices of a full IPv4 study
 * cost about 10 MB. IPv6 endpoints are bigints ((address << 16) | port), sorted the same way.
 * Lookups (`portsOf`) are binary searches; addresses are keyed by the same canonical text the
 * TargetSet iterator produces (ip.ts), IPv4-mapped IPv6 stored as IPv4 as everywhere in scope.
 */
import { UsageError } from '../../core/errors.js';
import { V4_MAPPED_END, V4_MAPPED_START, formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../ip.js';
import { type IpSet, SpanCollector } from '../ipset.js';

/**
 * Most distinct endpoints one import keeps (about 130 MB of keys at the cap while collecting).
 * A file past it is refused: split the scan, or filter it to the ports the probes need.
 */
export const MAX_DISCOVERED_ENDPOINTS = 1 << 24;

const PORTS = 65536;

/** More distinct endpoints than the cap. */
export class TooManyEndpointsError extends UsageError {
  constructor(max: number) {
    super(`more than ${max} distinct open endpoints: split the scan into smaller files, or keep only the ports the probes need`);
    this.name = 'TooManyEndpointsError';
  }
}

/** Sorts a key array in place and removes repeats; returns the new length. */
function sortUnique(a: Float64Array, n: number): number {
  const view = a.subarray(0, n).sort();
  let w = 0;
  for (let r = 0; r < n; r++) if (w === 0 || view[r] !== view[w - 1]) view[w++] = view[r]!;
  return w;
}

function sortUniqueBig(a: bigint[]): bigint[] {
  a.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const out: bigint[] = [];
  for (const x of a) if (out.length === 0 || out[out.length - 1] !== x) out.push(x);
  return out;
}

/** Index of the first key >= x in sorted keys[0..n). */
function lowerBound<T extends number | bigint>(keys: ArrayLike<T>, n: number, x: T): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Accumulates endpoints with bounded memory: keys go into a buffer that grows by doubling; when
 * it reaches the cap plus a quarter, it is sorted and deduplicated in place (scanner output
 * repeats itself: masscan prints a banner after the status, ZMap reports retransmitted
 * SYN-ACKs unless filtered), and only a set of distinct endpoints over the cap is refused.
 */
export class EndpointCollector {
  private v4 = new Float64Array(4096);
  private v4n = 0;
  private v6: bigint[] = [];
  private readonly max: number;
  private readonly rawCap: number;
  /** Endpoints added, repeats included. */
  added = 0;

  constructor(max: number = MAX_DISCOVERED_ENDPOINTS) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`bad endpoint cap ${max}`);
    this.max = max;
    this.rawCap = max + Math.max(1024, max >>> 2);
  }

  /** Adds an endpoint given as address text (either family); false when `ip` is not an address. */
  add(ip: string, port: number): boolean {
    const v4 = parseIPv4(ip);
    if (v4 !== null) {
      this.addV4(v4, port);
      return true;
    }
    const v6 = parseIPv6(ip);
    if (v6 === null) return false;
    if (v6 >= V4_MAPPED_START && v6 <= V4_MAPPED_END) this.addV4(Number(v6 - V4_MAPPED_START), port);
    else this.addV6(v6, port);
    return true;
  }

  private addV4(v: number, port: number): void {
    this.reserve();
    if (this.v4n === this.v4.length) {
      const grown = new Float64Array(Math.min(this.rawCap, this.v4.length * 2));
      grown.set(this.v4);
      this.v4 = grown;
    }
    this.v4[this.v4n++] = v * PORTS + port;
    this.added++;
  }

  private addV6(v: bigint, port: number): void {
    this.reserve();
    this.v6.push((v << 16n) | BigInt(port));
    this.added++;
  }

  /** Makes room for one more key, compacting when the raw buffers are full. */
  private reserve(): void {
    if (this.v4n + this.v6.length < this.rawCap) return;
    this.compact();
    if (this.v4n + this.v6.length > this.max) throw new TooManyEndpointsError(this.max);
  }

  private compact(): void {
    this.v4n = sortUnique(this.v4, this.v4n);
    this.v6 = sortUniqueBig(this.v6);
  }

  /** The distinct endpoints; the collector must not be used afterwards. */
  finish(): DiscoveredEndpoints {
    this.compact();
    if (this.v4n + this.v6.length > this.max) throw new TooManyEndpointsError(this.max);
    return new DiscoveredEndpoints(this.v4.slice(0, this.v4n), this.v6);
  }
}

export interface EndpointCount {
  hosts: number;
  endpoints: number;
}

export class DiscoveredEndpoints {
  /** Sorted distinct keys: address × 65536 + port. */
  private readonly v4: Float64Array;
  /** Sorted distinct keys: (address << 16) | port. */
  private readonly v6: readonly bigint[];
  /** Number of distinct (address, port) pairs. */
  readonly size: number;
  /** Number of distinct addresses. */
  readonly hostCount: number;
  /** The addresses, as a set: `TargetSet.fromIpSet(endpoints.hosts)` is the scan's target set. */
  readonly hosts: IpSet;

  /** @internal From sorted, deduplicated keys (EndpointCollector.finish). */
  constructor(v4: Float64Array, v6: readonly bigint[]) {
    this.v4 = v4;
    this.v6 = v6;
    this.size = v4.length + v6.length;
    const spans = new SpanCollector();
    let hosts = 0;
    let last = -1;
    for (const k of v4) {
      const ip = Math.floor(k / PORTS);
      if (ip !== last) {
        spans.add(4, BigInt(ip), BigInt(ip));
        hosts++;
        last = ip;
      }
    }
    let last6 = -1n;
    for (const k of v6) {
      const ip = k >> 16n;
      if (ip !== last6) {
        spans.add(6, ip, ip);
        hosts++;
        last6 = ip;
      }
    }
    this.hostCount = hosts;
    this.hosts = spans.toIpSet();
  }

  static empty(): DiscoveredEndpoints {
    return new DiscoveredEndpoints(new Float64Array(0), []);
  }

  /**
   * The open ports of one address, ascending; [] for an address not in the file. Accepts any
   * spelling of the address (an IPv4-mapped IPv6 one finds its IPv4 host).
   */
  portsOf(ip: string): number[] {
    const out: number[] = [];
    let v4 = parseIPv4(ip);
    let v6: bigint | null = null;
    if (v4 === null) {
      v6 = parseIPv6(ip);
      if (v6 === null) return out;
      if (v6 >= V4_MAPPED_START && v6 <= V4_MAPPED_END) {
        v4 = Number(v6 - V4_MAPPED_START);
        v6 = null;
      }
    }
    if (v4 !== null) {
      const base = v4 * PORTS;
      for (let i = lowerBound(this.v4, this.v4.length, base); i < this.v4.length && this.v4[i]! < base + PORTS; i++) {
        out.push(this.v4[i]! - base);
      }
    } else if (v6 !== null) {
      const base = v6 << 16n;
      const end = base + 65536n;
      for (let i = lowerBound(this.v6, this.v6.length, base); i < this.v6.length && this.v6[i]! < end; i++) {
        out.push(Number(this.v6[i]! - base));
      }
    }
    return out;
  }

  /** Every distinct port that is open somewhere, ascending. */
  ports(): number[] {
    const seen = new Uint8Array(PORTS);
    for (const k of this.v4) seen[k % PORTS] = 1;
    for (const k of this.v6) seen[Number(k & 0xffffn)] = 1;
    const out: number[] = [];
    for (let p = 0; p < PORTS; p++) if (seen[p] === 1) out.push(p);
    return out;
  }

  /** Each endpoint, IPv4 first, in address then port order. */
  *entries(): Generator<{ ip: string; port: number }> {
    for (const k of this.v4) yield { ip: formatIPv4(Math.floor(k / PORTS)), port: k % PORTS };
    for (const k of this.v6) yield { ip: formatIPv6(k >> 16n), port: Number(k & 0xffffn) };
  }

  /** How many addresses and endpoints lie inside `set` (an IPv4-mapped spelling counts as IPv4). */
  countIn(set: IpSet): EndpointCount {
    let hosts = 0;
    let endpoints = 0;
    let last = -1;
    let lastIn = false;
    for (const k of this.v4) {
      const ip = Math.floor(k / PORTS);
      if (ip !== last) {
        last = ip;
        lastIn = set.hasV4(ip);
        if (lastIn) hosts++;
      }
      if (lastIn) endpoints++;
    }
    let last6 = -1n;
    for (const k of this.v6) {
      const ip = k >> 16n;
      if (ip !== last6) {
        last6 = ip;
        lastIn = set.hasV6(ip);
        if (lastIn) hosts++;
      }
      if (lastIn) endpoints++;
    }
    return { hosts, endpoints };
  }
}
