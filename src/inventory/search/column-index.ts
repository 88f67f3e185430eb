/**
 * The column index: an in-memory, read-only copy of the columns that search conditions and
 * facets read (services, their hosts, findings and tags), dictionary-coded into typed arrays,
 * so that the totals of searches and the counts of facets over a large SQLite inventory are
 * computed in a few milliseconds instead of counting hundreds of thousands of rows through
 * SQLite's B-trees (measured in bench/inventory and bench/api).
 *
 * It answers counts only: a search's total and a facet's buckets. Pages of rows still come from
 * SQL, which finds them quickly in index order. It evaluates the syntax tree of ast.ts with the
 * semantics to-kysely.ts compiles for SQLite, term for term (SQLite's lower() and LIKE fold
 * ASCII letters only, so this does too); search.test.ts and column-index.test.ts compare every
 * answer with SQL's.
 *
 * Freshness: an index is built from one read transaction of its own connection and remembers
 * search_version (migrations/0010), a counter that SQLite triggers increment with every change
 * to services, assets, findings and tags, whoever commits it (the scan's writer, the server's
 * triage, another process). Once the committed counter differs, the index is not used until it
 * is rebuilt (ColumnIndexCache); commits to other tables (sessions, the audit log) keep it.
 */
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { caseVariants, enumValue, likePattern, textValue } from './to-kysely.js';
import { type CompareOp, type FieldValue, type QueryNode, RISK_BUCKETS, SEARCH_SEVERITIES, type TermNode, type TimeValue } from './ast.js';
import type { InventoryDatabase } from '../tables.js';
import { SORT_KEYS, type SortKey } from './run-search.js';

type Db = Kysely<InventoryDatabase>;

/** Rows read per statement while building (keyset pages on id). */
const BUILD_PAGE = 50_000;
const NULL = -1;

// ------------------------------------------------------------------ text as SQLite compares it

/** SQLite's lower(): ASCII letters only. */
export function asciiLower(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
}

/** SQLite's upper(): ASCII letters only. */
export function asciiUpper(s: string): string {
  return /[a-z]/.test(s) ? s.replace(/[a-z]+/g, (m) => m.toUpperCase()) : s;
}

/** Code-point order, which is the UTF-8 byte order of SQLite's BINARY collation (min(), text comparison). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/**
 * `lower(value) LIKE lower(pattern) ESCAPE '\'` as SQLite evaluates it: `%` any run of
 * characters, `_` one character, `\` makes the next character literal, ASCII case folded.
 */
export function likeMatcher(pattern: string): (value: string) => boolean {
  let re = '';
  const chars = [...asciiLower(pattern)];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\' && i + 1 < chars.length) re += escapeRe(chars[++i]!);
    else if (c === '%') re += '[\\s\\S]*';
    else if (c === '_') re += '[\\s\\S]';
    else re += escapeRe(c);
  }
  const rx = new RegExp(`^${re}$`, 'u');
  return (value) => rx.test(asciiLower(value));
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** to-kysely.ts textMatch: case-insensitive (ASCII) equality, or LIKE with `*` wildcards. */
function textMatcher(v: { pattern: string; wildcard: boolean }): (value: string) => boolean {
  if (v.wildcard) return likeMatcher(likePattern(v.pattern, true));
  const want = asciiLower(v.pattern);
  return (value) => asciiLower(value) === want;
}

// ------------------------------------------------------------------ dictionaries

/** Distinct strings of one or more columns, each with a code (its index in `values`). */
class Dict {
  readonly values: string[] = [];
  private readonly codes = new Map<string, number>();

  code(value: string | null): number {
    if (value === null) return NULL;
    let c = this.codes.get(value);
    if (c === undefined) {
      c = this.values.length;
      this.values.push(value);
      this.codes.set(value, c);
    }
    return c;
  }

  get size(): number {
    return this.values.length;
  }

  /** A table of `pred` over every value, for per-row lookups. */
  table(pred: (value: string) => boolean): Uint8Array {
    const t = new Uint8Array(this.values.length);
    for (let i = 0; i < t.length; i++) t[i] = pred(this.values[i]!) ? 1 : 0;
    return t;
  }
}

// ------------------------------------------------------------------ the index

/** A facet's groups as runFacet (facets.ts) reads them: key, label, count. */
export interface ColumnGroup {
  k: string | number;
  l: string | number;
  n: number;
}

const FINDING_STATES = ['open', 'resolved', 'unverified', 'accepted-risk', 'false-positive', 'fixed'] as const;

/** What a built index holds (see ColumnIndex.build). */
interface Columns {
  /** search_version (migrations/0010) in the build's snapshot: the index holds the searched rows as of it. */
  readonly version: number;
  readonly services: number;
  readonly assets: number;
  /** Build time in milliseconds. */
  readonly buildMs: number;
  // Services, in id order: their ids, the host's index, codes into the dictionaries (NULL for null), numbers.
  readonly sIds: Float64Array;
  /** Service indexes in the order of (ip_key, port, ip): the search's address order, and every sort's tie-break. */
  readonly ipOrder: Int32Array;
  readonly sAsset: Int32Array;
  readonly sIpKey: string[];
  readonly sPort: Int32Array;
  readonly sProtocol: Int32Array;
  readonly sStatus: Int32Array;
  readonly sProduct: Int32Array;
  readonly sVendor: Int32Array;
  readonly sVersion: Int32Array;
  readonly sCpe: Int32Array;
  readonly sType: Int32Array;
  /** Times in milliseconds since the epoch (stored as canonical ISO-8601 text: the same order). */
  readonly sFirst: Float64Array;
  readonly sLast: Float64Array;
  readonly sRisk: Int32Array;
  readonly sSev: Int32Array;
  /** Service indexes grouped by host (a permutation), so units count once per host in a single pass. */
  readonly byAsset: Int32Array;
  // Findings of service i: fCheck[fStart[i] .. fStart[i+1]).
  readonly fStart: Int32Array;
  readonly fCheck: Int32Array;
  readonly fState: Int32Array;
  readonly fUser: Int32Array;
  // Hosts, in id order.
  readonly aProduct: Int32Array;
  readonly aVendor: Int32Array;
  readonly aType: Int32Array;
  readonly aHostname: Int32Array;
  readonly aCountry: Int32Array;
  readonly aAsn: Int32Array;
  readonly aOrg: Int32Array;
  readonly aHoneypot: Uint8Array;
  readonly aIds: Float64Array;
  readonly aRisk: Int32Array;
  /** Rank of each host in the order of (ip_key, ip): the hosts' address order and every host sort's tie-break. */
  readonly aIpRank: Int32Array;
  // Tags of host a: tTag[tStart[a] .. tStart[a+1]).
  readonly tStart: Int32Array;
  readonly tTag: Int32Array;
  readonly d: {
    protocol: Dict;
    status: Dict;
    /** Products of services and hosts (one code space: own and host values group together). */
    product: Dict;
    vendor: Dict;
    version: Dict;
    cpe: Dict;
    deviceType: Dict;
    check: Dict;
    /** Observed and user states of findings. */
    state: Dict;
    hostname: Dict;
    country: Dict;
    asn: Dict;
    org: Dict;
    tag: Dict;
  };
}

export class ColumnIndex {
  private constructor(private readonly c: Columns) {}

  /** search_version (migrations/0010) in the build's snapshot. */
  get version(): number {
    return this.c.version;
  }

  get services(): number {
    return this.c.services;
  }

  get assets(): number {
    return this.c.assets;
  }

  /** Build time in milliseconds. */
  get buildMs(): number {
    return this.c.buildMs;
  }

  /** Service orders by sort key and direction, made on first use. */
  private readonly orders = new Map<string, Int32Array>();

  /**
   * Reads the inventory through `conn`, a connection of its own: one read transaction holds one
   * snapshot for the whole build, and the event loop gets a turn every BUILD_PAGE rows. `db`
   * (Kysely over the same connection) writes the statements. Throws when a stored time is not
   * canonical ISO-8601 (the index compares times as numbers, SQL as text: the same order only then).
   */
  static async build(conn: Database.Database, db: Db): Promise<ColumnIndex> {
    const t0 = performance.now();
    const d: Columns['d'] = {
      protocol: new Dict(),
      status: new Dict(),
      product: new Dict(),
      vendor: new Dict(),
      version: new Dict(),
      cpe: new Dict(),
      deviceType: new Dict(),
      check: new Dict(),
      state: new Dict(),
      hostname: new Dict(),
      country: new Dict(),
      asn: new Dict(),
      org: new Dict(),
      tag: new Dict(),
    };
    for (const s of FINDING_STATES) d.state.code(s);
    const count = (table: 'assets' | 'services' | 'findings' | 'asset_tags'): number => {
      const q = db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).compile();
      return Number((conn.prepare(q.sql).get(...q.parameters) as { n: number }).n);
    };
    /** Every row of a compiled statement, as arrays, with a turn of the event loop every BUILD_PAGE rows. */
    async function each(q: { sql: string; parameters: readonly unknown[] }, row: (r: unknown[], i: number) => void): Promise<number> {
      let i = 0;
      for (const r of conn.prepare(q.sql).raw(true).iterate(...q.parameters) as IterableIterator<unknown[]>) {
        row(r, i++);
        if (i % BUILD_PAGE === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      return i;
    }
    /**
     * Orders each run of `order` whose items `same` cannot tell apart (one address key, two
     * spellings of the address) by the rows' ip text, as SQL's last ORDER BY term does.
     */
    async function orderTies(order: number[], same: (x: number, y: number) => boolean, table: 'services' | 'assets', idOf: (x: number) => number): Promise<void> {
      for (let j = 1; j < order.length; ) {
        if (!same(order[j - 1]!, order[j]!)) {
          j++;
          continue;
        }
        let end = j + 1;
        while (end < order.length && same(order[j]!, order[end]!)) end++;
        const run = order.slice(j - 1, end);
        const q = db.selectFrom(table).select(['id', 'ip']).where('id', 'in', run.map(idOf)).compile();
        const ipOf = new Map((conn.prepare(q.sql).raw(true).all(...q.parameters) as [number, string][]).map(([id, ip]) => [Number(id), ip]));
        run.sort((x, y) => compareCodePoints(ipOf.get(idOf(x)) ?? '', ipOf.get(idOf(y)) ?? ''));
        order.splice(j - 1, run.length, ...run);
        j = end + 1;
        await Promise.resolve();
      }
    }
    conn.exec('BEGIN');
    try {
      // The change counter and the sizes first (inside the snapshot), so the arrays are allocated once.
      const version = readVersion(conn, db);
      const na0 = count('assets');
      const ns0 = count('services');
      const nf0 = count('findings');

      const aIds = new Float64Array(na0);
      const aProduct = new Int32Array(na0);
      const aVendor = new Int32Array(na0);
      const aType = new Int32Array(na0);
      const aHostname = new Int32Array(na0);
      const aCountry = new Int32Array(na0);
      const aAsn = new Int32Array(na0);
      const aOrg = new Int32Array(na0);
      const aHoneypot = new Uint8Array(na0);
      const aRisk = new Int32Array(na0);
      const na = await each(
        db.selectFrom('assets').select(['id', 'product', 'vendor', 'device_type', 'hostname', 'country', 'asn', 'org', 'honeypot', 'risk']).orderBy('id').compile(),
        (r, i) => {
          aIds[i] = Number(r[0]);
          aProduct[i] = d.product.code(r[1] as string | null);
          aVendor[i] = d.vendor.code(r[2] as string | null);
          aType[i] = d.deviceType.code(r[3] as string | null);
          aHostname[i] = d.hostname.code(r[4] as string | null);
          aCountry[i] = d.country.code(r[5] as string | null);
          aAsn[i] = d.asn.code(r[6] === null ? null : String(Number(r[6])));
          aOrg[i] = d.org.code(r[7] as string | null);
          aHoneypot[i] = Number(r[8]) === 1 ? 1 : 0;
          aRisk[i] = Number(r[9]);
        },
      );
      const assetIndex = (id: number): number => binarySearch(aIds, na, id);
      // The hosts' address order (run-search.ts assetPage: ip_key, ip), ranked.
      const aIpOrder: number[] = [];
      const aIpKey: string[] = new Array<string>(na);
      await each(db.selectFrom('assets').select(['id', 'ip_key']).orderBy('ip_key').compile(), (r) => {
        const a = assetIndex(Number(r[0]));
        if (a < 0) return;
        aIpOrder.push(a);
        aIpKey[a] = r[1] as string;
      });
      await orderTies(aIpOrder, (x, y) => aIpKey[x] === aIpKey[y], 'assets', (a) => aIds[a]!);
      const aIpRank = new Int32Array(na);
      for (const [rank, a] of aIpOrder.entries()) aIpRank[a] = rank;

      const sIds = new Float64Array(ns0);
      const sAsset = new Int32Array(ns0);
      const sIpKey: string[] = new Array<string>(ns0);
      const sPort = new Int32Array(ns0);
      const sProtocol = new Int32Array(ns0);
      const sStatus = new Int32Array(ns0);
      const sProduct = new Int32Array(ns0);
      const sVendor = new Int32Array(ns0);
      const sVersion = new Int32Array(ns0);
      const sCpe = new Int32Array(ns0);
      const sType = new Int32Array(ns0);
      const sFirst = new Float64Array(ns0);
      const sLast = new Float64Array(ns0);
      const sRisk = new Int32Array(ns0);
      const sSev = new Int32Array(ns0);
      const ns = await each(
        db
          .selectFrom('services')
          .select(['id', 'asset_id', 'ip_key', 'port', 'protocol', 'status', 'product', 'vendor', 'version', 'cpe', 'device_type', 'first_seen', 'last_seen', 'risk', 'active_severity'])
          .orderBy('id')
          .compile(),
        (r, i) => {
          const a = assetIndex(Number(r[1]));
          if (a < 0) throw new Error(`service ${String(r[0])} has no host ${String(r[1])}`);
          sIds[i] = Number(r[0]);
          sAsset[i] = a;
          sIpKey[i] = r[2] as string;
          sPort[i] = Number(r[3]);
          sProtocol[i] = d.protocol.code(r[4] as string | null);
          sStatus[i] = d.status.code(r[5] as string);
          sProduct[i] = d.product.code(r[6] as string | null);
          sVendor[i] = d.vendor.code(r[7] as string | null);
          sVersion[i] = d.version.code(r[8] as string | null);
          sCpe[i] = d.cpe.code(r[9] as string | null);
          sType[i] = d.deviceType.code(r[10] as string | null);
          sFirst[i] = isoMs(r[11] as string);
          sLast[i] = isoMs(r[12] as string);
          sRisk[i] = Number(r[13]);
          sSev[i] = Number(r[14]);
        },
      );

      // The address order, as the search sorts (run-search.ts: ip_key, port, ip): the (ip_key,
      // port) index read in its order, then the rare runs of one key and port (two spellings
      // of one address) ordered by ip, which the index does not hold.
      const ipOrder = new Int32Array(ns);
      let placed = 0;
      await each(db.selectFrom('services').select('id').orderBy('ip_key').orderBy('port').compile(), (r) => {
        const i = binarySearch(sIds, ns, Number(r[0]));
        if (i >= 0) ipOrder[placed++] = i;
      });
      if (placed !== ns) throw new Error(`the address order holds ${placed} of ${ns} services`);
      const ordered = Array.from(ipOrder);
      await orderTies(ordered, (x, y) => sIpKey[x] === sIpKey[y] && sPort[x] === sPort[y], 'services', (i) => sIds[i]!);
      ipOrder.set(ordered);

      // Findings, grouped by service (a counting sort of the rows read in id order).
      const fOwner = new Int32Array(nf0);
      const fCheckRaw = new Int32Array(nf0);
      const fStateRaw = new Int32Array(nf0);
      const fUserRaw = new Int32Array(nf0);
      let last = { id: -1, at: -1 };
      const nf = await each(db.selectFrom('findings').select(['service_id', 'check_id', 'state', 'user_state']).orderBy('id').compile(), (r, j) => {
        const id = Number(r[0]);
        // Findings of one service are often consecutive: skip the search then.
        const s = id === last.id ? last.at : binarySearch(sIds, ns, id);
        if (s < 0) throw new Error(`a finding has no service ${id}`);
        last = { id, at: s };
        fOwner[j] = s;
        fCheckRaw[j] = d.check.code(r[1] as string);
        fStateRaw[j] = d.state.code(r[2] as string);
        fUserRaw[j] = d.state.code(r[3] as string | null);
      });
      const fStart = new Int32Array(ns + 1);
      for (let j = 0; j < nf; j++) fStart[fOwner[j]! + 1]!++;
      for (let i = 0; i < ns; i++) fStart[i + 1]! += fStart[i]!;
      const fill = fStart.slice(0, ns);
      const fCheck = new Int32Array(nf);
      const fState = new Int32Array(nf);
      const fUser = new Int32Array(nf);
      for (let j = 0; j < nf; j++) {
        const at = fill[fOwner[j]!]!++;
        fCheck[at] = fCheckRaw[j]!;
        fState[at] = fStateRaw[j]!;
        fUser[at] = fUserRaw[j]!;
      }

      // Tags, grouped by host.
      const tOwner: number[] = [];
      const tCode: number[] = [];
      await each(db.selectFrom('asset_tags').select(['asset_id', 'tag']).compile(), (r) => {
        const a = assetIndex(Number(r[0]));
        if (a < 0) return;
        tOwner.push(a);
        tCode.push(d.tag.code(r[1] as string));
      });
      const tStart = new Int32Array(na + 1);
      for (const a of tOwner) tStart[a + 1]!++;
      for (let i = 0; i < na; i++) tStart[i + 1]! += tStart[i]!;
      const tFill = tStart.slice(0, na);
      const tTag = new Int32Array(tOwner.length);
      for (const [j, a] of tOwner.entries()) tTag[tFill[a]!++] = tCode[j]!;

      // Services grouped by host.
      const aCount = new Int32Array(na + 1);
      for (let i = 0; i < ns; i++) aCount[sAsset[i]! + 1]!++;
      for (let i = 0; i < na; i++) aCount[i + 1]! += aCount[i]!;
      const byAsset = new Int32Array(ns);
      for (let i = 0; i < ns; i++) byAsset[aCount[sAsset[i]!]!++] = i;

      return new ColumnIndex({
        version,
        services: ns,
        assets: na,
        buildMs: performance.now() - t0,
        sIds,
        ipOrder,
        sAsset,
        sIpKey,
        sPort,
        sProtocol,
        sStatus,
        sProduct,
        sVendor,
        sVersion,
        sCpe,
        sType,
        sFirst,
        sLast,
        sRisk,
        sSev,
        byAsset,
        fStart,
        fCheck,
        fState,
        fUser,
        aProduct,
        aVendor,
        aType,
        aHostname,
        aCountry,
        aAsn,
        aOrg,
        aHoneypot,
        aIds,
        aRisk,
        aIpRank,
        tStart,
        tTag,
        d,
      });
    } finally {
      conn.exec('COMMIT');
    }
  }

  // ---------------------------------------------------------------- evaluation

  /** The services matching `node` (1 = match), with the semantics of to-kysely.ts. */
  match(node: QueryNode, now: number): Uint8Array {
    const n = this.services;
    switch (node.type) {
      case 'all':
        return new Uint8Array(n).fill(1);
      case 'and': {
        const out = this.match(node.children[0]!, now);
        for (const c of node.children.slice(1)) {
          const m = this.match(c, now);
          for (let i = 0; i < n; i++) out[i]! &= m[i]!;
        }
        return out;
      }
      case 'or': {
        const out = node.children.length === 0 ? new Uint8Array(n) : this.match(node.children[0]!, now);
        for (const c of node.children.slice(1)) {
          const m = this.match(c, now);
          for (let i = 0; i < n; i++) out[i]! |= m[i]!;
        }
        return out;
      }
      case 'not': {
        const out = this.match(node.child, now);
        for (let i = 0; i < n; i++) out[i] = out[i]! ^ 1;
        return out;
      }
      case 'text': {
        // Each dictionary is matched once; a service's own and its host's product share the table.
        const like = likeMatcher(`%${likePattern(node.pattern, node.wildcard)}%`);
        const product = this.c.d.product.table(like);
        const vendor = this.c.d.vendor.table(like);
        const out = this.either(this.byCode(this.c.sProduct, product), this.byCode(this.c.sVendor, vendor));
        this.either(out, this.hostCode(this.c.aProduct, product));
        this.either(out, this.hostCode(this.c.aVendor, vendor));
        return this.either(out, this.hostCode(this.c.aHostname, this.c.d.hostname.table(like)));
      }
      case 'term': {
        const out = this.term(node, node.values[0]!, now);
        for (const v of node.values.slice(1)) {
          const m = this.term(node, v, now);
          for (let i = 0; i < n; i++) out[i]! |= m[i]!;
        }
        return out;
      }
    }
  }

  private either(a: Uint8Array, b: Uint8Array): Uint8Array {
    for (let i = 0; i < a.length; i++) a[i]! |= b[i]!;
    return a;
  }

  private all(value: 0 | 1): Uint8Array {
    return new Uint8Array(this.services).fill(value);
  }

  /** Services whose code (NULL never matches) is marked in `table`. */
  private byCode(codes: Int32Array, table: Uint8Array): Uint8Array {
    const out = new Uint8Array(this.services);
    for (let i = 0; i < out.length; i++) {
      const c = codes[i]!;
      out[i] = c === NULL ? 0 : table[c]!;
    }
    return out;
  }

  private notNull(codes: Int32Array): Uint8Array {
    const out = new Uint8Array(this.services);
    for (let i = 0; i < out.length; i++) out[i] = codes[i]! === NULL ? 0 : 1;
    return out;
  }

  /** Services whose host's code (NULL never matches) is marked in `table`. */
  private hostCode(col: Int32Array, table: Uint8Array): Uint8Array {
    const hosts = new Uint8Array(this.assets);
    for (let a = 0; a < hosts.length; a++) {
      const c = col[a]!;
      hosts[a] = c === NULL ? 0 : table[c]!;
    }
    const out = new Uint8Array(this.services);
    for (let i = 0; i < out.length; i++) out[i] = hosts[this.c.sAsset[i]!]!;
    return out;
  }

  /** Services whose host meets `pred` (evaluated once per host). */
  private hostMask(pred: (a: number) => boolean): Uint8Array {
    const hosts = new Uint8Array(this.assets);
    for (let a = 0; a < hosts.length; a++) hosts[a] = pred(a) ? 1 : 0;
    const out = new Uint8Array(this.services);
    for (let i = 0; i < out.length; i++) out[i] = hosts[this.c.sAsset[i]!]!;
    return out;
  }

  /** Services with a finding meeting `pred`. */
  private findingMask(pred: (f: number) => boolean): Uint8Array {
    const out = new Uint8Array(this.services);
    for (let i = 0; i < out.length; i++) {
      for (let f = this.c.fStart[i]!; f < this.c.fStart[i + 1]!; f++) {
        if (pred(f)) {
          out[i] = 1;
          break;
        }
      }
    }
    return out;
  }

  private numberMask(col: Int32Array, op: CompareOp, v: FieldValue): Uint8Array {
    const out = new Uint8Array(this.services);
    if (v.kind === 'range') {
      for (let i = 0; i < out.length; i++) out[i] = col[i]! >= v.lo && col[i]! <= v.hi ? 1 : 0;
      return out;
    }
    if (v.kind !== 'int') return out.fill(1);
    const x = v.value;
    for (let i = 0; i < out.length; i++) out[i] = compare(col[i]!, op, x) ? 1 : 0;
    return out;
  }

  /** to-kysely.ts timeTerm; a day is [start, end). */
  private timeMask(col: Float64Array, op: CompareOp, t: TimeValue, now: number): Uint8Array {
    const out = new Uint8Array(this.services);
    if (t.kind === 'day') {
      const start = isoMs(t.start);
      const end = isoMs(t.end);
      for (let i = 0; i < out.length; i++) {
        const x = col[i]!;
        out[i] = (op === '=' ? x >= start && x < end : op === '>' ? x >= end : op === '>=' ? x >= start : op === '<' ? x < start : x < end) ? 1 : 0;
      }
      return out;
    }
    const at = isoMs(t.kind === 'instant' ? t.at : new Date(now - t.ms).toISOString());
    for (let i = 0; i < out.length; i++) out[i] = compare(col[i]!, op, at) ? 1 : 0;
    return out;
  }

  private severityMask(op: CompareOp, rank: number): Uint8Array {
    const out = new Uint8Array(this.services);
    for (let i = 0; i < out.length; i++) out[i] = compare(this.c.sSev[i]!, op, rank) ? 1 : 0;
    return out;
  }

  private term(node: TermNode, v: FieldValue, now: number): Uint8Array {
    const any = v.kind === 'any';
    const d = this.c.d;
    switch (node.field) {
      case 'ip': {
        if (v.kind !== 'ip') return this.all(1);
        const out = new Uint8Array(this.services);
        for (let i = 0; i < out.length; i++) {
          const k = this.c.sIpKey[i]!;
          out[i] = k >= v.lo && k <= v.hi ? 1 : 0;
        }
        return out;
      }
      case 'port':
        return this.numberMask(this.c.sPort, node.op, v);
      case 'risk':
        return this.numberMask(this.c.sRisk, node.op, v);
      case 'protocol':
        return any ? this.notNull(this.c.sProtocol) : this.byCode(this.c.sProtocol, d.protocol.table((x) => x === enumValue(v)));
      case 'status':
        return any ? this.all(1) : this.byCode(this.c.sStatus, d.status.table((x) => x === enumValue(v)));
      case 'product':
      case 'vendor': {
        const [own, host, dict] = node.field === 'product' ? [this.c.sProduct, this.c.aProduct, d.product] : [this.c.sVendor, this.c.aVendor, d.vendor];
        const table = any ? new Uint8Array(dict.size).fill(1) : dict.table(textMatcher(textValue(v)));
        return this.either(this.byCode(own, table), this.hostCode(host, table));
      }
      case 'version':
      case 'cpe': {
        const [col, dict] = node.field === 'version' ? [this.c.sVersion, d.version] : [this.c.sCpe, d.cpe];
        return any ? this.notNull(col) : this.byCode(col, dict.table(textMatcher(textValue(v))));
      }
      case 'hostname': {
        const table = any ? new Uint8Array(d.hostname.size).fill(1) : d.hostname.table(textMatcher(textValue(v)));
        return this.hostCode(this.c.aHostname, table);
      }
      case 'devicetype': {
        const table = any ? new Uint8Array(d.deviceType.size).fill(1) : d.deviceType.table((x) => x === enumValue(v));
        return this.either(this.byCode(this.c.sType, table), this.hostCode(this.c.aType, table));
      }
      case 'finding': {
        if (any) return this.severityMask('>', 0);
        const t = textValue(v);
        const checks = t.wildcard ? d.check.table(likeMatcher(likePattern(t.pattern, true))) : d.check.table((x) => x === t.pattern);
        const open = d.state.code('open');
        return this.findingMask((f) => this.c.fState[f] === open && this.c.fUser[f] === NULL && checks[this.c.fCheck[f]!] === 1);
      }
      case 'severity': {
        if (any) return this.severityMask('>', 0);
        const rank = SEARCH_SEVERITIES.indexOf(enumValue(v) as (typeof SEARCH_SEVERITIES)[number]);
        return rank < 0 ? this.all(0) : this.severityMask(node.op, rank);
      }
      case 'state': {
        if (any) return this.findingMask(() => true);
        const s = enumValue(v);
        if (s === 'open') return this.severityMask('>', 0);
        const code = d.state.code(s);
        return s === 'resolved' || s === 'unverified' ? this.findingMask((f) => this.c.fState[f] === code) : this.findingMask((f) => this.c.fUser[f] === code);
      }
      case 'lastseen':
      case 'firstseen': {
        if (v.kind !== 'time') return this.all(1);
        return this.timeMask(node.field === 'lastseen' ? this.c.sLast : this.c.sFirst, node.op, v.time, now);
      }
      case 'country': {
        const variants = any ? null : caseVariants(enumValue(v));
        const table = variants === null ? new Uint8Array(d.country.size).fill(1) : d.country.table((x) => variants.includes(x));
        return this.hostCode(this.c.aCountry, table);
      }
      case 'asn': {
        const want = v.kind === 'int' ? String(v.value) : null;
        const table = d.asn.table((x) => want === null || x === want);
        return this.hostCode(this.c.aAsn, table);
      }
      case 'org': {
        const table = any ? new Uint8Array(d.org.size).fill(1) : d.org.table(textMatcher(textValue(v)));
        return this.hostCode(this.c.aOrg, table);
      }
      case 'tag': {
        const t = any ? null : textValue(v);
        const table = t === null ? new Uint8Array(d.tag.size).fill(1) : t.wildcard ? d.tag.table(likeMatcher(likePattern(t.pattern, true))) : d.tag.table((x) => x === t.pattern);
        return this.hostMask((a) => {
          for (let j = this.c.tStart[a]!; j < this.c.tStart[a + 1]!; j++) if (table[this.c.tTag[j]!] === 1) return true;
          return false;
        });
      }
      case 'honeypot': {
        if (v.kind !== 'bool') return this.all(1);
        const want = v.value ? 1 : 0;
        const out = new Uint8Array(this.services);
        for (let i = 0; i < out.length; i++) out[i] = this.c.aHoneypot[this.c.sAsset[i]!] === want ? 1 : 0;
        return out;
      }
    }
  }

  // ---------------------------------------------------------------- counts

  /**
   * One page of matching services, as ids in the search's order (run-search.ts servicePage:
   * the key, then ip_key, port and ip ascending; `ip` wholly ascending or descending): a walk
   * of that order that stops at the page's end.
   */
  page(mask: Uint8Array, key: SortKey, desc: boolean, offset: number, limit: number): number[] {
    const order = this.order(key, desc);
    const out: number[] = [];
    let skipped = 0;
    for (let j = 0; j < order.length && out.length < limit; j++) {
      const i = order[j]!;
      if (mask[i] !== 1) continue;
      if (skipped < offset) skipped++;
      else out.push(this.c.sIds[i]!);
    }
    return out;
  }

  /**
   * One page of hosts with a matching service, as ids, in the order of run-search.ts assetPage:
   * the key over the host's matching services (latest last seen, earliest first seen, highest
   * severity) or the host's own risk, then ip_key and ip ascending (`ip` wholly one way).
   * The best offset+limit hosts are kept in a bounded heap while the matches are read.
   */
  hostPage(mask: Uint8Array, key: SortKey, desc: boolean, offset: number, limit: number): number[] {
    const want = offset + limit;
    if (want === 0) return [];
    const na = this.assets;
    const hit = new Uint8Array(na);
    const agg = key === 'lastseen' || key === 'severity' ? new Float64Array(na).fill(-Infinity) : key === 'firstseen' ? new Float64Array(na).fill(Infinity) : null;
    const col = key === 'lastseen' ? this.c.sLast : key === 'firstseen' ? this.c.sFirst : key === 'severity' ? this.c.sSev : null;
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] !== 1) continue;
      const a = this.c.sAsset[i]!;
      hit[a] = 1;
      if (agg !== null && col !== null) {
        const v = col[i]!;
        if (key === 'firstseen' ? v < agg[a]! : v > agg[a]!) agg[a] = v;
      }
    }
    const value = key === 'risk' ? this.c.aRisk : agg;
    const rank = this.c.aIpRank;
    // before(x, y): x sorts before y.
    const before =
      value === null
        ? desc
          ? (x: number, y: number) => rank[x]! > rank[y]!
          : (x: number, y: number) => rank[x]! < rank[y]!
        : (x: number, y: number) => {
            const vx = value[x]!;
            const vy = value[y]!;
            if (vx !== vy) return desc ? vx > vy : vx < vy;
            return rank[x]! < rank[y]!;
          };
    // A heap of the best `want` hosts so far, its root the worst of them.
    const heap: number[] = [];
    const worse = (x: number, y: number) => before(y, x);
    const up = (k: number) => {
      while (k > 0) {
        const p = (k - 1) >> 1;
        if (!worse(heap[k]!, heap[p]!)) break;
        [heap[k], heap[p]] = [heap[p]!, heap[k]!];
        k = p;
      }
    };
    const down = (k: number) => {
      for (;;) {
        const l = 2 * k + 1;
        const r = l + 1;
        let m = k;
        if (l < heap.length && worse(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && worse(heap[r]!, heap[m]!)) m = r;
        if (m === k) return;
        [heap[k], heap[m]] = [heap[m]!, heap[k]!];
        k = m;
      }
    };
    for (let a = 0; a < na; a++) {
      if (hit[a] !== 1) continue;
      if (heap.length < want) {
        heap.push(a);
        up(heap.length - 1);
      } else if (before(a, heap[0]!)) {
        heap[0] = a;
        down(0);
      }
    }
    heap.sort((x, y) => (before(x, y) ? -1 : before(y, x) ? 1 : 0));
    return heap.slice(offset).map((a) => this.c.aIds[a]!);
  }

  /**
   * Makes every service order now, one per turn of the event loop (0.1-0.5 s each at 1.2 M
   * services), so that no request pays for the first use of a sort after a rebuild.
   */
  async prepareOrders(): Promise<void> {
    for (const key of SORT_KEYS) {
      for (const desc of [false, true]) {
        this.order(key, desc);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  /** The services in the order of a sort: a stable sort of the address order by the key. */
  private order(key: SortKey, desc: boolean): Int32Array {
    const name = `${desc ? '-' : ''}${key}`;
    let order = this.orders.get(name);
    if (order !== undefined) return order;
    if (key === 'ip') {
      order = desc ? this.c.ipOrder.slice().reverse() : this.c.ipOrder;
    } else {
      const col = key === 'port' ? this.c.sPort : key === 'risk' ? this.c.sRisk : key === 'severity' ? this.c.sSev : key === 'lastseen' ? this.c.sLast : this.c.sFirst;
      order = stableSortBy(this.c.ipOrder, col, desc);
    }
    this.orders.set(name, order);
    return order;
  }

  /** Matching services, or hosts with a matching service. */
  count(mask: Uint8Array, assets: boolean): number {
    let n = 0;
    if (!assets) {
      for (let i = 0; i < mask.length; i++) n += mask[i]!;
      return n;
    }
    let last = -1;
    for (let j = 0; j < this.c.byAsset.length; j++) {
      const i = this.c.byAsset[j]!;
      if (mask[i] === 1 && this.c.sAsset[i] !== last) {
        last = this.c.sAsset[i]!;
        n++;
      }
    }
    return n;
  }

  /**
   * A facet's groups over the matching services (or hosts), as facets.ts counts them in SQL:
   * a unit counts once under each of its values; the label of a group of values that differ
   * only in (ASCII) case is the least of them.
   */
  groups(mask: Uint8Array, field: string, assets: boolean): ColumnGroup[] {
    const d = this.c.d;
    switch (field) {
      case 'port':
        return this.tallyNumbers(mask, assets, 65536, this.c.sPort, false);
      case 'risk':
        return this.tallyNumbers(mask, assets, RISK_BUCKETS.length, this.c.sRisk.map(riskBand), false);
      case 'severity':
        return this.tallyNumbers(mask, assets, 6, this.c.sSev, false).filter((g) => g.k !== 0);
      case 'honeypot':
        return this.tallyNumbers(mask, assets, 2, Int32Array.from(this.c.aHoneypot), true);
      case 'protocol':
        return this.byCodes(mask, assets, d.protocol, identity, this.c.sProtocol, false);
      case 'status':
        return this.byCodes(mask, assets, d.status, identity, this.c.sStatus, false);
      case 'version':
        return this.byCodes(mask, assets, d.version, asciiLower, this.c.sVersion, false);
      case 'cpe':
        return this.byCodes(mask, assets, d.cpe, asciiLower, this.c.sCpe, false);
      case 'lastseen':
      case 'firstseen': {
        // Groups by UTC day (SQL: substr(time, 1, 10)), counted per unit.
        const col = field === 'lastseen' ? this.c.sLast : this.c.sFirst;
        const counts = new Map<number, number>();
        const lastUnit = new Map<number, number>();
        for (let j = 0; j < this.c.byAsset.length; j++) {
          const i = this.c.byAsset[j]!;
          if (mask[i] !== 1) continue;
          const unit = assets ? this.c.sAsset[i]! : i;
          const dayNo = Math.floor(col[i]! / DAY_MS);
          if (lastUnit.get(dayNo) === unit) continue;
          lastUnit.set(dayNo, unit);
          counts.set(dayNo, (counts.get(dayNo) ?? 0) + 1);
        }
        return [...counts].map(([dayNo, n]) => {
          const label = new Date(dayNo * DAY_MS).toISOString().slice(0, 10);
          return { k: label, l: label, n };
        });
      }
      case 'hostname':
        return this.byCodes(mask, assets, d.hostname, asciiLower, this.c.aHostname, true);
      case 'country':
        return this.byCodes(mask, assets, d.country, asciiUpper, this.c.aCountry, true, true);
      case 'asn':
        return this.byCodes(mask, assets, d.asn, identity, this.c.aAsn, true).map((g) => ({ k: Number(g.k), l: Number(g.l), n: g.n }));
      case 'org':
        return this.byCodes(mask, assets, d.org, asciiLower, this.c.aOrg, true);
      case 'product':
      case 'vendor':
      case 'devicetype': {
        const [own, host, dict, key] =
          field === 'product' ? [this.c.sProduct, this.c.aProduct, d.product, asciiLower]
          : field === 'vendor' ? [this.c.sVendor, this.c.aVendor, d.vendor, asciiLower]
          : [this.c.sType, this.c.aType, d.deviceType, identity];
        return this.byDict(mask, assets, dict, key, (i, emit) => {
          emit(own[i]!);
          emit(host[this.c.sAsset[i]!]!);
        });
      }
      case 'tag':
        return this.byDict(mask, assets, d.tag, identity, (i, emit) => {
          const a = this.c.sAsset[i]!;
          for (let j = this.c.tStart[a]!; j < this.c.tStart[a + 1]!; j++) emit(this.c.tTag[j]!);
        });
      case 'finding': {
        const open = d.state.code('open');
        return this.byDict(mask, assets, d.check, identity, (i, emit) => {
          for (let f = this.c.fStart[i]!; f < this.c.fStart[i + 1]!; f++) if (this.c.fState[f] === open && this.c.fUser[f] === NULL) emit(this.c.fCheck[f]!);
        });
      }
      case 'state': {
        const open = d.state.code('open');
        return this.byDict(mask, assets, d.state, identity, (i, emit) => {
          for (let f = this.c.fStart[i]!; f < this.c.fStart[i + 1]!; f++) {
            if (this.c.fState[f] !== open || this.c.fUser[f] === NULL) emit(this.c.fState[f]!);
            if (this.c.fUser[f] !== NULL) emit(this.c.fUser[f]!);
          }
        });
      }
      default:
        throw new Error(`the column index has no facet on ${field}`);
    }
  }

  /** Services (or hosts) per value of a small non-negative integer column of services (or of hosts, `viaAsset`). */
  private tallyNumbers(mask: Uint8Array, assets: boolean, groups: number, col: Int32Array, viaAsset: boolean): ColumnGroup[] {
    const counts = new Int32Array(groups);
    if (!assets) {
      for (let i = 0; i < mask.length; i++) if (mask[i] === 1) counts[col[viaAsset ? this.c.sAsset[i]! : i]!]!++;
    } else {
      // In host order, so a host's services are adjacent: it counts once per value.
      const lastUnit = new Int32Array(groups).fill(-1);
      for (let j = 0; j < this.c.byAsset.length; j++) {
        const i = this.c.byAsset[j]!;
        if (mask[i] !== 1) continue;
        const a = this.c.sAsset[i]!;
        const g = col[viaAsset ? a : i]!;
        if (lastUnit[g] === a) continue;
        lastUnit[g] = a;
        counts[g]!++;
      }
    }
    const out: ColumnGroup[] = [];
    for (let g = 0; g < groups; g++) if (counts[g]! > 0) out.push({ k: g, l: g, n: counts[g]! });
    return out;
  }

  /** The groups of a dictionary's values under `key`: group of each code, and the keys. */
  private grouping(dict: Dict, key: (value: string) => string): { groupOf: Int32Array; keys: string[] } {
    const groupOf = new Int32Array(dict.size);
    const keys: string[] = [];
    const byKey = new Map<string, number>();
    for (const [c, v] of dict.values.entries()) {
      const k = key(v);
      let g = byKey.get(k);
      if (g === undefined) {
        g = keys.length;
        keys.push(k);
        byKey.set(k, g);
      }
      groupOf[c] = g;
    }
    return { groupOf, keys };
  }

  /** byDict for a column of one code per service (or per host, `viaAsset`), without a callback per row. */
  private byCodes(mask: Uint8Array, assets: boolean, dict: Dict, key: (value: string) => string, col: Int32Array, viaAsset: boolean, labelIsKey = false): ColumnGroup[] {
    const { groupOf, keys } = this.grouping(dict, key);
    const counts = new Int32Array(keys.length);
    const lastUnit = new Int32Array(keys.length).fill(-1);
    // Per group, the codes seen (for the least label): most groups hold one code, so keep the first and compare the rest.
    const label = new Int32Array(keys.length).fill(-1);
    for (let j = 0; j < this.c.byAsset.length; j++) {
      const i = assets ? this.c.byAsset[j]! : j;
      if (mask[i] !== 1) continue;
      const code = col[viaAsset ? this.c.sAsset[i]! : i]!;
      if (code === NULL) continue;
      const g = groupOf[code]!;
      const unit = assets ? this.c.sAsset[i]! : i;
      if (lastUnit[g] !== unit) {
        lastUnit[g] = unit;
        counts[g]!++;
      }
      const l = label[g]!;
      if (l !== code && (l === -1 || compareCodePoints(dict.values[code]!, dict.values[l]!) < 0)) label[g] = code;
    }
    const out: ColumnGroup[] = [];
    for (let g = 0; g < keys.length; g++) {
      if (counts[g]! > 0) out.push({ k: keys[g]!, l: labelIsKey ? keys[g]! : dict.values[label[g]!]!, n: counts[g]! });
    }
    return out;
  }

  /**
   * tally over a dictionary's codes, grouped by `key(value)`; the label is the least value (in
   * code-point order, as SQLite's min()) among the codes emitted by matching units.
   */
  private byDict(
    mask: Uint8Array,
    assets: boolean,
    dict: Dict,
    key: (value: string) => string,
    values: (i: number, emit: (code: number) => void) => void,
    labelIsKey = false,
  ): ColumnGroup[] {
    const { groupOf, keys } = this.grouping(dict, key);
    const label = new Int32Array(keys.length).fill(-1);
    const counts = new Int32Array(keys.length);
    const lastUnit = new Int32Array(keys.length).fill(-1);
    let unit = -1;
    const emit = (code: number): void => {
      if (code === NULL) return;
      const g = groupOf[code]!;
      if (lastUnit[g] !== unit) {
        lastUnit[g] = unit;
        counts[g]!++;
      }
      const l = label[g]!;
      if (l === -1 || (l !== code && compareCodePoints(dict.values[code]!, dict.values[l]!) < 0)) label[g] = code;
    };
    for (let j = 0; j < this.c.byAsset.length; j++) {
      const i = this.c.byAsset[j]!;
      if (mask[i] !== 1) continue;
      unit = assets ? this.c.sAsset[i]! : i;
      values(i, emit);
    }
    const out: ColumnGroup[] = [];
    for (let g = 0; g < keys.length; g++) {
      if (counts[g]! > 0) out.push({ k: keys[g]!, l: labelIsKey ? keys[g]! : dict.values[label[g]!]!, n: counts[g]! });
    }
    return out;
  }
}

/** Values of a counting sort at most (ports, risk, severity ranks). */
const COUNTING_RANGE = 1 << 20;

/**
 * `order` stably sorted by `col` (ascending, or descending with ties still in `order`'s order):
 * a counting sort for a small range of integers, else one native sort of 64-bit composite keys
 * (value, then position in `order`), else a comparison sort. Times in milliseconds (2^41 now)
 * and positions below 2^22 fit the composite.
 */
export function stableSortBy(order: Int32Array, col: Int32Array | Float64Array, desc: boolean): Int32Array {
  const n = order.length;
  let min = Infinity;
  let max = -Infinity;
  let integral = true;
  for (let j = 0; j < n; j++) {
    const v = col[order[j]!]!;
    if (v < min) min = v;
    if (v > max) max = v;
    if (integral && !Number.isInteger(v)) integral = false;
  }
  const out = new Int32Array(n);
  if (n === 0) return out;
  const rank = (v: number) => (desc ? max - v : v - min);
  if (integral && max - min < COUNTING_RANGE) {
    const start = new Int32Array(max - min + 2);
    for (let j = 0; j < n; j++) start[rank(col[order[j]!]!) + 1]!++;
    for (let k = 1; k < start.length; k++) start[k]! += start[k - 1]!;
    for (let j = 0; j < n; j++) out[start[rank(col[order[j]!]!)]!++] = order[j]!;
    return out;
  }
  const bits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  if (integral && (max - min) * 2 ** bits < 2 ** 62) {
    const keys = new BigInt64Array(n);
    const shift = BigInt(bits);
    for (let j = 0; j < n; j++) keys[j] = (BigInt(rank(col[order[j]!]!)) << shift) | BigInt(j);
    keys.sort();
    const mask = (1n << shift) - 1n;
    for (let j = 0; j < n; j++) out[j] = order[Number(keys[j]! & mask)]!;
    return out;
  }
  // Array.prototype.sort is stable: equal values keep `order`'s order.
  const items = Array.from(order);
  items.sort(desc ? (a, b) => col[b]! - col[a]! : (a, b) => col[a]! - col[b]!);
  out.set(items);
  return out;
}

const identity = (v: string): string => v;
const DAY_MS = 86_400_000;
const CANONICAL_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Milliseconds of a canonical ISO-8601 UTC time (as the store writes them); throws for any other form. */
function isoMs(text: string): number {
  if (!CANONICAL_ISO.test(text)) throw new Error(`a time not in canonical ISO-8601 form: ${JSON.stringify(text.slice(0, 40))}`);
  return Date.parse(text);
}

function riskBand(risk: number): number {
  for (const [i, b] of RISK_BUCKETS.entries()) if (risk <= b.max) return i;
  return RISK_BUCKETS.length - 1;
}

function compare(a: number, op: CompareOp, b: number): boolean {
  switch (op) {
    case '=':
      return a === b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
  }
}

/** search_version (migrations/0010) as `conn` sees it; NaN without the row. */
function readVersion(conn: Database.Database, db: Db): number {
  const q = db.selectFrom('search_version').select('version').where('id', '=', 1).compile();
  const row = conn.prepare(q.sql).get(...q.parameters) as { version: number } | undefined;
  return Number(row?.version ?? Number.NaN);
}

/** Index of `id` among the first `n` ids (ascending), or -1. */
function binarySearch(ids: Float64Array, n: number, id: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const x = ids[mid]!;
    if (x === id) return mid;
    if (x < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

// ------------------------------------------------------------------ the cache

export interface ColumnIndexCacheOptions {
  /** Build only for inventories with at least this many services (SQL answers small ones fast). */
  minServices?: number;
  /** Wait this long without a commit before rebuilding a stale index, ms (a scan commits often). */
  quietMs?: number;
}

/**
 * Keeps a column index of one SQLite inventory file current: `current()` returns it only while
 * no commit happened since it was built, and otherwise schedules a rebuild (once the inventory
 * has been quiet for quietMs) and returns null, so the caller answers from SQL meanwhile.
 */
export class ColumnIndexCache {
  /** Builds (one read transaction at a time). */
  private readonly conn: Database.Database;
  /** Asks data_version: a connection that never reads rows, so it is never busy while a build iterates. */
  private readonly versionConn: Database.Database;
  /** Writes the builder's statements (compile only: no query runs through it). */
  private readonly db: Db;
  private index: ColumnIndex | null = null;
  private building: Promise<ColumnIndex | null> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly minServices: number;
  private readonly quietMs: number;

  constructor(file: string, opts: ColumnIndexCacheOptions = {}) {
    this.conn = new Database(file, { readonly: true, fileMustExist: true });
    this.versionConn = new Database(file, { readonly: true, fileMustExist: true });
    this.db = new Kysely<InventoryDatabase>({ dialect: new SqliteDialect({ database: this.conn }) });
    this.minServices = opts.minServices ?? 100_000;
    this.quietMs = opts.quietMs ?? 2_000;
  }

  private seen = { dataVersion: Number.NaN, version: Number.NaN };

  /**
   * The searched rows' change counter as committed now (migrations/0010): read again only when
   * `PRAGMA data_version` says another connection committed something since the last look.
   */
  private committedVersion(): number {
    const dv = Number(this.versionConn.pragma('data_version', { simple: true }));
    if (dv !== this.seen.dataVersion) {
      this.seen = { dataVersion: dv, version: readVersion(this.versionConn, this.db) };
    }
    return this.seen.version;
  }

  /** The index if it holds every commit so far; else null, and a rebuild is scheduled. */
  current(): ColumnIndex | null {
    if (this.closed) return null;
    const idx = this.index;
    if (idx !== null && idx.version === this.committedVersion()) return idx;
    this.schedule();
    return null;
  }

  /** Builds now (unless the inventory is smaller than minServices) and returns the index. */
  async refresh(): Promise<ColumnIndex | null> {
    if (this.building) await this.building.catch(() => null);
    const idx = this.index;
    if (idx !== null && idx.version === this.committedVersion()) return idx;
    this.building = this.build().finally(() => {
      this.building = null;
    });
    return this.building;
  }

  private schedule(): void {
    if (this.timer !== null || this.building !== null) return;
    const seen = this.committedVersion();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.closed) return;
      // A commit meanwhile: the inventory is still being written; wait for another quiet spell.
      if (this.committedVersion() !== seen) return this.schedule();
      void this.refresh();
    }, this.quietMs);
    this.timer.unref();
  }

  private async build(): Promise<ColumnIndex | null> {
    try {
      const q = this.db.selectFrom('services').select((eb) => eb.fn.max('id').as('n')).compile();
      const top = Number((this.conn.prepare(q.sql).get(...q.parameters) as { n: number | null }).n ?? 0);
      if (top < this.minServices) {
        this.index = null;
        return null;
      }
      const idx = await ColumnIndex.build(this.conn, this.db);
      await idx.prepareOrders();
      if (!this.closed) this.index = idx;
      return idx;
    } catch {
      // No index (a time not in canonical form, a row without its host): SQL answers, as below minServices.
      this.index = null;
      return null;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.building?.catch(() => null);
    this.index = null;
    this.conn.close();
    this.versionConn.close();
  }
}
