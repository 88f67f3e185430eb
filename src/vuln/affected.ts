/**
 * CVE JSON 5 `affected` entries (CVE Record Format 5.1, containers.cna/adp.affected): the
 * applicability a CNA or CISA's ADP states when NVD has not (yet) analysed a CVE. The curated set
 * copies such entries verbatim where NVD has no configuration (e.g. CVE-2024-28130, whose NVD
 * record is "Received" without one, but whose CISA-ADP entry says offis:dcmtk <= 3.6.8).
 *
 * Semantics (CVE 5.1 schema, "versions"): an entry with `lessThan`/`lessThanOrEqual` is a range
 * starting at `version` (`0`, `*` or `unspecified` meaning from the beginning); otherwise it names
 * one version. A version inside an `unaffected` entry is not affected; inside an `affected` entry
 * it is; otherwise `defaultStatus` decides (absent or `unknown` means: not claimed).
 */
import { z } from 'zod';
import { parseAnyCpe } from './cpe.js';
import type { ProductTable } from './products.js';
import { type ParsedVersion, compareVersions } from './version.js';

const VersionEntry = z.object({
  version: z.string().max(256),
  status: z.enum(['affected', 'unaffected', 'unknown']),
  versionType: z.string().max(64).optional(),
  lessThan: z.string().max(256).optional(),
  lessThanOrEqual: z.string().max(256).optional(),
});

export const Cve5AffectedSchema = z.object({
  vendor: z.string().max(512).optional(),
  product: z.string().max(512).optional(),
  cpes: z.array(z.string().max(1024)).max(256).optional(),
  defaultStatus: z.enum(['affected', 'unaffected', 'unknown']).optional(),
  versions: z.array(VersionEntry).max(1024).optional(),
});
export type Cve5Affected = z.infer<typeof Cve5AffectedSchema>;

const OPEN_START = new Set(['0', '*', 'unspecified', 'n/a', '']);

function inEntry(v: ParsedVersion, e: z.infer<typeof VersionEntry>): boolean {
  if (e.lessThan !== undefined || e.lessThanOrEqual !== undefined) {
    if (!OPEN_START.has(e.version.trim().toLowerCase()) && compareVersions(v, e.version) < 0) return false;
    if (e.lessThan !== undefined && e.lessThan !== '*' && compareVersions(v, e.lessThan) >= 0) return false;
    if (e.lessThanOrEqual !== undefined && e.lessThanOrEqual !== '*' && compareVersions(v, e.lessThanOrEqual) > 0) return false;
    return true;
  }
  if (OPEN_START.has(e.version.trim().toLowerCase())) return false;
  return compareVersions(v, e.version) === 0;
}

/** The product keys (`vendor:product`, lowercase) an affected entry names. */
export function affectedKeys(a: Cve5Affected, products: ProductTable): string[] {
  const keys = new Set<string>();
  for (const s of a.cpes ?? []) {
    try {
      const k = products.keyForCpe(parseAnyCpe(s));
      if (k) keys.add(k);
    } catch {
      // an unreadable CPE names nothing
    }
  }
  if (keys.size === 0 && a.vendor && a.product && a.vendor !== 'n/a' && a.product !== 'n/a') {
    keys.add(products.keyForNames(a.vendor, a.product));
  }
  return [...keys];
}

/** True when `version` of the product `key` is affected according to the entries. */
export function matchAffected(list: readonly Cve5Affected[], key: string, version: ParsedVersion, products: ProductTable): boolean {
  for (const a of list) {
    if (!affectedKeys(a, products).includes(key)) continue;
    const versions = a.versions ?? [];
    if (versions.some((e) => e.status === 'unaffected' && inEntry(version, e))) continue;
    if (versions.some((e) => e.status === 'affected' && inEntry(version, e))) return true;
    if (a.defaultStatus === 'affected') return true;
  }
  return false;
}
