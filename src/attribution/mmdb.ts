/**
 * MaxMind DB (.mmdb) files for country and ASN, read with the `maxmind` package's Reader.
 *
 * We read the file ourselves rather than through `maxmind.open`, for three reasons: a size cap
 * before anything is allocated, a clear AttributionError for a missing, compressed, truncated
 * or corrupt file (mmdb-lib's own errors say "Cannot parse binary database" at best, and it
 * trusts every pointer in the file), and a quick structural check of the search tree at open.
 * Format: MaxMind DB File Format Specification v2.0 (https://maxmind.github.io/MaxMind-DB/).
 *
 * Record layouts are recognised from the records' fields, never from the file name:
 * - MaxMind GeoIP2 / GeoLite2 Country and City: `country.iso_code`, else
 *   `registered_country.iso_code` (the country of the registrant, which MaxMind gives when it
 *   has no location, e.g. for satellite and anycast networks). Keys as in MaxMind's test data,
 *   maxmind/MaxMind-DB `source-data/GeoLite2-Country-Test.json`.
 * - MaxMind GeoLite2-ASN (and GeoIP2-ISP): top-level `autonomous_system_number` (uint32) and
 *   `autonomous_system_organization` (string, absent for some networks), as in
 *   `source-data/GeoLite2-ASN-Test.json`. GeoIP2 Enterprise keeps the same two keys under
 *   `traits`.
 * - The CC0 / CC-BY packages of sapics/ip-location-db on npm (`@ip-location-db/*-mmdb`):
 *   country databases hold a flat `country_code` string (geo-whois-asn-country-mmdb/README.md,
 *   "MMDB Format"; tools/conf/geo-whois-asn-country.yml `types: country_code: string`), ASN
 *   databases the same two keys as GeoLite2-ASN (asn-mmdb/README.md; tools/conf/asn.yml
 *   `autonomous_system_number: uint32`, `autonomous_system_organization: string`). They ship one
 *   file per family (`*-ipv4.mmdb` with ip_version 4, `*-ipv6.mmdb`), so a role takes several
 *   files.
 */
import { stat, readFile } from 'node:fs/promises';
import { Reader, type Response } from 'maxmind';
import { messageOf } from '../core/errors.js';
import { type ParsedIp, formatV4, formatV6 } from './address.js';
import { AttributionError } from './errors.js';

export const MMDB_LIMITS = {
  /** Largest file opened by default. GeoLite2-City is about 60 MB, DB-IP city lite about 130 MB. */
  fileBytes: 512 * 1024 * 1024,
  /** The metadata section, marker included, is at most 128 KiB (spec, "Database Metadata"). */
  metadataBytes: 128 * 1024,
  /** Distinct records sampled at open to recognise the layout. */
  sampleRecords: 16,
  /** Tree nodes visited at most while sampling. */
  sampleNodes: 100_000,
  /** Decoded records kept in the reader's cache. */
  cacheEntries: 10_000,
  /** Characters kept of an AS organisation name. */
  orgChars: 256,
} as const;

const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'); /* "\xAB\xCD\xEFMaxMind.com" */
const DATA_SECTION_SEPARATOR = 16;

/** What a file is used for: `--geoip` needs country fields, `--asn` needs ASN fields. */
export type MmdbRole = 'geoip' | 'asn';

/** Which known fields a database's records carry. */
export interface MmdbLayout {
  /** `geoip2`: country.iso_code / registered_country.iso_code; `country_code`: flat (ip-location-db). */
  country: 'geoip2' | 'country_code' | null;
  /** `top-level`: autonomous_system_* keys (GeoLite2-ASN, ip-location-db); `traits`: GeoIP2 Enterprise. */
  asn: 'top-level' | 'traits' | null;
}

export interface MmdbInfo {
  file: string;
  databaseType: string;
  ipVersion: 4 | 6;
  recordSize: number;
  nodeCount: number;
  buildEpoch: Date;
  layout: MmdbLayout;
}

/** What one record says about an address. */
export interface MmdbFields {
  country: string | null;
  asn: number | null;
  asOrg: string | null;
}

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : null;
}

function countryCode(v: unknown): string | null {
  return typeof v === 'string' && /^[A-Za-z]{2}$/.test(v) ? v.toUpperCase() : null;
}

function asNumber(v: unknown): number | null {
  if (typeof v === 'bigint') v = v <= 0xffffffffn ? Number(v) : null;
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v : null;
}

function orgName(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const s = v.trim();
  return s === '' ? null : s.slice(0, MMDB_LIMITS.orgChars);
}

/** Reads the known fields of one record, whichever layout it has (see the header). */
export function extractFields(record: unknown): MmdbFields & { layout: MmdbLayout } {
  const r = obj(record);
  const out: MmdbFields & { layout: MmdbLayout } = { country: null, asn: null, asOrg: null, layout: { country: null, asn: null } };
  if (r === null) return out;
  const nested = countryCode(obj(r.country)?.iso_code) ?? countryCode(obj(r.registered_country)?.iso_code);
  if (nested !== null) {
    out.country = nested;
    out.layout.country = 'geoip2';
  } else {
    const flat = countryCode(r.country_code);
    if (flat !== null) {
      out.country = flat;
      out.layout.country = 'country_code';
    }
  }
  const traits = obj(r.traits);
  const top = asNumber(r.autonomous_system_number);
  const inTraits = traits === null ? null : asNumber(traits.autonomous_system_number);
  if (top !== null) {
    out.asn = top;
    out.asOrg = orgName(r.autonomous_system_organization);
    out.layout.asn = 'top-level';
  } else if (inTraits !== null) {
    out.asn = inTraits;
    out.asOrg = orgName(traits?.autonomous_system_organization);
    out.layout.asn = 'traits';
  }
  return out;
}

/** A short description of a layout, for messages and `Attributor.sources`. */
export function describeLayout(l: MmdbLayout): string {
  const parts: string[] = [];
  if (l.country === 'geoip2') parts.push('country (GeoIP2/GeoLite2 Country or City)');
  if (l.country === 'country_code') parts.push('country (country_code, as in @ip-location-db)');
  if (l.asn === 'top-level') parts.push('ASN (autonomous_system_number, as in GeoLite2-ASN and @ip-location-db)');
  if (l.asn === 'traits') parts.push('ASN (traits.autonomous_system_number, as in GeoIP2 Enterprise)');
  return parts.length === 0 ? 'no known fields' : parts.join(' + ');
}

/** A small bounded cache for mmdb-lib's decoder (decoded records by data offset). */
function boundedCache(max: number): { get(k: string | number): unknown; set(k: string | number, v: unknown): void } {
  const m = new Map<string | number, unknown>();
  return {
    get: (k) => m.get(k),
    set: (k, v) => {
      if (m.size >= max) m.clear();
      m.set(k, v);
    },
  };
}

function readRecord(db: Buffer, recordSize: number, node: number, right: boolean): number {
  const off = node * (recordSize / 4);
  switch (recordSize) {
    case 24:
      return db.readUIntBE(off + (right ? 3 : 0), 3);
    case 28: {
      const middle = db[off + 3]!;
      return right ? ((middle & 0x0f) << 24) | db.readUIntBE(off + 4, 3) : ((middle & 0xf0) << 20) | db.readUIntBE(off, 3);
    }
    default:
      return db.readUInt32BE(off + (right ? 4 : 0));
  }
}

export class MmdbDatabase {
  readonly info: MmdbInfo;
  private readonly reader: Reader<Response>;

  private constructor(info: MmdbInfo, reader: Reader<Response>) {
    this.info = info;
    this.reader = reader;
  }

  /**
   * Opens and checks one database for a role. Throws AttributionError when the file is missing,
   * too large, compressed, not a MaxMind DB, corrupt, or has no field the role needs.
   */
  static async open(file: string, role: MmdbRole, maxBytes: number = MMDB_LIMITS.fileBytes): Promise<MmdbDatabase> {
    const what = role === 'geoip' ? 'GeoIP (country) database' : 'ASN database';
    const err = (message: string, cause?: unknown) => new AttributionError(`${what} ${file}: ${message}`, { cause, file });
    let size: number;
    try {
      const st = await stat(file);
      if (!st.isFile()) throw err('not a file');
      size = st.size;
    } catch (e) {
      if (e instanceof AttributionError) throw e;
      const code = (e as { code?: string }).code;
      throw err(code === 'ENOENT' ? 'file not found' : `cannot read it: ${messageOf(e)}`, e);
    }
    if (size > maxBytes) throw err(`larger than the ${maxBytes}-byte cap (${size} bytes)`);
    let db: Buffer;
    try {
      db = await readFile(file);
    } catch (e) {
      throw err(`cannot read it: ${messageOf(e)}`, e);
    }
    if (db.length > maxBytes) throw err(`larger than the ${maxBytes}-byte cap`);
    return MmdbDatabase.fromBuffer(db, file, role);
  }

  /** Same checks as `open`, on bytes already in memory (`file` only names them in messages). */
  static fromBuffer(db: Buffer, file: string, role: MmdbRole): MmdbDatabase {
    const what = role === 'geoip' ? 'GeoIP (country) database' : 'ASN database';
    const err = (message: string, cause?: unknown) => new AttributionError(`${what} ${file}: ${message}`, { cause, file });
    if (db.length === 0) throw err('the file is empty');
    if (db[0] === 0x1f && db[1] === 0x8b) {
      throw err('the file is gzip-compressed (a .tar.gz or .mmdb.gz download?): extract the .mmdb file and pass that');
    }
    const tail = db.subarray(Math.max(0, db.length - MMDB_LIMITS.metadataBytes));
    const markerInTail = tail.lastIndexOf(METADATA_MARKER);
    if (markerInTail < 0) throw err('not a MaxMind DB file, or truncated (no metadata marker "\\xAB\\xCD\\xEFMaxMind.com" at its end)');
    const markerAt = db.length - tail.length + markerInTail;

    let reader: Reader<Response>;
    try {
      reader = new Reader<Response>(db, { cache: boundedCache(MMDB_LIMITS.cacheEntries) });
    } catch (e) {
      throw err(`corrupt MaxMind DB metadata: ${messageOf(e)}`, e);
    }
    const m = reader.metadata;
    if (m.binaryFormatMajorVersion !== 2) throw err(`unsupported binary format version ${String(m.binaryFormatMajorVersion)} (2 expected)`);
    if (m.ipVersion !== 4 && m.ipVersion !== 6) throw err(`corrupt metadata: ip_version ${String(m.ipVersion)} (4 or 6 expected)`);
    if (!Number.isInteger(m.nodeCount) || m.nodeCount <= 0) throw err(`corrupt metadata: node_count ${String(m.nodeCount)}`);
    const dataStart = m.searchTreeSize + DATA_SECTION_SEPARATOR;
    if (dataStart > markerAt) throw err('truncated or corrupt: the search tree runs past the data section');
    for (let i = m.searchTreeSize; i < dataStart; i++) {
      if (db[i] !== 0) throw err('corrupt: no 16-byte zero separator after the search tree');
    }

    const records = sampleRecords(db, reader, m.recordSize, m.nodeCount, m.ipVersion, markerAt - dataStart, (message) => err(message));
    if (records.length === 0) throw err('the database holds no records');
    const layout: MmdbLayout = { country: null, asn: null };
    for (const r of records) {
      const l = extractFields(r).layout;
      layout.country ??= l.country;
      layout.asn ??= l.asn;
    }
    if (role === 'geoip' && layout.country === null) {
      throw err(
        layout.asn !== null
          ? 'its records have no country field; it looks like an ASN database (pass it as the ASN database, --asn)'
          : `its records have none of the country fields we know (${KNOWN_FIELDS}); not a supported database`,
      );
    }
    if (role === 'asn' && layout.asn === null) {
      throw err(
        layout.country !== null
          ? 'its records have no ASN field; it looks like a country database (pass it as the GeoIP database, --geoip)'
          : `its records have none of the ASN fields we know (${KNOWN_FIELDS}); not a supported database`,
      );
    }
    const info: MmdbInfo = {
      file,
      databaseType: typeof m.databaseType === 'string' ? m.databaseType : '',
      ipVersion: m.ipVersion,
      recordSize: m.recordSize,
      nodeCount: m.nodeCount,
      buildEpoch: m.buildEpoch,
      layout,
    };
    return new MmdbDatabase(info, reader);
  }

  /**
   * The fields this database has for `ip`, or `null` when it has no record for it (an IPv6
   * address in an IPv4-only database included: that tree must not be walked with 128 bits).
   */
  lookup(ip: ParsedIp): MmdbFields | null {
    if (ip.family === 6 && this.info.ipVersion === 4) return null;
    let record: Response | null;
    try {
      record = this.reader.get(ip.text);
    } catch (e) {
      throw new AttributionError(`${this.info.file}: corrupt MaxMind DB (the record for ${ip.text} cannot be read: ${messageOf(e)})`, {
        cause: e,
        file: this.info.file,
      });
    }
    if (record === null) return null;
    const { country, asn, asOrg } = extractFields(record);
    return { country, asn, asOrg };
  }
}

const KNOWN_FIELDS =
  'country.iso_code, registered_country.iso_code, country_code, autonomous_system_number, traits.autonomous_system_number';

/**
 * Walks the search tree depth-first from the root to the first few distinct data records,
 * checking every record it passes (a node number below node_count, or a data offset inside the
 * data section) and decoding each record found through the Reader. Bounded in nodes visited.
 */
function sampleRecords(
  db: Buffer,
  reader: Reader<Response>,
  recordSize: number,
  nodeCount: number,
  ipVersion: 4 | 6,
  dataSize: number,
  err: (message: string) => AttributionError,
): unknown[] {
  const bits = ipVersion === 4 ? 32 : 128;
  const seen = new Set<number>();
  const out: unknown[] = [];
  const stack: Array<{ node: number; depth: number; prefix: bigint }> = [{ node: 0, depth: 0, prefix: 0n }];
  let visited = 0;
  while (stack.length > 0 && out.length < MMDB_LIMITS.sampleRecords && visited < MMDB_LIMITS.sampleNodes) {
    const { node, depth, prefix } = stack.pop()!;
    visited++;
    /* Right first onto the stack, so the left branch (lower addresses) is visited first. */
    for (const right of [true, false]) {
      const v = readRecord(db, recordSize, node, right);
      const path = (prefix << 1n) | (right ? 1n : 0n);
      if (v < nodeCount) {
        if (depth + 1 >= bits) throw err(`corrupt search tree: node ${node} points deeper than ${bits} bits`);
        stack.push({ node: v, depth: depth + 1, prefix: path });
      } else if (v > nodeCount) {
        const offset = v - nodeCount - DATA_SECTION_SEPARATOR;
        if (offset < 0 || offset >= dataSize) throw err(`corrupt search tree: node ${node} points outside the data section`);
        if (seen.has(offset)) continue;
        seen.add(offset);
        const address = path << BigInt(bits - depth - 1);
        /* IPv4 data in an IPv6 tree sits under ::/96; name it as the IPv4 address it is. */
        const text = bits === 32 || address <= 0xffffffffn ? formatV4(Number(address)) : formatV6(address);
        try {
          out.push(reader.get(text));
        } catch (e) {
          throw err(`corrupt data section: the record for ${text} cannot be read (${messageOf(e)})`);
        }
      }
    }
  }
  return out;
}
