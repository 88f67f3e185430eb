/**
 * NVD CVE records (CVE API 2.0 and the JSON 2.0 feeds `nvdcve-2.0-*.json[.gz]`), the
 * configuration matcher, and the streaming feed reader.
 *
 * Schema: https://csrc.nist.gov/schema/nvd/api/2.0/cve_api_json_2.0.schema. A feed file is
 * `{ resultsPerPage, startIndex, totalResults, format: "NVD_CVE", version: "2.0", timestamp,
 * vulnerabilities: [{ cve: {...} }] }`, the same envelope the CVE API returns. Records are
 * validated with zod and trimmed on the way in (unknown keys dropped, English description only,
 * bounded references), so what we store is small and of a known shape.
 *
 * ## Matching (configurations)
 * A CVE applies when any of its configurations holds. A configuration combines its nodes with
 * its `operator` (AND/OR; OR when absent); a node combines its `cpeMatch` entries with its own
 * `operator`; `negate` inverts a node. A cpeMatch entry holds for a product when every CPE
 * attribute other than the version matches (cpe.ts) and the version does: inside the
 * versionStart/End Including/Excluding bounds when any is given, else equal to the criteria's
 * version (compared with version.ts, so `1.12` = `1.12.0`), `*` meaning every version.
 *
 * A scanner sees one application, not the platform under it. NVD writes "application X running
 * on platform Y" as `AND(OR(X vulnerable), OR(Y vulnerable:false))` (e.g. Adobe Reader on
 * Windows, CVE-2023-21608). An entry that names another product and is `vulnerable: false` is a
 * condition on the environment we cannot observe: it evaluates to *unknown*, and unknown counts
 * as satisfied (three-valued logic: OR is true if any child is true, else unknown if any is
 * unknown; AND is false if any child is false, else unknown if any is unknown; negate keeps
 * unknown). A match requires at least one `vulnerable: true` entry that matched the product
 * itself; the platform entries that were assumed are reported in `platformAssumed`, so the
 * finding can say "applies if running on Windows". A `vulnerable: true` entry for another product
 * is false (we do not assume another vulnerable component is present).
 *
 * Without a known version nothing matches: findings from this module are version findings
 * (`confidence: 'version'`), and a product of unknown version has no version to compare.
 */
import { z } from 'zod';
import type { Severity } from '../core/types.js';
import { type Cpe, ANY, NA, cpeMatchesExcept, hasWildcards, logicalValue, parseCpe, quoteValue, attributeMatches } from './cpe.js';
import { VulnDataError } from './errors.js';
import { VULN_LIMITS } from './limits.js';
import { type ArrayItemCaps, DEFAULT_READ_CAPS, type ReadCaps, jsonArrayItems, openBounded } from './read-bounded.js';
import { type ParsedVersion, compareVersions, hasBounds, inBounds, parseVersion } from './version.js';

const L = VULN_LIMITS;

const LangString = z.object({ lang: z.string().max(16), value: z.string().max(65_536) });

const CvssData = z.object({
  version: z.string().max(8),
  vectorString: z.string().max(512),
  baseScore: z.number().min(0).max(10),
  baseSeverity: z.string().max(16).optional(),
});

const CvssMetric = z.object({
  source: z.string().max(256).optional(),
  type: z.string().max(32).optional(),
  cvssData: CvssData,
  /** CVSS v2 entries carry the severity beside cvssData. */
  baseSeverity: z.string().max(16).optional(),
});

const Metrics = z.object({
  cvssMetricV40: z.array(CvssMetric).max(64).optional(),
  cvssMetricV31: z.array(CvssMetric).max(64).optional(),
  cvssMetricV30: z.array(CvssMetric).max(64).optional(),
  cvssMetricV2: z.array(CvssMetric).max(64).optional(),
});

const Version = z.string().min(1).max(L.versionChars);

export const CpeMatchSchema = z.object({
  vulnerable: z.boolean(),
  criteria: z.string().min(1).max(L.cpeChars),
  versionStartIncluding: Version.optional(),
  versionStartExcluding: Version.optional(),
  versionEndIncluding: Version.optional(),
  versionEndExcluding: Version.optional(),
  matchCriteriaId: z.string().max(64).optional(),
});
export type CpeMatch = z.infer<typeof CpeMatchSchema>;

const Operator = z.enum(['AND', 'OR']);

export const NodeSchema = z.object({
  operator: Operator,
  negate: z.boolean().optional(),
  cpeMatch: z.array(CpeMatchSchema).max(L.nvdCpeMatches),
});
export type ConfigNode = z.infer<typeof NodeSchema>;

export const ConfigurationSchema = z.object({
  operator: Operator.optional(),
  negate: z.boolean().optional(),
  nodes: z.array(NodeSchema).max(L.nvdNodes),
});
export type Configuration = z.infer<typeof ConfigurationSchema>;

const Reference = z.object({
  url: z.string().max(2048),
  source: z.string().max(256).optional(),
  tags: z.array(z.string().max(64)).max(32).optional(),
});

const Weakness = z.object({
  source: z.string().max(256).optional(),
  type: z.string().max(32).optional(),
  description: z.array(LangString).max(32),
});

const Timestamp = z.string().max(40);

export const NvdCveSchema = z.object({
  id: z.string().regex(/^CVE-\d{4}-\d{4,}$/),
  sourceIdentifier: z.string().max(256).optional(),
  published: Timestamp.optional(),
  lastModified: Timestamp.optional(),
  vulnStatus: z.string().max(64).optional(),
  descriptions: z.array(LangString).max(64),
  metrics: Metrics.optional(),
  weaknesses: z.array(Weakness).max(64).optional(),
  configurations: z.array(ConfigurationSchema).max(L.nvdConfigurations).optional(),
  references: z.array(Reference).max(8192).optional(),
  cisaExploitAdd: z.string().max(32).optional(),
  cisaActionDue: z.string().max(32).optional(),
  cisaRequiredAction: z.string().max(2048).optional(),
  cisaVulnerabilityName: z.string().max(512).optional(),
});
export type NvdCve = z.infer<typeof NvdCveSchema>;

/** Validates and trims one `cve` object of the NVD CVE API 2.0. Throws VulnDataError. */
export function parseNvdCve(obj: unknown): NvdCve {
  const parsed = NvdCveSchema.safeParse(obj);
  if (!parsed.success) {
    const id = (obj as { id?: unknown } | null)?.id;
    throw new VulnDataError(`invalid NVD CVE record${typeof id === 'string' ? ` ${id.slice(0, 32)}` : ''}: ${z.prettifyError(parsed.error).slice(0, 500)}`, {
      cause: parsed.error,
    });
  }
  const cve = parsed.data;
  const en = cve.descriptions.filter((d) => d.lang === 'en' || d.lang.startsWith('en-'));
  cve.descriptions = en.slice(0, 1).map((d) => ({ lang: 'en', value: d.value.slice(0, L.descriptionChars) }));
  if (cve.references) {
    const seen = new Set<string>();
    cve.references = cve.references
      .filter((r) => {
        if (seen.has(r.url)) return false;
        seen.add(r.url);
        return true;
      })
      .slice(0, L.referencesKept);
  }
  if (cve.weaknesses) {
    for (const w of cve.weaknesses) w.description = w.description.filter((d) => d.lang === 'en').slice(0, 8);
  }
  return cve;
}

/** The English description, whitespace collapsed. */
export function englishDescription(cve: Pick<NvdCve, 'descriptions'>): string {
  const d = cve.descriptions.find((x) => x.lang === 'en') ?? cve.descriptions[0];
  return (d?.value ?? '').replace(/\s+/g, ' ').trim();
}

/** A short title from a description: its first sentence, at most VULN_LIMITS.titleChars characters. */
export function makeTitle(description: string, max: number = L.titleChars): string {
  const text = description.replace(/\s+/g, ' ').trim();
  const m = /^(.+?[.!?])(?:\s|$)/.exec(text);
  const first = m ? m[1]! : text;
  if (first.length <= max) return first;
  const cut = first.slice(0, max - 1);
  const sp = cut.lastIndexOf(' ');
  return `${(sp > max / 2 ? cut.slice(0, sp) : cut).replace(/[\s,;:]+$/, '')}…`;
}

export interface CvssScore {
  version: string;
  score: number;
  vector: string;
  source?: string;
}

const METRIC_PREFERENCE = ['cvssMetricV31', 'cvssMetricV30', 'cvssMetricV40', 'cvssMetricV2'] as const;

/**
 * The CVSS score shown for a CVE: v3.1, then v3.0, then v4.0, then v2 (v3.x is what NVD and most
 * CNAs publish for every CVE of the curated set; v4.0 scores are sparse and not comparable with
 * them); within one version the NVD `Primary` score wins over a `Secondary` (CNA/ADP) one.
 */
export function bestCvss(metrics: NvdCve['metrics']): CvssScore | null {
  if (!metrics) return null;
  for (const key of METRIC_PREFERENCE) {
    const list = metrics[key];
    if (!list || list.length === 0) continue;
    const m = list.find((x) => x.type === 'Primary') ?? list[0]!;
    const out: CvssScore = { version: m.cvssData.version, score: m.cvssData.baseScore, vector: m.cvssData.vectorString };
    if (m.source !== undefined) out.source = m.source;
    return out;
  }
  return null;
}

/**
 * Severity from a CVSS base score: the qualitative rating scale of CVSS v3.1 / v4.0 §5 (None 0.0,
 * Low 0.1-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0; None maps to `info`), and NVD's
 * v2 bands (Low 0-3.9, Medium 4.0-6.9, High 7.0-10.0). No score at all is `info` too: the
 * finding then says that the CVE was not scored.
 */
export function severityFromCvss(cvss: CvssScore | null): Severity {
  if (!cvss) return 'info';
  const s = cvss.score;
  if (cvss.version.startsWith('2')) return s >= 7 ? 'high' : s >= 4 ? 'medium' : s > 0 ? 'low' : 'info';
  if (s === 0) return 'info';
  if (s < 4) return 'low';
  if (s < 7) return 'medium';
  if (s < 9) return 'high';
  return 'critical';
}

/** The product a CVE is matched against. `version` overrides the CPE's version attribute. */
export interface ProductRef {
  cpe: Cpe;
  version: ParsedVersion | null;
}

export interface CveMatch {
  /** The `vulnerable: true` criteria that matched the product. */
  criteria: string[];
  /** Platform criteria (another product, `vulnerable: false`) assumed to hold. */
  platformAssumed: string[];
}

type Tri = 0 | 1 | 2; // false, true, unknown
interface Eval {
  v: Tri;
  hits: string[];
  assumed: string[];
}
const FALSE: Eval = { v: 0, hits: [], assumed: [] };

const cpeCache = new Map<string, Cpe | null>();

function cachedCpe(s: string): Cpe | null {
  let c = cpeCache.get(s);
  if (c === undefined) {
    try {
      c = parseCpe(s);
    } catch {
      c = null;
    }
    if (cpeCache.size > 50_000) cpeCache.clear();
    cpeCache.set(s, c);
  }
  return c;
}

/** Resolves the product's version from `version`, else from the CPE's version attribute. */
export function productRef(cpe: Cpe | string, version?: string | null): ProductRef {
  const c = typeof cpe === 'string' ? parseCpe(cpe) : cpe;
  let v: string | null = version ?? null;
  if (v === null && c.version !== ANY && c.version !== NA && !hasWildcards(c.version)) v = logicalValue(c.version);
  return { cpe: c, version: v === null || v === '' ? null : parseVersion(v) };
}

function versionMatches(m: CpeMatch, crit: Cpe, p: ProductRef): boolean {
  if (!p.version) return false;
  const cv = crit.version;
  if (hasBounds(m)) {
    if (typeof cv === 'string' && !hasWildcards(cv) && compareVersions(p.version, logicalValue(cv) ?? '') !== 0) return false;
    return inBounds(p.version, m);
  }
  if (cv === ANY) return true;
  if (cv === NA) return false;
  if (hasWildcards(cv)) return attributeMatches(cv, quoteValue(p.version.upstream));
  return compareVersions(p.version, logicalValue(cv) ?? '') === 0;
}

function evalEntry(m: CpeMatch, p: ProductRef): Eval {
  const crit = cachedCpe(m.criteria);
  if (!crit) return FALSE;
  if (cpeMatchesExcept(crit, p.cpe, ['version'])) {
    if (!versionMatches(m, crit, p)) return FALSE;
    return { v: 1, hits: m.vulnerable ? [m.criteria] : [], assumed: [] };
  }
  if (!m.vulnerable) return { v: 2, hits: [], assumed: [m.criteria] };
  return FALSE;
}

function combine(op: 'AND' | 'OR', children: Eval[]): Eval {
  if (op === 'OR') {
    for (const want of [1, 2] as const) {
      const sel = children.filter((c) => c.v === want);
      if (sel.length > 0) return { v: want, hits: sel.flatMap((c) => c.hits), assumed: sel.flatMap((c) => c.assumed) };
    }
    return FALSE;
  }
  if (children.length === 0 || children.some((c) => c.v === 0)) return FALSE;
  return {
    v: children.some((c) => c.v === 2) ? 2 : 1,
    hits: children.flatMap((c) => c.hits),
    assumed: children.flatMap((c) => c.assumed),
  };
}

function negate(e: Eval): Eval {
  // A negated node never supplies evidence of a vulnerable product; unknown stays unknown.
  if (e.v === 2) return { v: 2, hits: [], assumed: e.assumed };
  return { v: e.v === 1 ? 0 : 1, hits: [], assumed: [] };
}

function evalNode(n: ConfigNode, p: ProductRef): Eval {
  const e = combine(n.operator, n.cpeMatch.map((m) => evalEntry(m, p)));
  return n.negate ? negate(e) : e;
}

function evalConfiguration(c: Configuration, p: ProductRef): Eval {
  const e = combine(c.operator ?? 'OR', c.nodes.map((n) => evalNode(n, p)));
  return c.negate ? negate(e) : e;
}

/** Evaluates configurations for a product (see the module comment). */
export function matchConfigurations(configurations: readonly Configuration[] | undefined, product: ProductRef): CveMatch | null {
  if (!configurations || configurations.length === 0 || !product.version) return null;
  const e = combine('OR', configurations.map((c) => evalConfiguration(c, product)));
  if (e.v === 0 || e.hits.length === 0) return null;
  return { criteria: [...new Set(e.hits)], platformAssumed: [...new Set(e.assumed)] };
}

/** Does this CVE's NVD configuration apply to the product? `cpe` may carry the version, or pass `version`. */
export function matchCve(cve: Pick<NvdCve, 'configurations'>, product: { cpe: string | Cpe; version?: string | null }): CveMatch | null {
  return matchConfigurations(cve.configurations, productRef(product.cpe, product.version ?? null));
}

/** The `vendor:product` keys (lowercase) of the vulnerable criteria of a record, for indexing. */
export function vulnerableProducts(configurations: readonly Configuration[] | undefined): string[] {
  const keys = new Set<string>();
  for (const c of configurations ?? []) {
    for (const n of c.nodes) {
      for (const m of n.cpeMatch) {
        if (!m.vulnerable) continue;
        const cpe = cachedCpe(m.criteria);
        if (!cpe) continue;
        const v = logicalValue(cpe.vendor);
        const p = logicalValue(cpe.product);
        if (v === null || p === null) continue;
        keys.add(`${v.toLowerCase()}:${p.toLowerCase()}`);
      }
    }
  }
  return [...keys];
}

export interface FeedItem {
  cve?: NvdCve;
  /** Why an item was skipped (the rest of the feed is still read). */
  error?: string;
}

export interface FeedReadOptions {
  caps?: ReadCaps;
  items?: ArrayItemCaps;
}

/**
 * Streams the CVE records of an NVD 2.0 feed file (`.json` or `.json.gz`). Each item is parsed
 * and validated on its own: a bad item yields `{ error }` and the reading goes on; a file over the
 * caps, a gzip bomb, or a truncated file throws VulnDataError.
 */
export async function* readNvdFeed(file: string, opts: FeedReadOptions = {}): AsyncGenerator<FeedItem> {
  const src = await openBounded(file, opts.caps ?? DEFAULT_READ_CAPS);
  const caps = opts.items ?? { maxItemBytes: L.nvdRecordBytes, maxItems: L.nvdRecordsPerFile };
  try {
    for await (const text of jsonArrayItems(src.chunks, 'vulnerabilities', caps)) {
      let obj: unknown;
      try {
        obj = JSON.parse(text);
      } catch (err) {
        yield { error: `item is not JSON: ${(err as Error).message.slice(0, 200)}` };
        continue;
      }
      try {
        yield { cve: parseNvdCve((obj as { cve?: unknown } | null)?.cve) };
      } catch (err) {
        yield { error: (err as Error).message };
      }
    }
  } finally {
    await src.chunks.return(undefined);
  }
}
