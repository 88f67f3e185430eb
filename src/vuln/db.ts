/**
 * The offline vulnerability database: the curated set shipped with medsurface, plus whatever the
 * user imported (NVD 2.0 feeds, the CISA KEV catalogue, CSAF advisories), stored under the
 * inventory's data dir in `<dataDir>/vulndb/`:
 *
 *   nvd/<vendor>.jsonl   one trimmed NVD record per line, one file per CPE vendor of its
 *                        vulnerable criteria (loaded lazily, when a product of that vendor is
 *                        looked up)
 *   kev.json             the KEV catalogue (the latest import replaces the previous one)
 *   csaf/<id>.json       trimmed CSAF advisories
 *
 * Lookups are keyed by the NVD CPE `vendor:product` (products.ts resolves fingerprint names to
 * it). A lookup without a version returns nothing: every match here is made from a version string
 * and carries `confidence: 'version'`. When the version is a distribution package version
 * (`1.10.1+dfsg-2+deb12u1`) the upstream version is matched and the match says that the
 * distribution may have backported the fix (version.ts).
 *
 * One import at a time per data dir: imports are not locked against each other.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Confidence, Finding, Severity } from '../core/types.js';
import { affectedKeys, matchAffected } from './affected.js';
import { type Cpe, formatCpe, hasWildcards, logicalValue, makeCpe, parseAnyCpe, quoteValue, withAttribute } from './cpe.js';
import { type CsafAdvisory, csafFromJson, csafKeys, matchCsaf, readCsafFile } from './csaf.js';
import { type CuratedApplicability, type CuratedRecord, loadCurated } from './curated.js';
import { VulnDataError } from './errors.js';
import { type KevCatalog, type KevEntry, kevFromJson, kevToJson, readKevFile } from './kev.js';
import { VULN_LIMITS } from './limits.js';
import {
  type CvssScore,
  type NvdCve,
  bestCvss,
  englishDescription,
  makeTitle,
  matchConfigurations,
  parseNvdCve,
  readNvdFeed,
  severityFromCvss,
  vulnerableProducts,
} from './nvd.js';
import { type ProductTable, builtinProducts } from './products.js';
import { DEFAULT_READ_CAPS, type ReadCaps, readHead } from './read-bounded.js';
import { type ParsedVersion, backportNote, parseVersion } from './version.js';

export interface ProductQuery {
  vendor?: string;
  product?: string;
  version?: string;
  /** A CPE 2.3 formatted string (or 2.2 URI); its version is used when `version` is absent. */
  cpe?: string;
}

export type MatchBasis = 'nvd-configuration' | 'cve5-cna' | 'cve5-adp' | 'csaf' | 'description';

export interface VulnMatch {
  /** The CVE id. */
  id: string;
  severity: Severity;
  cvss: CvssScore | null;
  kev: boolean;
  kevDateAdded?: string;
  kevDueDate?: string;
  kevRansomware?: string;
  /** Short, from the description (VULN_LIMITS.titleChars at most). */
  title: string;
  references: string[];
  confidence: Extract<Confidence, 'version'>;
  /** What established applicability. */
  basis: MatchBasis;
  /** Where the data came from: `curated`, `nvd-import`, `csaf:<tracking id>`. */
  sources: string[];
  /** NVD criteria (vulnerable) that matched, when basis is nvd-configuration. */
  matchedCriteria: string[];
  /** Platform criteria assumed to hold (an application cannot show its OS), see nvd.ts. */
  platformAssumed: string[];
  /** Set for distribution package versions: the fix may be backported. */
  backportNote?: string;
  product: { key: string; version: string; cpe: string; vendor?: string; product?: string };
}

interface DbRecord {
  cve: NvdCve;
  origin: 'curated' | 'nvd-import';
  applicability?: CuratedApplicability;
  supplementalMetrics?: NvdCve['metrics'];
  kev?: KevEntry;
}

function vendorFileName(vendor: string): string {
  const safe = vendor.toLowerCase().replace(/[^a-z0-9._-]/g, '_').slice(0, 100);
  if (safe === vendor && safe !== '' && safe !== '.' && safe !== '..') return `${safe}.jsonl`;
  const h = createHash('sha256').update(vendor).digest('hex').slice(0, 10);
  return `${safe}-${h}.jsonl`;
}

function newer(a: NvdCve, b: NvdCve): boolean {
  return (a.lastModified ?? '') > (b.lastModified ?? '');
}

function readBoundedFileSync(file: string, max: number): string {
  const st = statSync(file);
  if (!st.isFile()) throw new VulnDataError(`${file}: not a regular file`);
  if (st.size > max) throw new VulnDataError(`${file}: ${st.size} bytes, more than the ${max}-byte cap`);
  return readFileSync(file, 'utf8');
}

function parseShard(file: string): NvdCve[] {
  const text = readBoundedFileSync(file, VULN_LIMITS.shardFileBytes);
  const out: NvdCve[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.length > VULN_LIMITS.shardLineBytes) throw new VulnDataError(`${file}: a line is longer than ${VULN_LIMITS.shardLineBytes} bytes`);
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw new VulnDataError(`${file}: a line is not JSON`, { cause: err });
    }
    out.push(parseNvdCve(obj));
  }
  return out;
}

const SEVERITY_ORDER: Record<Severity, number> = { critical: 4, high: 3, medium: 2, low: 1, info: 0 };

export interface VulnDbOptions {
  /** The inventory's data dir: imported data is read from `<dataDir>/vulndb/`. */
  dataDir?: string;
  /** Include the curated set (default true). */
  builtin?: boolean;
  products?: ProductTable;
}

export class VulnDb {
  private readonly products: ProductTable;
  private readonly curatedByKey = new Map<string, DbRecord[]>();
  private readonly curatedById = new Map<string, DbRecord>();
  private readonly csaf: Array<{ adv: CsafAdvisory; source: string }> = [];
  private readonly csafByKey = new Map<string, Array<{ adv: CsafAdvisory; source: string }>>();
  private readonly shardCache = new Map<string, DbRecord[]>();
  private readonly nvdDir: string | null;
  private kev: KevCatalog | null = null;
  private readonly builtinKev = new Map<string, KevEntry>();

  constructor(opts: VulnDbOptions = {}) {
    this.products = opts.products ?? builtinProducts();
    if (opts.builtin !== false) {
      const curated = loadCurated();
      for (const r of curated.records) this.addCurated(r);
      for (const a of curated.csaf) this.addCsaf(a, `csaf:${a.id}`);
    }
    this.nvdDir = null;
    if (opts.dataDir) {
      const root = path.join(opts.dataDir, 'vulndb');
      const nvd = path.join(root, 'nvd');
      this.nvdDir = existsSync(nvd) ? nvd : null;
      const kevFile = path.join(root, 'kev.json');
      if (existsSync(kevFile)) this.kev = kevFromJson(JSON.parse(readBoundedFileSync(kevFile, VULN_LIMITS.kevBytes)));
      const csafDir = path.join(root, 'csaf');
      if (existsSync(csafDir)) {
        const files = readdirSync(csafDir).filter((f) => f.endsWith('.json')).sort();
        if (files.length > VULN_LIMITS.storedFiles) throw new VulnDataError(`${csafDir}: more than ${VULN_LIMITS.storedFiles} advisories`);
        for (const f of files) {
          const adv = csafFromJson(JSON.parse(readBoundedFileSync(path.join(csafDir, f), VULN_LIMITS.csafBytes)));
          this.addCsaf(adv, `csaf:${adv.id}`);
        }
      }
    }
  }

  private addCurated(r: CuratedRecord): void {
    const rec: DbRecord = { cve: r.cve, origin: 'curated' };
    if (r.applicability) rec.applicability = r.applicability;
    if (r.supplementalMetrics) rec.supplementalMetrics = r.supplementalMetrics;
    if (r.kev) {
      const { source: _source, ...kev } = r.kev;
      rec.kev = kev;
      this.builtinKev.set(r.cve.id, kev);
    }
    this.curatedById.set(r.cve.id, rec);
    const keys = new Set(vulnerableProducts(r.cve.configurations));
    for (const a of r.applicability?.affected ?? []) for (const k of affectedKeys(a, this.products)) keys.add(k);
    for (const k of keys) {
      const list = this.curatedByKey.get(k) ?? [];
      list.push(rec);
      this.curatedByKey.set(k, list);
    }
  }

  private addCsaf(adv: CsafAdvisory, source: string): void {
    const entry = { adv, source };
    this.csaf.push(entry);
    for (const k of csafKeys(adv, this.products)) {
      const list = this.csafByKey.get(k) ?? [];
      list.push(entry);
      this.csafByKey.set(k, list);
    }
  }

  private shard(vendor: string): DbRecord[] {
    if (!this.nvdDir) return [];
    const hit = this.shardCache.get(vendor);
    if (hit) return hit;
    const file = path.join(this.nvdDir, vendorFileName(vendor));
    const recs: DbRecord[] = existsSync(file) ? parseShard(file).map((cve) => ({ cve, origin: 'nvd-import' as const })) : [];
    this.shardCache.set(vendor, recs);
    return recs;
  }

  private kevFor(id: string, rec?: DbRecord): KevEntry | undefined {
    return this.kev?.entries.get(id) ?? rec?.kev ?? this.builtinKev.get(id) ?? (rec?.cve.cisaExploitAdd ? { dateAdded: rec.cve.cisaExploitAdd } : undefined);
  }

  /** Candidate records for a product key: curated and imported, one per CVE id (newest wins). */
  private candidates(key: string): Map<string, DbRecord> {
    const out = new Map<string, DbRecord>();
    for (const r of this.curatedByKey.get(key) ?? []) out.set(r.cve.id, r);
    const vendor = key.slice(0, key.indexOf(':'));
    for (const r of this.shard(vendor)) {
      if (!vulnerableProducts(r.cve.configurations).includes(key)) continue;
      const prev = out.get(r.cve.id);
      if (!prev || newer(r.cve, prev.cve)) {
        const merged: DbRecord = { ...r };
        if (prev?.applicability && !r.cve.configurations) merged.applicability = prev.applicability;
        if (prev?.kev) merged.kev = prev.kev;
        out.set(r.cve.id, merged);
      }
    }
    return out;
  }

  /** Resolves a query to an index key, a product CPE and a parsed version (null without a version). */
  resolve(q: ProductQuery): { key: string; cpe: Cpe; version: ParsedVersion; versionRaw: string } | null {
    let cpe: Cpe | null = null;
    let key: string | null = null;
    if (q.cpe) {
      cpe = parseAnyCpe(q.cpe);
      key = this.products.keyForCpe(cpe);
    }
    if (!key && q.product && !q.vendor) key = this.products.keyForProduct(q.product);
    if (key && !cpe) {
      const [v, p] = key.split(':') as [string, string];
      cpe = makeCpe({ part: 'a', vendor: v, product: p });
    }
    if (!key && q.vendor && q.product) {
      key = this.products.keyForNames(q.vendor, q.product);
      const [v, p] = key.split(':') as [string, string];
      cpe = makeCpe({ part: 'a', vendor: v, product: p });
    }
    if (!key || !cpe) return null;
    let versionRaw = q.version?.trim();
    if (!versionRaw && !hasWildcards(cpe.version)) versionRaw = logicalValue(cpe.version) ?? undefined;
    if (!versionRaw) return null;
    const version = parseVersion(versionRaw);
    // The CPE carries the version that is compared (the upstream one for distribution packages).
    return { key, cpe: withAttribute(cpe, 'version', quoteValue(version.upstream || versionRaw)), version, versionRaw };
  }

  /** The known CVEs of a product at a version (see the module comment). Sorted, most severe first. */
  findVulnerabilities(q: ProductQuery): VulnMatch[] {
    const r = this.resolve(q);
    if (!r) return [];
    const productRef = { cpe: r.cpe, version: r.version };
    const note = backportNote(r.version);
    const product: VulnMatch['product'] = { key: r.key, version: r.versionRaw, cpe: formatCpe(r.cpe) };
    if (q.vendor) product.vendor = q.vendor;
    if (q.product) product.product = q.product;
    const found = new Map<string, VulnMatch>();

    const build = (id: string, rec: DbRecord | undefined, basis: MatchBasis, source: string, extra: { criteria?: string[]; assumed?: string[]; csaf?: CsafAdvisory }): VulnMatch => {
      const metrics = rec?.cve.metrics && bestCvss(rec.cve.metrics) ? rec.cve.metrics : rec?.supplementalMetrics;
      let cvss = bestCvss(metrics);
      let title = rec ? makeTitle(englishDescription(rec.cve)) : '';
      const refs = (rec?.cve.references ?? []).map((x) => x.url);
      if (extra.csaf) {
        const v = extra.csaf.vulnerabilities.find((x) => x.cve === id);
        if (!cvss && v?.scores[0]) cvss = { version: v.scores[0].version, score: v.scores[0].score, vector: v.scores[0].vector, source: extra.csaf.publisher ?? extra.csaf.id };
        if (!title && v?.summary) title = makeTitle(v.summary);
        if (extra.csaf.url && !refs.includes(extra.csaf.url)) refs.push(extra.csaf.url);
      }
      const kev = this.kevFor(id, rec);
      const m: VulnMatch = {
        id,
        severity: severityFromCvss(cvss),
        cvss,
        kev: kev !== undefined,
        title: title || id,
        references: refs.slice(0, VULN_LIMITS.referencesKept),
        confidence: 'version',
        basis,
        sources: [source],
        matchedCriteria: extra.criteria ?? [],
        platformAssumed: extra.assumed ?? [],
        product,
      };
      if (kev) {
        m.kevDateAdded = kev.dateAdded;
        if (kev.dueDate) m.kevDueDate = kev.dueDate;
        if (kev.knownRansomwareCampaignUse) m.kevRansomware = kev.knownRansomwareCampaignUse;
      }
      if (note) m.backportNote = note;
      return m;
    };

    const candidates = this.candidates(r.key);
    for (const rec of candidates.values()) {
      const source = rec.origin;
      if (rec.cve.configurations && rec.cve.configurations.length > 0) {
        const hit = matchConfigurations(rec.cve.configurations, productRef);
        if (hit) found.set(rec.cve.id, build(rec.cve.id, rec, 'nvd-configuration', source, { criteria: hit.criteria, assumed: hit.platformAssumed }));
        continue;
      }
      const app = rec.applicability;
      if (app?.affected && matchAffected(app.affected, r.key, r.version, this.products)) {
        found.set(rec.cve.id, build(rec.cve.id, rec, app.basis, source, {}));
      }
    }

    for (const { adv, source } of this.csafByKey.get(r.key) ?? []) {
      for (const hit of matchCsaf(adv, r.key, r.version, this.products)) {
        const prev = found.get(hit.cve);
        if (prev) {
          if (!prev.sources.includes(source)) prev.sources.push(source);
          if (adv.url && !prev.references.includes(adv.url) && prev.references.length < VULN_LIMITS.referencesKept) prev.references.push(adv.url);
          continue;
        }
        const rec = candidates.get(hit.cve) ?? this.curatedById.get(hit.cve);
        const m = build(hit.cve, rec, 'csaf', source, { csaf: adv });
        if (rec && !m.sources.includes(rec.origin)) m.sources.unshift(rec.origin);
        found.set(hit.cve, m);
      }
    }

    return [...found.values()].sort(
      (a, b) => SEVERITY_ORDER[b.severity] - SEVERITY_ORDER[a.severity] || (b.cvss?.score ?? -1) - (a.cvss?.score ?? -1) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
  }

  /** Findings (id = CVE id, confidence 'version') for a product; see toFindings. */
  findings(q: ProductQuery): Finding[] {
    return toFindings(this.findVulnerabilities(q));
  }

  /**
   * The CVE ids whose applicability was evaluated for this product and version: the "checks
   * that ran". A CVE finding is resolved only when a later scan evaluated it and it did not
   * match (after an upgrade); without a version nothing was evaluated.
   */
  evaluatedIds(q: ProductQuery): string[] {
    const r = this.resolve(q);
    if (!r) return [];
    const ids = new Set(this.candidates(r.key).keys());
    for (const { adv } of this.csafByKey.get(r.key) ?? []) for (const v of adv.vulnerabilities) if (v.cve) ids.add(v.cve);
    return [...ids].sort();
  }

  stats(): { curated: number; csaf: number; kev: number; importedVendors: number } {
    return {
      curated: this.curatedById.size,
      csaf: this.csaf.length,
      kev: this.kev?.entries.size ?? this.builtinKev.size,
      importedVendors: this.nvdDir ? readdirSync(this.nvdDir).filter((f) => f.endsWith('.jsonl')).length : 0,
    };
  }
}

/**
 * Findings for matches: one per CVE, id = CVE id, `confidence: 'version'`, evidence with the
 * product, version, CPE and source, the CVSS and KEV facts, and the notes a reader needs (platform
 * assumed, distribution backports).
 */
export function toFindings(matches: readonly VulnMatch[]): Finding[] {
  return matches.map((m) => {
    const evidence: Record<string, string | number | boolean | null> = {
      product: m.product.product ?? m.product.key,
      version: m.product.version,
      cpe: m.product.cpe,
      source: m.sources.join(','),
      basis: m.basis,
      cvss: m.cvss ? m.cvss.score : null,
      cvssVector: m.cvss ? m.cvss.vector : null,
      kev: m.kev,
    };
    if (m.product.vendor) evidence.vendor = m.product.vendor;
    if (m.kevDateAdded) evidence.kevDateAdded = m.kevDateAdded;
    if (m.kevRansomware) evidence.kevRansomware = m.kevRansomware;
    if (m.matchedCriteria.length > 0) evidence.matchedCriteria = m.matchedCriteria.slice(0, 4).join(' ');
    if (m.platformAssumed.length > 0) evidence.platformAssumed = m.platformAssumed.slice(0, 4).join(' ');
    if (m.backportNote) evidence.note = m.backportNote;
    else if (!m.cvss) evidence.note = 'no CVSS score has been published for this CVE';
    return { id: m.id, severity: m.severity, title: m.title, confidence: m.confidence, evidence };
  });
}

let defaultDb: VulnDb | null = null;

/** The curated set alone (cached). */
export function builtinVulnDb(): VulnDb {
  if (!defaultDb) defaultDb = new VulnDb();
  return defaultDb;
}

/** Looks a product up in the curated set (use `new VulnDb({ dataDir })` to include imports). */
export function findVulnerabilities(q: ProductQuery): VulnMatch[] {
  return builtinVulnDb().findVulnerabilities(q);
}

// ---- import ----

export type ImportKind = 'nvd' | 'kev' | 'csaf';

export interface ImportSummary {
  file: string;
  kind: ImportKind;
  /** Records stored (NVD records, KEV entries, CSAF vulnerabilities). */
  records: number;
  /** Items that did not validate and were skipped. */
  rejected: number;
  /** NVD records without any vulnerable CPE criteria (not analysed yet): nothing to index them by. */
  unindexed: number;
  /** The first few reasons for rejections. */
  errors: string[];
  /** Files written under the data dir. */
  written: string[];
}

export interface ImportOptions {
  caps?: ReadCaps;
  /** Force the kind instead of recognising it. */
  kind?: ImportKind;
}

/** Recognises an input file: NVD feed (by name or envelope), KEV catalogue or CSAF advisory. */
export async function detectKind(file: string, caps: ReadCaps = DEFAULT_READ_CAPS): Promise<ImportKind> {
  const head = await readHead(file, 16 * 1024, caps);
  if (/"csaf_version"\s*:/.test(head)) return 'csaf';
  if (/"catalogVersion"\s*:/.test(head)) return 'kev';
  if (/"format"\s*:\s*"NVD_CVE"/.test(head) || /nvdcve-2\.0-[^/\\]*\.json(\.gz)?$/i.test(file)) return 'nvd';
  throw new VulnDataError(`${file}: not an NVD 2.0 feed, a KEV catalogue or a CSAF 2.0 advisory`);
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

/**
 * Imports one file into `<dataDir>/vulndb/`. NVD feeds are streamed record by record and merged
 * into the vendor shards (newer lastModified wins); a KEV catalogue replaces the stored one; a
 * CSAF advisory is stored under its tracking id. Throws VulnDataError on files over the caps or
 * of an unknown kind; bad items inside a feed are counted and skipped.
 */
export async function importVulnFile(file: string, dataDir: string, opts: ImportOptions = {}): Promise<ImportSummary> {
  const caps = opts.caps ?? DEFAULT_READ_CAPS;
  const kind = opts.kind ?? (await detectKind(file, caps));
  const root = path.join(dataDir, 'vulndb');
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const summary: ImportSummary = { file, kind, records: 0, rejected: 0, unindexed: 0, errors: [], written: [] };
  if (kind === 'kev') {
    const cat = await readKevFile(file);
    const out = path.join(root, 'kev.json');
    writeAtomic(out, `${JSON.stringify(kevToJson(cat))}\n`);
    summary.records = cat.entries.size;
    summary.rejected = cat.rejected;
    summary.written.push(out);
    return summary;
  }
  if (kind === 'csaf') {
    const adv = await readCsafFile(file);
    const dir = path.join(root, 'csaf');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const out = path.join(dir, vendorFileName(adv.id).replace(/\.jsonl$/, '.json'));
    writeAtomic(out, `${JSON.stringify(adv)}\n`);
    summary.records = adv.vulnerabilities.length;
    summary.written.push(out);
    return summary;
  }

  const dir = path.join(root, 'nvd');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pending = new Map<string, string[]>();
  let pendingBytes = 0;
  const staged = new Set<string>();
  const flush = () => {
    for (const [vendor, lines] of pending) {
      appendFileSync(path.join(dir, `${vendorFileName(vendor)}.new`), `${lines.join('\n')}\n`, { mode: 0o600 });
      staged.add(vendor);
    }
    pending.clear();
    pendingBytes = 0;
  };
  try {
    for await (const item of readNvdFeed(file, { caps })) {
      if (!item.cve) {
        summary.rejected++;
        if (summary.errors.length < 10 && item.error) summary.errors.push(item.error);
        continue;
      }
      const vendors = new Set(vulnerableProducts(item.cve.configurations).map((k) => k.slice(0, k.indexOf(':'))));
      if (vendors.size === 0) {
        summary.unindexed++;
        continue;
      }
      const line = JSON.stringify(item.cve);
      for (const v of vendors) {
        const list = pending.get(v) ?? [];
        list.push(line);
        pending.set(v, list);
        pendingBytes += line.length;
      }
      summary.records++;
      if (pendingBytes > 32 * 1024 * 1024) flush();
    }
    flush();
  } catch (err) {
    for (const v of staged) rmSync(path.join(dir, `${vendorFileName(v)}.new`), { force: true });
    throw err;
  }
  for (const vendor of [...staged].sort()) {
    const shard = path.join(dir, vendorFileName(vendor));
    const merged = new Map<string, NvdCve>();
    if (existsSync(shard)) for (const c of parseShard(shard)) merged.set(c.id, c);
    for (const c of parseShard(`${shard}.new`)) {
      const prev = merged.get(c.id);
      if (!prev || !newer(prev, c)) merged.set(c.id, c);
    }
    const text = [...merged.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((c) => JSON.stringify(c))
      .join('\n');
    writeAtomic(shard, `${text}\n`);
    rmSync(`${shard}.new`, { force: true });
    summary.written.push(shard);
  }
  return summary;
}
