/**
 * The Markdown report over the lab-like inventory: TLP in the front matter and the text, the
 * same sections and figures as the HTML report with tables for the charts, every finding in
 * the detail, tables that a hostile string cannot break, no raw HTML, no patient canary.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { openKyselyInventory } from '../inventory/db.js';
import type { KyselyInventory } from '../inventory/kysely-store.js';
import { gatherReport } from './gather.js';
import { renderMarkdown } from './markdown.js';
import { CANARY_VALUES, Clock, HOSTS, seedReportLab } from './test-fixture.js';
import { md } from './text.js';
import type { ReportData } from './types.js';

const NOW = '2026-03-10T12:00:00.000Z';
let dir: string;
let inv: KyselyInventory;
let data: ReportData;
let text: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'medsurface-report-md-'));
  const clock = new Clock();
  inv = await openKyselyInventory(path.join(dir, 'inv.sqlite'), { now: clock.now });
  await seedReportLab(inv, clock);
  data = await gatherReport(inv, { now: NOW, tlp: 'amber+strict', includeHoneypots: true });
  text = renderMarkdown(data);
});

after(async () => {
  await inv.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Pipes that separate cells (not the escaped ones inside a cell). */
function cells(line: string): number {
  return (line.match(/(?<!\\)\|/g) ?? []).length;
}

test('TLP: in the front matter, on the first line of the text and at the end', () => {
  const lines = text.split('\n');
  assert.equal(lines[0], '---');
  assert.equal(lines[2], 'tlp: "TLP:AMBER+STRICT"');
  assert.equal(lines[1], 'title: "Exposure assessment of healthcare systems"');
  const body = text.slice(text.indexOf('---\n', 4) + 4).trimStart();
  assert.match(body, /^\*\*TLP:AMBER\+STRICT\*\*: Limited disclosure: recipients may share this on a need-to-know basis within their own organisation only\./);
  assert.match(text, /\*\*TLP:AMBER\+STRICT\*\*: [^\n]+\n\nmedsurface [^\n]+\n$/);
});

test('the same sections as the HTML report, in order, charts as tables', () => {
  const headings = [...text.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
  assert.deepEqual(headings, [
    '1. Executive summary',
    '2. Charts',
    '3. Statistics',
    '4. Systems in detail',
    '5. Methodology and scope',
    'Appendix: checks',
  ]);
  for (const h of ['### Open findings by severity', '### Remediation over time (findings at the end of each run)', '### Exposed systems by country', '### Exposed systems by device type', '### Exposed systems by product', '### Scan runs covered']) {
    assert.ok(text.includes(`\n${h}\n`), h);
  }
  assert.doesNotMatch(text, /(?<!\\)<svg/, 'no chart');
});

test('the headline figures equal the inventory summary (honeypots included on request)', async () => {
  const s = await inv.summary({ includeHoneypots: true });
  const row = (label: string) => {
    const m = new RegExp(`^\\| ${label.replace(/[()]/g, '\\$&')} \\| ([\\d,]+) \\|$`, 'm').exec(text);
    assert.ok(m, label);
    return Number(m[1]!.replace(/,/g, ''));
  };
  assert.equal(row('exposed systems'), s.assets);
  assert.equal(row('exposed services'), s.services);
  assert.equal(row('open findings in all'), s.openFindings);
  assert.equal(row('critical findings open'), s.bySeverity.critical);
  assert.equal(row('high findings open'), s.bySeverity.high);
  assert.ok(text.includes('Hosts judged honeypots or decoys are included in every count \\(--include-honeypots\\)') || text.includes('included in every count (--include-honeypots)'));
  assert.ok(text.includes(HOSTS.honeypot));
});

test('every finding of the inventory is in the detail, by id, with its check id', async () => {
  const detail = text.slice(text.indexOf('## 4. Systems in detail'), text.indexOf('## 5. Methodology and scope'));
  for (const f of await inv.listFindings()) {
    const asCheck = `finding id ${f.id})`;
    const asCve = new RegExp(`^\\| ${f.checkId} \\|[^\\n]*\\| ${f.id} \\|$`, 'm');
    assert.ok(detail.includes(asCheck) ? detail.includes(md(f.checkId)) : asCve.test(detail), `finding ${f.id} ${f.checkId}`);
  }
  assert.match(detail, /Remediation: Configure the server to answer only to its own called AE title/);
  assert.match(detail, /Remediation: as for dicom-any-ae on 127\.77\.10\.10 \(finding id \d+\) above\./);
});

test('no raw HTML, no table broken by a hostile string, markup escaped', () => {
  for (const [i, line] of text.split('\n').entries()) {
    assert.doesNotMatch(line, /(?<!\\)</, `line ${i + 1} has a raw '<': ${line.slice(0, 120)}`);
  }
  // Every table keeps its column count on every row.
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('| ') || !lines[i + 1]?.startsWith('| ---')) continue;
    const n = cells(lines[i]!);
    for (let j = i + 1; j < lines.length && lines[j]!.startsWith('|'); j++) assert.equal(cells(lines[j]!), n, `table at line ${i + 1}, row ${j + 1}`);
  }
  assert.ok(text.includes('OHIF \\<script\\>alert(1)\\</script\\>'));
  assert.ok(text.includes('Clinic "\\>\\<img src=x onerror=alert(2)\\> Two'));
  assert.ok(text.includes('\\"\\>\\<img src=x\\>') || text.includes('"\\>\\<img src=x\\>'));
  assert.ok(text.includes('\\<b\\>tag\\</b\\>'));
  assert.equal(md('a|b[c](d)*e_f`g<h>&#x!'), 'a\\|b\\[c\\](d)\\*e\\_f\\`g\\<h\\>\\&\\#x\\!');
});

test('no patient canary of the lab appears', () => {
  for (const c of CANARY_VALUES) {
    for (const form of [c, md(c), c.replace(/\^/g, ' ')]) assert.ok(!text.toLowerCase().includes(form.toLowerCase()), `canary ${c}`);
  }
});
