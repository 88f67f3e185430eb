/**
 * Recursive-descent parser of the search language. Precedence, loosest first: OR, then AND
 * (also implicit between adjacent terms), then NOT / `-`. Values are validated here, so every
 * error (unknown key, bad port, bad date, unclosed group...) points at the token at fault.
 *
 *   query   := or? EOF
 *   or      := and (OR and)*
 *   and     := unary (AND? unary)*
 *   unary   := (NOT | '-') unary | primary
 *   primary := '(' or ')' | term | word
 */
import { ipKeyRange } from '../ip-key.js';
import {
  ASN_MAX,
  type CompareOp,
  FIELD_ALIASES,
  FIELD_NAMES,
  FIELDS,
  type FieldDef,
  type FieldKind,
  type FieldValue,
  fieldByKey,
  type QueryNode,
  SEARCH_LIMITS,
  SearchQueryError,
  type Span,
  type TermNode,
  type TimeValue,
} from './ast.js';
import { type Token, tokenize } from './lexer.js';

/** Parses `query` into its syntax tree; throws SearchQueryError pointing at the bad token. */
export function parseQuery(query: string): QueryNode {
  return new Parser(query).parse();
}

const DAY_MS = 86_400_000;
/** Units of a relative time (`7d`): hours, days, weeks. `m` is refused (minutes or months?). */
const AGO_UNITS: Record<string, number> = { h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS };
/** Longest relative time accepted: 100 years. */
const AGO_MAX_MS = 100 * 365 * DAY_MS;

/** Kinds that take `>`, `>=`, `<`, `<=`. */
const COMPARABLE: readonly FieldKind[] = ['number', 'severity', 'time'];
/** Kinds whose unquoted values may be comma lists of alternatives (their values never hold a comma). */
const LISTABLE: readonly FieldKind[] = ['number', 'enum', 'severity', 'finding', 'country', 'asn', 'tag', 'bool'];
const COMPARABLE_NAMES = FIELD_NAMES.filter((n) => COMPARABLE.includes(FIELDS[n].kind)).join(', ');
/** A tag as src/attribution/orgs.ts allows it, with `*` wildcards. */
const TAG_QUERY = /^[a-z0-9*][a-z0-9*._:-]{0,63}$/;

class Parser {
  private readonly tokens: Token[];
  private pos = 0;
  private terms = 0;

  constructor(private readonly query: string) {
    this.tokens = tokenize(query);
  }

  parse(): QueryNode {
    const first = this.peek();
    if (first.t === 'eof') return { type: 'all', span: { start: 0, end: this.query.length } };
    const node = this.parseOr(0);
    const rest = this.peek();
    if (rest.t === 'rparen') this.fail(rest.span, "unmatched ')': no '(' opens it");
    if (rest.t !== 'eof') this.fail(rest.span, 'unexpected token');
    return node;
  }

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    const t = this.tokens[this.pos]!;
    if (t.t !== 'eof') this.pos++;
    return t;
  }

  private fail(span: Span, reason: string): never {
    throw new SearchQueryError(this.query, span, reason);
  }

  private startsUnary(t: Token): boolean {
    return t.t === 'lparen' || t.t === 'not' || t.t === 'minus' || t.t === 'term' || t.t === 'word';
  }

  private parseOr(depth: number): QueryNode {
    const lead = this.peek();
    if (lead.t === 'or' || lead.t === 'and') {
      this.fail(lead.span, `${lead.t.toUpperCase()} needs a term before it`);
    }
    const children = [this.parseAnd(depth)];
    while (this.peek().t === 'or') {
      const op = this.next();
      if (!this.startsUnary(this.peek())) this.fail(op.span, 'OR needs a term after it');
      children.push(this.parseAnd(depth));
    }
    return children.length === 1 ? children[0]! : { type: 'or', children, span: cover(children) };
  }

  private parseAnd(depth: number): QueryNode {
    const children = [this.parseUnary(depth)];
    for (;;) {
      const t = this.peek();
      if (t.t === 'and') {
        this.next();
        const after = this.peek();
        if (!this.startsUnary(after)) this.fail(t.span, 'AND needs a term after it');
        children.push(this.parseUnary(depth));
      } else if (this.startsUnary(t)) {
        children.push(this.parseUnary(depth));
      } else break;
    }
    return children.length === 1 ? children[0]! : { type: 'and', children, span: cover(children) };
  }

  private parseUnary(depth: number): QueryNode {
    const t = this.peek();
    if (depth >= SEARCH_LIMITS.depth) this.fail(t.span, `nested deeper than ${SEARCH_LIMITS.depth} levels`);
    if (t.t === 'not' || t.t === 'minus') {
      this.next();
      const after = this.peek();
      if (!this.startsUnary(after)) this.fail(t.span, `${t.t === 'not' ? 'NOT' : "'-'"} needs a term after it`);
      const child = this.parseUnary(depth + 1);
      return { type: 'not', child, span: { start: t.span.start, end: child.span.end } };
    }
    return this.parsePrimary(depth);
  }

  private parsePrimary(depth: number): QueryNode {
    const t = this.next();
    switch (t.t) {
      case 'lparen': {
        if (this.peek().t === 'rparen') this.fail({ start: t.span.start, end: this.peek().span.end }, 'empty parentheses');
        if (this.peek().t === 'eof') this.fail(t.span, "unclosed '(': no ')' closes it");
        const inner = this.parseOr(depth + 1);
        const close = this.peek();
        if (close.t !== 'rparen') {
          this.fail(close.t === 'eof' ? t.span : close.span, close.t === 'eof' ? "unclosed '(': no ')' closes it" : 'unexpected token');
        }
        this.next();
        return inner;
      }
      case 'term':
        return this.term(t);
      case 'word': {
        this.count(t.span);
        if (t.value.trim() === '') this.fail(t.span, 'empty text');
        if (t.value.length > SEARCH_LIMITS.valueChars) this.fail(t.span, `text longer than ${SEARCH_LIMITS.valueChars} characters`);
        return { type: 'text', pattern: t.value, wildcard: !t.quoted, span: t.span };
      }
      case 'rparen':
        return this.fail(t.span, "unmatched ')': no '(' opens it");
      case 'or':
      case 'and':
        return this.fail(t.span, `${t.t.toUpperCase()} needs a term before it`);
      default:
        return this.fail(t.span, 'the query ends here, a term is missing');
    }
  }

  private count(span: Span): void {
    this.terms++;
    if (this.terms > SEARCH_LIMITS.terms) this.fail(span, `more than ${SEARCH_LIMITS.terms} terms`);
  }

  private term(t: Extract<Token, { t: 'term' }>): TermNode {
    const field = fieldByKey(t.key);
    if (field === undefined) {
      const hint = suggest(t.key);
      this.fail(
        t.keySpan,
        `unknown key "${t.key}"${hint ? `; did you mean "${hint}"?` : ''} (keys: ${FIELD_NAMES.join(', ')}; quote text that contains a colon)`,
      );
    }
    if (t.value === '') {
      this.fail(
        { start: t.valueSpan.start, end: t.valueSpan.end > t.valueSpan.start ? t.valueSpan.end : t.valueSpan.start + 1 },
        `${t.key}${t.op === '=' ? ':' : t.op} needs a value${this.query[t.valueSpan.start] === '(' ? ' (for several values write key:a,b or key:a OR key:b)' : ''}`,
      );
    }
    if (t.value.length > SEARCH_LIMITS.valueChars) {
      this.fail(t.valueSpan, `value longer than ${SEARCH_LIMITS.valueChars} characters`);
    }
    if (t.op !== '=' && !COMPARABLE.includes(field.kind)) {
      this.fail(
        t.opSpan,
        `${field.name} takes no comparison "${t.op}": write ${t.key}:value (comparisons work on ${COMPARABLE_NAMES})`,
      );
    }
    const listable = t.op === '=' && !t.quoted && LISTABLE.includes(field.kind);
    const parts: { text: string; span: Span }[] = [];
    if (listable && t.value.includes(',')) {
      let at = t.valueSpan.start;
      for (const p of t.value.split(',')) {
        const span = { start: at, end: at + p.length };
        if (p === '') this.fail({ start: span.start, end: span.start + 1 }, 'empty value in a comma list');
        parts.push({ text: p, span });
        at += p.length + 1;
      }
    } else {
      parts.push({ text: t.value, span: t.valueSpan });
    }
    const values: FieldValue[] = [];
    for (const p of parts) {
      this.count(p.span);
      values.push(this.value(field, t.key, t.op, p.text, t.quoted, p.span));
    }
    return { type: 'term', field: field.name, op: t.op, values, span: t.span, keySpan: t.keySpan };
  }

  /** Reads one value of `field`, or fails pointing at it. */
  private value(field: FieldDef, key: string, op: CompareOp, text: string, quoted: boolean, span: Span): FieldValue {
    if (text === '*' && !quoted) {
      if (op !== '=') this.fail(span, `${key}${op}* compares with nothing: write ${key}:* for "has a value"`);
      return { kind: 'any' };
    }
    switch (field.kind) {
      case 'ip': {
        try {
          const r = ipKeyRange(text);
          return { kind: 'ip', lo: r.lo, hi: r.hi };
        } catch (err) {
          throw new SearchQueryError(this.query, span, `${key}: "${text}" is not an IP address or CIDR prefix`, { cause: err });
        }
      }
      case 'number':
        return this.number(field, key, op, text, span);
      case 'enum':
      case 'severity': {
        const v = text.toLowerCase();
        const allowed = field.values ?? [];
        if (!allowed.includes(v)) {
          const hint = closest(v, allowed);
          this.fail(
            span,
            `${key}: "${text}" is not one of ${allowed.join(', ')}${hint ? `; did you mean "${hint}"?` : ''}`,
          );
        }
        return { kind: 'enum', value: v };
      }
      case 'text':
        return { kind: 'text', pattern: text, wildcard: !quoted && text.includes('*') };
      case 'finding': {
        if (!/^[A-Za-z0-9*_.-]+$/.test(text) || (quoted && text.includes('*'))) {
          this.fail(span, `${key}: "${text}" is not a finding id (like dicom-any-ae or CVE-2024-1234; * is a wildcard)`);
        }
        // Check ids are lowercase; CVE ids are stored as NVD writes them.
        const id = /^cve-/i.test(text) ? text.toUpperCase() : text.toLowerCase();
        return { kind: 'text', pattern: id, wildcard: !quoted && id.includes('*') };
      }
      case 'time':
        return { kind: 'time', time: this.time(key, op, text, span) };
      case 'country':
        if (!/^[A-Za-z]{2}$/.test(text)) this.fail(span, `${key}: "${text}" is not a two-letter country code (like NL or de)`);
        // Codes are stored upper case (ISO 3166-1 alpha-2); the compiler still matches any case.
        return { kind: 'enum', value: text.toUpperCase() };
      case 'asn': {
        const m = /^(?:AS)?(\d{1,10})$/i.exec(text);
        if (m === null || Number(m[1]) > ASN_MAX) {
          this.fail(span, `${key}: "${text}" is not an autonomous system number (like AS1103 or 1103)`);
        }
        return { kind: 'int', value: Number(m[1]) };
      }
      case 'tag': {
        const tag = text.toLowerCase();
        if (!TAG_QUERY.test(tag) || (quoted && tag.includes('*'))) {
          this.fail(
            span,
            `${key}: "${text}" is not a tag (1-64 characters: letters, digits, . _ : -, starting with a letter or digit; * is a wildcard)`,
          );
        }
        return { kind: 'text', pattern: tag, wildcard: !quoted && tag.includes('*') };
      }
      case 'bool': {
        const v = text.toLowerCase();
        if (v !== 'true' && v !== 'false') this.fail(span, `${key}: "${text}" is not true or false`);
        return { kind: 'bool', value: v === 'true' };
      }
    }
  }

  /** A number of a `number` field (`104`), or with `=` an inclusive range (`40-69`). */
  private number(field: FieldDef, key: string, op: CompareOp, text: string, span: Span): FieldValue {
    const r = field.range ?? { min: 0, max: Number.MAX_SAFE_INTEGER, noun: 'number' };
    const bad = `${key}: "${text}" is not a ${r.noun} (${r.min}-${r.max})`;
    const inRange = (n: number) => n >= r.min && n <= r.max;
    const one = /^\d{1,6}$/.exec(text);
    if (one) {
      if (!inRange(Number(text))) this.fail(span, bad);
      return { kind: 'int', value: Number(text) };
    }
    const both = /^(\d{1,6})-(\d{1,6})$/.exec(text);
    if (both) {
      const lo = Number(both[1]);
      const hi = Number(both[2]);
      if (!inRange(lo) || !inRange(hi)) this.fail(span, bad);
      if (op !== '=') this.fail(span, `${key}${op}${text}: a range takes no comparison; write ${key}:${text}`);
      if (lo > hi) this.fail(span, `${key}: the range ${text} is empty (write the low bound first)`);
      return { kind: 'range', lo, hi };
    }
    return this.fail(span, bad);
  }

  private time(key: string, op: CompareOp, text: string, span: Span): TimeValue {
    const ago = /^(\d{1,6})([a-z])$/i.exec(text);
    if (ago) {
      const unit = AGO_UNITS[ago[2]!.toLowerCase()];
      if (unit === undefined) {
        this.fail(span, `${key}: "${text}" has an unknown unit; use h (hours), d (days) or w (weeks), e.g. ${key}>7d`);
      }
      const ms = Number(ago[1]) * unit;
      if (ms > AGO_MAX_MS) this.fail(span, `${key}: "${text}" is more than 100 years`);
      if (op === '=') {
        this.fail(span, `${key}:${text} is a moment, not a period: write ${key}>${text} (since then) or ${key}<${text} (before then)`);
      }
      return { kind: 'ago', ms };
    }
    const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    if (day) {
      const start = Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]));
      const d = new Date(start);
      if (d.getUTCFullYear() !== Number(day[1]) || d.getUTCMonth() !== Number(day[2]) - 1 || d.getUTCDate() !== Number(day[3])) {
        this.fail(span, `${key}: "${text}" is not a calendar date`);
      }
      return { kind: 'day', start: d.toISOString(), end: new Date(start + DAY_MS).toISOString() };
    }
    const instant = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?$/i.exec(text);
    if (instant) {
      // A time without a zone is UTC, like the stored times.
      const t = Date.parse(instant[3] === undefined ? `${text}Z` : text);
      if (!Number.isNaN(t)) return { kind: 'instant', at: new Date(t).toISOString() };
    }
    return this.fail(
      span,
      `${key}: "${text}" is not a date (2026-11-01), a UTC time (2026-11-01T08:30:00Z) or an age (7d, 12h, 2w)`,
    );
  }
}

function cover(nodes: QueryNode[]): Span {
  return { start: nodes[0]!.span.start, end: nodes[nodes.length - 1]!.span.end };
}

/** Levenshtein distance, for "did you mean" hints on short words. */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

function suggest(key: string): string | undefined {
  return closest(key, [...FIELD_NAMES, ...Object.keys(FIELD_ALIASES)]);
}
