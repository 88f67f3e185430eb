/**
 * Compiles a query's syntax tree into one Kysely boolean expression over the `services` table.
 * No SQL text is built from user input: every value is a bound parameter, and the only SQL
 * written by hand here is the `LIKE ... ESCAPE` form, which Kysely has no builder for, and
 * constant `lower(...)` / `1 = 1` fragments.
 *
 * Two rules make the result the same on SQLite and PostgreSQL:
 * - Every leaf is two-valued (never NULL): nullable columns are tested `IS NOT NULL AND ...`,
 *   and conditions on other tables are `IN (subquery)` over non-null keys. So `-vendor:acme`
 *   keeps the services that have no vendor, and NOT never drops a row for being unknown.
 * - Text is compared as `lower(column) = lower(?)` / `lower(column) LIKE lower(?)` on both
 *   engines (PostgreSQL's LIKE is case-sensitive, SQLite's is not for ASCII). Case folding of
 *   non-ASCII letters is the engine's own: SQLite's lower() folds ASCII only.
 *
 * Conditions on the host (its fused product, vendor, device type, host name, attribution,
 * honeypot verdict), on its tags and on findings are subqueries, in the form each engine plans
 * well (the results are the same, both keys being NOT NULL):
 * - SQLite: `services.asset_id IN (SELECT id FROM assets WHERE ...)` (likewise asset_tags),
 *   `services.id IN (SELECT service_id FROM findings WHERE ...)`. Its planner drives the query
 *   from the subquery's index (or unions the two sides of an OR, "MULTI-INDEX OR"), where a
 *   correlated EXISTS would probe once per service.
 * - PostgreSQL: correlated `EXISTS (SELECT 1 FROM assets WHERE assets.id = services.asset_id
 *   AND ...)`. An IN subquery that cannot become a semi-join (under OR or NOT) is run as a
 *   SubPlan, hashed only when its result fits in work_mem; otherwise it is rescanned for every
 *   service (seen: cost 5.7e9, minutes, at 1.2 million services). EXISTS becomes a semi- or
 *   anti-join at the top, and one index probe per row elsewhere.
 *
 * `honeypot:false` (also the default exclusion, ast.ts withHoneypotDefault) is compiled as
 * NOT (the host is a honeypot): honeypots are few, so SQLite builds the short list of their
 * ids once and the rest of the query keeps driving the plan.
 */
import { type Expression, type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import { SEVERITIES } from '../../core/types.js';
import type { DialectKind } from '../migrations/index.js';
import type { InventoryDatabase } from '../tables.js';
import { type CompareOp, type FieldValue, type QueryNode, SEARCH_SEVERITIES, type TermNode, type TimeValue } from './ast.js';

type ServicesEb = ExpressionBuilder<InventoryDatabase, 'services'>;
type AssetsEb = ExpressionBuilder<InventoryDatabase, 'services' | 'assets'>;
type FindingsEb = ExpressionBuilder<InventoryDatabase, 'services' | 'findings'>;
type TagsEb = ExpressionBuilder<InventoryDatabase, 'services' | 'asset_tags'>;
/** A compiled query: a WHERE callback for `selectFrom('services')`. */
export type ServicePredicate = (eb: ServicesEb) => Expression<SqlBool>;

export interface CompileOptions {
  /** The clock for relative times (`lastseen>7d`), in milliseconds since the epoch. */
  now: number;
  /** Which engine runs the query: it decides the subquery form (see the top of this file). */
  dialect: DialectKind;
}

/** The escape character of every LIKE pattern built here (ESCAPE '\' on both engines). */
const LIKE_ESCAPE = '\\';

/** A LIKE pattern matching `text` literally, except `*` which becomes `%` when `wildcard`. */
export function likePattern(text: string, wildcard: boolean): string {
  let out = '';
  for (const c of text) {
    if (c === '*' && wildcard) out += '%';
    else if (c === '%' || c === '_' || c === LIKE_ESCAPE) out += LIKE_ESCAPE + c;
    else out += c;
  }
  return out;
}

const TRUE = sql<SqlBool>`1 = 1`;
const FALSE = sql<SqlBool>`1 = 0`;

/**
 * Compiles `node` (from parseQuery, after withHoneypotDefault when honeypots are to be left
 * out) into a predicate on services; null for the empty query.
 */
export function compileQuery(node: QueryNode, opts: CompileOptions): ServicePredicate | null {
  if (node.type === 'all') return null;
  return (eb) => compileNode(eb, node, opts);
}

function compileNode(eb: ServicesEb, node: QueryNode, opts: CompileOptions): Expression<SqlBool> {
  switch (node.type) {
    case 'all':
      return TRUE;
    case 'and':
      return eb.and(node.children.map((c) => compileNode(eb, c, opts)));
    case 'or':
      return eb.or(node.children.map((c) => compileNode(eb, c, opts)));
    case 'not':
      return eb.not(compileNode(eb, node.child, opts));
    case 'text':
      return freeText(eb, node.pattern, node.wildcard, opts);
    case 'term': {
      const parts = node.values.map((v) => compileTerm(eb, node, v, opts));
      return parts.length === 1 ? parts[0]! : eb.or(parts);
    }
  }
}

/**
 * Free text: a substring of the service's product or vendor, or of its host's product, vendor
 * or host name. A quoted phrase is literal; `*` in an unquoted word is a wildcard.
 */
function freeText(eb: ServicesEb, text: string, wildcard: boolean, opts: CompileOptions): Expression<SqlBool> {
  const pattern = `%${likePattern(text, wildcard)}%`;
  const like = (col: Expression<string | null>) => likeMatch(col, pattern);
  return eb.or([
    like(eb.ref('services.product')),
    like(eb.ref('services.vendor')),
    hostWhere(eb, opts, (a) => a.or([like(a.ref('assets.product')), like(a.ref('assets.vendor')), like(a.ref('assets.hostname'))])),
  ]);
}

/** `col IS NOT NULL AND lower(col) LIKE lower(pattern) ESCAPE '\'`: two-valued. */
function likeMatch(col: Expression<string | null>, pattern: string): Expression<SqlBool> {
  return sql<SqlBool>`(${col} is not null and lower(${col}) like lower(${pattern}) escape ${LIKE_ESCAPE})`;
}

/** Case-insensitive equality, or LIKE with wildcards; two-valued. */
function textMatch(col: Expression<string | null>, v: { pattern: string; wildcard: boolean }): Expression<SqlBool> {
  if (v.wildcard) return likeMatch(col, likePattern(v.pattern, true));
  return sql<SqlBool>`(${col} is not null and lower(${col}) = lower(${v.pattern}))`;
}

/** `col = value` on a nullable column, two-valued. */
function equalsNullable(col: Expression<string | null>, value: string): Expression<SqlBool> {
  return sql<SqlBool>`(${col} is not null and ${col} = ${value})`;
}

/** The service has a finding meeting `cond`. */
function findingWhere(eb: ServicesEb, opts: CompileOptions, cond: (f: FindingsEb) => Expression<SqlBool>): Expression<SqlBool> {
  if (opts.dialect === 'postgres') {
    return eb.exists(
      eb
        .selectFrom('findings')
        .select(sql.lit(1).as('one'))
        .whereRef('findings.service_id', '=', 'services.id')
        .where(cond),
    );
  }
  return eb('services.id', 'in', eb.selectFrom('findings').select('findings.service_id').where(cond));
}

/** The service's host (asset) meets `cond`. */
function hostWhere(eb: ServicesEb, opts: CompileOptions, cond: (a: AssetsEb) => Expression<SqlBool>): Expression<SqlBool> {
  if (opts.dialect === 'postgres') {
    return eb.exists(
      eb.selectFrom('assets').select(sql.lit(1).as('one')).whereRef('assets.id', '=', 'services.asset_id').where(cond),
    );
  }
  return eb('services.asset_id', 'in', eb.selectFrom('assets').select('assets.id').where(cond));
}

/** The service's host has a tag meeting `cond`. */
function tagWhere(eb: ServicesEb, opts: CompileOptions, cond: (t: TagsEb) => Expression<SqlBool>): Expression<SqlBool> {
  if (opts.dialect === 'postgres') {
    return eb.exists(
      eb
        .selectFrom('asset_tags')
        .select(sql.lit(1).as('one'))
        .whereRef('asset_tags.asset_id', '=', 'services.asset_id')
        .where(cond),
    );
  }
  return eb('services.asset_id', 'in', eb.selectFrom('asset_tags').select('asset_tags.asset_id').where(cond));
}

/** The four spellings of a two-letter code (`NL`, `nl`, `Nl`, `nL`): any-case equality that the column's index serves. */
export function caseVariants(code: string): string[] {
  const [a = '', b = ''] = [...code.toUpperCase()];
  const lo = (c: string) => c.toLowerCase();
  return [...new Set([a + b, lo(a) + lo(b), a + lo(b), lo(a) + b])];
}

/** `col op value`, or `col BETWEEN lo AND hi` for a range, on a NOT NULL integer column. */
function numberTerm(
  eb: ServicesEb,
  col: 'services.port' | 'services.risk',
  op: CompareOp,
  v: FieldValue,
): Expression<SqlBool> {
  if (v.kind === 'range') return eb.between(col, v.lo, v.hi);
  if (v.kind === 'int') return eb(col, op, v.value);
  return TRUE;
}

/** Active findings: observed open and not triaged by the user (what `finding:` and `severity` look at). */
function active(f: FindingsEb): Expression<SqlBool> {
  return f.and([f('findings.state', '=', 'open'), f('findings.user_state', 'is', null)]);
}

/**
 * The service has an active finding: services.active_severity, the rank of its highest one
 * (migrations/0008, kept by the store), is above 0.
 */
function hasActive(eb: ServicesEb): Expression<SqlBool> {
  return eb('services.active_severity', '>', 0);
}

/**
 * Severity as the maximum over active findings, `none` (rank 0) without any: a comparison of
 * services.active_severity with the level's rank in SEARCH_SEVERITIES (none 0, info 1 ...
 * critical 5), the ranks the column holds.
 */
function severityTerm(eb: ServicesEb, op: CompareOp, level: string): Expression<SqlBool> {
  const rank = SEARCH_SEVERITIES.indexOf(level as (typeof SEARCH_SEVERITIES)[number]);
  if (rank < 0) return FALSE;
  return eb('services.active_severity', op, rank);
}

/**
 * A time comparison. Stored times are ISO-8601 UTC strings of one width, so they compare as
 * text. A day is the interval [start, end): "after the day" means from its end on.
 */
function timeTerm(
  eb: ServicesEb,
  col: 'services.last_seen' | 'services.first_seen',
  op: CompareOp,
  t: TimeValue,
  opts: CompileOptions,
): Expression<SqlBool> {
  if (t.kind === 'day') {
    switch (op) {
      case '=':
        return eb.and([eb(col, '>=', t.start), eb(col, '<', t.end)]);
      case '>':
        return eb(col, '>=', t.end);
      case '>=':
        return eb(col, '>=', t.start);
      case '<':
        return eb(col, '<', t.start);
      case '<=':
        return eb(col, '<', t.end);
    }
  }
  const at = t.kind === 'instant' ? t.at : new Date(opts.now - t.ms).toISOString();
  return eb(col, op, at);
}

function findingStateTerm(eb: ServicesEb, opts: CompileOptions, state: string): Expression<SqlBool> {
  switch (state) {
    case 'open':
      return hasActive(eb);
    case 'resolved':
    case 'unverified':
      return findingWhere(eb, opts, (f) => f('findings.state', '=', state));
    default:
      return findingWhere(eb, opts, (f) => f('findings.user_state', '=', state));
  }
}

function compileTerm(eb: ServicesEb, node: TermNode, v: FieldValue, opts: CompileOptions): Expression<SqlBool> {
  const s = (c: 'product' | 'vendor' | 'version' | 'cpe' | 'device_type' | 'protocol') => eb.ref(`services.${c}`);
  const any = v.kind === 'any';
  switch (node.field) {
    case 'ip':
      if (v.kind !== 'ip') return TRUE;
      return eb.and([eb('services.ip_key', '>=', v.lo), eb('services.ip_key', '<=', v.hi)]);
    case 'port':
      return numberTerm(eb, 'services.port', node.op, v);
    case 'risk':
      return numberTerm(eb, 'services.risk', node.op, v);
    case 'protocol':
      return any ? eb('services.protocol', 'is not', null) : equalsNullable(s('protocol'), enumValue(v));
    case 'status':
      return any ? TRUE : eb('services.status', '=', enumValue(v));
    case 'product':
    case 'vendor': {
      const col = node.field;
      if (any) return eb.or([eb(`services.${col}`, 'is not', null), hostWhere(eb, opts, (a) => a(`assets.${col}`, 'is not', null))]);
      const t = textValue(v);
      return eb.or([textMatch(s(col), t), hostWhere(eb, opts, (a) => textMatch(a.ref(`assets.${col}`), t))]);
    }
    case 'version':
    case 'cpe':
      return any ? eb(`services.${node.field}`, 'is not', null) : textMatch(s(node.field), textValue(v));
    case 'hostname':
      return hostWhere(eb, opts, (a) =>
        any ? a('assets.hostname', 'is not', null) : textMatch(a.ref('assets.hostname'), textValue(v)),
      );
    case 'devicetype': {
      if (any) {
        return eb.or([eb('services.device_type', 'is not', null), hostWhere(eb, opts, (a) => a('assets.device_type', 'is not', null))]);
      }
      const d = enumValue(v);
      return eb.or([equalsNullable(s('device_type'), d), hostWhere(eb, opts, (a) => a('assets.device_type', '=', d))]);
    }
    case 'finding': {
      if (any) return hasActive(eb);
      const t = textValue(v);
      return findingWhere(eb, opts, (f) =>
        f.and([
          active(f),
          t.wildcard ? likeMatch(f.ref('findings.check_id'), likePattern(t.pattern, true)) : f('findings.check_id', '=', t.pattern),
        ]),
      );
    }
    case 'severity':
      return any ? hasActive(eb) : severityTerm(eb, node.op, enumValue(v));
    case 'state':
      return any ? findingWhere(eb, opts, () => TRUE) : findingStateTerm(eb, opts, enumValue(v));
    case 'lastseen':
    case 'firstseen': {
      if (v.kind !== 'time') return TRUE;
      return timeTerm(eb, node.field === 'lastseen' ? 'services.last_seen' : 'services.first_seen', node.op, v.time, opts);
    }
    case 'country':
      return hostWhere(eb, opts, (a) =>
        any ? a('assets.country', 'is not', null) : a('assets.country', 'in', caseVariants(enumValue(v))),
      );
    case 'asn':
      return hostWhere(eb, opts, (a) => (v.kind === 'int' ? a('assets.asn', '=', v.value) : a('assets.asn', 'is not', null)));
    case 'org':
      return hostWhere(eb, opts, (a) => (any ? a('assets.org', 'is not', null) : textMatch(a.ref('assets.org'), textValue(v))));
    case 'tag': {
      if (any) return tagWhere(eb, opts, () => TRUE);
      const t = textValue(v);
      // Tags are stored lower-case and the parser lowered the value: plain equality uses the tag index.
      return tagWhere(eb, opts, (g) =>
        t.wildcard ? likeMatch(g.ref('asset_tags.tag'), likePattern(t.pattern, true)) : g('asset_tags.tag', '=', t.pattern),
      );
    }
    case 'honeypot': {
      if (v.kind !== 'bool') return TRUE;
      const honeypot = hostWhere(eb, opts, (a) => a('assets.honeypot', '=', 1));
      return v.value ? honeypot : eb.not(honeypot);
    }
  }
}

/** A term's enum value (the parser validated it). */
export function enumValue(v: FieldValue): string {
  if (v.kind !== 'enum') throw new Error(`expected an enum value, got ${v.kind}`);
  return v.value;
}

/** A term's text value (the parser validated it). */
export function textValue(v: FieldValue): { pattern: string; wildcard: boolean } {
  if (v.kind !== 'text') throw new Error(`expected a text value, got ${v.kind}`);
  return v;
}

/** `CASE severity WHEN 'info' THEN 1 ... END`: the rank of a finding's severity (0 for anything else). */
export function severityRankSql(col: Expression<string>): Expression<number> {
  let expr = sql<number>`case ${col}`;
  for (const [i, s] of SEVERITIES.entries()) expr = sql<number>`${expr} when ${sql.lit(s)} then ${sql.lit(i + 1)}`;
  return sql<number>`${expr} else 0 end`;
}
