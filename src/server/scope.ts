/**
 * Organisation scoping: a user with `orgs` sees only hosts whose attribution organisation
 * (assets.org, the search language's `org:`, compared case-insensitively) is in the list.
 *
 * Enforced server-side on every read by ANDing a restriction into the user's query: the
 * search, facet and export code then runs unchanged (one search language, src/inventory/search).
 * The restriction is written in the search language itself, `(USER QUERY) (org:"A" OR org:"B")`,
 * and, before it runs, the combined text is parsed and compared with the tree it must mean
 * (an AND of the user's own tree and the organisation terms): a query that could escape the
 * parentheses, or anything else that would change the meaning, is refused instead of run.
 */
import { type QueryNode, parseQuery, SEARCH_LIMITS, SearchQueryError } from '../inventory/search/index.js';
import { ApiError } from './errors.js';
import type { Principal } from './types.js';

/** `"..."` with `\` and `"` escaped, as the search language's lexer reads quoted values. */
export function quoteSearchValue(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The organisation restriction of a user in the search language, or null for an unrestricted user. */
export function orgClause(orgs: readonly string[] | null): string | null {
  if (orgs === null) return null;
  if (orgs.length === 0) return 'org:"" -org:*';
  return `(${orgs.map((o) => `org:${quoteSearchValue(o)}`).join(' OR ')})`;
}

/** The tree without source positions, to compare two parses. */
function shape(node: QueryNode): string {
  return JSON.stringify(node, (k, v) => (k === 'span' || k === 'keySpan' ? undefined : v));
}

/**
 * The query a user's request runs: the user's own query (validated first, so errors point into
 * it), restricted to the user's organisations. Throws SearchQueryError for a malformed query.
 */
export function scopedQuery(p: Pick<Principal, 'orgs'> | null, query: string): string {
  const own = parseQuery(query);
  const clause = orgClause(p?.orgs ?? null);
  if (clause === null) return query;
  const combined = own.type === 'all' ? clause : `(${query}) ${clause}`;
  if (combined.length > SEARCH_LIMITS.queryChars) {
    throw new SearchQueryError(query, { start: Math.max(0, SEARCH_LIMITS.queryChars - clause.length - 3), end: query.length }, `query too long for an organisation-scoped user (at most ${SEARCH_LIMITS.queryChars - clause.length - 3} characters)`);
  }
  const restriction = parseQuery(clause);
  const expected: QueryNode = own.type === 'all' ? restriction : { type: 'and', children: [own, restriction], span: own.span };
  let got: QueryNode;
  try {
    got = parseQuery(combined);
  } catch {
    throw new ApiError(400, 'bad-query', 'this query cannot be combined with your organisation scope');
  }
  if (shape(got) !== shape(expected)) throw new ApiError(400, 'bad-query', 'this query cannot be combined with your organisation scope');
  return combined;
}

/** Whether a host attributed to `org` is visible to `p`. */
export function orgVisible(p: Pick<Principal, 'orgs'> | null, org: string | null): boolean {
  const orgs = p?.orgs ?? null;
  if (orgs === null) return true;
  if (org === null) return false;
  const o = org.toLowerCase();
  return orgs.some((x) => x.toLowerCase() === o);
}
