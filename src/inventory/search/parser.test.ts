/**
 * The search language's lexer and parser: the trees it builds (precedence, negation, quoting,
 * comparisons, lists) and, for malformed queries, the error and the position it points at.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type FieldValue, type QueryNode, SEARCH_LIMITS, SearchQueryError } from './ast.js';
import { parseQuery } from './parser.js';
import { assertCompilable } from './to-kysely.js';

function value(v: FieldValue): string {
  switch (v.kind) {
    case 'any':
      return '*';
    case 'ip':
      return `[${v.lo}..${v.hi}]`;
    case 'int':
      return String(v.value);
    case 'enum':
      return v.value;
    case 'text':
      return `${JSON.stringify(v.pattern)}${v.wildcard ? '~' : ''}`;
    case 'time':
      return v.time.kind === 'ago' ? `ago(${v.time.ms / 3_600_000}h)` : v.time.kind === 'day' ? `day(${v.time.start.slice(0, 10)})` : `at(${v.time.at})`;
    case 'raw':
      return `raw(${v.value})`;
  }
}

/** The tree as an S-expression: `(and port=104 (not vendor="acme"))`. */
function show(n: QueryNode): string {
  switch (n.type) {
    case 'all':
      return '(all)';
    case 'and':
    case 'or':
      return `(${n.type} ${n.children.map(show).join(' ')})`;
    case 'not':
      return `(not ${show(n.child)})`;
    case 'text':
      return `text:${JSON.stringify(n.pattern)}${n.wildcard ? '' : '!'}`;
    case 'term':
      return `${n.field}${n.op}${n.values.map(value).join('|')}`;
  }
}

const p = (q: string): string => show(parseQuery(q));

describe('parse trees', () => {
  const cases: [string, string][] = [
    ['', '(all)'],
    ['   ', '(all)'],
    ['port:104', 'port=104'],
    ['product:orthanc port:4242', '(and product="orthanc" port=4242)'],
    ['port:104 OR port:4242 product:dcmtk', '(or port=104 (and port=4242 product="dcmtk"))'],
    ['(port:104 OR port:4242) product:dcmtk', '(and (or port=104 port=4242) product="dcmtk")'],
    ['port:104 or port:4242', '(or port=104 port=4242)'],
    ['port:104 AND product:dcmtk', '(and port=104 product="dcmtk")'],
    ['-vendor:acme', '(not vendor="acme")'],
    ['NOT vendor:acme port:104', '(and (not vendor="acme") port=104)'],
    ['-(port:104 OR port:4242)', '(not (or port=104 port=4242))'],
    ['--port:104', '(not (not port=104))'],
    ['-"free text" orth*', '(and (not text:"free text"!) text:"orth*")'],
    ['product:"HAPI FHIR"', 'product="HAPI FHIR"'],
    ['"say \\"hi\\" \\\\ ok"', 'text:"say \\"hi\\" \\\\ ok"!'],
    ['product:orth*', 'product="orth*"~'],
    ['product:"orth*"', 'product="orth*"'],
    ['Product:Orthanc', 'product="Orthanc"'],
    ['port>=1000', 'port>=1000'],
    ['port:>=1000 port<2000', '(and port>=1000 port<2000)'],
    ['port=104', 'port=104'],
    ['port:104,4242,11112', 'port=104|4242|11112'],
    ['severity>=high', 'severity>=high'],
    ['severity:HIGH,critical', 'severity=high|critical'],
    ['devicetype:pacs', 'devicetype=pacs'],
    ['device:mri', 'devicetype=mri'],
    ['protocol:dicom,hl7', 'protocol=dicom|hl7'],
    ['state:accepted-risk', 'state=accepted-risk'],
    ['status:protocol-error', 'status=protocol-error'],
    ['finding:dicom-any-ae', 'finding="dicom-any-ae"'],
    ['vuln:cve-2024-1234', 'finding="CVE-2024-1234"'],
    ['finding:DICOM-*', 'finding="dicom-*"~'],
    ['finding:dicom-any-ae,dicom-no-tls', 'finding="dicom-any-ae"|"dicom-no-tls"'],
    ['ip:127.77.0.0/16', 'ip=[4:7f4d0000..4:7f4dffff]'],
    ['net:127.77.0.10', 'ip=[4:7f4d000a..4:7f4d000a]'],
    ['ip:::1', 'ip=[6:00000000000000000000000000000001..6:00000000000000000000000000000001]'],
    ['cpe:cpe:2.3:a:offis:dcmtk:3.6.7:*', 'cpe="cpe:2.3:a:offis:dcmtk:3.6.7:*"~'],
    ['version:3.6.7', 'version="3.6.7"'],
    ['lastseen>2026-11-01', 'lastseen>day(2026-11-01)'],
    ['lastseen:2026-11-01', 'lastseen=day(2026-11-01)'],
    ['lastseen>7d firstseen<2w', '(and lastseen>ago(168h) firstseen<ago(336h))'],
    ['lastseen>=12h', 'lastseen>=ago(12h)'],
    ['lastseen<2026-11-01T08:30:00Z', 'lastseen<at(2026-11-01T08:30:00.000Z)'],
    ['lastseen<2026-11-01T10:30+02:00', 'lastseen<at(2026-11-01T08:30:00.000Z)'],
    ['lastseen<2026-11-01T08:30:15.5', 'lastseen<at(2026-11-01T08:30:15.500Z)'],
    ['product:* -version:*', '(and product=* (not version=*))'],
    ['country:NL tag:radiology', '(and country=raw(NL) tag=raw(radiology))'],
    ['hostname:*.example.org', 'hostname="*.example.org"~'],
    ['12:30', 'text:"12:30"'],
    ['ORTHANC', 'text:"ORTHANC"'],
    ['"OR"', 'text:"OR"!'],
  ];
  for (const [q, want] of cases) {
    test(JSON.stringify(q), () => assert.equal(p(q), want));
  }

  test('spans cover the terms', () => {
    const n = parseQuery('port:104  -vendor:acme');
    assert.equal(n.type, 'and');
    if (n.type !== 'and') return;
    assert.deepEqual(n.children[0]?.span, { start: 0, end: 8 });
    assert.deepEqual(n.children[1]?.span, { start: 10, end: 22 });
    const t = n.children[1]?.type === 'not' ? n.children[1].child : undefined;
    assert.deepEqual(t?.type === 'term' ? t.keySpan : undefined, { start: 11, end: 17 });
  });
});

/** Asserts that `query` fails with `reason` matching, pointing at `position` (0-based) over `length` characters. */
function fails(query: string, position: number, reason: RegExp, length?: number): void {
  let err: unknown;
  try {
    parseQuery(query);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof SearchQueryError, `${JSON.stringify(query)} should fail, got ${String(err)}`);
  assert.match(err.reason, reason);
  assert.equal(err.position, position, `position of: ${err.message}`);
  if (length !== undefined) assert.equal(err.length, length, `length of: ${err.message}`);
  // The message names the column and shows the caret under the token.
  assert.ok(err.message.includes(`(at column ${position + 1})`), err.message);
  if (query.length <= 120) {
    const lines = err.message.split('\n');
    assert.equal(lines[1], `  ${query}`);
    assert.equal(lines[2]!.indexOf('^'), 2 + position, `caret line:\n${err.message}`);
  }
}

describe('malformed queries point at the bad token', () => {
  test('unclosed quote, in a value and in free text', () => {
    fails('product:"orthanc port:104', 8, /unclosed quote/, 1);
    fails('port:104 "free text', 9, /unclosed quote/);
    fails('"', 0, /unclosed quote/);
  });
  test('dangling and leading operators', () => {
    fails('port:104 OR', 9, /OR needs a term after it/, 2);
    fails('port:104 OR )', 9, /OR needs a term after it/);
    fails('port:104 OR OR port:1', 9, /OR needs a term after it/);
    fails('OR port:104', 0, /OR needs a term before it/);
    fails('(OR port:104)', 1, /OR needs a term before it/);
    fails('port:104 AND', 9, /AND needs a term after it/, 3);
    fails('NOT', 0, /NOT needs a term after it/);
    fails('port:104 NOT', 9, /NOT needs a term after it/);
    fails('port:104 -', 9, /lone '-'/);
    fails('port:104 - product:x', 9, /lone '-'/);
  });
  test('unknown key, with a suggestion', () => {
    fails('port:104 prodcut:orthanc', 9, /unknown key "prodcut"; did you mean "product"\?/, 7);
    fails('http://pacs.example', 0, /unknown key "http".*quote text that contains a colon/);
    fails('colour:red', 0, /unknown key "colour"/);
  });
  test('bad comparison values', () => {
    fails('port>=abc', 6, /"abc" is not a port number/, 3);
    fails('port:70000', 5, /not a port number/);
    fails('port:0', 5, /not a port number/);
    fails('port:104,,4242', 9, /empty value in a comma list/);
    fails('port:104,x', 9, /"x" is not a port number/);
    fails('lastseen>2026-13-01', 9, /not a calendar date/);
    fails('lastseen>2026-02-30', 9, /not a calendar date/);
    fails('lastseen>yesterday', 9, /not a date \(2026-11-01\), a UTC time .* or an age/);
    fails('lastseen>7m', 9, /unknown unit; use h \(hours\), d \(days\) or w \(weeks\)/);
    fails('lastseen:7d', 9, /is a moment, not a period/);
    fails('firstseen>999999w', 10, /more than 100 years/);
    fails('severity>=hgih', 10, /"hgih" is not one of none, info, low, medium, high, critical; did you mean "high"\?/);
    fails('lastseen>*', 9, /compares with nothing/);
  });
  test('comparisons on fields that have no order', () => {
    fails('product>orthanc', 7, /product takes no comparison ">"/, 1);
    fails('version>=3.6', 7, /version takes no comparison ">="/, 2);
    fails('devicetype:>pacs', 10, /devicetype takes no comparison/);
  });
  test('values outside a field’s vocabulary', () => {
    fails('devicetype:pcas', 11, /"pcas" is not one of .*did you mean "pacs"\?/);
    fails('protocol:smtp', 9, /"smtp" is not one of dicom, hl7/);
    fails('state:closed', 6, /is not one of open, resolved/);
    fails('ip:300.1.1.1', 3, /not an IP address or CIDR prefix/);
    fails('ip:127.0.0.0/33', 3, /not an IP address or CIDR prefix/);
    fails('finding:dicom/any-ae', 8, /"dicom\/any-ae" is not a finding id/);
  });
  test('missing values', () => {
    fails('product: port:104', 8, /product: needs a value/);
    fails('port:(104 OR 4242)', 5, /needs a value \(for several values write key:a,b/);
    fails('port>=', 6, /port>= needs a value/);
    fails('product:""', 8, /product: needs a value/);
  });
  test('parentheses', () => {
    fails('port:104)', 8, /unmatched '\)'/);
    fails('(port:104', 0, /unclosed '\('/);
    fails('((port:104)', 0, /unclosed '\('/);
    fails('()', 0, /empty parentheses/, 2);
    fails('(', 0, /unclosed '\('/);
  });
  test('quotes in the wrong place', () => {
    fails('"abc"def', 5, /closing quote must be followed by a space/);
    fails('product:"a"b', 11, /closing quote must be followed by a space/);
    fails('foo"bar', 3, /unexpected quote inside a word/);
    fails('finding:"dicom-*"', 8, /not a finding id/);
  });
  test('limits', () => {
    const long = `port:104 ${'x'.repeat(SEARCH_LIMITS.queryChars)}`;
    fails(long, SEARCH_LIMITS.queryChars, /longer than 4096 characters/);
    fails(`${'('.repeat(40)}port:104${')'.repeat(40)}`, SEARCH_LIMITS.depth, /nested deeper than 32/);
    fails(`${'-'.repeat(40)}port:104`, SEARCH_LIMITS.depth, /nested deeper than 32/);
    const words = Array.from({ length: SEARCH_LIMITS.terms + 1 }, (_, i) => `w${i}`).join(' ');
    fails(words, words.lastIndexOf(' ') + 1, /more than 128 terms/);
    fails(`product:${'a'.repeat(SEARCH_LIMITS.valueChars + 1)}`, 8, /value longer than 512 characters/);
  });
});

test('keys without data yet parse, and fail to compile pointing at the key', () => {
  const q = 'port:104 country:NL';
  const ast = parseQuery(q);
  assert.throws(
    () => assertCompilable(ast, q),
    (e: unknown) =>
      e instanceof SearchQueryError && e.position === 9 && e.length === 7 && /country: is not available yet; it needs attribution/.test(e.reason),
  );
  assert.throws(() => assertCompilable(parseQuery('-(tag:radiology)'), '-(tag:radiology)'), /tag: is not available yet; it needs asset tags/);
});

test('a long query shows the part around the bad token', () => {
  const q = `${'port:104 '.repeat(30)}prodcut:x ${'port:104 '.repeat(30)}`;
  try {
    parseQuery(q);
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof SearchQueryError);
    const [, shown, caret] = e.message.split('\n');
    assert.ok(shown!.startsWith('  ...') && shown!.endsWith('...'), shown);
    assert.equal(shown!.slice(caret!.indexOf('^'), caret!.indexOf('^') + 7), 'prodcut');
  }
});

test('any input either parses or fails with a SearchQueryError inside the query', () => {
  const alphabet = fc.constantFrom(...'port:104 ()"\\-*,<>=OR AND NOT product:orth ip:::1/ lastseen>7d severity>=high x'.split(''));
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.array(alphabet, { maxLength: 60 }).map((a) => a.join(''))), (q) => {
      try {
        parseQuery(q);
      } catch (e) {
        if (!(e instanceof SearchQueryError)) throw e;
        assert.ok(e.position >= 0 && e.position <= q.length, `position ${e.position} in ${JSON.stringify(q)}`);
        assert.ok(e.length >= 1);
      }
    }),
    { numRuns: 3000 },
  );
});
