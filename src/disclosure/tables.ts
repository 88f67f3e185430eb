/**
 * Row types of the disclosure tables (migrations/0004-disclosure.ts), as Kysely sees them. They
 * extend the inventory's tables rather than living in inventory/tables.ts: the disclosure
 * workflow is a reader of the inventory plus its own case log. A KyselyInventory's `db` gains
 * them with `inv.db.withTables<DisclosureTables>()` (disclosureDb below).
 *
 * Column conventions are the inventory's: text (ISO-8601 UTC times, JSON as text) and integer,
 * the same on SQLite and PostgreSQL.
 */
import type { Generated, Kysely } from 'kysely';
import type { InventoryDatabase } from '../inventory/tables.js';

/** One disclosure case: the open findings of one responsible party, followed until fixed. */
export interface CasesTable {
  id: Generated<number>;
  /** `org:<name>`, `asn:<number>` (or `asorg:<name>`), `cert:<country>`: who the case is for. */
  party_key: string;
  /** `org` (orgs.yaml), `asn` (the AS organisation), `cert` (the country's national CERT). */
  party_kind: string;
  party_name: string;
  country: string | null;
  asn: number | null;
  /** new, notified, acknowledged, remediating, resolved, closed-no-response (states.ts). */
  state: string;
  created_at: string;
  updated_at: string;
  /** First notification (send), null before. */
  notified_at: string | null;
  /** When the case reached resolved or closed-no-response. */
  closed_at: string | null;
  /** JSON: the recipient chosen by the last `prepare` ({name, email, source, pgpKey?}). */
  recipient: string | null;
}

/** A case's history: creation, findings added, state changes, notes, packages, notifications, rescans. */
export interface CaseEventsTable {
  id: Generated<number>;
  case_id: number;
  at: string;
  /** created, findings-added, state, note, prepared, notified, remeasured. */
  event: string;
  from_state: string | null;
  to_state: string | null;
  /** JSON with the event's details (note text, message id and recipient, counts). Never addresses. */
  detail: string | null;
}

/** Which findings a case covers (a finding may belong to a closed case and a later one). */
export interface CaseFindingsTable {
  case_id: number;
  finding_id: number;
  added_at: string;
}

/** Networks with abuse contacts, from imported RDAP JSON or from RDAP lookups (a cache). */
export interface RdapNetworksTable {
  id: Generated<number>;
  /** ip-key.ts keys of the first and last address, so "which network holds this address" is a range query. */
  start_key: string;
  end_key: string;
  start_address: string;
  end_address: string;
  handle: string | null;
  name: string | null;
  country: string | null;
  /** JSON array of the abuse e-mail addresses (entities with the role "abuse"). */
  abuse_emails: string;
  /** `import:<file name>` or `lookup:<base URL>`. */
  source: string;
  fetched_at: string;
}

/** A type alias, not an interface: Kysely's withTables wants an indexable record type. */
export type DisclosureTables = {
  cases: CasesTable;
  case_events: CaseEventsTable;
  case_findings: CaseFindingsTable;
  rdap_networks: RdapNetworksTable;
};

export interface DisclosureDatabase extends InventoryDatabase, DisclosureTables {}

export type DisclosureDb = Kysely<DisclosureDatabase>;

/** The inventory's Kysely instance, typed with the disclosure tables as well. */
export function disclosureDb(db: Kysely<InventoryDatabase>): DisclosureDb {
  return db.withTables<DisclosureTables>();
}
