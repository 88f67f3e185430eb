/**
 * Checks: declarative (defs/<protocol>/<id>.yaml), run offline on service records, each with
 * positive and negative fixtures (STYLE.md §5).
 */
export {
  CHECKS_DB_VERSION,
  type CheckDef,
  CheckDbError,
  type CheckRecord,
  type DateRef,
  type Matcher,
  type RunChecksOptions,
  applies,
  checkRecordOf,
  defaultDefsDir,
  evaluate,
  getPath,
  loadChecks,
  runChecks,
} from './engine.js';
