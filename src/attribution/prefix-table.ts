/**
 * Longest-prefix match over a set of CIDR blocks, by binary search: the blocks are flattened
 * once into sorted, disjoint segments, each labelled with the most specific block covering it,
 * so a lookup costs O(log n) whatever the number of blocks, never a scan over all of them.
 *
 * Why flattening works: two CIDR blocks are either disjoint or one contains the other. Sorted
 * by start address (wider block first on equal starts), the blocks form a forest, and a sweep
 * with a stack of open blocks emits, between consecutive boundaries, the innermost open block.
 * n blocks give at most 2n + 1 segments.
 *
 * Tie-breaking: the same block listed twice (by two organisations, or twice by one) is one
 * block; the entry given first wins and the later ones are reported in `duplicates`.
 *
 * IPv4 segments live in Float64Arrays (exact below 2^53), IPv6 segments in bigint arrays.
 */
import type { Cidr, ParsedIp } from './address.js';

export interface PrefixMatch<T> {
  value: T;
  cidr: Cidr;
}

/** A block listed again after an earlier identical block, which takes precedence. */
export interface DuplicateBlock<T> {
  cidr: Cidr;
  kept: T;
  ignored: T;
}

interface Segments<N extends number | bigint> {
  starts: ArrayLike<N>;
  ends: ArrayLike<N>;
  /** Index into the entry list of the block that owns each segment. */
  owner: Int32Array;
}

/** Index of the last segment whose start is <= x, or -1. */
function lastStartAtMost<N extends number | bigint>(starts: ArrayLike<N>, x: N): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! <= x) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi;
}

/** The sweep described in the header, over one family. Returns segments as bigints. */
function flatten(cidrs: readonly Cidr[], order: readonly number[]): { starts: bigint[]; ends: bigint[]; owner: number[]; dups: Array<[number, number]> } {
  const sorted = [...order].sort((a, b) => {
    const x = cidrs[a]!;
    const y = cidrs[b]!;
    if (x.start !== y.start) return x.start < y.start ? -1 : 1;
    if (x.end !== y.end) return x.end > y.end ? -1 : 1; /* wider block first */
    return a - b; /* identical blocks: file order */
  });
  const out = { starts: [] as bigint[], ends: [] as bigint[], owner: [] as number[], dups: [] as Array<[number, number]> };
  const emit = (start: bigint, end: bigint, owner: number) => {
    if (start > end) return;
    const n = out.starts.length;
    if (n > 0 && out.owner[n - 1] === owner && out.ends[n - 1]! + 1n === start) {
      out.ends[n - 1] = end;
      return;
    }
    out.starts.push(start);
    out.ends.push(end);
    out.owner.push(owner);
  };
  const stack: number[] = [];
  let cursor = 0n; /* first address of the innermost open block not yet emitted */
  const closeUntil = (limit: bigint | null) => {
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const c = cidrs[top]!;
      if (limit !== null && c.end >= limit) return;
      emit(cursor, c.end, top);
      cursor = c.end + 1n;
      stack.pop();
    }
  };
  for (const i of sorted) {
    const c = cidrs[i]!;
    closeUntil(c.start);
    if (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const t = cidrs[top]!;
      if (t.start === c.start && t.end === c.end) {
        out.dups.push([top, i]);
        continue;
      }
      emit(cursor, c.start - 1n, top);
    }
    cursor = c.start;
    stack.push(i);
  }
  closeUntil(null);
  return out;
}

export class PrefixTable<T> {
  private readonly cidrs: readonly Cidr[];
  private readonly values: readonly T[];
  private readonly v4: Segments<number>;
  private readonly v6: Segments<bigint>;
  /** Identical blocks listed more than once; the first listing wins. */
  readonly duplicates: readonly DuplicateBlock<T>[];

  private constructor(entries: ReadonlyArray<{ cidr: Cidr; value: T }>) {
    this.cidrs = entries.map((e) => e.cidr);
    this.values = entries.map((e) => e.value);
    const byFamily = (f: 4 | 6) => this.cidrs.flatMap((c, i) => (c.family === f ? [i] : []));
    const f4 = flatten(this.cidrs, byFamily(4));
    const f6 = flatten(this.cidrs, byFamily(6));
    this.v4 = {
      starts: Float64Array.from(f4.starts, Number),
      ends: Float64Array.from(f4.ends, Number),
      owner: Int32Array.from(f4.owner),
    };
    this.v6 = { starts: f6.starts, ends: f6.ends, owner: Int32Array.from(f6.owner) };
    this.duplicates = [...f4.dups, ...f6.dups].map(([kept, ignored]) => ({
      cidr: this.cidrs[ignored]!,
      kept: this.values[kept]!,
      ignored: this.values[ignored]!,
    }));
  }

  /** Builds the table; on identical blocks the earlier entry wins. */
  static build<T>(entries: ReadonlyArray<{ cidr: Cidr; value: T }>): PrefixTable<T> {
    return new PrefixTable(entries);
  }

  /** Number of disjoint segments (both families), for tests and sizing. */
  get segmentCount(): number {
    return this.v4.starts.length + this.v6.starts.length;
  }

  /** The most specific block containing `ip`, with its value; `null` when none does. */
  lookup(ip: ParsedIp): PrefixMatch<T> | null {
    const owner = ip.family === 4 ? ownerOf(this.v4, ip.value) : ownerOf(this.v6, ip.value);
    if (owner < 0) return null;
    return { value: this.values[owner]!, cidr: this.cidrs[owner]! };
  }
}

function ownerOf<N extends number | bigint>(s: Segments<N>, x: N): number {
  const k = lastStartAtMost(s.starts, x);
  if (k < 0 || s.ends[k]! < x) return -1;
  return s.owner[k]!;
}
