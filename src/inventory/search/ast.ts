/**
 * The search language's vocabulary and syntax tree. A query is a boolean expression over
 * service rows (one per ip, port): terms `key:value` (or `key>value`, ...), free text, AND
 * (implicit), OR, NOT / `-`, parentheses. The keys follow what Shodan users know (`port:`,
 * `product:`, `net:`, `vuln:`, `country:`), extended with the inventory's own (`finding:`,
 * `severity`, `devicetype:`, `lastseen`, `state:`).
 *
 * Every value is validated by the parser and carried here in typed form, so the compiler
 * (to-kysely.ts) never sees raw user text except as a bound parameter.
 */
import { UsageError } from '../../core/errors.js';
import { STATUSES } from '../../core/status.js';
import { DEVICE_TYPES, PROBE_IDS, SEVERITIES } from '../../core/types.js';

/** Caps on a query: it may come from the API, so its cost is bounded before any SQL runs. */
export const SEARCH_LIMITS = {
  /** Characters in one query. */
  queryChars: 4096,
  /** Terms and free-text words in one query (comma-list values count one each). */
  terms: 128,
  /** Nesting of parentheses and negations. */
  depth: 32,
  /** Characters in one value. */
  valueChars: 512,
  /** Rows one search returns (limit). */
  rows: 10_000,
  /** Distinct values one facet reads before it keeps only the most frequent. */
  facetGroups: 100_000,
  /** Buckets one facet returns. */
  facetBuckets: 1000,
} as const;

/** Start (inclusive) and end (exclusive) offsets into the query string. */
export interface Span {
  start: number;
  end: number;
}

export type CompareOp = '=' | '>' | '>=' | '<' | '<=';

/** Severity as the search sees it: the highest open, untriaged finding of a service, `none` without one. */
export const SEARCH_SEVERITIES = ['none', ...SEVERITIES] as const;
export type SearchSeverity = (typeof SEARCH_SEVERITIES)[number];

/**
 * Finding states a query can ask for. `open` means observed open and not triaged (the active
 * exposure that `finding:` and `severity` look at); `resolved` and `unverified` are observed
 * states whatever the triage; the user states match the triage whatever the observed state.
 */
export const SEARCH_FINDING_STATES = ['open', 'resolved', 'unverified', 'accepted-risk', 'false-positive', 'fixed'] as const;

/** How a field's values are read and which operators it takes. */
export type FieldKind =
  /** An address or CIDR prefix, IPv4 or IPv6. */
  | 'ip'
  /** A port number; comparisons allowed. */
  | 'port'
  /** One of a fixed list of lowercase words. */
  | 'enum'
  /** The ordered severity scale; comparisons allowed. */
  | 'severity'
  /** Case-insensitive text; `*` is a wildcard. */
  | 'text'
  /** A finding id (kebab-case check id or CVE id); `*` is a wildcard. */
  | 'finding'
  /** A time: a UTC day, an instant, or a relative age (`7d`); comparisons allowed. */
  | 'time'
  /** Parsed, but the data it needs is not in the inventory yet (compiling it is an error). */
  | 'unavailable';

export interface FieldDef {
  name: FieldName;
  kind: FieldKind;
  /** Allowed values of an `enum` field. */
  values?: readonly string[];
  /** What a user reads in help and errors. */
  help: string;
  /** For `unavailable` fields: why, and what brings it. */
  unavailable?: string;
}

export const FIELD_NAMES = [
  'ip',
  'port',
  'protocol',
  'status',
  'product',
  'vendor',
  'version',
  'cpe',
  'devicetype',
  'hostname',
  'finding',
  'severity',
  'state',
  'lastseen',
  'firstseen',
  'country',
  'asn',
  'org',
  'tag',
] as const;
export type FieldName = (typeof FIELD_NAMES)[number];

const ATTRIBUTION = 'needs attribution (GeoIP/ASN and organisation ranges), which the inventory does not hold yet';

export const FIELDS: Readonly<Record<FieldName, FieldDef>> = {
  ip: { name: 'ip', kind: 'ip', help: 'address or CIDR prefix: ip:127.77.0.0/16' },
  port: { name: 'port', kind: 'port', help: 'service port: port:104, port:104,4242, port>=1000' },
  protocol: { name: 'protocol', kind: 'enum', values: PROBE_IDS, help: 'probe that identified the service: protocol:dicom' },
  status: { name: 'status', kind: 'enum', values: STATUSES, help: 'scan status of the service: status:protocol-error' },
  product: { name: 'product', kind: 'text', help: "the service's or its host's product: product:orthanc, product:orth*" },
  vendor: { name: 'vendor', kind: 'text', help: "the service's or its host's vendor: vendor:offis" },
  version: { name: 'version', kind: 'text', help: 'service version: version:3.6.7, version:3.6*' },
  cpe: { name: 'cpe', kind: 'text', help: 'CPE 2.3 name: cpe:cpe:2.3:a:offis:dcmtk:*' },
  devicetype: {
    name: 'devicetype',
    kind: 'enum',
    values: DEVICE_TYPES,
    help: "the service's or its host's device type: devicetype:pacs",
  },
  hostname: { name: 'hostname', kind: 'text', help: 'host name the target came from: hostname:*.example.org' },
  finding: { name: 'finding', kind: 'finding', help: 'open, untriaged finding: finding:dicom-any-ae, finding:CVE-2024-*' },
  severity: {
    name: 'severity',
    kind: 'severity',
    values: SEARCH_SEVERITIES,
    help: 'highest open finding (none < info < low < medium < high < critical): severity>=high',
  },
  state: {
    name: 'state',
    kind: 'enum',
    values: SEARCH_FINDING_STATES,
    help: 'has a finding in this state: state:resolved, state:accepted-risk',
  },
  lastseen: {
    name: 'lastseen',
    kind: 'time',
    help: 'last seen (UTC day, ISO time, or an age: 7d = 7 days ago): lastseen>2026-11-01, lastseen>7d',
  },
  firstseen: { name: 'firstseen', kind: 'time', help: 'first seen: firstseen>=2026-01-01, firstseen<30d' },
  country: { name: 'country', kind: 'unavailable', help: 'country code: country:NL', unavailable: ATTRIBUTION },
  asn: { name: 'asn', kind: 'unavailable', help: 'autonomous system: asn:AS1103', unavailable: ATTRIBUTION },
  org: { name: 'org', kind: 'unavailable', help: 'network owner: org:"Example Hospital"', unavailable: ATTRIBUTION },
  tag: {
    name: 'tag',
    kind: 'unavailable',
    help: 'user tag: tag:radiology',
    unavailable: 'needs asset tags (`medsurface inventory tag`), which the inventory does not hold yet',
  },
};

/** Other spellings users bring from Shodan and elsewhere. */
export const FIELD_ALIASES: Readonly<Record<string, FieldName>> = {
  net: 'ip',
  device: 'devicetype',
  vuln: 'finding',
  check: 'finding',
  proto: 'protocol',
};

export function fieldByKey(key: string): FieldDef | undefined {
  const k = key.toLowerCase();
  const name = (FIELD_NAMES as readonly string[]).includes(k) ? (k as FieldName) : FIELD_ALIASES[k];
  return name === undefined ? undefined : FIELDS[name];
}

/** A moment: an exact instant, a whole UTC day, or "so long ago" (resolved against the clock when compiled). */
export type TimeValue =
  | { kind: 'instant'; at: string }
  | { kind: 'day'; start: string; end: string }
  | { kind: 'ago'; ms: number };

/** One validated value of a term. */
export type FieldValue =
  /** `*` alone: the field has a value (for `port`, `lastseen`: always true). */
  | { kind: 'any' }
  | { kind: 'ip'; lo: string; hi: string }
  | { kind: 'int'; value: number }
  | { kind: 'enum'; value: string }
  /** Matched case-insensitively; `*` in `pattern` is a wildcard when `wildcard` is true (unquoted values). */
  | { kind: 'text'; pattern: string; wildcard: boolean }
  | { kind: 'time'; time: TimeValue }
  /** Value of an unavailable field, kept as typed. */
  | { kind: 'raw'; value: string };

export interface TermNode {
  type: 'term';
  field: FieldName;
  op: CompareOp;
  /** Alternatives (a comma list `port:104,4242`): the term matches when any does. */
  values: FieldValue[];
  span: Span;
  keySpan: Span;
}

/** Free text: a substring of the vendor, product or host name of the service or its host. */
export interface TextNode {
  type: 'text';
  pattern: string;
  /** `*` in an unquoted word is a wildcard; a quoted phrase is literal. */
  wildcard: boolean;
  span: Span;
}

export interface AndNode {
  type: 'and';
  children: QueryNode[];
  span: Span;
}

export interface OrNode {
  type: 'or';
  children: QueryNode[];
  span: Span;
}

export interface NotNode {
  type: 'not';
  child: QueryNode;
  span: Span;
}

/** The empty query: every service. */
export interface AllNode {
  type: 'all';
  span: Span;
}

export type QueryNode = TermNode | TextNode | AndNode | OrNode | NotNode | AllNode;

/**
 * A query the user got wrong, with where: `position` and `length` locate the bad token
 * (0-based offsets); the message ends with the query and a caret line under that token.
 */
export class SearchQueryError extends UsageError {
  readonly query: string;
  readonly position: number;
  readonly length: number;
  /** The message without the caret display. */
  readonly reason: string;

  constructor(query: string, span: Span, reason: string, options?: { cause?: unknown }) {
    const position = Math.max(0, Math.min(span.start, query.length));
    const length = Math.max(1, span.end - position);
    super(`search: ${reason} (at column ${position + 1})\n${caretDisplay(query, position, length)}`, options);
    this.name = 'SearchQueryError';
    this.query = query;
    this.position = position;
    this.length = length;
    this.reason = reason;
  }
}

/** Characters of context shown either side of the bad token in a long query. */
const CARET_CONTEXT = 60;

/** Two lines: the query (cut around the token when long, control characters shown as spaces) and `^^^` under the token. */
export function caretDisplay(query: string, position: number, length: number): string {
  let from = 0;
  let to = query.length;
  if (query.length > 2 * CARET_CONTEXT + length) {
    from = Math.max(0, position - CARET_CONTEXT);
    to = Math.min(query.length, position + length + CARET_CONTEXT);
  }
  const lead = from > 0 ? '...' : '';
  const tail = to < query.length ? '...' : '';
  const shown = query.slice(from, to).replace(/[\x00-\x1f\x7f]/g, ' ');
  const width = Math.max(1, Math.min(length, to - position));
  return `  ${lead}${shown}${tail}\n  ${' '.repeat(lead.length + position - from)}${'^'.repeat(width)}`;
}
