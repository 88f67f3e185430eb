/**
 * Organisation scoping of queries: the restriction is ANDed in the search language, checked by
 * re-parsing, for any organisation name (quotes, backslashes, wildcards, parentheses) and any
 * user query; a query that would change the meaning of the combination is refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { parseQuery, type QueryNode, SearchQueryError } from '../inventory/search/index.js';
import { orgClause, orgVisible, quoteSearchValue, scopedQuery } from './scope.js';
import { addUser, as, login, type TestServer, testServer } from './test-support.js';

const NASTY = ['Plain Org', 'Quote " Org', 'Back\\slash', 'Star * Org', 'Paren ) OR (port:1', 'org:"x"', '-neg', 'OR', 'Ünïcödé Klinik'];

describe('scopedQuery', () => {
  test('an unrestricted user runs the query as given', () => {
    assert.equal(scopedQuery({ orgs: null }, 'port:104'), 'port:104');
    assert.equal(scopedQuery(null, ''), '');
  });

  test('the restriction is one AND term over exact (quoted) organisation names', () => {
    const q = scopedQuery({ orgs: NASTY }, 'port:104 OR port:11112');
    const ast = parseQuery(q);
    assert.equal(ast.type, 'and');
    if (ast.type !== 'and') return;
    assert.equal(ast.children.length, 2);
    assert.equal(ast.children[0]!.type, 'or', 'the user query stays one group');
    const orgs = ast.children[1]!;
    assert.equal(orgs.type, 'or');
    if (orgs.type !== 'or') return;
    const values = orgs.children.map((c) => (c.type === 'term' && c.values[0]?.kind === 'text' ? [c.field, c.values[0].pattern, c.values[0].wildcard] : null));
    assert.deepEqual(values, NASTY.map((o) => ['org', o, false]));
  });

  test('a single organisation and an empty query', () => {
    const ast = parseQuery(scopedQuery({ orgs: ['Alpha Hospital'] }, ''));
    assert.equal(ast.type, 'term');
  });

  test('queries that cannot be parenthesised are refused, never run unscoped', () => {
    for (const q of ['port:104) OR (port:1', 'port:104 OR', '"unclosed', '(port:104']) {
      assert.throws(() => scopedQuery({ orgs: ['A'] }, q), SearchQueryError, q);
    }
  });

  test('any query: the combination means "user query AND organisation"', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.array(fc.string({ minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 3 }), (q, orgs) => {
        let own: QueryNode;
        try {
          own = parseQuery(q);
        } catch {
          return; // Refused anyway.
        }
        let combined: string;
        try {
          combined = scopedQuery({ orgs }, q);
        } catch {
          return; // Refusing is always safe.
        }
        const ast = parseQuery(combined);
        const strip = (n: unknown) => JSON.stringify(n, (k, v) => (k === 'span' || k === 'keySpan' ? undefined : v));
        const restriction = parseQuery(orgClause(orgs)!);
        if (own.type === 'all') assert.equal(strip(ast), strip(restriction));
        else assert.equal(strip(ast), strip({ type: 'and', children: [own, restriction] }));
      }),
      { numRuns: 500 },
    );
  });

  test('quoting round-trips through the lexer', () => {
    for (const o of NASTY) {
      const ast = parseQuery(`org:${quoteSearchValue(o)}`);
      assert.ok(ast.type === 'term' && ast.values[0]?.kind === 'text' && ast.values[0].pattern === o, o);
    }
  });

  test('orgVisible compares case-insensitively; unattributed hosts are outside every scope', () => {
    assert.equal(orgVisible({ orgs: ['Alpha Hospital'] }, 'ALPHA HOSPITAL'), true);
    assert.equal(orgVisible({ orgs: ['Alpha Hospital'] }, 'Beta'), false);
    assert.equal(orgVisible({ orgs: ['Alpha Hospital'] }, null), false);
    assert.equal(orgVisible({ orgs: null }, null), true);
  });
});

describe('organisation names with search-language syntax, end to end', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ loginRateMax: 1000 });
    const at = new Date().toISOString();
    await t.inv.createRun({ id: 'r-1', profile: 'safe', targets: ['127.217.201.0/24'], options: {}, totalTargets: 2 });
    const attr = (org: string) => ({ country: null, asn: null, asOrg: null, org, orgSource: 'orgs' as const });
    await t.inv.recordServices('r-1', [
      { ip: '127.217.201.1', port: 104, protocol: 'dicom', status: 'success', timestamp: at, attribution: attr('Star * Org'), findings: [], data: {} },
      { ip: '127.217.201.2', port: 104, protocol: 'dicom', status: 'success', timestamp: at, attribution: attr('Star X Org'), findings: [], data: {} },
      { ip: '127.217.201.3', port: 104, protocol: 'dicom', status: 'success', timestamp: at, attribution: attr('Quote " Org'), findings: [], data: {} },
    ]);
    await addUser(t, 'star', 'viewer', { orgs: ['Star * Org'] });
    await addUser(t, 'quote', 'viewer', { orgs: ['Quote " Org'] });
  });
  after(async () => {
    await t?.close();
  });

  test('a "*" in an organisation name is literal, not a wildcard', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/services', headers: as(await login(t, 'star')) });
    assert.deepEqual((res.json() as { rows: { ip: string }[] }).rows.map((r) => r.ip), ['127.217.201.1']);
    const q = await t.app.inject({ method: 'GET', url: '/api/v1/services', headers: as(await login(t, 'quote')) });
    assert.deepEqual((q.json() as { rows: { ip: string }[] }).rows.map((r) => r.ip), ['127.217.201.3']);
  });
});
