/**
 * CISA Known Exploited Vulnerabilities catalogue (KEV).
 *
 * Format: https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities_schema.json
 * (`{ title, catalogVersion, dateReleased, count, vulnerabilities: [{ cveID, vendorProject,
 * product, vulnerabilityName, dateAdded, shortDescription, requiredAction, dueDate,
 * knownRansomwareCampaignUse, notes, cwes }] }`). We keep what a finding needs: the dates, the
 * ransomware flag and the name. `count` is not trusted (excerpts and partial copies exist).
 */
import { z } from 'zod';
import { VulnDataError } from './errors.js';
import { VULN_LIMITS } from './limits.js';
import { readBoundedText } from './read-bounded.js';

const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);

const KevEntrySchema = z.object({
  cveID: z.string().regex(/^CVE-\d{4}-\d{4,}$/),
  vendorProject: z.string().max(256).optional(),
  product: z.string().max(256).optional(),
  vulnerabilityName: z.string().max(512).optional(),
  dateAdded: Day,
  dueDate: Day.optional(),
  knownRansomwareCampaignUse: z.string().max(32).optional(),
});

const KevCatalogSchema = z.object({
  title: z.string().max(256).optional(),
  catalogVersion: z.string().max(64),
  dateReleased: z.string().max(64).optional(),
  vulnerabilities: z.array(z.unknown()).max(VULN_LIMITS.kevEntries),
});

export interface KevEntry {
  dateAdded: string;
  dueDate?: string;
  /** `Known` or `Unknown`, as the catalogue says. */
  knownRansomwareCampaignUse?: string;
  vulnerabilityName?: string;
  vendorProject?: string;
  product?: string;
}

export interface KevCatalog {
  catalogVersion: string;
  dateReleased?: string;
  entries: Map<string, KevEntry>;
  /** Entries that did not validate (skipped). */
  rejected: number;
}

/** Validates a parsed KEV catalogue. Throws VulnDataError when it is not one. */
export function parseKevCatalog(obj: unknown): KevCatalog {
  const parsed = KevCatalogSchema.safeParse(obj);
  if (!parsed.success) throw new VulnDataError(`not a KEV catalogue: ${z.prettifyError(parsed.error).slice(0, 300)}`, { cause: parsed.error });
  const entries = new Map<string, KevEntry>();
  let rejected = 0;
  for (const raw of parsed.data.vulnerabilities) {
    const e = KevEntrySchema.safeParse(raw);
    if (!e.success) {
      rejected++;
      continue;
    }
    const d = e.data;
    const entry: KevEntry = { dateAdded: d.dateAdded };
    if (d.dueDate !== undefined) entry.dueDate = d.dueDate;
    if (d.knownRansomwareCampaignUse !== undefined) entry.knownRansomwareCampaignUse = d.knownRansomwareCampaignUse;
    if (d.vulnerabilityName !== undefined) entry.vulnerabilityName = d.vulnerabilityName.trim();
    if (d.vendorProject !== undefined) entry.vendorProject = d.vendorProject.trim();
    if (d.product !== undefined) entry.product = d.product.trim();
    entries.set(d.cveID, entry);
  }
  const cat: KevCatalog = { catalogVersion: parsed.data.catalogVersion, entries, rejected };
  if (parsed.data.dateReleased !== undefined) cat.dateReleased = parsed.data.dateReleased;
  return cat;
}

/** Reads a KEV catalogue file (`known_exploited_vulnerabilities.json`, optionally gzipped). */
export async function readKevFile(file: string): Promise<KevCatalog> {
  const text = await readBoundedText(file, VULN_LIMITS.kevBytes);
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new VulnDataError(`${file}: not JSON`, { cause: err });
  }
  return parseKevCatalog(obj);
}

/** The serialisable form stored under the data dir. */
export function kevToJson(cat: KevCatalog): { catalogVersion: string; dateReleased?: string; entries: Record<string, KevEntry> } {
  const out: { catalogVersion: string; dateReleased?: string; entries: Record<string, KevEntry> } = {
    catalogVersion: cat.catalogVersion,
    entries: Object.fromEntries([...cat.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  };
  if (cat.dateReleased !== undefined) out.dateReleased = cat.dateReleased;
  return out;
}

const StoredKev = z.object({
  catalogVersion: z.string().max(64),
  dateReleased: z.string().max(64).optional(),
  entries: z.record(
    z.string().regex(/^CVE-\d{4}-\d{4,}$/),
    z.object({
      dateAdded: Day,
      dueDate: Day.optional(),
      knownRansomwareCampaignUse: z.string().max(32).optional(),
      vulnerabilityName: z.string().max(512).optional(),
      vendorProject: z.string().max(256).optional(),
      product: z.string().max(256).optional(),
    }),
  ),
});

/** Reads back the stored form (kevToJson). */
export function kevFromJson(obj: unknown): KevCatalog {
  const parsed = StoredKev.safeParse(obj);
  if (!parsed.success) throw new VulnDataError('stored KEV catalogue is invalid', { cause: parsed.error });
  const entries = new Map<string, KevEntry>();
  for (const [id, e] of Object.entries(parsed.data.entries)) {
    const entry: KevEntry = { dateAdded: e.dateAdded };
    if (e.dueDate !== undefined) entry.dueDate = e.dueDate;
    if (e.knownRansomwareCampaignUse !== undefined) entry.knownRansomwareCampaignUse = e.knownRansomwareCampaignUse;
    if (e.vulnerabilityName !== undefined) entry.vulnerabilityName = e.vulnerabilityName;
    if (e.vendorProject !== undefined) entry.vendorProject = e.vendorProject;
    if (e.product !== undefined) entry.product = e.product;
    entries.set(id, entry);
  }
  const cat: KevCatalog = { catalogVersion: parsed.data.catalogVersion, entries, rejected: 0 };
  if (parsed.data.dateReleased !== undefined) cat.dateReleased = parsed.data.dateReleased;
  return cat;
}
