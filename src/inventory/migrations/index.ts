/**
 * The inventory's migration list, run from code by Kysely's Migrator (kysely-ctl needs
 * Node 22). Names sort in the order they apply; a released migration is never edited,
 * a schema change is a new entry.
 */
import type { Migration, MigrationProvider } from 'kysely';
import { type DialectKind, initial } from './0001-initial.js';
import { searchIndexes } from './0002-search-indexes.js';
import { historyAttributionRisk } from './0003-history-attribution-risk.js';
import { disclosure } from './0004-disclosure.js';
import { honeypotOrgIndexes } from './0005-honeypot-org-indexes.js';
import { server } from './0006-server.js';
import { optOuts } from './0007-opt-outs.js';
import { activeSeverity } from './0008-active-severity.js';
import { coveringIndexes } from './0009-covering-indexes.js';
import { searchVersion } from './0010-search-version.js';

export type { DialectKind };

/** Table where Kysely records which migrations ran (and, on PostgreSQL, takes its lock). */
export const MIGRATION_TABLE = 'medsurface_migration';
export const MIGRATION_LOCK_TABLE = 'medsurface_migration_lock';

export function inventoryMigrations(kind: DialectKind): Record<string, Migration> {
  return {
    '0001-initial': initial(kind),
    '0002-search-indexes': searchIndexes(),
    '0003-history-attribution-risk': historyAttributionRisk(kind),
    '0004-disclosure': disclosure(kind),
    '0005-honeypot-org-indexes': honeypotOrgIndexes(),
    '0006-server': server(kind),
    '0007-opt-outs': optOuts(kind),
    '0008-active-severity': activeSeverity(),
    '0009-covering-indexes': coveringIndexes(),
    '0010-search-version': searchVersion(kind),
  };
}

export function migrationProvider(kind: DialectKind): MigrationProvider {
  return { getMigrations: async () => inventoryMigrations(kind) };
}
