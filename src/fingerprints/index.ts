/**
 * Fingerprints: rules as data (db/*.yaml) mapping observation fields to vendor, product,
 * version, CPE and device type, with examples that the self-test verifies (STYLE.md §4).
 */
export {
  type FingerprintDb,
  type FusableService,
  type Rule,
  FIELD_PATHS,
  FingerprintDbError,
  applyRule,
  deviceTypeRank,
  fieldsOf,
  fuseAsset,
  identify,
  loadFingerprintDb,
  specificity,
} from './engine.js';
export { packageRoot } from './package-root.js';
