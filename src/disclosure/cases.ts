/**
 * Disclosure cases: the open findings of the inventory grouped by responsible party, one active
 * case per party, each with a state (states.ts), a history (case_events) and notes.
 *
 * The party of a finding is its asset's attribution (stored at scan time, src/attribution/):
 * 1. the organisation from the user's orgs.yaml (`org_source` 'orgs'): party `org:<name>`;
 * 2. else the AS organisation (`org_source` 'asn'): party `asn:<number>`;
 * 3. else the asset's country, whose national CERT is told: party `cert:<country>`;
 * an asset with none of these is unattributed and counted, not notified.
 *
 * Which findings: open (observed in the last scan of the service), untriaged (no user state:
 * not a false positive, not an accepted risk), not on a host judged a honeypot, at or above the
 * minimum severity (default low), and not the inventory's own "missing from your known-asset
 * list" finding, which means nothing to a third party. `syncCases` adds every such finding to the
 * party's active case (new, notified, acknowledged, remediating), creating one when there is
 * none; a finding already in that case is left alone. A resolved or closed case is never
 * reopened: a party whose exposure comes back gets a new case.
 */
import { SEVERITIES, type Severity, severityRank } from '../core/types.js';
import { UNLISTED_FINDING } from '../inventory/kysely-store.js';
import { CaseStateError, DisclosureError, NoSuchCaseError } from './errors.js';
import { ACTIVE_STATES, type CaseState, assertTransition, isCaseState } from './states.js';
import type { DisclosureDb } from './tables.js';

/** Finding ids read per query while grouping, and ids per IN (...) list. */
const CHUNK = 500;
/** Longest note kept, in characters. */
export const NOTE_MAX_CHARS = 2000;
export const DEFAULT_MIN_SEVERITY: Severity = 'low';

export type PartyKind = 'org' | 'asn' | 'cert';

export interface Party {
  key: string;
  kind: PartyKind;
  name: string;
  country: string | null;
  asn: number | null;
}

/** Who is responsible for an asset, from its stored attribution; null when nobody can be named. */
export function partyOf(a: { org: string | null; org_source: string | null; asn: number | null; as_org: string | null; country: string | null }): Party | null {
  const country = a.country === null ? null : a.country.toUpperCase();
  const asn = a.asn === null ? null : Number(a.asn);
  if (a.org_source === 'orgs' && a.org) return { key: `org:${a.org}`, kind: 'org', name: a.org, country, asn };
  if (a.org_source === 'asn' && (a.org || asn !== null)) {
    const name = a.org ?? a.as_org ?? `AS${asn}`;
    return { key: asn !== null ? `asn:${asn}` : `asorg:${name}`, kind: 'asn', name: asn !== null ? `${name} (AS${asn})` : name, country, asn };
  }
  if (country !== null) return { key: `cert:${country}`, kind: 'cert', name: `national CERT of ${country}`, country, asn: null };
  return null;
}

/** The recipient `prepare` chose for a case (contacts.ts). */
export interface Recipient {
  name: string;
  email: string;
  /** orgs (orgs.yaml contact), rdap (abuse contact), orgs-cert (orgs.yaml cert), cert-directory (--certs). */
  source: 'orgs' | 'rdap' | 'orgs-cert' | 'cert-directory';
  /** Absolute path of the recipient's OpenPGP public key: the message is encrypted to it. */
  pgpKey?: string;
}

export interface CaseRow {
  id: number;
  partyKey: string;
  partyKind: PartyKind;
  partyName: string;
  country: string | null;
  asn: number | null;
  state: CaseState;
  createdAt: string;
  updatedAt: string;
  notifiedAt: string | null;
  closedAt: string | null;
  recipient: Recipient | null;
  /** The case's findings by their current observed state; `open` counts open and untriaged ones. */
  findings: { total: number; open: number; unverified: number; resolved: number; triaged: number };
}

export interface CaseFindingRow {
  findingId: number;
  ip: string;
  port: number;
  protocol: string | null;
  product: string | null;
  vendor: string | null;
  version: string | null;
  deviceType: string | null;
  checkId: string;
  severity: Severity;
  title: string;
  confidence: string;
  state: string;
  userState: string | null;
  firstSeen: string;
  lastSeen: string;
  resolvedAt: string | null;
  lastRunId: string | null;
}

export interface CaseEvent {
  id: number;
  at: string;
  event: string;
  fromState: string | null;
  toState: string | null;
  detail: Record<string, unknown> | null;
}

export interface SyncOptions {
  minSeverity?: Severity;
  now?: () => string;
}

export interface SyncResult {
  created: number[];
  /** Existing cases that gained findings. */
  grown: number[];
  findingsAdded: number;
  /** Open findings whose host has no organisation, AS or country: nobody to tell. */
  unattributed: number;
}

const nowIso = () => new Date().toISOString();

function severitiesFrom(min: Severity): Severity[] {
  return SEVERITIES.filter((s) => severityRank(s) >= severityRank(min));
}

async function addEvent(
  db: DisclosureDb,
  caseId: number,
  at: string,
  event: string,
  detail: Record<string, unknown> | null,
  states: { from?: string | null; to?: string | null } = {},
): Promise<void> {
  await db
    .insertInto('case_events')
    .values({ case_id: caseId, at, event, from_state: states.from ?? null, to_state: states.to ?? null, detail: detail === null ? null : JSON.stringify(detail) })
    .execute();
}

/**
 * Groups the open findings into cases (see the module comment), in one transaction. Returns the
 * cases created and grown and how many findings nobody can be told about.
 */
export async function syncCases(db: DisclosureDb, opts: SyncOptions = {}): Promise<SyncResult> {
  const now = (opts.now ?? nowIso)();
  const severities = severitiesFrom(opts.minSeverity ?? DEFAULT_MIN_SEVERITY);
  return db.transaction().execute(async (trx) => {
    type Active = { id: number; country: string | null; added: number; created: boolean };
    const active = new Map<string, Active>();
    const activeById = new Map<number, Active>();
    const result: SyncResult = { created: [], grown: [], findingsAdded: 0, unattributed: 0 };
    let after = 0;
    for (;;) {
      const rows = await trx
        .selectFrom('findings')
        .innerJoin('services', 'services.id', 'findings.service_id')
        .innerJoin('assets', 'assets.id', 'services.asset_id')
        .select(['findings.id as findingId', 'assets.org', 'assets.org_source', 'assets.asn', 'assets.as_org', 'assets.country'])
        .where('findings.id', '>', after)
        .where('findings.state', '=', 'open')
        .where('findings.user_state', 'is', null)
        .where('findings.severity', 'in', severities)
        .where('findings.check_id', '!=', UNLISTED_FINDING.id)
        .where('assets.honeypot', '=', 0)
        .orderBy('findings.id')
        .limit(CHUNK)
        .execute();
      if (rows.length === 0) break;
      after = Number(rows[rows.length - 1]!.findingId);
      const byCase = new Map<number, number[]>();
      for (const r of rows) {
        const party = partyOf({ org: r.org, org_source: r.org_source, asn: r.asn === null ? null : Number(r.asn), as_org: r.as_org, country: r.country });
        if (party === null) {
          result.unattributed++;
          continue;
        }
        let c = active.get(party.key);
        if (c === undefined) {
          const existing = await trx
            .selectFrom('cases')
            .select(['id', 'country'])
            .where('party_key', '=', party.key)
            .where('state', 'in', [...ACTIVE_STATES])
            .orderBy('id', 'desc')
            .executeTakeFirst();
          if (existing) {
            c = { id: Number(existing.id), country: existing.country, added: 0, created: false };
          } else {
            const ins = await trx
              .insertInto('cases')
              .values({
                party_key: party.key,
                party_kind: party.kind,
                party_name: party.name,
                country: party.country,
                asn: party.asn,
                state: 'new',
                created_at: now,
                updated_at: now,
                notified_at: null,
                closed_at: null,
                recipient: null,
              })
              .returning('id')
              .executeTakeFirstOrThrow();
            c = { id: Number(ins.id), country: party.country, added: 0, created: true };
            result.created.push(c.id);
          }
          active.set(party.key, c);
          activeById.set(c.id, c);
        }
        if (c.country === null && party.country !== null) {
          c.country = party.country;
          await trx.updateTable('cases').set({ country: party.country }).where('id', '=', c.id).execute();
        }
        const list = byCase.get(c.id) ?? [];
        list.push(Number(r.findingId));
        byCase.set(c.id, list);
      }
      for (const [caseId, ids] of byCase) {
        const have = new Set(
          (await trx.selectFrom('case_findings').select('finding_id').where('case_id', '=', caseId).where('finding_id', 'in', ids).execute()).map((r) => Number(r.finding_id)),
        );
        const fresh = ids.filter((id) => !have.has(id));
        if (fresh.length === 0) continue;
        await trx
          .insertInto('case_findings')
          .values(fresh.map((finding_id) => ({ case_id: caseId, finding_id, added_at: now })))
          .execute();
        activeById.get(caseId)!.added += fresh.length;
        result.findingsAdded += fresh.length;
      }
    }
    for (const [key, c] of active) {
      if (c.created) {
        await addEvent(trx, c.id, now, 'created', { party: key, findings: c.added }, { to: 'new' });
      } else if (c.added > 0) {
        result.grown.push(c.id);
        await addEvent(trx, c.id, now, 'findings-added', { findings: c.added });
        await trx.updateTable('cases').set({ updated_at: now }).where('id', '=', c.id).execute();
      }
    }
    return result;
  });
}

/** `12`, `#12` → 12; anything else is a DisclosureError. */
export function parseCaseId(raw: string): number {
  const m = /^#?(\d{1,9})$/.exec(raw.trim());
  if (!m) throw new DisclosureError(`not a case number: ${JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}...` : raw)} (medsurface disclose status lists them)`);
  return Number(m[1]);
}

function parseRecipient(s: string | null): Recipient | null {
  if (s === null) return null;
  try {
    const v = JSON.parse(s) as Recipient;
    return typeof v?.email === 'string' ? v : null;
  } catch {
    return null;
  }
}

type CaseTableRow = {
  id: number;
  party_key: string;
  party_kind: string;
  party_name: string;
  country: string | null;
  asn: number | null;
  state: string;
  created_at: string;
  updated_at: string;
  notified_at: string | null;
  closed_at: string | null;
  recipient: string | null;
};

async function withCounts(db: DisclosureDb, rows: CaseTableRow[]): Promise<CaseRow[]> {
  const counts = new Map<number, CaseRow['findings']>();
  for (let i = 0; i < rows.length; i += CHUNK) {
    const ids = rows.slice(i, i + CHUNK).map((r) => Number(r.id));
    const found = await db
      .selectFrom('case_findings')
      .innerJoin('findings', 'findings.id', 'case_findings.finding_id')
      .select(['case_findings.case_id as caseId', 'findings.state', 'findings.user_state as userState'])
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('case_findings.case_id', 'in', ids)
      .groupBy(['case_findings.case_id', 'findings.state', 'findings.user_state'])
      .execute();
    for (const f of found) {
      const id = Number(f.caseId);
      const c = counts.get(id) ?? { total: 0, open: 0, unverified: 0, resolved: 0, triaged: 0 };
      const n = Number(f.n);
      c.total += n;
      if (f.state === 'resolved') c.resolved += n;
      else if (f.userState !== null) c.triaged += n;
      else if (f.state === 'unverified') c.unverified += n;
      else c.open += n;
      counts.set(id, c);
    }
  }
  return rows.map((r) => ({
    id: Number(r.id),
    partyKey: r.party_key,
    partyKind: r.party_kind as PartyKind,
    partyName: r.party_name,
    country: r.country,
    asn: r.asn === null ? null : Number(r.asn),
    state: (isCaseState(r.state) ? r.state : 'new') as CaseState,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    notifiedAt: r.notified_at,
    closedAt: r.closed_at,
    recipient: parseRecipient(r.recipient),
    findings: counts.get(Number(r.id)) ?? { total: 0, open: 0, unverified: 0, resolved: 0, triaged: 0 },
  }));
}

/** Cases in id order, optionally only those in `states`. */
export async function listCases(db: DisclosureDb, opts: { states?: readonly CaseState[] } = {}): Promise<CaseRow[]> {
  let q = db.selectFrom('cases').selectAll().orderBy('id');
  if (opts.states !== undefined) {
    if (opts.states.length === 0) return [];
    q = q.where('state', 'in', [...opts.states]);
  }
  return withCounts(db, (await q.execute()) as CaseTableRow[]);
}

export async function getCase(db: DisclosureDb, id: number): Promise<CaseRow> {
  const row = await db.selectFrom('cases').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new NoSuchCaseError(id);
  return (await withCounts(db, [row as CaseTableRow]))[0]!;
}

/**
 * The findings of a case with their services, ordered by address, port and check. `unresolved`:
 * only those still exposed (open or unverified, and not triaged since).
 */
export async function caseFindings(db: DisclosureDb, caseId: number, opts: { unresolved?: boolean } = {}): Promise<CaseFindingRow[]> {
  let q = db
    .selectFrom('case_findings')
    .innerJoin('findings', 'findings.id', 'case_findings.finding_id')
    .innerJoin('services', 'services.id', 'findings.service_id')
    .select([
      'findings.id as findingId',
      'services.ip',
      'services.ip_key as ipKey',
      'services.port',
      'services.protocol',
      'services.product',
      'services.vendor',
      'services.version',
      'services.device_type as deviceType',
      'findings.check_id as checkId',
      'findings.severity',
      'findings.title',
      'findings.confidence',
      'findings.state',
      'findings.user_state as userState',
      'findings.first_seen as firstSeen',
      'findings.last_seen as lastSeen',
      'findings.resolved_at as resolvedAt',
      'findings.last_run_id as lastRunId',
    ])
    .where('case_findings.case_id', '=', caseId);
  if (opts.unresolved) q = q.where('findings.state', 'in', ['open', 'unverified']).where('findings.user_state', 'is', null);
  const rows = await q.orderBy('services.ip_key').orderBy('services.port').orderBy('findings.check_id').execute();
  return rows.map(({ ipKey: _k, ...r }) => ({ ...r, findingId: Number(r.findingId), port: Number(r.port), severity: r.severity as Severity }));
}

export async function caseEvents(db: DisclosureDb, caseId: number): Promise<CaseEvent[]> {
  const rows = await db.selectFrom('case_events').selectAll().where('case_id', '=', caseId).orderBy('id').execute();
  return rows.map((r) => {
    let detail: Record<string, unknown> | null = null;
    if (r.detail !== null) {
      try {
        detail = JSON.parse(r.detail) as Record<string, unknown>;
      } catch {
        detail = null;
      }
    }
    return { id: Number(r.id), at: r.at, event: r.event, fromState: r.from_state, toState: r.to_state, detail };
  });
}

/** Printable, single-spaced, bounded: what a note or a detail line may hold. */
export function cleanText(s: string, max: number): string {
  const t = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

export async function addNote(db: DisclosureDb, caseId: number, text: string, now: () => string = nowIso): Promise<void> {
  const note = cleanText(text, NOTE_MAX_CHARS);
  if (note === '') throw new DisclosureError('the note is empty');
  await getCase(db, caseId);
  const at = now();
  await db.transaction().execute(async (trx) => {
    await addEvent(trx, caseId, at, 'note', { text: note });
    await trx.updateTable('cases').set({ updated_at: at }).where('id', '=', caseId).execute();
  });
}

/** Records an event that changes no state (prepared, notified again, remeasured). */
export async function recordEvent(db: DisclosureDb, caseId: number, event: string, detail: Record<string, unknown>, now: () => string = nowIso): Promise<void> {
  const at = now();
  await db.transaction().execute(async (trx) => {
    await addEvent(trx, caseId, at, event, detail);
    await trx.updateTable('cases').set({ updated_at: at }).where('id', '=', caseId).execute();
  });
}

/**
 * Moves a case to `to` (states.ts decides what is allowed), with an optional note and detail, in
 * one transaction: `notified_at` is set on the first notification, `closed_at` on resolved and
 * closed-no-response.
 */
export async function setCaseState(
  db: DisclosureDb,
  caseId: number,
  to: CaseState,
  opts: { note?: string; detail?: Record<string, unknown>; now?: () => string; event?: string } = {},
): Promise<{ from: CaseState; to: CaseState }> {
  const at = (opts.now ?? nowIso)();
  return db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('cases').select(['state', 'notified_at']).where('id', '=', caseId).executeTakeFirst();
    if (!row) throw new NoSuchCaseError(caseId);
    if (!isCaseState(row.state)) throw new CaseStateError(`case ${caseId} has an unknown state ${JSON.stringify(row.state)}`);
    const from = row.state;
    if (from === to) throw new CaseStateError(`case ${caseId} is already ${to}`);
    assertTransition(caseId, from, to);
    await trx
      .updateTable('cases')
      .set({
        state: to,
        updated_at: at,
        ...(to === 'notified' && row.notified_at === null ? { notified_at: at } : {}),
        closed_at: to === 'resolved' || to === 'closed-no-response' ? at : null,
      })
      .where('id', '=', caseId)
      .execute();
    const detail: Record<string, unknown> = { ...(opts.detail ?? {}) };
    if (opts.note !== undefined && cleanText(opts.note, NOTE_MAX_CHARS) !== '') detail.note = cleanText(opts.note, NOTE_MAX_CHARS);
    await addEvent(trx, caseId, at, opts.event ?? 'state', Object.keys(detail).length > 0 ? detail : null, { from, to });
    return { from, to };
  });
}

/** Stores the recipient `prepare` chose (shown by status, used by send through the package manifest). */
export async function setRecipient(db: DisclosureDb, caseId: number, recipient: Recipient | null): Promise<void> {
  await db.updateTable('cases').set({ recipient: recipient === null ? null : JSON.stringify(recipient) }).where('id', '=', caseId).execute();
}
