/**
 * The inventory's search language (Shodan-like `key:value` terms, free text, AND/OR/NOT,
 * comparisons on numbers and dates) and its facets. Parsed into a syntax tree, compiled to
 * Kysely expressions, run the same on SQLite and PostgreSQL.
 */
export {
  caretDisplay,
  FIELD_ALIASES,
  FIELD_NAMES,
  FIELDS,
  type FieldDef,
  type FieldName,
  mentionsField,
  type QueryNode,
  RISK_BUCKETS,
  SEARCH_FINDING_STATES,
  SEARCH_LIMITS,
  SEARCH_SEVERITIES,
  SearchQueryError,
  withHoneypotDefault,
} from './ast.js';
export {
  DEFAULT_FACET_LIMIT,
  FACET_FIELDS,
  type FacetBucket,
  type FacetField,
  type FacetOptions,
  type FacetResult,
  parseFacetSpec,
  runFacet,
} from './facets.js';
export { tokenize } from './lexer.js';
export { parseQuery } from './parser.js';
export {
  DEFAULT_SEARCH_LIMIT,
  parseSort,
  runSearch,
  type SearchAssetRow,
  type SearchHostAttribution,
  type SearchOptions,
  type SearchResult,
  type SearchServiceRow,
  type SearchTarget,
  SORT_KEYS,
  type SortKey,
  searchTree,
} from './run-search.js';
export { type CompileOptions, compileQuery, likePattern, type ServicePredicate } from './to-kysely.js';
