/**
 * ZMap output: the default `saddr`-only file (ports given by the user), the CSV header shapes
 * of ZMap 1.x to 4 (fixtures/README.md), multi-port files with blank columns and ICMP rows,
 * JSON lines; SYN-ACKs kept, resets and failures counted; errors name the line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DiscoveryFormatError } from './errors.js';
import { loadDiscovered, parseDiscovered } from './load.js';
import { fixture, pairs } from './testing.js';
import { textSource } from './text-source.js';
import { splitCsvRow } from './zmap.js';

test('default output (saddr only, no header): each address paired with the ports ZMap scanned', async () => {
  const { endpoints, report } = await loadDiscovered('zmap', fixture('zmap-default.csv'), { ports: [104, 11112] });
  assert.deepEqual(pairs(endpoints), [
    '127.81.0.5|104',
    '127.81.0.5|11112',
    '127.81.0.6|104',
    '127.81.0.6|11112',
    '127.81.0.9|104',
    '127.81.0.9|11112',
  ]);
  assert.equal(report.format, 'zmap-csv');
  assert.equal(report.records, 4);
  assert.equal(report.duplicates, 2);
  assert.equal(report.complete, true);
  /* ZMap versions that wrote the header even for one field (module_csv.c `fieldlens > 0`). */
  const headed = await parseDiscovered('zmap', textSource('h', 'saddr\n127.81.0.5\n'), { ports: [104] });
  assert.deepEqual(pairs(headed.endpoints), ['127.81.0.5|104']);
});

test('without the ports ZMap scanned, an output that names none is refused', async () => {
  await assert.rejects(loadDiscovered('zmap', fixture('zmap-default.csv')), (err: unknown) => {
    assert.ok(err instanceof DiscoveryFormatError);
    assert.match(err.message, /zmap-default\.csv:1: the ZMap output has no "sport" field.*-p/);
    return true;
  });
  await assert.rejects(parseDiscovered('zmap', textSource('h.csv', 'saddr,classification\n127.81.0.5,synack\n')), /h\.csv:1: the ZMap output has no "sport"/);
});

test('header row: synack rows kept, rst and repeats not; sport is the port', async () => {
  const { endpoints, report } = await loadDiscovered('zmap', fixture('zmap-4-fields.csv'));
  assert.deepEqual(pairs(endpoints), ['127.81.0.5|104', '127.81.0.6|11112', '127.81.0.9|2575']);
  assert.equal(report.records, 5);
  assert.equal(report.duplicates, 1);
  assert.deepEqual(report.skipped, { rst: 1 });
});

test('ZMap 1.x ", " separators and the multi-port output with blank columns and ICMP rows', async () => {
  const old = await loadDiscovered('zmap', fixture('zmap-1x.csv'));
  assert.deepEqual(pairs(old.endpoints), ['127.81.0.5|104', '127.81.0.6|104']);
  const multi = await loadDiscovered('zmap', fixture('zmap-multiport.csv'));
  assert.deepEqual(pairs(multi.endpoints), ['127.81.0.5|104', '127.81.0.6|11112']);
  assert.deepEqual(multi.report.skipped, { 'no-port': 1 });
});

test('JSON lines (-O json)', async () => {
  const { endpoints, report } = await loadDiscovered('zmap', fixture('zmap.json'));
  assert.deepEqual(pairs(endpoints), ['127.81.0.5|104', '127.81.0.6|11112']);
  assert.equal(report.format, 'zmap-json');
  assert.deepEqual(report.skipped, { rst: 1 });
  const noPort = await parseDiscovered('zmap', textSource('j', '{"saddr":"127.81.0.5"}\n'), { ports: [104] });
  assert.deepEqual(pairs(noPort.endpoints), ['127.81.0.5|104']);
});

test('success without classification decides alone; an unknown classification is not kept', async () => {
  const r = await parseDiscovered('zmap', textSource('s', 'saddr,sport,success\n127.81.0.5,104,1\n127.81.0.6,104,0\n'));
  assert.deepEqual(pairs(r.endpoints), ['127.81.0.5|104']);
  assert.deepEqual(r.report.skipped, { 'not-success': 1 });
  const c = await parseDiscovered('zmap', textSource('c', 'saddr,sport,classification\n127.81.0.5,104,icmp\n127.81.0.6,104,"x,y"\n'));
  assert.equal(c.endpoints.size, 0);
  assert.deepEqual(c.report.skipped, { icmp: 1, 'classification-other': 1 });
});

test('errors name the line', async () => {
  const bad = async (text: string, pattern: RegExp, opts = {}) =>
    assert.rejects(parseDiscovered('zmap', textSource('z.csv', text), opts), (err: unknown) => {
      assert.ok(err instanceof DiscoveryFormatError, String(err));
      assert.match(err.message, pattern);
      return true;
    });
  await bad('saddr,sport\n127.81.0.5,104\n127.81.0.6\n', /^z\.csv:3: 1 fields where the first row has 2/);
  await bad('saddr,sport\n127.81.0.5,104\n127.81.0.6,99999\n', /^z\.csv:3: bad port "99999"/);
  await bad('saddr,sport\n127.81.0.500,104\n', /^z\.csv:2: bad address "127\.81\.0\.500"/);
  await bad('127.81.0.5,104\n', /^z\.csv:1: ZMap CSV without a header row/);
  await bad('saddr,sport\n"127.81.0.5,104\n', /^z\.csv:2: unterminated quoted field/);
  await bad('127.81.0.5\nnot-an-ip\n', /^z\.csv:2: bad address "not-an-ip"/, { ports: [104] });
  await bad('{"saddr":"127.81.0.5","sport":104}\n{oops\n', /^z\.csv:2: not a ZMap JSON record: invalid JSON/);
});

test('CSV rows: quotes, doubled quotes, spaces around separators, empty fields', () => {
  assert.deepEqual(splitCsvRow('a,b,c'), ['a', 'b', 'c']);
  assert.deepEqual(splitCsvRow('a, b , c'), ['a', 'b', 'c']);
  assert.deepEqual(splitCsvRow('"a,b",c'), ['a,b', 'c']);
  assert.deepEqual(splitCsvRow('"a""b",'), ['a"b', '']);
  assert.deepEqual(splitCsvRow(',,'), ['', '', '']);
  assert.equal(splitCsvRow('"a'), null);
  assert.equal(splitCsvRow('"a"b'), null);
});
