/**
 * Fingerprints: rules as data (db/*.yaml) mapping observation fields to vendor, product,
 * version, CPE and device type, with examples that the self-test verifies (STYLE.md §4).
 */
export {
  type FingerprintDb,
  type FusableService,
  type Rule,
  DERIVED_FIELDS,
  FIELD_PATHS,
  FingerprintDbError,
  applyRule,
  clearFingerprintDbCache,
  deviceTypeRank,
  fieldsOf,
  fuseAsset,
  identify,
  knownField,
  loadFingerprintDb,
  specificity,
} from './engine.js';
export { packageRoot } from './package-root.js';
export { type RecogImportSummary, RecogImportError, importRecogFile } from './recog-import.js';
export { defaultUserFingerprintDir, userFingerprintDirs } from './user-packs.js';
