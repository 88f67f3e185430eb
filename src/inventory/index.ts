/**
 * The inventory's public face: the store contract, opening by location (SQLite file or
 * PostgreSQL URL) and the Kysely implementation shared by both.
 */
export {
  defaultInventoryPath,
  isPostgresUrl,
  maskUrl,
  openInventory,
  openKyselyInventory,
  resolveInventoryLocation,
  secureSqliteFiles,
} from './db.js';
export { ipKey, ipKeyRange } from './ip-key.js';
export { InventoryError, KyselyInventory, type KyselyInventoryOptions, newRunId } from './kysely-store.js';
export {
  type AssetFilter,
  type AssetRow,
  FINDING_STATES,
  type FindingRow,
  type FindingState,
  type Inventory,
  type InventorySummary,
  type RunRecord,
  type ServiceRow,
  USER_STATES,
  type UserState,
} from './store.js';
