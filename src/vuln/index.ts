/**
 * Vulnerability intelligence: CPE 2.3 names, vendor version order, the NVD configuration matcher,
 * NVD feed / KEV / CSAF importers, and the offline database with its curated set.
 */
export { type Cve5Affected, matchAffected } from './affected.js';
export {
  ANY,
  CPE_ATTRIBUTES,
  type Cpe,
  type CpeAttribute,
  type CpeValue,
  NA,
  attributeMatches,
  cpeMatches,
  formatCpe,
  logicalValue,
  makeCpe,
  parseAnyCpe,
  parseCpe,
  parseCpeUri,
  quoteValue,
  tryParseCpe,
} from './cpe.js';
export { type CsafAdvisory, type CsafMatch, matchCsaf, parseCsaf, readCsafFile } from './csaf.js';
export { type CuratedFile, type CuratedRecord, buildCurated, loadCurated } from './curated.js';
export {
  type ImportKind,
  type ImportOptions,
  type ImportSummary,
  type MatchBasis,
  type ProductQuery,
  VulnDb,
  type VulnDbOptions,
  type VulnMatch,
  builtinVulnDb,
  detectKind,
  findVulnerabilities,
  importVulnFile,
  toFindings,
} from './db.js';
export { CpeError, VulnDataError } from './errors.js';
export { type KevCatalog, type KevEntry, parseKevCatalog, readKevFile } from './kev.js';
export { VULN_LIMITS } from './limits.js';
export {
  type Configuration,
  type CveMatch,
  type CvssScore,
  type NvdCve,
  bestCvss,
  makeTitle,
  matchConfigurations,
  matchCve,
  parseNvdCve,
  readNvdFeed,
  severityFromCvss,
} from './nvd.js';
export { type ProductTable, builtinProducts, foldName } from './products.js';
export {
  type ParsedVersion,
  type VersConstraint,
  backportNote,
  compareVersions,
  inBounds,
  parseVersRange,
  parseVersion,
  versRangeContains,
  versionsEqual,
} from './version.js';
