/**
 * Splits a query into tokens, each with its span in the query so that errors can point at it.
 *
 * - `(` and `)` group; `OR`, `AND`, `NOT` (any case, as in Kibana's KQL) are operators unless quoted.
 * - `-` directly before a term, a word, a quote or `(` negates it.
 * - `key:value`, `key>value`, `key>=value`, `key<value`, `key<=value`, `key=value`, and the
 *   GitHub-style `key:>=value`: a key is a letter then letters, digits, `_` or `-`. The value runs
 *   to the next space or parenthesis (so `cpe:cpe:2.3:a:...` and `ip:::1` need no quotes), or is quoted.
 * - `"..."` is a quoted value or free-text phrase; `\"` and `\\` escape inside it.
 * - Anything else up to a space or parenthesis is a free-text word.
 */
import { type CompareOp, SEARCH_LIMITS, SearchQueryError, type Span } from './ast.js';

export type Token =
  | { t: 'lparen' | 'rparen' | 'or' | 'and' | 'not' | 'minus' | 'eof'; span: Span }
  | {
      t: 'term';
      key: string;
      keySpan: Span;
      op: CompareOp;
      opSpan: Span;
      value: string;
      quoted: boolean;
      /** Span of the value, quotes included. */
      valueSpan: Span;
      span: Span;
    }
  | { t: 'word'; value: string; quoted: boolean; span: Span };

const isSpace = (c: string | undefined): boolean => c !== undefined && /\s/.test(c);
const ends = (c: string | undefined): boolean => c === undefined || isSpace(c) || c === '(' || c === ')';
const KEY = /^[A-Za-z][A-Za-z0-9_-]*/;
const OPS: readonly CompareOp[] = ['>=', '<=', '>', '<', '='];

export function tokenize(query: string): Token[] {
  if (query.length > SEARCH_LIMITS.queryChars) {
    throw new SearchQueryError(
      query,
      { start: SEARCH_LIMITS.queryChars, end: query.length },
      `query longer than ${SEARCH_LIMITS.queryChars} characters`,
    );
  }
  const out: Token[] = [];
  let i = 0;

  /** A quoted string starting at `start` (on the `"`); returns the text and the index after the closing quote. */
  const quoted = (start: number): { text: string; next: number } => {
    let text = '';
    let j = start + 1;
    for (;;) {
      const c = query[j];
      if (c === undefined) {
        throw new SearchQueryError(query, { start, end: start + 1 }, 'unclosed quote: this " has no closing "');
      }
      if (c === '\\' && (query[j + 1] === '"' || query[j + 1] === '\\')) {
        text += query[j + 1];
        j += 2;
        continue;
      }
      if (c === '"') break;
      text += c;
      j++;
    }
    const next = j + 1;
    if (!ends(query[next])) {
      throw new SearchQueryError(
        query,
        { start: next, end: next + 1 },
        'a closing quote must be followed by a space or a parenthesis',
      );
    }
    return { text, next };
  };

  /** A bare run from `start` to the next space or parenthesis; a `"` inside it is an error. */
  const bare = (start: number): number => {
    let j = start;
    while (!ends(query[j])) {
      if (query[j] === '"') {
        throw new SearchQueryError(
          query,
          { start: j, end: j + 1 },
          'unexpected quote inside a word: quote the whole value ("like this")',
        );
      }
      j++;
    }
    return j;
  };

  while (i < query.length) {
    const c = query[i]!;
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      out.push({ t: c === '(' ? 'lparen' : 'rparen', span: { start: i, end: i + 1 } });
      i++;
      continue;
    }
    if (c === '-') {
      const n = query[i + 1];
      if (n === undefined || isSpace(n) || n === ')') {
        throw new SearchQueryError(query, { start: i, end: i + 1 }, "a lone '-' negates nothing: write -key:value or -word");
      }
      out.push({ t: 'minus', span: { start: i, end: i + 1 } });
      i++;
      continue;
    }
    if (c === '"') {
      const q = quoted(i);
      out.push({ t: 'word', value: q.text, quoted: true, span: { start: i, end: q.next } });
      i = q.next;
      continue;
    }
    const key = KEY.exec(query.slice(i, i + 64))?.[0];
    const afterKey = key === undefined ? -1 : i + key.length;
    const opChar = afterKey >= 0 ? query[afterKey] : undefined;
    if (key !== undefined && (opChar === ':' || opChar === '<' || opChar === '>' || opChar === '=')) {
      // key, operator, value
      let opStart = afterKey;
      let j = afterKey;
      if (opChar === ':') {
        j++;
        // GitHub style `port:>=1000`
        const rest = query.slice(j, j + 2);
        const cmp = OPS.find((o) => o !== '=' && rest.startsWith(o));
        if (cmp !== undefined) {
          opStart = j;
          j += cmp.length;
        }
      } else {
        const rest = query.slice(j, j + 2);
        const cmp = OPS.find((o) => rest.startsWith(o))!;
        j += cmp.length;
      }
      const opText = query.slice(opStart, j);
      const op: CompareOp = opText === ':' ? '=' : (opText as CompareOp);
      const opSpan = { start: afterKey, end: j };
      let value: string;
      let isQuoted = false;
      let valueEnd: number;
      if (query[j] === '"') {
        const q = quoted(j);
        value = q.text;
        isQuoted = true;
        valueEnd = q.next;
      } else {
        valueEnd = bare(j);
        value = query.slice(j, valueEnd);
      }
      out.push({
        t: 'term',
        key,
        keySpan: { start: i, end: afterKey },
        op,
        opSpan,
        value,
        quoted: isQuoted,
        valueSpan: { start: j, end: valueEnd },
        span: { start: i, end: valueEnd },
      });
      i = valueEnd;
      continue;
    }
    const end = bare(i);
    const word = query.slice(i, end);
    const upper = word.toUpperCase();
    const span = { start: i, end };
    if (upper === 'OR') out.push({ t: 'or', span });
    else if (upper === 'AND') out.push({ t: 'and', span });
    else if (upper === 'NOT') out.push({ t: 'not', span });
    else out.push({ t: 'word', value: word, quoted: false, span });
    i = end;
  }
  out.push({ t: 'eof', span: { start: query.length, end: query.length + 1 } });
  return out;
}
