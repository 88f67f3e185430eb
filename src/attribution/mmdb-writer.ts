/**
 * A small MaxMind DB writer, FOR TESTS ONLY: it builds fixture databases (GeoLite2-Country-like,
 * ASN-like, ip-location-db-like) in a temporary folder, so that the attribution tests read real
 * .mmdb files through the `maxmind` package without downloading anything. Reading them back
 * with that independent reader is what proves this writer.
 *
 * Format: MaxMind DB File Format Specification v2.0 (maxmind/MaxMind-DB MaxMind-DB-spec.md):
 * - Binary search tree: node 0 is the root; each node holds two records (bit 0: left, 1: right)
 *   of 24, 28 or 32 bits, big-endian; in a 28-bit node the middle byte holds the high nibbles
 *   (left in the upper four bits). A record < node_count is a node, = node_count "no data",
 *   > node_count points into the data section at (record - node_count - 16).
 * - IPv4 networks in an IPv6 tree sit at ::a.b.c.d (the first 32 bits of address space under
 *   ::/96). MaxMind also aliases ::ffff:0:0/96 and 2002::/16 to that subtree; this writer does
 *   not (the attribution code maps IPv4-mapped addresses to IPv4 before looking them up).
 * - 16 zero bytes, then the data section: fields with a control byte (type in the top three
 *   bits, 0 = extended type in the next byte as type - 7; payload size in the low five bits,
 *   29/30/31 = size in the next 1/2/3 bytes + 29/285/65,821), pointers (type 1, 001SSVVV) to
 *   repeated strings, maps and arrays, as MaxMind's own writer does.
 * - The marker "\xAB\xCD\xEFMaxMind.com" and the metadata map (node_count uint32, record_size
 *   uint16, ip_version uint16, database_type, languages, binary_format_major/minor_version
 *   uint16, build_epoch uint64, description).
 *
 * Networks are applied from the least to the most specific, so the most specific one wins
 * wherever they overlap, whatever their order in the input.
 */
import { writeFile } from 'node:fs/promises';
import ipaddr from 'ipaddr.js';

export type MmdbScalarType = 'uint16' | 'uint32' | 'int32' | 'uint64' | 'uint128' | 'double' | 'float';

/** A number written with an explicit MaxMind DB type. */
export class MmdbTyped {
  constructor(
    readonly type: MmdbScalarType,
    readonly value: number | bigint,
  ) {}
}

export const mmdbType = {
  uint16: (v: number) => new MmdbTyped('uint16', v),
  uint32: (v: number) => new MmdbTyped('uint32', v),
  int32: (v: number) => new MmdbTyped('int32', v),
  uint64: (v: bigint) => new MmdbTyped('uint64', v),
  uint128: (v: bigint) => new MmdbTyped('uint128', v),
  double: (v: number) => new MmdbTyped('double', v),
  float: (v: number) => new MmdbTyped('float', v),
};

/**
 * A value in the data section. Plain numbers: a non-negative integer below 2^32 is a uint32, a
 * negative one an int32, anything else a double. A bigint is a uint64 (uint128 above 2^64).
 */
export type MmdbValue =
  | string
  | number
  | bigint
  | boolean
  | Uint8Array
  | MmdbTyped
  | readonly MmdbValue[]
  | { readonly [key: string]: MmdbValue };

export interface MmdbNetwork {
  /** CIDR (`192.0.2.0/24`, `2001:db8::/32`) or a single address. */
  network: string;
  data: MmdbValue;
}

export interface MmdbWriteOptions {
  ipVersion: 4 | 6;
  databaseType: string;
  networks: readonly MmdbNetwork[];
  /** Smallest that fits when not given; an error when the given one is too small. */
  recordSize?: 24 | 28 | 32;
  languages?: readonly string[];
  description?: Readonly<Record<string, string>>;
  /** Seconds since the epoch (default 0, for reproducible files). */
  buildEpoch?: bigint;
  /** Write repeated strings, maps and arrays once and point to them (default true). */
  usePointers?: boolean;
}

/** Thrown for input this writer cannot encode. */
export class MmdbWriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MmdbWriteError';
  }
}

const MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');
const MAX_PAYLOAD = 16_843_036; /* 65,821 + 2^24 - 1 (spec, "Payload Size") */

const T = { pointer: 1, utf8: 2, double: 3, bytes: 4, uint16: 5, uint32: 6, map: 7, int32: 8, uint64: 9, uint128: 10, array: 11, boolean: 14, float: 15 } as const;

/** Appends bytes to a growing buffer. */
class ByteSink {
  private buf = Buffer.alloc(1024);
  length = 0;

  private grow(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  push(...bytes: number[]): void {
    this.grow(bytes.length);
    for (const b of bytes) this.buf[this.length++] = b;
  }

  append(b: Uint8Array): void {
    this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function beBytes(v: bigint, width: number): number[] {
  const out: number[] = [];
  for (let i = width - 1; i >= 0; i--) out.push(Number((v >> BigInt(i * 8)) & 0xffn));
  return out;
}

/** Big-endian bytes without leading zeros (the value 0 has none). */
function minimalBytes(v: bigint): number[] {
  const out: number[] = [];
  while (v > 0n) {
    out.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

/** Key identifying equal values, for pointer de-duplication. */
function keyOf(v: MmdbValue): string {
  if (typeof v === 'string') return `s${JSON.stringify(v)}`;
  if (typeof v === 'number') return `n${v}`;
  if (typeof v === 'bigint') return `b${v}`;
  if (typeof v === 'boolean') return `t${v}`;
  if (v instanceof MmdbTyped) return `${v.type}:${v.value}`;
  if (v instanceof Uint8Array) return `x${Buffer.from(v).toString('hex')}`;
  if (Array.isArray(v)) return `[${(v as readonly MmdbValue[]).map(keyOf).join(',')}]`;
  const m = v as { readonly [key: string]: MmdbValue };
  return `{${Object.keys(m)
    .map((k) => `${JSON.stringify(k)}:${keyOf(m[k]!)}`)
    .join(',')}}`;
}

/** Encodes data-section fields (spec, "Output Data Section"). */
class DataEncoder {
  readonly sink = new ByteSink();
  private readonly offsets = new Map<string, number>();

  constructor(private readonly usePointers: boolean) {}

  private control(type: number, size: number): void {
    if (size > MAX_PAYLOAD) throw new MmdbWriteError(`field of ${size} bytes/entries exceeds the format's ${MAX_PAYLOAD}`);
    let low: number;
    const extra: number[] = [];
    if (size < 29) low = size;
    else if (size < 285) {
      low = 29;
      extra.push(size - 29);
    } else if (size < 65_821) {
      low = 30;
      extra.push(...beBytes(BigInt(size - 285), 2));
    } else {
      low = 31;
      extra.push(...beBytes(BigInt(size - 65_821), 3));
    }
    if (type <= 7) this.sink.push((type << 5) | low);
    else this.sink.push(low, type - 7);
    this.sink.push(...extra);
  }

  private pointer(offset: number): void {
    if (offset < 2048) this.sink.push(0x20 | (offset >> 8), offset & 0xff);
    else if (offset < 2048 + 524_288) {
      const v = offset - 2048;
      this.sink.push(0x28 | (v >> 16), ...beBytes(BigInt(v & 0xffff), 2));
    } else if (offset < 526_336 + 134_217_728) {
      const v = offset - 526_336;
      this.sink.push(0x30 | (v >> 24), ...beBytes(BigInt(v & 0xffffff), 3));
    } else this.sink.push(0x38, ...beBytes(BigInt(offset), 4));
  }

  private uint(type: number, v: bigint, maxBytes: number): void {
    const b = minimalBytes(v);
    if (v < 0n || b.length > maxBytes) throw new MmdbWriteError(`${v} does not fit the type`);
    this.control(type, b.length);
    this.sink.push(...b);
  }

  private scalar(t: MmdbTyped): void {
    const v = t.value;
    switch (t.type) {
      case 'uint16':
        this.uint(T.uint16, BigInt(v), 2);
        break;
      case 'uint32':
        this.uint(T.uint32, BigInt(v), 4);
        break;
      case 'uint64':
        this.uint(T.uint64, BigInt(v), 8);
        break;
      case 'uint128':
        this.uint(T.uint128, BigInt(v), 16);
        break;
      case 'int32': {
        const n = Number(v);
        if (!Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff) throw new MmdbWriteError(`${n} is not an int32`);
        if (n >= 0) {
          this.uint(T.int32, BigInt(n), 4);
        } else {
          this.control(T.int32, 4);
          this.sink.push(...beBytes(BigInt(n >>> 0), 4));
        }
        break;
      }
      case 'double':
      case 'float': {
        const width = t.type === 'double' ? 8 : 4;
        const b = Buffer.alloc(width);
        if (width === 8) b.writeDoubleBE(Number(v));
        else b.writeFloatBE(Number(v));
        this.control(t.type === 'double' ? T.double : T.float, width);
        this.sink.append(b);
        break;
      }
    }
  }

  /**
   * Writes a record the search tree points to; returns its offset. An equal value written
   * earlier (nested in another record) is reused in place: the tree never points to a pointer.
   */
  writeRecord(v: MmdbValue): number {
    const at = this.usePointers ? this.offsets.get(keyOf(v)) : undefined;
    return at ?? this.write(v);
  }

  /** Writes `v`, or a pointer to an earlier copy of it; returns the offset of what it wrote. */
  write(v: MmdbValue): number {
    const reusable = typeof v === 'string' ? Buffer.byteLength(v) >= 3 : typeof v === 'object' && !(v instanceof MmdbTyped) && !(v instanceof Uint8Array);
    const key = this.usePointers && reusable ? keyOf(v) : null;
    if (key !== null) {
      const at = this.offsets.get(key);
      if (at !== undefined) {
        const here = this.sink.length;
        this.pointer(at);
        return here;
      }
      this.offsets.set(key, this.sink.length);
    }
    const start = this.sink.length;
    if (typeof v === 'string') {
      const b = Buffer.from(v, 'utf8');
      this.control(T.utf8, b.length);
      this.sink.append(b);
    } else if (typeof v === 'boolean') {
      this.control(T.boolean, v ? 1 : 0);
    } else if (typeof v === 'number') {
      if (Number.isInteger(v) && v >= 0 && v <= 0xffffffff) this.uint(T.uint32, BigInt(v), 4);
      else if (Number.isInteger(v) && v < 0 && v >= -0x80000000) this.scalar(mmdbType.int32(v));
      else this.scalar(mmdbType.double(v));
    } else if (typeof v === 'bigint') {
      this.scalar(v < 1n << 64n ? mmdbType.uint64(v) : mmdbType.uint128(v));
    } else if (v instanceof MmdbTyped) {
      this.scalar(v);
    } else if (v instanceof Uint8Array) {
      this.control(T.bytes, v.length);
      this.sink.append(v);
    } else if (Array.isArray(v)) {
      const items = v as readonly MmdbValue[];
      this.control(T.array, items.length);
      for (const item of items) this.write(item);
    } else {
      const m = v as { readonly [key: string]: MmdbValue };
      const keys = Object.keys(m);
      this.control(T.map, keys.length);
      for (const k of keys) {
        this.write(k);
        this.write(m[k]!);
      }
    }
    return start;
  }
}

interface ParsedNetwork {
  bits: bigint;
  prefix: number;
  order: number;
  data: MmdbValue;
}

function parseNetwork(n: MmdbNetwork, order: number, ipVersion: 4 | 6): ParsedNetwork {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  let prefix: number;
  try {
    [addr, prefix] = n.network.includes('/') ? ipaddr.parseCIDR(n.network) : (() => {
      const a = ipaddr.parse(n.network);
      return [a, a.kind() === 'ipv4' ? 32 : 128] as [ipaddr.IPv4 | ipaddr.IPv6, number];
    })();
  } catch (e) {
    throw new MmdbWriteError(`bad network ${JSON.stringify(n.network)}: ${(e as Error).message}`);
  }
  let bits = 0n;
  for (const b of addr.toByteArray()) bits = (bits << 8n) | BigInt(b);
  if (addr.kind() === 'ipv6' && ipVersion === 4) throw new MmdbWriteError(`IPv6 network ${n.network} in an IPv4 database`);
  const width = addr.kind() === 'ipv4' ? 32 : 128;
  if ((bits & ((1n << BigInt(width - prefix)) - 1n)) !== 0n) throw new MmdbWriteError(`network ${n.network} has host bits set`);
  /* IPv4 in an IPv6 tree: ::a.b.c.d, i.e. the same bits under 96 leading zeros. */
  if (addr.kind() === 'ipv4' && ipVersion === 6) prefix += 96;
  return { bits, prefix, order, data: n.data };
}

/** Record values: >= 0 a node, EMPTY no data, <= -2 data item (-2 - index). */
const EMPTY = -1;

/** Builds the whole database file in memory. */
export function buildMmdb(opts: MmdbWriteOptions): Buffer {
  const depth = opts.ipVersion === 4 ? 32 : 128;
  const networks = opts.networks
    .map((n, i) => parseNetwork(n, i, opts.ipVersion))
    .sort((a, b) => a.prefix - b.prefix || a.order - b.order);

  /* Data items, each distinct record once, in order of first use. */
  const dataKeys = new Map<string, number>();
  const dataItems: MmdbValue[] = [];
  const left: number[] = [EMPTY];
  const right: number[] = [EMPTY];
  for (const n of networks) {
    const key = keyOf(n.data);
    let item = dataKeys.get(key);
    if (item === undefined) {
      item = dataItems.length;
      dataKeys.set(key, item);
      dataItems.push(n.data);
    }
    const value = -2 - item;
    if (n.prefix === 0) {
      left[0] = value;
      right[0] = value;
      continue;
    }
    let node = 0;
    for (let d = 0; d < n.prefix; d++) {
      const bit = Number((n.bits >> BigInt(depth - 1 - d)) & 1n);
      const side = bit === 1 ? right : left;
      if (d === n.prefix - 1) {
        side[node] = value;
        break;
      }
      const child = side[node]!;
      if (child >= 0) {
        node = child;
        continue;
      }
      /* Split a leaf: the new node inherits the leaf's value on both sides. */
      const created = left.length;
      left.push(child);
      right.push(child);
      side[node] = created;
      node = created;
    }
  }
  const nodeCount = left.length;

  const data = new DataEncoder(opts.usePointers ?? true);
  const itemOffsets = dataItems.map((v) => data.writeRecord(v));
  const recordOf = (r: number): bigint =>
    r >= 0 ? BigInt(r) : r === EMPTY ? BigInt(nodeCount) : BigInt(nodeCount + 16 + itemOffsets[-2 - r]!);

  const maxRecord = BigInt(nodeCount + 16 + data.sink.length);
  const fits = (size: number) => maxRecord < 1n << BigInt(size);
  const recordSize = opts.recordSize ?? ([24, 28, 32] as const).find(fits);
  if (recordSize === undefined || !fits(recordSize)) {
    throw new MmdbWriteError(`record values up to ${maxRecord} do not fit ${opts.recordSize ?? 32}-bit records`);
  }

  const out = new ByteSink();
  for (let i = 0; i < nodeCount; i++) {
    const l = recordOf(left[i]!);
    const r = recordOf(right[i]!);
    if (recordSize === 24) out.push(...beBytes(l, 3), ...beBytes(r, 3));
    else if (recordSize === 32) out.push(...beBytes(l, 4), ...beBytes(r, 4));
    else out.push(...beBytes(l & 0xffffffn, 3), Number(((l >> 24n) << 4n) | (r >> 24n)), ...beBytes(r & 0xffffffn, 3));
  }
  out.append(Buffer.alloc(16));
  out.append(data.sink.bytes());
  out.append(MARKER);
  const meta = new DataEncoder(false);
  meta.write({
    binary_format_major_version: mmdbType.uint16(2),
    binary_format_minor_version: mmdbType.uint16(0),
    build_epoch: mmdbType.uint64(opts.buildEpoch ?? 0n),
    database_type: opts.databaseType,
    description: opts.description ?? { en: `${opts.databaseType} (medsurface test fixture)` },
    ip_version: mmdbType.uint16(opts.ipVersion),
    languages: opts.languages ?? ['en'],
    node_count: mmdbType.uint32(nodeCount),
    record_size: mmdbType.uint16(recordSize),
  });
  out.append(meta.sink.bytes());
  return Buffer.from(out.bytes());
}

/** Builds a database and writes it to `file`. */
export async function writeMmdb(file: string, opts: MmdbWriteOptions): Promise<void> {
  await writeFile(file, buildMmdb(opts));
}
