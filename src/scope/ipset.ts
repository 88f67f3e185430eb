/**
 * An internet-scale IP set: sorted, merged, inclusive ranges per family, with membership by
 * binary search (DEPENDENCIES.md: "an internet-scale IP set is ours to write"). A /8 or a
 * whole exclusion list of thousands of CIDRs costs a few numbers per range, never one entry
 * per address.
 *
 * IPv4 ranges live in typed arrays (16 bytes a range), IPv6 ranges in bigint arrays; the set
 * algebra (union, subtract, containment) is one generic linear merge over either. Membership
 * is a binary search, cheap enough for the scope guard to run on every connection.
 */
import { UsageError } from '../core/errors.js';
import {
  V4_MAPPED_END,
  V4_MAPPED_START,
  formatIPv4,
  formatIPv6,
  parseAddress,
  parseIPv4,
  parseIPv6,
} from './ip.js';

/** An inclusive range of addresses of one family (IPv4 values below 2^32). */
export interface Span {
  start: bigint;
  end: bigint;
}

export type ParsedToken =
  | { kind: 'range'; family: 4 | 6; start: bigint; end: bigint }
  | { kind: 'name'; name: string }
  | { kind: 'error'; reason: string };

/** Longest token echoed back in an error message: input is the user's, but may be a pasted blob. */
const ECHO_CHARS = 80;

/** Quotes a user token for an error message, shortened and with control characters escaped. */
export function quoteToken(token: string): string {
  return JSON.stringify(token.length > ECHO_CHARS ? `${token.slice(0, ECHO_CHARS)}...` : token);
}

/** Splits a line or flag value into tokens: targets may be separated by commas and/or whitespace. */
export function splitTokens(value: string): string[] {
  return value.split(/[\s,]+/).filter((t) => t !== '');
}

/** RFC 1123 §2.1 host name (labels of letters, digits, hyphens; underscores tolerated as in SRV-style names). */
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

function isHostName(s: string): boolean {
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  if (!labels.every((l) => LABEL.test(l))) return false;
  /* An all-numeric last label is never a host name (RFC 3696 §2): it is a mistyped address. */
  return !/^[0-9]+$/.test(labels[labels.length - 1]!);
}

function rangeOf(family: 4 | 6, start: bigint, end: bigint): ParsedToken {
  /* IPv4-mapped IPv6 (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) names the IPv4 host: store it as IPv4
     so that scope checks and exclusions see one address, not two spellings of it. */
  if (family === 6 && start >= V4_MAPPED_START && end <= V4_MAPPED_END) {
    return { kind: 'range', family: 4, start: start - V4_MAPPED_START, end: end - V4_MAPPED_START };
  }
  return { kind: 'range', family, start, end };
}

function addressOf(s: string): { family: 4 | 6; value: bigint } | null {
  const a = parseAddress(s);
  if (a === null) return null;
  return a.family === 4 ? { family: 4, value: BigInt(a.value) } : { family: 6, value: a.value };
}

function whyNotAddress(s: string): string {
  if (s.includes('%')) return 'IPv6 zone ids are not accepted';
  if (s.startsWith('[')) return 'write IPv6 addresses without brackets';
  if (s.includes(':')) return 'not a valid IPv6 address';
  if (/^[0-9.]+$/.test(s)) {
    if (/(^|\.)0[0-9]/.test(s)) return 'leading zeros are ambiguous (octal in some tools); write the plain decimal octet';
    return 'not a valid IPv4 address (four decimal octets 0-255)';
  }
  return 'not an address';
}

/**
 * Classifies one target token: an address, a CIDR block (host bits are cleared, as nmap and
 * ZMap do), a range `A-B` of one family, the short IPv4 form `a.b.c.x-y` (last octet), or a
 * host name. Never throws: callers add the context (flag, file:line) to the reason.
 */
export function parseToken(token: string): ParsedToken {
  const slash = token.indexOf('/');
  if (slash !== -1) {
    const addrText = token.slice(0, slash);
    const prefixText = token.slice(slash + 1);
    const addr = addressOf(addrText);
    if (addr === null) return { kind: 'error', reason: `bad CIDR base address: ${whyNotAddress(addrText)}` };
    const bits = addr.family === 4 ? 32 : 128;
    if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
      return { kind: 'error', reason: `bad CIDR prefix length (0-${bits} for IPv${addr.family})` };
    }
    const host = BigInt(bits - Number(prefixText));
    const hostMask = (1n << host) - 1n;
    const start = addr.value & ~hostMask;
    return rangeOf(addr.family, start, start | hostMask);
  }
  const dash = token.indexOf('-');
  if (dash > 0) {
    const leftText = token.slice(0, dash);
    const rightText = token.slice(dash + 1);
    const left = addressOf(leftText);
    if (left !== null) {
      let end: bigint;
      if (left.family === 4 && /^[0-9]{1,3}$/.test(rightText)) {
        const last = Number(rightText);
        if (last > 255) return { kind: 'error', reason: 'short range end must be a last octet 0-255' };
        end = (left.value & ~255n) | BigInt(last);
      } else {
        const right = addressOf(rightText);
        if (right === null) return { kind: 'error', reason: `bad range end: ${whyNotAddress(rightText)}` };
        if (right.family !== left.family) return { kind: 'error', reason: 'range ends are of different address families' };
        end = right.value;
      }
      if (end < left.value) return { kind: 'error', reason: 'range end is before its start' };
      return rangeOf(left.family, left.value, end);
    }
    /* `127.0.0.999-...` is a bad range; `10-0-0-1.example.test` is a host name. */
    if (leftText.includes(':') || /^[0-9]+\.[0-9.]*$/.test(leftText)) {
      return { kind: 'error', reason: `bad range start: ${whyNotAddress(leftText)}` };
    }
  }
  const addr = addressOf(token);
  if (addr !== null) return rangeOf(addr.family, addr.value, addr.value);
  if (token.includes(':') || token.includes('%') || token.startsWith('[') || /^[0-9.]+$/.test(token)) {
    return { kind: 'error', reason: whyNotAddress(token) };
  }
  if (isHostName(token)) return { kind: 'name', name: token.endsWith('.') ? token.slice(0, -1) : token };
  return { kind: 'error', reason: 'not an address, CIDR, range or host name' };
}

/**
 * Sorted, merged, inclusive ranges of one family: starts[i] <= ends[i] < starts[i+1] - 1.
 * IPv4 uses Float64Array (16 bytes a range, exact below 2^53), IPv6 bigint arrays.
 */
interface Ranges<T extends number | bigint> {
  readonly starts: ArrayLike<T>;
  readonly ends: ArrayLike<T>;
}

/** The successor/predecessor of an address, in the family's number type. */
interface Step<T> {
  succ(x: T): T;
  pred(x: T): T;
  toBig(x: T): bigint;
}

const STEP4: Step<number> = { succ: (x) => x + 1, pred: (x) => x - 1, toBig: (x) => BigInt(x) };
const STEP6: Step<bigint> = { succ: (x) => x + 1n, pred: (x) => x - 1n, toBig: (x) => x };

/** Appends [start, end] to sorted output, joining it with the last range when they overlap or touch. */
function push<T extends number | bigint>(out: { starts: T[]; ends: T[] }, start: T, end: T, step: Step<T>): void {
  const n = out.starts.length;
  if (n > 0 && start <= step.succ(out.ends[n - 1]!)) {
    if (end > out.ends[n - 1]!) out.ends[n - 1] = end;
  } else {
    out.starts.push(start);
    out.ends.push(end);
  }
}

/** Sorts (when needed) and merges unsorted, possibly overlapping ranges. */
function normalise<T extends number | bigint>(starts: T[], ends: T[], step: Step<T>): { starts: T[]; ends: T[] } {
  let sorted = true;
  for (let i = 1; i < starts.length && sorted; i++) sorted = starts[i - 1]! <= starts[i]!;
  let order: ArrayLike<number> | null = null;
  if (!sorted) {
    const idx = new Uint32Array(starts.length);
    for (let i = 0; i < idx.length; i++) idx[i] = i;
    idx.sort((a, b) => (starts[a]! < starts[b]! ? -1 : starts[a]! > starts[b]! ? 1 : a - b));
    order = idx;
  }
  const out = { starts: [] as T[], ends: [] as T[] };
  for (let k = 0; k < starts.length; k++) {
    const i = order === null ? k : order[k]!;
    push(out, starts[i]!, ends[i]!, step);
  }
  return out;
}

/** Union of two merged lists, by a linear merge. */
function unionRanges<T extends number | bigint>(a: Ranges<T>, b: Ranges<T>, step: Step<T>): { starts: T[]; ends: T[] } {
  const out = { starts: [] as T[], ends: [] as T[] };
  let i = 0;
  let j = 0;
  while (i < a.starts.length || j < b.starts.length) {
    if (j >= b.starts.length || (i < a.starts.length && a.starts[i]! <= b.starts[j]!)) {
      push(out, a.starts[i]!, a.ends[i]!, step);
      i++;
    } else {
      push(out, b.starts[j]!, b.ends[j]!, step);
      j++;
    }
  }
  return out;
}

/** `a` minus `b`, both merged and sorted. */
function subtractRanges<T extends number | bigint>(a: Ranges<T>, b: Ranges<T>, step: Step<T>): { starts: T[]; ends: T[] } {
  const out = { starts: [] as T[], ends: [] as T[] };
  let j = 0;
  for (let i = 0; i < a.starts.length; i++) {
    let start = a.starts[i]!;
    const end = a.ends[i]!;
    while (j < b.starts.length && b.ends[j]! < start) j++;
    let done = false;
    for (let k = j; k < b.starts.length && b.starts[k]! <= end; k++) {
      if (b.starts[k]! > start) {
        out.starts.push(start);
        out.ends.push(step.pred(b.starts[k]!));
      }
      if (b.ends[k]! >= end) {
        done = true;
        break;
      }
      start = step.succ(b.ends[k]!);
    }
    if (!done) {
      out.starts.push(start);
      out.ends.push(end);
    }
  }
  return out;
}

/** Index of the last range whose start is <= x, or -1. */
function lastStartAtMost<T extends number | bigint>(starts: ArrayLike<T>, x: T): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! <= x) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi;
}

function containsRanges<T extends number | bigint>(outer: Ranges<T>, inner: Ranges<T>): boolean {
  /* Outer ranges are merged, so a contained range lies inside a single one of them. */
  for (let i = 0; i < inner.starts.length; i++) {
    const k = lastStartAtMost(outer.starts, inner.starts[i]!);
    if (k < 0 || outer.ends[k]! < inner.ends[i]!) return false;
  }
  return true;
}

function sizeOf<T extends number | bigint>(r: Ranges<T>, step: Step<T>): bigint {
  let n = 0n;
  for (let i = 0; i < r.starts.length; i++) n += step.toBig(r.ends[i]!) - step.toBig(r.starts[i]!) + 1n;
  return n;
}

/**
 * Accumulates parsed ranges for an IpSet. Single IPv4 addresses, the bulk of a long list,
 * are kept as plain numbers and sorted as a typed array, so a list of a million addresses
 * costs megabytes, not one object per line.
 */
export class SpanCollector {
  private readonly singles: number[] = [];
  private readonly v4s: number[] = [];
  private readonly v4e: number[] = [];
  private readonly v6s: bigint[] = [];
  private readonly v6e: bigint[] = [];

  add(family: 4 | 6, start: bigint, end: bigint): void {
    if (family === 4) {
      if (start === end) {
        this.singles.push(Number(start));
      } else {
        this.v4s.push(Number(start));
        this.v4e.push(Number(end));
      }
    } else {
      this.v6s.push(start);
      this.v6e.push(end);
    }
  }

  toIpSet(): IpSet {
    const sorted = Float64Array.from(this.singles).sort();
    const runs = { starts: [] as number[], ends: [] as number[] };
    for (const v of sorted) push(runs, v, v, STEP4);
    const v4 = unionRanges(runs, normalise(this.v4s, this.v4e, STEP4), STEP4);
    return IpSet.fromRanges(v4, normalise(this.v6s, this.v6e, STEP6));
  }
}

export class IpSet {
  private readonly v4: { starts: Float64Array; ends: Float64Array };
  private readonly v6: { starts: readonly bigint[]; ends: readonly bigint[] };
  readonly size: bigint;

  private constructor(v4: Ranges<number>, v6: Ranges<bigint>) {
    this.v4 = { starts: Float64Array.from(v4.starts), ends: Float64Array.from(v4.ends) };
    this.v6 = { starts: Array.from(v6.starts), ends: Array.from(v6.ends) };
    this.size = sizeOf(this.v4, STEP4) + sizeOf(this.v6, STEP6);
  }

  /** @internal From already merged, sorted ranges. */
  static fromRanges(v4: Ranges<number>, v6: Ranges<bigint>): IpSet {
    return new IpSet(v4, v6);
  }

  /** Builds a set from unsorted, possibly overlapping spans (IPv4 values below 2^32). */
  static fromSpans(v4: Span[], v6: Span[]): IpSet {
    const c = new SpanCollector();
    for (const s of v4) c.add(4, s.start, s.end);
    for (const s of v6) c.add(6, s.start, s.end);
    return c.toIpSet();
  }

  static empty(): IpSet {
    return new IpSet({ starts: [], ends: [] }, { starts: [], ends: [] });
  }

  /**
   * Parses addresses, CIDRs and ranges (each token may itself hold several, separated by
   * commas or whitespace). Host names and file references are refused: scope and exclusion
   * lists are address lists, so that what they allow cannot change with DNS.
   */
  static parse(tokens: string[], context = 'address list'): IpSet {
    const c = new SpanCollector();
    for (const value of tokens) {
      for (const token of splitTokens(value)) {
        const p = parseToken(token);
        if (p.kind === 'error') throw new UsageError(`${context}: bad entry ${quoteToken(token)}: ${p.reason}`);
        if (p.kind === 'name') {
          throw new UsageError(`${context}: ${quoteToken(token)} is a host name; only addresses, CIDRs and ranges are accepted here`);
        }
        c.add(p.family, p.start, p.end);
      }
    }
    return c.toIpSet();
  }

  /** True when `ip` is in the set. An IPv4-mapped IPv6 address matches its IPv4 form too. */
  has(ip: string): boolean {
    const v4 = parseIPv4(ip);
    if (v4 !== null) return this.hasV4(v4);
    const v6 = parseIPv6(ip);
    if (v6 === null) return false;
    return this.hasV6(v6);
  }

  /** Membership of an IPv4 address given as an unsigned 32-bit number. */
  hasV4(x: number): boolean {
    const k = lastStartAtMost(this.v4.starts, x);
    return k >= 0 && this.v4.ends[k]! >= x;
  }

  /** Membership of an IPv6 address; an IPv4-mapped one also matches the IPv4 ranges. */
  hasV6(x: bigint): boolean {
    if (x >= V4_MAPPED_START && x <= V4_MAPPED_END && this.hasV4(Number(x - V4_MAPPED_START))) return true;
    const k = lastStartAtMost(this.v6.starts, x);
    return k >= 0 && this.v6.ends[k]! >= x;
  }

  /** True when every address of `other` is in this set (checked range by range, never expanded). */
  containsAll(other: IpSet): boolean {
    return containsRanges(this.v4, other.v4) && containsRanges(this.v6, other.v6);
  }

  union(o: IpSet): IpSet {
    return new IpSet(unionRanges(this.v4, o.v4, STEP4), unionRanges(this.v6, o.v6, STEP6));
  }

  subtract(o: IpSet): IpSet {
    return new IpSet(subtractRanges(this.v4, o.v4, STEP4), subtractRanges(this.v6, o.v6, STEP6));
  }

  /** The addresses in both sets (A minus what of A is not in B: two linear merges, never expanded). */
  intersect(o: IpSet): IpSet {
    return this.subtract(this.subtract(o));
  }

  get isEmpty(): boolean {
    return this.v4.starts.length === 0 && this.v6.starts.length === 0;
  }

  /** The merged ranges as text, IPv4 first, each family in ascending order. */
  ranges(): Array<{ start: string; end: string }> {
    const out: Array<{ start: string; end: string }> = [];
    this.forEachSpan((family, s) => {
      const fmt = family === 4 ? (v: bigint) => formatIPv4(Number(v)) : formatIPv6;
      out.push({ start: fmt(s.start), end: fmt(s.end) });
    });
    return out;
  }

  /** Each merged range as compact text (`a.b.c.d`, `a.b.c.0/24` or `start-end`), IPv4 first. */
  rangeTexts(limit = Number.POSITIVE_INFINITY): string[] {
    const out: string[] = [];
    this.forEachSpan((family, s) => {
      if (out.length < limit) out.push(formatRange(family, s));
    });
    return out;
  }

  /** Number of merged ranges. */
  get rangeCount(): number {
    return this.v4.starts.length + this.v6.starts.length;
  }

  private forEachSpan(fn: (family: 4 | 6, s: Span) => void): void {
    for (let i = 0; i < this.v4.starts.length; i++) fn(4, { start: BigInt(this.v4.starts[i]!), end: BigInt(this.v4.ends[i]!) });
    for (let i = 0; i < this.v6.starts.length; i++) fn(6, { start: this.v6.starts[i]!, end: this.v6.ends[i]! });
  }

  /** The merged IPv4 ranges (read-only view for TargetSet; values below 2^32). */
  v4Ranges(): { readonly starts: Float64Array; readonly ends: Float64Array } {
    return this.v4;
  }

  /** The merged IPv6 ranges (read-only view for TargetSet). */
  v6Ranges(): { readonly starts: readonly bigint[]; readonly ends: readonly bigint[] } {
    return this.v6;
  }
}

/** Text of one range: a single address, a CIDR when it is exactly one block, else `start-end`. */
export function formatRange(family: 4 | 6, s: Span): string {
  const fmt = (v: bigint) => (family === 4 ? formatIPv4(Number(v)) : formatIPv6(v));
  if (s.start === s.end) return fmt(s.start);
  const count = s.end - s.start + 1n;
  if ((count & (count - 1n)) === 0n && (s.start & (count - 1n)) === 0n) {
    const hostBits = count.toString(2).length - 1;
    return `${fmt(s.start)}/${(family === 4 ? 32 : 128) - hostBits}`;
  }
  return `${fmt(s.start)}-${fmt(s.end)}`;
}
