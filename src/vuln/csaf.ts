/**
 * CSAF 2.0 security advisories (OASIS CSAF v2.0), as CISA publishes its ICS medical advisories
 * (ICSMA) and vendor PSIRTs publish theirs. Medical devices often have no CPE configuration in
 * NVD; their advisories still say which product versions a CVE affects.
 *
 * We read (CSAF 2.0 §3.2.2 product_tree, §3.2.3 vulnerabilities):
 * - `product_tree.branches` recursively: `vendor` / `product_family` / `product_name` name the
 *   product, `product_version` gives one version and `product_version_range` a range (`vers:`
 *   syntax per CSAF §3.1.2.3, or the bare `<1.5.8` that CISA's generator writes); the leaf
 *   `product` carries `product_id` and optionally `product_identification_helper.cpe`;
 * - `product_tree.full_product_names` and `relationships[].full_product_name` (CPE helpers);
 * - `vulnerabilities[]`: `cve`, the summary/description note, `product_status.known_affected`
 *   (with `first_affected` and `last_affected`, which are affected too), and `scores` (CVSS v3/v2).
 *
 * A product matches our product when its CPE names the same `vendor:product` (and the same
 * version, if the CPE has one), or, without a CPE, when its vendor and product names resolve to
 * the same key (products.ts); its version or range must then contain ours.
 */
import { z } from 'zod';
import { ANY, NA, hasWildcards, logicalValue, parseAnyCpe } from './cpe.js';
import { VulnDataError } from './errors.js';
import { VULN_LIMITS } from './limits.js';
import type { ProductTable } from './products.js';
import { readBoundedText } from './read-bounded.js';
import { type ParsedVersion, compareVersions, parseVersRange, versRangeContains } from './version.js';

export interface CsafProduct {
  productId: string;
  name?: string;
  vendor?: string;
  product?: string;
  version?: string;
  versionRange?: string;
  cpe?: string;
}

export interface CsafScore {
  version: string;
  score: number;
  vector: string;
  products: string[];
}

export interface CsafVulnerability {
  cve: string;
  summary?: string;
  cwe?: string;
  /** Product ids in known_affected, first_affected or last_affected. */
  affected: string[];
  scores: CsafScore[];
}

export interface CsafAdvisory {
  id: string;
  title: string;
  publisher?: string;
  releaseDate?: string;
  /** The web version of the advisory (a `self` reference that is not JSON), else the first `self`. */
  url?: string;
  products: CsafProduct[];
  vulnerabilities: CsafVulnerability[];
}

const Str = (max: number) => z.string().max(max);

const Header = z.object({
  document: z.object({
    csaf_version: z.literal('2.0'),
    title: Str(1024),
    publisher: z.object({ name: Str(512) }).optional(),
    tracking: z.object({ id: Str(256), current_release_date: Str(64).optional() }),
    references: z.array(z.object({ category: Str(32).optional(), url: Str(2048), summary: Str(1024).optional() })).max(1024).optional(),
  }),
});

function str(v: unknown, max = 1024): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v.slice(0, max) : undefined;
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

interface Ctx {
  vendor?: string;
  product?: string;
  family?: string;
  version?: string;
  range?: string;
}

/** Validates and trims a parsed CSAF 2.0 document. Throws VulnDataError when it is not one. */
export function parseCsaf(doc: unknown): CsafAdvisory {
  const header = Header.safeParse(doc);
  if (!header.success) throw new VulnDataError(`not a CSAF 2.0 advisory: ${z.prettifyError(header.error).slice(0, 300)}`, { cause: header.error });
  const d = header.data.document;
  const root = obj(doc);
  let budget: number = VULN_LIMITS.csafNodes;
  const spend = () => {
    if (--budget < 0) throw new VulnDataError(`CSAF ${d.tracking.id}: more than ${VULN_LIMITS.csafNodes} nodes`);
  };
  const products: CsafProduct[] = [];
  const addProduct = (p: unknown, ctx: Ctx) => {
    const o = obj(p);
    const productId = str(o.product_id, 256);
    if (!productId) return;
    const cp: CsafProduct = { productId };
    const name = str(o.name, 512);
    if (name) cp.name = name;
    if (ctx.vendor) cp.vendor = ctx.vendor;
    const product = ctx.product ?? ctx.family;
    if (product) cp.product = product;
    if (ctx.version) cp.version = ctx.version;
    if (ctx.range) cp.versionRange = ctx.range;
    const cpe = str(obj(o.product_identification_helper).cpe, VULN_LIMITS.cpeChars);
    if (cpe) cp.cpe = cpe;
    products.push(cp);
  };
  const walk = (branches: unknown, ctx: Ctx, depth: number) => {
    if (depth > VULN_LIMITS.csafBranchDepth) throw new VulnDataError(`CSAF ${d.tracking.id}: product_tree nested deeper than ${VULN_LIMITS.csafBranchDepth}`);
    for (const b of arr(branches)) {
      spend();
      const o = obj(b);
      const name = str(o.name, 512);
      const next: Ctx = { ...ctx };
      switch (o.category) {
        case 'vendor':
          if (name) next.vendor = name;
          break;
        case 'product_family':
          if (name) next.family = name;
          break;
        case 'product_name':
          if (name) next.product = name;
          break;
        case 'product_version':
          if (name) next.version = name;
          break;
        case 'product_version_range':
          if (name) next.range = name;
          break;
        default:
          break;
      }
      if (o.product !== undefined) addProduct(o.product, next);
      if (o.branches !== undefined) walk(o.branches, next, depth + 1);
    }
  };
  const tree = obj(root.product_tree);
  walk(tree.branches, {}, 0);
  for (const p of arr(tree.full_product_names)) {
    spend();
    addProduct(p, {});
  }
  for (const r of arr(tree.relationships)) {
    spend();
    addProduct(obj(r).full_product_name, {});
  }

  const vulnerabilities: CsafVulnerability[] = [];
  for (const v of arr(root.vulnerabilities)) {
    spend();
    const o = obj(v);
    const cve = str(o.cve, 32);
    if (!cve || !/^CVE-\d{4}-\d{4,}$/.test(cve)) continue;
    const status = obj(o.product_status);
    const affected = [...new Set([...arr(status.known_affected), ...arr(status.first_affected), ...arr(status.last_affected)].filter((x): x is string => typeof x === 'string'))];
    const scores: CsafScore[] = [];
    for (const s of arr(o.scores)) {
      const so = obj(s);
      const cv = obj(so.cvss_v3).baseScore !== undefined ? obj(so.cvss_v3) : obj(so.cvss_v2);
      const score = cv.baseScore;
      const vector = str(cv.vectorString, 512);
      const version = str(cv.version, 8);
      if (typeof score !== 'number' || score < 0 || score > 10 || !vector || !version) continue;
      scores.push({ version, score, vector, products: arr(so.products).filter((x): x is string => typeof x === 'string') });
    }
    const notes = arr(o.notes).map(obj);
    const note = notes.find((n) => n.category === 'summary') ?? notes.find((n) => n.category === 'description');
    const cv: CsafVulnerability = { cve, affected, scores };
    const summary = str(note?.text, VULN_LIMITS.descriptionChars);
    if (summary) cv.summary = summary;
    const cwe = str(obj(o.cwe).id, 32);
    if (cwe) cv.cwe = cwe;
    vulnerabilities.push(cv);
  }

  const adv: CsafAdvisory = { id: d.tracking.id, title: d.title, products, vulnerabilities };
  if (d.publisher?.name) adv.publisher = d.publisher.name;
  if (d.tracking.current_release_date) adv.releaseDate = d.tracking.current_release_date;
  const selfRefs = (d.references ?? []).filter((r) => r.category === 'self');
  const web = selfRefs.find((r) => !/\.json$/i.test(r.url)) ?? selfRefs[0];
  if (web) adv.url = web.url;
  return adv;
}

/** Reads a CSAF advisory file (optionally gzipped). */
export async function readCsafFile(file: string): Promise<CsafAdvisory> {
  const text = await readBoundedText(file, VULN_LIMITS.csafBytes);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new VulnDataError(`${file}: not JSON`, { cause: err });
  }
  return parseCsaf(doc);
}

export interface CsafMatch {
  cve: string;
  advisory: CsafAdvisory;
  productId: string;
  via: 'csaf-cpe' | 'csaf-name';
}

function productMatches(p: CsafProduct, key: string, version: ParsedVersion, table: ProductTable): 'csaf-cpe' | 'csaf-name' | null {
  let via: 'csaf-cpe' | 'csaf-name' | null = null;
  let cpeVersion: string | null = null;
  if (p.cpe) {
    try {
      const c = parseAnyCpe(p.cpe);
      if (table.keyForCpe(c) === key) {
        via = 'csaf-cpe';
        if (c.version !== ANY && c.version !== NA && !hasWildcards(c.version)) cpeVersion = logicalValue(c.version);
      }
    } catch {
      // an unreadable CPE does not name our product
    }
  }
  if (!via && p.vendor && p.product && table.keyForNames(p.vendor, p.product) === key) via = 'csaf-name';
  if (!via) return null;
  if (p.versionRange !== undefined) {
    const range = parseVersRange(p.versionRange);
    return range && versRangeContains(version, range) ? via : null;
  }
  const exact = p.version ?? cpeVersion;
  if (exact !== null && exact !== undefined) return compareVersions(version, exact) === 0 ? via : null;
  return null; // no version information: a version finding needs one
}

/** The CVEs of an advisory that affect product `key` at `version`. */
export function matchCsaf(adv: CsafAdvisory, key: string, version: ParsedVersion, table: ProductTable): CsafMatch[] {
  const hits = new Map<string, 'csaf-cpe' | 'csaf-name'>();
  for (const p of adv.products) {
    const via = productMatches(p, key, version, table);
    if (via) hits.set(p.productId, via);
  }
  if (hits.size === 0) return [];
  const out: CsafMatch[] = [];
  for (const v of adv.vulnerabilities) {
    const pid = v.affected.find((id) => hits.has(id));
    if (pid !== undefined) out.push({ cve: v.cve, advisory: adv, productId: pid, via: hits.get(pid)! });
  }
  return out;
}

/** Product keys an advisory names (for indexing). */
export function csafKeys(adv: CsafAdvisory, table: ProductTable): string[] {
  const keys = new Set<string>();
  for (const p of adv.products) {
    if (p.cpe) {
      try {
        const k = table.keyForCpe(parseAnyCpe(p.cpe));
        if (k) keys.add(k);
      } catch {
        // skip
      }
    }
    if (p.vendor && p.product) keys.add(table.keyForNames(p.vendor, p.product));
  }
  return [...keys];
}

const StoredCsaf = z.object({
  id: Str(256),
  title: Str(1024),
  publisher: Str(512).optional(),
  releaseDate: Str(64).optional(),
  url: Str(2048).optional(),
  products: z
    .array(
      z.object({
        productId: Str(256),
        name: Str(512).optional(),
        vendor: Str(512).optional(),
        product: Str(512).optional(),
        version: Str(512).optional(),
        versionRange: Str(1024).optional(),
        cpe: Str(VULN_LIMITS.cpeChars).optional(),
      }),
    )
    .max(VULN_LIMITS.csafNodes),
  vulnerabilities: z
    .array(
      z.object({
        cve: z.string().regex(/^CVE-\d{4}-\d{4,}$/),
        summary: Str(VULN_LIMITS.descriptionChars).optional(),
        cwe: Str(32).optional(),
        affected: z.array(Str(256)).max(VULN_LIMITS.csafNodes),
        scores: z.array(z.object({ version: Str(8), score: z.number().min(0).max(10), vector: Str(512), products: z.array(Str(256)).max(VULN_LIMITS.csafNodes) })).max(1024),
      }),
    )
    .max(VULN_LIMITS.csafNodes),
});

/** Reads back a trimmed advisory (the form parseCsaf returns, as stored under the data dir). */
export function csafFromJson(o: unknown): CsafAdvisory {
  const parsed = StoredCsaf.safeParse(o);
  if (!parsed.success) throw new VulnDataError('stored CSAF advisory is invalid', { cause: parsed.error });
  return parsed.data as CsafAdvisory;
}
