/**
 * The compiler's promises: user values only ever travel as bound parameters, LIKE patterns
 * escape their metacharacters, and (SQLite's EXPLAIN QUERY PLAN) typical terms are index
 * lookups rather than table scans.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { KyselyInventory } from '../kysely-store.js';
import type { InventoryDatabase } from '../tables.js';
import { planningInventory } from '../testing.js';
import { withHoneypotDefault } from './ast.js';
import { parseQuery } from './parser.js';
import { matching } from './run-search.js';
import { caseVariants, compileQuery, likePattern } from './to-kysely.js';

test('LIKE patterns: % _ and \\ are literal, * is the wildcard only when asked', () => {
  assert.equal(likePattern('100%_x\\y', false), '100\\%\\_x\\\\y');
  assert.equal(likePattern('orth*', true), 'orth%');
  assert.equal(likePattern('orth*', false), 'orth*');
  assert.equal(likePattern('*a_b*', true), '%a\\_b%');
});

const hostile = [
  `x' OR '1'='1`,
  'x"; DROP TABLE services; --',
  '50%_off',
  'robert\\"); --',
];

test('country codes match in any case through their four spellings', () => {
  assert.deepEqual(caseVariants('NL'), ['NL', 'nl', 'Nl', 'nL']);
  assert.deepEqual(caseVariants('de'), ['DE', 'de', 'De', 'dE']);
});

test('user values are bound parameters on both dialects, never SQL text', () => {
  const sqlite = new Kysely<InventoryDatabase>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) });
  // Compiling needs no connection: the pool is never asked for one.
  const postgres = new Kysely<InventoryDatabase>({ dialect: new PostgresDialect({ pool: new pg.Pool({ max: 1 }) }) });
  for (const [db, dialect] of [
    [sqlite, 'sqlite'],
    [postgres, 'postgres'],
  ] as const) {
    for (const v of hostile) {
      const quoted = v.replace(/["\\]/g, '\\$&');
      const q = `product:"${quoted}" vendor:"${quoted}*" "${quoted}" hostname:"${quoted}" version:"${quoted}" cpe:"${quoted}" org:"${quoted}" org:"*${quoted}"`;
      const pred = compileQuery(parseQuery(q), { now: 0, dialect });
      const compiled = matching(db, pred).selectAll().compile();
      for (const fragment of [v, `'1'='1`, 'DROP TABLE', '50%']) {
        assert.ok(!compiled.sql.includes(fragment), `"${fragment}" leaked into SQL: ${compiled.sql}`);
      }
      assert.ok(compiled.parameters.includes(v), `the value is a parameter: ${JSON.stringify(compiled.parameters)}`);
    }
    // The new keys' values travel as parameters too.
    const q = 'country:nl asn:AS1103 tag:site-* tag:icu risk:40-69 risk>=7 honeypot:true';
    const compiled = matching(db, compileQuery(parseQuery(q), { now: 0, dialect })).selectAll().compile();
    for (const v of ['NL', 'nl', 1103, 'site-%', 'icu', 40, 69, 7]) {
      assert.ok(compiled.parameters.includes(v), `${dialect}: ${JSON.stringify(v)} is a parameter: ${JSON.stringify(compiled.parameters)}`);
    }
    assert.ok(!/site|icu|1103|'nl'/i.test(compiled.sql), compiled.sql);
  }
  void sqlite.destroy();
  void postgres.destroy();
});

test('typical terms are index lookups on SQLite', async () => {
  const sqlite = new Database(':memory:');
  const db = new Kysely<InventoryDatabase>({ dialect: new SqliteDialect({ database: sqlite }) });
  const inv = new KyselyInventory(db, 'sqlite', ':memory:');
  try {
    await inv.migrate();
    /** The plan of `q` as a search runs it: with the default honeypot exclusion. */
    const plan = (q: string): string => {
      const ast = withHoneypotDefault(parseQuery(q), false);
      const compiled = matching(db, compileQuery(ast, { now: Date.parse('2026-11-15T00:00:00Z'), dialect: 'sqlite' }))
        .select('services.id')
        .compile();
      const rows = sqlite.prepare(`EXPLAIN QUERY PLAN ${compiled.sql}`).all(...(compiled.parameters as unknown[])) as { detail: string }[];
      return rows.map((r) => r.detail).join('\n');
    };
    const cases: [string, RegExp[]][] = [
      ['port:104', [/SEARCH services USING (COVERING )?INDEX services_port_idx/]],
      ['ip:127.77.0.0/16', [/SEARCH services USING (COVERING )?INDEX services_ip_key_port_idx/]],
      ['finding:dicom-any-ae', [/SEARCH findings USING COVERING INDEX findings_check_state_idx/]],
      ['devicetype:pacs', [/SEARCH assets USING (COVERING )?INDEX assets_device_type_idx/, /INDEX services_device_type_idx/]],
      ['product:orthanc', [/INDEX services_product_idx/, /INDEX assets_product_idx/]],
      ['vendor:offis', [/INDEX services_vendor_idx/, /INDEX assets_vendor_idx/]],
      ['lastseen>7d', [/SEARCH services USING (COVERING )?INDEX services_last_seen_idx/]],
      ['firstseen<2026-01-01', [/SEARCH services USING (COVERING )?INDEX services_first_seen_idx/]],
      // Severity is services.active_severity (migrations/0008): no findings are read.
      ['severity>=high', [/SEARCH services USING (COVERING )?INDEX services_active_severity_idx \(active_severity>\?\)/]],
      ['severity:none', [/SEARCH services USING (COVERING )?INDEX services_active_severity_idx \(active_severity=\?\)/]],
      ['-finding:* port:104', [/SEARCH services USING (COVERING )?INDEX services_(port|active_severity)_idx/]],
      ['country:NL', [/SEARCH assets USING (COVERING )?INDEX assets_country_idx \(country=\?\)/]],
      ['asn:AS1103', [/SEARCH assets USING (COVERING )?INDEX assets_asn_idx \(asn=\?\)/]],
      ['tag:radiology', [/SEARCH asset_tags USING COVERING INDEX asset_tags_tag_idx \(tag=\?\)/]],
      ['risk>=70', [/SEARCH services USING (COVERING )?INDEX services_risk_order_idx \(risk>\?\)/]],
      ['risk:40-69', [/SEARCH services USING (COVERING )?INDEX services_risk_order_idx \(risk>\? AND risk<\?\)/]],
      // Explicit honeypot:true: the honeypots' ids drive the services lookup by host.
      ['honeypot:true', [/SEARCH services USING (COVERING )?INDEX services_asset_identity_idx \(asset_id=\?\)/]],
    ];
    for (const [q, wants] of cases) {
      const p = plan(q);
      for (const want of wants) assert.match(p, want, `${q}:\n${p}`);
      assert.ok(!/SCAN services\b/.test(p), `${q} scans services:\n${p}`);
      // The default exclusion is the short list of honeypot hosts, built once: never the driver.
      if (!q.startsWith('honeypot:')) assert.match(p, /LIST SUBQUERY \d+\n.*SCAN assets/, `${q}:\n${p}`);
      if (/^(severity|-finding:\*)/.test(q)) assert.ok(!/findings/.test(p), `${q} reads findings:\n${p}`);
    }
  } finally {
    await inv.close();
  }
});

test('severity sort and page severities read no findings; finishRun looks findings up by service_id on SQLite', async () => {
  const { inv, plans: all } = await planningInventory({
    asset: { deviceType: 'mri', evidence: [] },
    findings: [{ id: 'dicom-any-ae', severity: 'high', title: 't', confidence: 'confirmed' }],
    checksRun: ['dicom-any-ae'],
  });
  try {
    const plans = async (call: () => Promise<unknown>): Promise<string> =>
      (await all(call))
        .filter((q) => q.sql.includes('"findings"'))
        .map((q) => q.plan)
        .join('\n---\n');
    // The severity of a service is services.active_severity (migrations/0008), kept by the store.
    const sorted = await inv.search('devicetype:mri', { sort: '-severity' });
    assert.equal(sorted.rows[0]?.ip, '127.77.0.10');
    assert.equal(await plans(() => inv.search('devicetype:mri', { sort: '-severity' })), '');
    assert.equal(await plans(() => inv.search('devicetype:mri', { sort: '-severity', assets: true })), '');
    const finish = await plans(() => inv.finishRun('r-1', 'completed', { stats: {} }));
    assert.match(finish, /SEARCH findings USING (COVERING )?INDEX findings_service_state_idx \(service_id=\? AND state=\?\)/, finish);
    // The recount of active_severity after a state change: one correlated lookup per service, by its id.
    const triage = await plans(() => inv.setUserState(1, 'accepted-risk'));
    assert.match(triage, /CORRELATED SCALAR SUBQUERY \d+\nSEARCH findings USING COVERING INDEX findings_service_state_idx \(service_id=\? AND state=\?/, triage);
    for (const p of [finish, triage]) assert.ok(!/findings USING .*INDEX findings_state_idx \(state=\?\)\n.*CORRELATED/.test(p), p);
  } finally {
    await inv.close();
  }
});

test('the honeypot exclusion reaches the SQL only when some host is flagged', async () => {
  const { inv, db, plans } = await planningInventory();
  try {
    await inv.recordService('r-1', { ip: '127.77.0.11', port: 104, protocol: 'dicom', status: 'success', timestamp: '2026-11-01T00:00:00.000Z', findings: [], data: {} });
    /** Statements a call sends that test the honeypot flag, and its answer. */
    const run = async (call: () => Promise<{ total: number | null; honeypotsExcluded: boolean }>) => {
      let r: { total: number | null; honeypotsExcluded: boolean } = { total: null, honeypotsExcluded: false };
      const sent = await plans(async () => {
        r = await call();
      });
      return { total: r.total, excluded: r.honeypotsExcluded, filtered: sent.filter((q) => q.sql.includes('"honeypot" = ')).length };
    };
    // Nothing flagged: one early-stopping lookup, then plain statements.
    assert.deepEqual(await run(() => inv.search('port:104')), { total: 2, excluded: true, filtered: 1 });
    assert.deepEqual(await run(() => inv.facets('port:104', 'port')), { total: 2, excluded: true, filtered: 1 });
    await db.updateTable('assets').set({ honeypot: 1 }).where('ip', '=', '127.77.0.11').execute();
    const flagged = await run(() => inv.search('port:104'));
    assert.equal(flagged.total, 1);
    assert.ok(flagged.filtered >= 3, `the page and the count carry the exclusion (${flagged.filtered} statements)`);
    assert.deepEqual(await run(() => inv.search('port:104', { includeHoneypots: true })), { total: 2, excluded: false, filtered: 0 });
    assert.deepEqual(await run(() => inv.facets('port:104 honeypot:*', 'port')), { total: 2, excluded: false, filtered: 0 });
  } finally {
    await inv.close();
  }
});

test('riskiest first is read in index order; the host half of a device type facet reads no service rows (SQLite)', async () => {
  const { inv, plans: all } = await planningInventory({ asset: { deviceType: 'mri', evidence: [] } });
  try {
    const plans = async (call: () => Promise<unknown>): Promise<string[]> => (await all(call)).map((q) => q.plan);
    const page = (await plans(() => inv.search('', { sort: '-risk', total: false }))).find((p) => /services_risk_order_idx/.test(p));
    assert.ok(page !== undefined && !/TEMP B-TREE/.test(page), `the page is read in index order:\n${page}`);
    const facet = (await plans(() => inv.facets('', 'devicetype'))).find((p) => /SEARCH s(ervices)? USING .*asset_id=/.test(p));
    assert.match(facet ?? '', /SEARCH services USING COVERING INDEX services_asset_identity_idx \(asset_id=\?\)/, facet);
  } finally {
    await inv.close();
  }
});

test('hosts of the empty query are walked by the host index; hosts of a query with conditions are grouped (SQLite)', async () => {
  const { inv, plans } = await planningInventory({ asset: { deviceType: 'mri', evidence: [] } });
  try {
    const walked = await plans(() => inv.search('', { assets: true, total: false, includeHoneypots: true }));
    const page = walked.find((q) => /exists/i.test(q.sql));
    assert.ok(page, 'the empty query walks the hosts');
    assert.match(page.plan, /SCAN assets USING INDEX assets_ip_key_idx[\s\S]*SEARCH services USING COVERING INDEX services_asset_identity_idx \(asset_id=\?\)/, page.plan);
    // A per-host lookup through a condition's index ran 82 s at 1.2 M services: never walked.
    const grouped = await plans(() => inv.search('protocol:hl7 firstseen<30d', { assets: true, now: Date.parse('2026-11-15T00:00:00Z') }));
    assert.ok(!grouped.some((q) => /exists/i.test(q.sql)), grouped.map((q) => q.sql).join('\n'));
  } finally {
    await inv.close();
  }
});
