/**
 * The search language's vocabulary and syntax tree. A query is a boolean expression over
 * service rows (one per ip, port): terms `key:value` (or `key>value`, ...), free text, AND
 * (implicit), OR, NOT / `-`, parentheses. The keys follow what Shodan users know (`port:`,
 * `product:`, `net:`, `vuln:`, `country:`, `asn:`, `org:`, `tag:`), extended with the
 * inventory's own (`finding:`, `severity`, `devicetype:`, `lastseen`, `state:`, `risk`,
 * `honeypot:`).
 *
 * Hosts judged to be honeypots or decoys are left out of every search and facet unless the
 * query has a `honeypot:` term somewhere (then that term decides) or the caller includes them
 * (`includeHoneypots`): see withHoneypotDefault.
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
  /** An integer in FieldDef.range; comparisons and inclusive ranges (`risk:40-69`) allowed. */
  | 'number'
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
  /** An ISO 3166-1 alpha-2 country code, any case. */
  | 'country'
  /** An autonomous system number, `AS1103` or `1103`. */
  | 'asn'
  /** A user tag (stored lower-case, see src/attribution/orgs.ts); `*` is a wildcard. */
  | 'tag'
  /** `true` or `false`. */
  | 'bool';

/** Bounds of a `number` field and what its values are called in errors. */
export interface NumberRange {
  min: number;
  max: number;
  noun: string;
}

export interface FieldDef {
  name: FieldName;
  kind: FieldKind;
  /** Allowed values of an `enum` field. */
  values?: readonly string[];
  /** Bounds of a `number` field. */
  range?: NumberRange;
  /** What a user reads in help and errors. */
  help: string;
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
  'risk',
  'honeypot',
] as const;
export type FieldName = (typeof FIELD_NAMES)[number];

/** Largest autonomous system number (32-bit, RFC 6793). */
export const ASN_MAX = 4_294_967_295;

/**
 * Risk facet buckets (inclusive bounds), in scale order: 0 (no finding raised, docs/risk.md),
 * then the CVSS v3 qualitative ranges scaled to the 0-100 score: low 1-39, medium 40-69, high
 * 70-89, critical 90-100. Each label is also a valid `risk:` value, so `QUERY risk:40-69`
 * lists a bucket's services.
 */
export const RISK_BUCKETS: readonly { label: string; min: number; max: number }[] = [
  { label: '0', min: 0, max: 0 },
  { label: '1-39', min: 1, max: 39 },
  { label: '40-69', min: 40, max: 69 },
  { label: '70-89', min: 70, max: 89 },
  { label: '90-100', min: 90, max: 100 },
];

export const FIELDS: Readonly<Record<FieldName, FieldDef>> = {
  ip: { name: 'ip', kind: 'ip', help: 'address or CIDR prefix: ip:127.77.0.0/16' },
  port: {
    name: 'port',
    kind: 'number',
    range: { min: 1, max: 65535, noun: 'port number' },
    help: 'service port: port:104, port:104,4242, port>=1000, port:1-1023',
  },
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
  country: {
    name: 'country',
    kind: 'country',
    help: "host's country (ISO 3166-1 alpha-2, any case): country:NL, country:nl,de",
  },
  asn: { name: 'asn', kind: 'asn', help: "autonomous system announcing the host's address: asn:AS1103, asn:1103" },
  org: { name: 'org', kind: 'text', help: 'organisation owning the host (orgs.yaml, else the AS owner): org:"Example Hospital", org:*clinic*' },
  tag: { name: 'tag', kind: 'tag', help: "host's tag (lower-case; * is a wildcard): tag:radiology, tag:site-*" },
  risk: {
    name: 'risk',
    kind: 'number',
    range: { min: 0, max: 100, noun: 'risk score' },
    help: "service's risk score 0-100: risk>=70, risk:40-69 (facet buckets: 0, 1-39, 40-69, 70-89, 90-100)",
  },
  honeypot: {
    name: 'honeypot',
    kind: 'bool',
    help:
      'host judged a honeypot or decoy: honeypot:true. Left out of results and facets unless the query has a ' +
      'honeypot: term (honeypot:* keeps them with the rest) or they are included (--include-honeypots)',
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
  /** `*` alone: the field has a value (for `port`, `risk`, `honeypot`, `lastseen`: always true). */
  | { kind: 'any' }
  | { kind: 'ip'; lo: string; hi: string }
  | { kind: 'int'; value: number }
  /** An inclusive range of a `number` field: `risk:40-69`. */
  | { kind: 'range'; lo: number; hi: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'enum'; value: string }
  /** Matched case-insensitively; `*` in `pattern` is a wildcard when `wildcard` is true (unquoted values). */
  | { kind: 'text'; pattern: string; wildcard: boolean }
  | { kind: 'time'; time: TimeValue };

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

/** True when a term on `field` appears anywhere in the tree, negated or not. */
export function mentionsField(node: QueryNode, field: FieldName): boolean {
  switch (node.type) {
    case 'term':
      return node.field === field;
    case 'and':
    case 'or':
      return node.children.some((c) => mentionsField(c, field));
    case 'not':
      return mentionsField(node.child, field);
    default:
      return false;
  }
}

const NOWHERE: Span = { start: 0, end: 0 };

/**
 * The query as it runs: honeypots and decoys (assets.honeypot = 1) are left out, as they would
 * inflate every count of exposed systems, unless `include` is set or the query has a
 * `honeypot:` term anywhere, which then decides alone (`honeypot:true` lists only them,
 * `honeypot:*` keeps them in with the rest).
 */
export function withHoneypotDefault(node: QueryNode, include: boolean): QueryNode {
  if (include || mentionsField(node, 'honeypot')) return node;
  const notHoneypot: QueryNode = {
    type: 'term',
    field: 'honeypot',
    op: '=',
    values: [{ kind: 'bool', value: false }],
    span: NOWHERE,
    keySpan: NOWHERE,
  };
  if (node.type === 'all') return notHoneypot;
  return { type: 'and', children: [node, notHoneypot], span: node.span };
}

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
