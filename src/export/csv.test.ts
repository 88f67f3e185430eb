/**
 * CSV export: cell rules (RFC 4180 quoting, the spreadsheet formula defence, lists, evidence,
 * nulls), the TLP column, and the round trip: the CSV of the seeded inventory, parsed back with
 * the inventory's own RFC 4180 reader (src/inventory/csv.ts) and decoded by the documented
 * rules, equals the JSON export's rows exactly, hostile banner values included.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { KyselyInventory } from '../inventory/index.js';
import { parseCsv } from '../inventory/csv.js';
import {
  CSV_LIST_SEPARATOR,
  CSV_TLP_COLUMN,
  csvCell,
  FINDING_COLUMNS,
  type FindingExportRow,
  SERVICE_COLUMNS,
  type ServiceExportRow,
} from './index.js';
import { exportText, HOSTILE, QUIET_SERVICE, seedExportInventory } from './test-inventory.js';

let inv: KyselyInventory;

before(async () => {
  inv = await seedExportInventory(':memory:');
});

after(async () => {
  await inv.close();
});

test('cells: quoting, formula defence, lists, evidence, null', () => {
  assert.equal(csvCell('plain'), 'plain');
  assert.equal(csvCell('a,b'), '"a,b"');
  assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csvCell('two\nlines'), '"two\nlines"');
  assert.equal(csvCell('=1+2'), "'=1+2");
  assert.equal(csvCell('+1'), "'+1");
  assert.equal(csvCell('-2+3'), "'-2+3");
  assert.equal(csvCell('@SUM(1,2)'), `"'@SUM(1,2)"`);
  assert.equal(csvCell('\tx'), "'\tx");
  assert.equal(csvCell('\rx'), `"'\rx"`);
  assert.equal(csvCell("'quoted"), "''quoted");
  assert.equal(csvCell('a=b'), 'a=b', 'only a leading character triggers the defence');
  assert.equal(csvCell(null), '');
  assert.equal(csvCell(104), '104');
  assert.equal(csvCell(false), 'false');
  assert.equal(csvCell(['radiology', 'site-a']), `radiology${CSV_LIST_SEPARATOR}site-a`);
  assert.equal(csvCell({ 'data.x': true, y: 'a,b' }), '"{""data.x"":true,""y"":""a,b""}"');
});

/** Reverses the cell rules for one column of a row type (what a reader of the documented format does). */
function decode(column: string, cell: string): unknown {
  const s = cell.startsWith("'") ? cell.slice(1) : cell;
  switch (column) {
    case 'port':
    case 'risk':
    case 'openFindings':
      return Number(s);
    case 'asn':
      return s === '' ? null : Number(s);
    case 'tls':
      return s === 'true';
    case 'tags':
    case 'findingIds':
      return s === '' ? [] : s.split(CSV_LIST_SEPARATOR);
    case 'evidence':
      return s === '' ? null : JSON.parse(s);
    default:
      return s === '' ? null : s;
  }
}

function readBack(csv: string, columns: readonly string[]): { tlp: string[]; rows: Record<string, unknown>[] } {
  const records = [...parseCsv(csv)];
  assert.deepEqual(records[0]?.fields, [CSV_TLP_COLUMN, ...columns], 'header row');
  const tlp: string[] = [];
  const rows = records.slice(1).map((r) => {
    assert.equal(r.fields.length, columns.length + 1, `line ${r.line}: field count`);
    tlp.push(r.fields[0]!);
    return Object.fromEntries(columns.map((c, i) => [c, decode(c, r.fields[i + 1]!)]));
  });
  return { tlp, rows };
}

test('round trip: the CSV parsed back equals the JSON export row for row', async () => {
  const csv = (await exportText(inv, { format: 'csv' })).text;
  const json = JSON.parse((await exportText(inv, { format: 'json' })).text) as { rows: FindingExportRow[] };
  const back = readBack(csv, FINDING_COLUMNS);
  assert.ok(json.rows.length > 20);
  assert.deepEqual(back.rows, json.rows);
  assert.ok(back.tlp.every((t) => t === 'TLP:AMBER'));
  // CRLF line ends (RFC 4180), UTF-8 text, no byte-order mark.
  assert.ok(csv.startsWith('tlp,ip,port,'));
  assert.ok(csv.endsWith('\r\n'));
});

test('round trip of --services rows, the quiet service included', async () => {
  const csv = (await exportText(inv, { format: 'csv', services: true })).text;
  const json = JSON.parse((await exportText(inv, { format: 'json', services: true })).text) as { rows: ServiceExportRow[] };
  const back = readBack(csv, SERVICE_COLUMNS);
  assert.deepEqual(back.rows, json.rows);
  const quiet = json.rows.find((r) => r.ip === QUIET_SERVICE.ip && r.port === QUIET_SERVICE.port);
  assert.ok(quiet);
  assert.equal(quiet.openFindings, 0);
  assert.equal(quiet.maxSeverity, null);
});

test('hostile banner values are defused in the file and exact after the round trip', async () => {
  const csv = (await exportText(inv, { format: 'csv', query: 'ip:127.77.61.20' })).text;
  const lines = [...parseCsv(csv)].slice(1);
  assert.ok(lines.length >= 1);
  const cols = [CSV_TLP_COLUMN, ...FINDING_COLUMNS] as string[];
  for (const r of lines) {
    const cell = (name: string) => r.fields[cols.indexOf(name)]!;
    assert.equal(cell('product'), `'${HOSTILE.product}`);
    assert.equal(cell('vendor'), `'${HOSTILE.vendor}`);
    assert.equal(cell('version'), `'${HOSTILE.version}`);
    assert.equal(cell('hostname'), HOSTILE.hostname);
    // No cell a spreadsheet would evaluate.
    for (const f of r.fields) assert.ok(!/^[=+\-@\t\r]/.test(f), `cell ${JSON.stringify(f)} would be a formula`);
  }
  const back = readBack(csv, FINDING_COLUMNS).rows[0]!;
  assert.equal(back.product, HOSTILE.product);
  assert.equal(back.vendor, HOSTILE.vendor);
  assert.equal(back.version, HOSTILE.version);
  assert.equal(back.hostname, HOSTILE.hostname);
  assert.deepEqual(back.tags, [HOSTILE.tag]);
});

test('the TLP column carries the chosen label on every row', async () => {
  for (const [tlp, label] of [
    ['clear', 'TLP:CLEAR'],
    ['green', 'TLP:GREEN'],
    ['amber+strict', 'TLP:AMBER+STRICT'],
    ['red', 'TLP:RED'],
  ] as const) {
    const back = readBack((await exportText(inv, { format: 'csv', tlp })).text, FINDING_COLUMNS);
    assert.ok(back.tlp.length > 0);
    assert.ok(back.tlp.every((t) => t === label), label);
  }
});

test('an export that selects nothing is a header row alone', async () => {
  const csv = (await exportText(inv, { format: 'csv', query: 'port:1' })).text;
  assert.equal(csv, `${[CSV_TLP_COLUMN, ...FINDING_COLUMNS].join(',')}\r\n`);
});
