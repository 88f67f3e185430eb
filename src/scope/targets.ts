/**
 * The target set: every address the user named (addresses, CIDRs, ranges, host names, `@file`
 * lists, stdin), merged into sorted ranges and streamed in a keyed pseudo-random order.
 *
 * Nothing is expanded: position i goes through the Feistel permutation to an index in [0, N),
 * and a binary search over the cumulative range sizes turns the index into an address. A /8
 * costs two numbers; the whole IPv4 space four. Positions are stable for a given seed, which
 * is what sharding (i % n === k, as ZMap `--shards`) and resuming (start at position p) need.
 */
import { UsageError } from '../core/errors.js';
import { formatIPv4, formatIPv6, formatIPv6Words } from './ip.js';
import { type IpSet, SpanCollector, parseToken, quoteToken, splitTokens } from './ipset.js';
import { type ReadFileFn, forEachToken, readList, readStream } from './lists.js';
import { MAX_PERMUTATION_SIZE, Permutation } from './permutation.js';
import { createHostResolver, resolveAll } from './resolver.js';

export interface TargetEntry {
  ip: string;
  hostname?: string;
}

export interface TargetSpecOptions {
  /** `--resolver IP[:PORT]`; without it the system resolver. */
  resolver?: string;
  /** Where `-` reads from (default process.stdin). */
  stdin?: NodeJS.ReadableStream;
  /** Reads `@file` lists (default: fs, with the MAX_LIST_BYTES cap). */
  readFile?: ReadFileFn;
}

export interface IterateOptions {
  seed: bigint | number;
  /** First position to produce (resume); with a shard, the first of the shard's positions >= start. */
  start?: number;
  /** Shard k of n: positions i with i % n === k. */
  shard?: { index: number; count: number };
  /** Addresses never produced (they never reach a connect). */
  exclude?: IpSet;
}

/** Largest target set: positions must stay exact doubles and fit the 32-bit permutation. */
export const MAX_TARGETS = MAX_PERMUTATION_SIZE;

function tooLarge(set: IpSet): UsageError {
  const v6 = set.v6Ranges();
  const v6Big = v6.starts.some((start, i) => v6.ends[i]! - start + 1n > 1n << 32n);
  return new UsageError(
    `the target set holds ${set.size} addresses, more than 2^32 (${MAX_TARGETS})` +
      (v6Big
        ? '; IPv6 prefixes shorter than /96 cannot be scanned by enumeration (one /64 is 2^64 addresses): list known addresses or use a longer prefix'
        : '; split the run into smaller sets'),
  );
}

export class TargetSet {
  /** Number of addresses (after merging duplicates and overlaps). */
  readonly size: number;
  private readonly set: IpSet;
  private readonly hostnames: ReadonlyMap<string, string>;
  /** Range starts: IPv4 ranges first (as numbers), then IPv6 (as bigints). */
  private readonly v4Starts: Float64Array;
  private readonly v6Starts: readonly bigint[];
  /** IPv6 range starts as four 32-bit words each, so most addresses format without bigint math. */
  private readonly v6Words: Float64Array;
  /** offsets[j] = number of addresses in ranges before range j; offsets[ranges] = size. */
  private readonly offsets: Float64Array;
  private cached: { seed: bigint | number; perm: Permutation } | null = null;

  private constructor(set: IpSet, hostnames: ReadonlyMap<string, string>) {
    if (set.size > BigInt(MAX_TARGETS)) throw tooLarge(set);
    this.set = set;
    this.hostnames = hostnames;
    const v4 = set.v4Ranges();
    const v6 = set.v6Ranges();
    this.v4Starts = v4.starts;
    this.v6Starts = v6.starts;
    this.v6Words = new Float64Array(v6.starts.length * 4);
    v6.starts.forEach((start, j) => {
      for (let w = 0; w < 4; w++) this.v6Words[j * 4 + w] = Number((start >> BigInt(96 - 32 * w)) & 0xffffffffn);
    });
    const ranges = v4.starts.length + v6.starts.length;
    this.offsets = new Float64Array(ranges + 1);
    let total = 0;
    for (let j = 0; j < v4.starts.length; j++) {
      this.offsets[j] = total;
      total += v4.ends[j]! - v4.starts[j]! + 1;
    }
    for (let j = 0; j < v6.starts.length; j++) {
      this.offsets[v4.starts.length + j] = total;
      total += Number(v6.ends[j]! - v6.starts[j]! + 1n);
    }
    this.offsets[ranges] = total;
    this.size = total;
  }

  /**
   * A target set from an address set, with optional address-to-name labels (canonical address
   * text to host name). Throws UsageError above 2^32 addresses.
   */
  static fromIpSet(set: IpSet, hostnames: ReadonlyMap<string, string> = new Map()): TargetSet {
    return new TargetSet(set, hostnames);
  }

  /**
   * Parses target specs (each may hold several targets separated by commas/whitespace),
   * reads `@file` lists and `-` (stdin), resolves host names through the configured resolver.
   * Every error is a UsageError naming the token (and file:line).
   */
  static async fromSpecs(specs: string[], opts: TargetSpecOptions = {}): Promise<TargetSet> {
    const spans = new SpanCollector();
    const names = new Map<string, string>(); /* lower-cased name -> name as first written */
    let tokens = 0;
    let stdinRead = false;
    /** Adds one token; `where` is '' on the command line, else `file:line` / `stdin:line`. */
    const add = (token: string, where: string) => {
      tokens++;
      const prefix = where === '' ? '' : `${where}: `;
      if (where !== '' && (token === '-' || token.startsWith('@'))) {
        throw new UsageError(`${prefix}bad target ${quoteToken(token)}: lists cannot include other lists or stdin`);
      }
      const p = parseToken(token);
      if (p.kind === 'error') throw new UsageError(`${prefix}bad target ${quoteToken(token)}: ${p.reason}`);
      if (p.kind === 'name') {
        const key = p.name.toLowerCase();
        if (!names.has(key)) names.set(key, p.name);
      } else {
        spans.add(p.family, p.start, p.end);
      }
    };
    const addList = (text: string, source: string) => forEachToken(text, (token, line) => add(token, `${source}:${line}`));
    const addFile = async (path: string, token: string) => {
      if (path === '') throw new UsageError(`bad target ${quoteToken(token)}: '@' must be followed by a file name`);
      addList(await readList(path, opts.readFile), path);
    };
    for (const spec of specs) {
      const trimmed = spec.trim();
      /* A whole spec starting with '@' is one path, which may contain commas or spaces. */
      if (trimmed.startsWith('@')) {
        await addFile(trimmed.slice(1), trimmed);
        continue;
      }
      for (const token of splitTokens(spec)) {
        if (token === '-') {
          if (!stdinRead) {
            stdinRead = true;
            addList(await readStream(opts.stdin ?? process.stdin), 'stdin');
          }
        } else if (token.startsWith('@')) {
          await addFile(token.slice(1), token);
        } else {
          add(token, '');
        }
      }
    }
    if (tokens === 0) throw new UsageError('no targets given (addresses, CIDRs, ranges, host names, @file or - for stdin)');

    /* Refuse an oversized set before spending any DNS query on it. */
    const literal = spans.toIpSet();
    if (literal.size > BigInt(MAX_TARGETS)) throw tooLarge(literal);
    if (names.size === 0) return new TargetSet(literal, new Map());

    const resolvedSpans = new SpanCollector();
    const hostnames = new Map<string, string>();
    const resolved = await resolveAll([...names.values()], createHostResolver(opts.resolver));
    for (const [name, addresses] of resolved) {
      for (const ip of addresses) {
        const p = parseToken(ip);
        if (p.kind !== 'range') continue;
        resolvedSpans.add(p.family, p.start, p.end);
        /* Key by the canonical text the iterator will produce (IPv4-mapped answers become IPv4). */
        const key = p.family === 4 ? formatIPv4(Number(p.start)) : formatIPv6(p.start);
        /* Several names for one address: the first one named keeps it (entries are per address). */
        if (!hostnames.has(key)) hostnames.set(key, name);
      }
    }
    return new TargetSet(literal.union(resolvedSpans.toIpSet()), hostnames);
  }

  /** The merged set, for scope checks. */
  addresses(): IpSet {
    return this.set;
  }

  private permutation(seed: bigint | number): Permutation {
    if (this.cached === null || this.cached.seed !== seed) {
      this.cached = { seed, perm: new Permutation(this.size, seed) };
    }
    return this.cached.perm;
  }

  /** Range number holding index `idx` (largest j with offsets[j] <= idx). */
  private rangeOf(idx: number): number {
    const offsets = this.offsets;
    let lo = 0;
    let hi = offsets.length - 2;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (offsets[mid]! <= idx) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private entry(ip: string): TargetEntry {
    if (this.hostnames.size > 0) {
      const hostname = this.hostnames.get(ip);
      if (hostname !== undefined) return { ip, hostname };
    }
    return { ip };
  }

  /** The target at `position` of the permuted order for `seed`. */
  at(position: number, seed: bigint | number): TargetEntry {
    if (!Number.isInteger(position) || position < 0 || position >= this.size) {
      throw new RangeError(`position ${position} outside [0, ${this.size})`);
    }
    const idx = this.permutation(seed).at(position);
    const j = this.rangeOf(idx);
    const delta = idx - this.offsets[j]!;
    if (j < this.v4Starts.length) return this.entry(formatIPv4(this.v4Starts[j]! + delta));
    return this.entry(this.formatV6(j - this.v4Starts.length, delta));
  }

  /** Text of the address `delta` past the start of IPv6 range `k`. */
  private formatV6(k: number, delta: number): string {
    const words = this.v6Words;
    const low = words[k * 4 + 3]! + delta;
    if (low <= 0xffffffff) return formatIPv6Words(words[k * 4]!, words[k * 4 + 1]!, words[k * 4 + 2]!, low);
    return formatIPv6(this.v6Starts[k]! + BigInt(delta)); /* carry into the upper words */
  }

  /**
   * Streams targets in the permuted order from `start`, optionally one shard, skipping
   * excluded addresses. Each result carries its position, which is what a resume records.
   */
  iterate(opts: IterateOptions): Generator<{ position: number; target: TargetEntry }> {
    /* Validated here, not inside the generator, so a bad shard or start fails at the call. */
    const count = opts.shard?.count ?? 1;
    const index = opts.shard?.index ?? 0;
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
      throw new UsageError(`bad shard ${index} of ${count}: need 0 <= index < count`);
    }
    const start = opts.start ?? 0;
    if (!Number.isInteger(start) || start < 0) throw new UsageError(`bad start position ${start}`);
    if (typeof opts.seed === 'number' && !Number.isSafeInteger(opts.seed)) throw new UsageError(`bad seed ${opts.seed}: need an integer`);
    /* The first position >= start that belongs to the shard. */
    return this.walk(opts.seed, start + ((index - (start % count) + count) % count), count, opts.exclude);
  }

  /** Positions first, first + step, ... through the permutation, minus the excluded addresses. */
  private *walk(
    seed: bigint | number,
    first: number,
    step: number,
    excludeSet: IpSet | undefined,
  ): Generator<{ position: number; target: TargetEntry }> {
    if (first >= this.size) return;
    const perm = this.permutation(seed);
    const exclude = excludeSet !== undefined && !excludeSet.isEmpty ? excludeSet : undefined;
    const v4Count = this.v4Starts.length;
    const singleV4 = v4Count === 1 && this.v6Starts.length === 0;
    for (let p = first; p < this.size; p += step) {
      const idx = perm.at(p);
      const j = singleV4 ? 0 : this.rangeOf(idx);
      const delta = idx - this.offsets[j]!;
      let ip: string;
      if (j < v4Count) {
        const v = this.v4Starts[j]! + delta;
        if (exclude?.hasV4(v)) continue;
        ip = formatIPv4(v);
      } else {
        if (exclude?.hasV6(this.v6Starts[j - v4Count]! + BigInt(delta))) continue;
        ip = this.formatV6(j - v4Count, delta);
      }
      yield { position: p, target: this.entry(ip) };
    }
  }
}
