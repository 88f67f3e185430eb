/**
 * The curated offline set shipped in src/vuln/data/curated.json: real CVEs for the products we
 * fingerprint, each an NVD CVE API 2.0 record (trimmed by parseNvdCve) with where it was copied
 * from, plus, where NVD has no configuration yet, the applicability a CNA, CISA-ADP or a CSAF
 * advisory states (copied verbatim), and the KEV entry when the CVE is in CISA's catalogue.
 *
 * curated.json is generated, never edited by hand: `node --import tsx src/vuln/build-curated.ts`
 * rebuilds it from the copies under src/vuln/fixtures/ (the same files the tests read) and the
 * one hand-written file, data/authored-applicability.json. curated.test.ts fails when the
 * shipped file differs from a fresh build.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { packageRoot } from '../core/paths.js';
import { type Cve5Affected, Cve5AffectedSchema } from './affected.js';
import { type CsafAdvisory, csafFromJson, readCsafFile } from './csaf.js';
import { VulnDataError } from './errors.js';
import { type KevEntry, readKevFile } from './kev.js';
import { type NvdCve, NvdCveSchema, readNvdFeed } from './nvd.js';

export type ApplicabilityBasis = 'cve5-adp' | 'cve5-cna' | 'csaf' | 'description';

export interface CuratedApplicability {
  basis: ApplicabilityBasis;
  source: string;
  affected?: Cve5Affected[];
  /** CSAF tracking id when the applicability comes from a builtin advisory. */
  advisory?: string;
  /** The words of the description a `description` basis is read from. */
  quote?: string;
}

export interface CuratedRecord {
  cve: NvdCve;
  source: { nvdApi: string; copiedFrom: string };
  applicability?: CuratedApplicability;
  /** CVSS from CISA-ADP when NVD has none (same shape as NVD `metrics`). */
  supplementalMetrics?: NvdCve['metrics'];
  kev?: KevEntry & { source: string };
}

export interface CuratedFile {
  schema: 1;
  note: string;
  records: CuratedRecord[];
  csaf: Array<CsafAdvisory & { source: string }>;
}

const Applicability = z.object({
  basis: z.enum(['cve5-adp', 'cve5-cna', 'csaf', 'description']),
  source: z.string().max(2048),
  affected: z.array(Cve5AffectedSchema).max(256).optional(),
  advisory: z.string().max(256).optional(),
  quote: z.string().max(1024).optional(),
});

const KevStored = z.object({
  dateAdded: z.string().max(16),
  dueDate: z.string().max(16).optional(),
  knownRansomwareCampaignUse: z.string().max(32).optional(),
  vulnerabilityName: z.string().max(512).optional(),
  vendorProject: z.string().max(256).optional(),
  product: z.string().max(256).optional(),
  source: z.string().max(2048),
});

const CuratedSchema = z.object({
  schema: z.literal(1),
  note: z.string(),
  records: z
    .array(
      z.object({
        cve: NvdCveSchema,
        source: z.object({ nvdApi: z.string().max(2048), copiedFrom: z.string().max(2048) }),
        applicability: Applicability.optional(),
        supplementalMetrics: NvdCveSchema.shape.metrics.optional(),
        kev: KevStored.optional(),
      }),
    )
    .max(10_000),
  csaf: z.array(z.unknown()).max(1000),
});

export function curatedPath(): string {
  return path.join(packageRoot(), 'src', 'vuln', 'data', 'curated.json');
}

/** Loads and validates a curated file (default: the shipped one). */
export function loadCurated(file: string = curatedPath()): CuratedFile {
  let obj: unknown;
  try {
    obj = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new VulnDataError(`${file}: cannot read`, { cause: err });
  }
  const parsed = CuratedSchema.safeParse(obj);
  if (!parsed.success) throw new VulnDataError(`${file}: ${z.prettifyError(parsed.error).slice(0, 500)}`, { cause: parsed.error });
  const csaf = parsed.data.csaf.map((c) => {
    const source = (c as { source?: unknown }).source;
    if (typeof source !== 'string') throw new VulnDataError(`${file}: a CSAF entry has no source`);
    return { ...csafFromJson(c), source };
  });
  return { ...parsed.data, csaf } as CuratedFile;
}

// ---- building curated.json from the copies under fixtures/ ----

const FIXTURES = () => path.join(packageRoot(), 'src', 'vuln', 'fixtures');

/** Records in the sample feeds that are there for tests only (not products we fingerprint). */
const TEST_ONLY = new Set(['CVE-2023-21608']);

const SourcesFile = z.object({
  repo: z.string(),
  records: z.record(z.string(), z.object({ path: z.string(), commit: z.string().regex(/^[0-9a-f]{40}$/) })),
  kev: z.object({ repo: z.string(), path: z.string(), commit: z.string() }),
  csaf: z.record(z.string(), z.object({ repo: z.string(), path: z.string(), commit: z.string() })),
});

const Excerpts = z.array(
  z.object({
    cveId: z.string(),
    container: z.enum(['cna', 'adp']),
    providerShortName: z.string(),
    source: z.string(),
    affected: z.array(Cve5AffectedSchema),
    metrics: z
      .array(z.object({ cvssV3_1: z.object({ version: z.string(), vectorString: z.string(), baseScore: z.number(), baseSeverity: z.string().optional() }).optional() }))
      .optional(),
  }),
);

const Authored = z.object({
  entries: z.array(z.object({ cveId: z.string(), quote: z.string(), source: z.string(), why: z.string(), affected: z.array(Cve5AffectedSchema) })),
});

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Builds the curated file from the fixtures (deterministic: same input, same output). */
export async function buildCurated(): Promise<CuratedFile> {
  const fx = FIXTURES();
  const sources = SourcesFile.parse(readJson(path.join(fx, 'nvd', 'SOURCES.json')));
  const cves = new Map<string, NvdCve>();
  for (const name of ['nvdcve-2.0-sample-orthanc.json', 'nvdcve-2.0-sample-dcmtk.json', 'nvdcve-2.0-sample-other.json']) {
    for await (const item of readNvdFeed(path.join(fx, 'nvd', name))) {
      if (item.error || !item.cve) throw new VulnDataError(`${name}: ${item.error}`);
      cves.set(item.cve.id, item.cve);
    }
  }
  const kevFile = path.join(fx, 'kev', 'known_exploited_vulnerabilities-excerpt-2025.02.25.json');
  const kev = await readKevFile(kevFile);
  const kevSource = `https://github.com/${sources.kev.repo}/blob/${sources.kev.commit}/${sources.kev.path} (catalogVersion ${kev.catalogVersion})`;

  const csaf: CuratedFile['csaf'] = [];
  for (const [name, src] of Object.entries(sources.csaf).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const adv = await readCsafFile(path.join(fx, 'csaf', name));
    csaf.push({ ...adv, source: `https://github.com/${src.repo}/blob/${src.commit}/${src.path}` });
  }

  const applicability = new Map<string, CuratedApplicability>();
  const metrics = new Map<string, NvdCve['metrics']>();
  for (const e of Excerpts.parse(readJson(path.join(fx, 'cve5', 'affected-excerpts.json')))) {
    applicability.set(e.cveId, { basis: e.container === 'adp' ? 'cve5-adp' : 'cve5-cna', source: e.source, affected: e.affected });
    const v31 = e.metrics?.map((m) => m.cvssV3_1).filter((m) => m !== undefined) ?? [];
    if (v31.length > 0) {
      metrics.set(e.cveId, {
        cvssMetricV31: v31.map((m) => {
          const cvssData: { version: string; vectorString: string; baseScore: number; baseSeverity?: string } = {
            version: m.version,
            vectorString: m.vectorString,
            baseScore: m.baseScore,
          };
          if (m.baseSeverity !== undefined) cvssData.baseSeverity = m.baseSeverity;
          return { source: e.providerShortName, type: 'Secondary', cvssData };
        }),
      });
    }
  }
  const authored = Authored.parse(readJson(path.join(packageRoot(), 'src', 'vuln', 'data', 'authored-applicability.json')));
  for (const e of authored.entries) applicability.set(e.cveId, { basis: 'description', source: e.source, quote: e.quote, affected: e.affected });
  for (const adv of csaf) {
    for (const v of adv.vulnerabilities) {
      const cve = cves.get(v.cve);
      if (cve && !cve.configurations && !applicability.has(v.cve)) applicability.set(v.cve, { basis: 'csaf', source: adv.source, advisory: adv.id });
    }
  }

  const records: CuratedRecord[] = [];
  for (const id of [...cves.keys()].sort()) {
    if (TEST_ONLY.has(id)) continue;
    const cve = cves.get(id)!;
    const src = sources.records[id];
    if (!src) throw new VulnDataError(`SOURCES.json has no entry for ${id}`);
    const rec: CuratedRecord = {
      cve,
      source: {
        nvdApi: `https://services.nvd.nist.gov/rest/json/cves/2.0?cveId=${id}`,
        copiedFrom: `https://github.com/${sources.repo}/blob/${src.commit}/${src.path}`,
      },
    };
    const app = applicability.get(id);
    if (app && !cve.configurations) rec.applicability = app;
    const m = metrics.get(id);
    if (m && !cve.metrics?.cvssMetricV31 && !cve.metrics?.cvssMetricV30 && !cve.metrics?.cvssMetricV40) rec.supplementalMetrics = m;
    const k = kev.entries.get(id);
    if (k) rec.kev = { ...k, source: kevSource };
    else if (cve.cisaExploitAdd) rec.kev = { dateAdded: cve.cisaExploitAdd, source: `${rec.source.nvdApi} (cisaExploitAdd)` };
    if (!cve.configurations && !rec.applicability) throw new VulnDataError(`${id}: no NVD configuration and no applicability: it could never match`);
    records.push(rec);
  }
  return {
    schema: 1,
    note: 'Generated by src/vuln/build-curated.ts from src/vuln/fixtures (copies of public NVD, cvelistV5, CISA KEV and CISA CSAF data) and src/vuln/data/authored-applicability.json. Do not edit by hand.',
    records,
    csaf,
  };
}
