/**
 * The search language's lexer and parser: the trees it builds (precedence, negation, quoting,
 * comparisons, lists, ranges) and, for malformed queries, the error and the position it points
 * at; and the default honeypot exclusion added to a parsed tree.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type FieldValue, mentionsField, type QueryNode, SEARCH_LIMITS, SearchQueryError, withHoneypotDefault } from './ast.js';
import { parseQuery } from './parser.js';

function value(v: FieldValue): string {
  switch (v.kind) {
    case 'any':
      return '*';
    case 'ip':
      return `[${v.lo}..${v.hi}]`;
    case 'int':
      return String(v.value);
    case 'range':
      return `${v.lo}..${v.hi}`;
    case 'bool':
      return String(v.value);
    case 'enum':
      return v.value;
    case 'text':
      return `${JSON.stringify(v.pattern)}${v.wildcard ? '~' : ''}`;
    case 'time':
      return v.time.kind === 'ago' ? `ago(${v.time.ms / 3_600_000}h)` : v.time.kind === 'day' ? `day(${v.time.start.slice(0, 10)})` : `at(${v.time.at})`;
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
    ['country:NL tag:radiology', '(and country=NL tag="radiology")'],
    ['country:nl,De', 'country=NL|DE'],
    ['country:*', 'country=*'],
    ['asn:AS1103', 'asn=1103'],
    ['asn:as1103,3320', 'asn=1103|3320'],
    ['asn:4294967295', 'asn=4294967295'],
    ['org:"Example Hospital"', 'org="Example Hospital"'],
    ['org:*clinic*', 'org="*clinic*"~'],
    ['tag:Radiology', 'tag="radiology"'],
    ['tag:site-*,icu', 'tag="site-*"~|"icu"'],
    ['tag:"a.b:c_d"', 'tag="a.b:c_d"'],
    ['risk>=70', 'risk>=70'],
    ['risk:0', 'risk=0'],
    ['risk:40-69', 'risk=40..69'],
    ['risk:0,90-100', 'risk=0|90..100'],
    ['port:1-1023', 'port=1..1023'],
    ['honeypot:true', 'honeypot=true'],
    ['-honeypot:FALSE', '(not honeypot=false)'],
    ['honeypot:*', 'honeypot=*'],
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
    fails('product>orthanc', 7, /product takes no comparison ">": .*\(comparisons work on port, severity, lastseen, firstseen, risk\)/, 1);
    fails('country>NL', 7, /country takes no comparison/);
    fails('asn>=1000', 3, /asn takes no comparison ">="/);
    fails('honeypot>false', 8, /honeypot takes no comparison/);
    fails('tag<x', 3, /tag takes no comparison/);
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
    fails('country:NLD', 8, /"NLD" is not a two-letter country code/, 3);
    fails('country:N1', 8, /not a two-letter country code/);
    fails('country:"N L"', 8, /not a two-letter country code/);
    fails('asn:ASX', 4, /"ASX" is not an autonomous system number/);
    fails('asn:4294967296', 4, /not an autonomous system number/);
    fails('asn:AS-1', 4, /not an autonomous system number/);
    fails('tag:Bad/Tag', 4, /"Bad\/Tag" is not a tag/);
    fails('tag:"site-*"', 4, /is not a tag/);
    fails('tag:-x', 4, /is not a tag/);
    fails('honeypot:maybe', 9, /"maybe" is not true or false/);
  });
  test('numbers out of range, and ranges', () => {
    fails('risk:101', 5, /^risk: "101" is not a risk score \(0-100\)$/, 3);
    fails('risk>=abc', 6, /"abc" is not a risk score/);
    fails('risk:-1', 5, /not a risk score/);
    fails('risk:69-40', 5, /the range 69-40 is empty/);
    fails('risk>=40-69', 6, /a range takes no comparison/);
    fails('risk:40-101', 5, /not a risk score/);
    fails('port:0-80', 5, /"0-80" is not a port number \(1-65535\)/);
    fails('risk:1,,2', 7, /empty value in a comma list/);
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

describe('honeypots are left out unless the query names honeypot: or the caller includes them', () => {
  const run = (q: string, include = false): string => show(withHoneypotDefault(parseQuery(q), include));
  test('added to queries without a honeypot: term', () => {
    assert.equal(run(''), 'honeypot=false');
    assert.equal(run('port:104'), '(and port=104 honeypot=false)');
    assert.equal(run('port:104 OR tag:icu'), '(and (or port=104 tag="icu") honeypot=false)');
    assert.equal(run('"honeypot" honeypot'), '(and (and text:"honeypot"! text:"honeypot") honeypot=false)', 'free text is no honeypot: term');
  });
  test('a honeypot: term anywhere decides alone', () => {
    assert.equal(run('honeypot:true'), 'honeypot=true');
    assert.equal(run('port:104 -(vendor:acme OR honeypot:true)'), '(and port=104 (not (or vendor="acme" honeypot=true)))');
    assert.equal(run('honeypot:*'), 'honeypot=*');
    assert.equal(run('port:104 OR honeypot:false'), '(or port=104 honeypot=false)');
  });
  test('includeHoneypots leaves the tree as parsed', () => {
    assert.equal(run('port:104', true), 'port=104');
    assert.equal(run('', true), '(all)');
  });
  test('mentionsField looks through every level', () => {
    assert.equal(mentionsField(parseQuery('a (b OR -(c risk>1))'), 'risk'), true);
    assert.equal(mentionsField(parseQuery('a (b OR -(c port>1))'), 'risk'), false);
  });
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
  const alphabet = fc.constantFrom(...'port:104 ()"\\-*,<>=OR AND NOT product:orth ip:::1/ lastseen>7d severity>=high risk:40-69 asn:AS1 country:nl tag:a.b honeypot:true x'.split(''));
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
