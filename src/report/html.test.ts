/**
 * Golden structure tests of the HTML report over the lab-like inventory of test-fixture.ts
 * (two completed runs, a honeypot, hostile strings, patient canaries): sections in order, TLP
 * marking in the title, the meta tag and the banners, a self-contained page (no script, no
 * external address), counts equal to the inventory's own summary and queries, every finding
 * in the per-asset detail, everything escaped, no canary anywhere.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { SEVERITIES } from '../core/types.js';
import { UsageError } from '../core/errors.js';
import { openKyselyInventory } from '../inventory/db.js';
import type { KyselyInventory } from '../inventory/kysely-store.js';
import { diffRuns } from '../inventory/diff.js';
import { dumpInventory } from '../inventory/testing.js';
import { reachableRecords } from '../risk/score.js';
import { inlineSvg, UnsafeChartError } from './charts.js';
import { gatherReport } from './gather.js';
import { renderHtml } from './html.js';
import { CANARY_VALUES, Clock, HOSTILE, HOSTS, seedReportLab } from './test-fixture.js';
import { parseTlp, TLP_LEVELS, tlpMarking } from './tlp.js';
import type { ReportData } from './types.js';
import { ReportOptionError } from './errors.js';

const NOW = '2026-03-10T12:00:00.000Z';
let dir: string;
let inv: KyselyInventory;
let data: ReportData;
let html: string;
let withHoneypots: ReportData;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'medsurface-report-html-'));
  const clock = new Clock();
  inv = await openKyselyInventory(path.join(dir, 'inv.sqlite'), { now: clock.now });
  await seedReportLab(inv, clock);
  data = await gatherReport(inv, { now: NOW });
  html = renderHtml(data);
  withHoneypots = await gatherReport(inv, { now: NOW, includeHoneypots: true });
});

after(async () => {
  await inv.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The part of the page between the opening tags of two sections. */
function slice(page: string, from: string, to: string): string {
  const a = page.indexOf(from);
  const b = page.indexOf(to, a);
  assert.ok(a >= 0 && b > a, `${from} before ${to}`);
  return page.slice(a, b);
}

function figure(page: string, name: string): number {
  const m = new RegExp(`data-figure="${name}"><div class="value">([\\d,]+)<`).exec(page);
  assert.ok(m, `figure ${name}`);
  return Number(m[1]!.replace(/,/g, ''));
}

test('sections are present, once each, in order: header, summary, charts, statistics, assets, methodology, appendix, footer', () => {
  const marks = [
    '<header id="report-header"',
    '<section id="summary"',
    '<section id="charts"',
    '<section id="statistics"',
    '<section id="assets"',
    '<section id="methodology"',
    '<section id="appendix"',
    '<footer class="tlp-footer"',
  ];
  let last = -1;
  for (const m of marks) {
    const at = html.indexOf(m);
    assert.ok(at > last, `${m} after the previous section`);
    assert.equal(html.indexOf(m, at + 1), -1, `${m} only once`);
    last = at;
  }
  const headings = [...html.matchAll(/<h2>([^<]+)<\/h2>/g)].map((m) => m[1]);
  assert.deepEqual(headings, [
    '1. Executive summary',
    '2. Charts',
    '3. Statistics',
    '4. Systems in detail',
    '5. Methodology and scope',
    'Appendix: checks',
  ]);
});

test('TLP: in the <title>, a <meta name="tlp">, the top and bottom banners, in FIRST colours, for every level', () => {
  for (const level of TLP_LEVELS) {
    const page = renderHtml({ ...data, meta: { ...data.meta, tlp: level } });
    const t = tlpMarking(level);
    assert.match(page, new RegExp(`<title>${t.label.replace('+', '\\+')} \\| Exposure assessment of healthcare systems</title>`));
    assert.ok(page.includes(`<meta name="tlp" content="${t.label}">`));
    const banners = [...page.matchAll(/<div class="tlp-banner" data-tlp="([^"]+)"><span class="tlp" style="color: (#[0-9A-F]{6})">([^<]+)<\/span>/g)];
    assert.equal(banners.length, 2, 'a banner at the top and at the bottom');
    for (const b of banners) assert.deepEqual([b[1], b[2], b[3]], [t.label, t.colour, t.label]);
  }
  assert.equal(tlpMarking('red').colour, '#FF2B2B');
  assert.equal(tlpMarking('amber+strict').label, 'TLP:AMBER+STRICT');
  assert.equal(tlpMarking('amber').colour, '#FFC000');
  assert.equal(tlpMarking('green').colour, '#33FF00');
  assert.equal(tlpMarking('clear').colour, '#FFFFFF');
});

test('parseTlp accepts the five levels in any case, with or without TLP:, and names them when it refuses', () => {
  assert.equal(parseTlp('AMBER+STRICT'), 'amber+strict');
  assert.equal(parseTlp('TLP:Red'), 'red');
  assert.equal(parseTlp(' clear '), 'clear');
  for (const bad of ['white', 'amber-strict', '', 'TLP:']) {
    assert.throws(() => parseTlp(bad), (err: unknown) => err instanceof ReportOptionError && err instanceof UsageError && /clear, green, amber, amber\+strict, red/.test(err.message));
  }
});

test('self-contained: a CSP that loads nothing, no script, no external address in any attribute, only fragment links', () => {
  assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`));
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /<(link|iframe|object|embed|img|image|use|foreignObject|base|form)[\s>/]/i);
  assert.doesNotMatch(html, /@import|javascript:/i);
  assert.doesNotMatch(html, /url\(\s*['"]?(?!#)/i);
  // Text never holds a raw '<' (it is escaped), so every '<' starts a tag: check the attributes of each.
  const tags = [...html.matchAll(/<[A-Za-z][^>]*>/g)].map((m) => m[0]);
  assert.ok(tags.length > 500);
  for (const tag of tags) {
    assert.doesNotMatch(tag, /\son[a-z]+\s*=/i, `no event handler: ${tag.slice(0, 80)}`);
    assert.doesNotMatch(tag, /\s(src|srcset|action|xmlns(:xlink)?|xlink:href)\s*=/i, `no loading attribute: ${tag.slice(0, 80)}`);
    for (const a of tag.matchAll(/\s[a-z:-]+="([^"]*)"/gi)) assert.ok(!a[1]!.includes('://'), `no address in ${tag.slice(0, 80)}`);
  }
  for (const m of html.matchAll(/\shref="([^"]*)"/g)) assert.match(m[1]!, /^#[A-Za-z0-9-]+$/, `internal link ${m[1]}`);
  // Addresses as text: only the check references and the NVD pointer of the remediation texts.
  for (const m of html.matchAll(/https?:\/\/[^\s<"]+/g)) assert.match(m[0], /^https:\/\//);
});

test('the headline counts equal the inventory summary (with honeypots) and the summary less the honeypot (default)', async () => {
  const s = await inv.summary({ includeHoneypots: true });
  const w = withHoneypots.summary;
  assert.equal(w.assets, s.assets);
  assert.equal(w.services, s.services);
  assert.equal(w.openFindings, s.openFindings);
  assert.deepEqual(w.bySeverity, s.bySeverity);
  assert.deepEqual(Object.fromEntries(withHoneypots.stats.byDeviceType.map((b) => [b.key, b.count])), s.byDeviceType);
  assert.equal(w.honeypotAssetsExcluded, 0);

  const hp = await inv.getAsset(HOSTS.honeypot);
  assert.ok(hp);
  const hpOpen = hp.findings.filter((f) => f.state === 'open' && f.userState === null);
  const d = data.summary;
  assert.equal(d.assets, s.assets - 1);
  assert.equal(d.services, s.services - hp.services.length);
  assert.equal(d.openFindings, s.openFindings - hpOpen.length);
  for (const sev of SEVERITIES) assert.equal(d.bySeverity[sev], s.bySeverity[sev]! - hpOpen.filter((f) => f.severity === sev).length, sev);
  assert.equal(d.honeypotAssetsExcluded, 1);

  // What the page shows.
  assert.equal(figure(html, 'assets'), d.assets);
  assert.equal(figure(html, 'services'), d.services);
  assert.equal(figure(html, 'critical'), d.bySeverity.critical);
  assert.equal(figure(html, 'high'), d.bySeverity.high);
  assert.equal(figure(html, 'open-findings'), d.openFindings);
  assert.equal(figure(html, 'records'), d.recordsReachable);
  assert.match(html, /1 such host\(s\) matched the scope and were left out/);
  assert.ok(!html.includes(HOSTS.honeypot), 'the honeypot appears nowhere');
  assert.ok(renderHtml(withHoneypots).includes(HOSTS.honeypot));
});

test('every finding of the inventory is in the per-asset detail, with its check id, evidence and remediation', async () => {
  const all = await inv.listFindings();
  assert.ok(all.length > 40);
  assert.ok(new Set(all.map((f) => f.state)).size === 3, 'open, resolved and unverified findings are seeded');
  const assets = slice(renderHtml(withHoneypots), '<section id="assets"', '<section id="methodology"');
  for (const f of all) {
    const m = new RegExp(`id="finding-${f.id}" data-check="([^"]+)"`).exec(assets);
    assert.ok(m, `finding ${f.id} (${f.checkId} on ${f.ip}:${f.port})`);
    assert.equal(m[1], f.checkId);
  }
  // Default report: all but the honeypot's.
  const def = slice(html, '<section id="assets"', '<section id="methodology"');
  for (const f of all) assert.equal(def.includes(`id="finding-${f.id}"`), f.ip !== HOSTS.honeypot, `finding ${f.id}`);
  // A check finding shows its evidence values and its check's remediation.
  const anyAe = all.find((f) => f.checkId === 'dicom-any-ae' && f.ip === HOSTS.orthanc)!;
  const block = def.slice(def.indexOf(`id="finding-${anyAe.id}"`));
  const text = block.slice(0, block.indexOf('<p class="remediation">') + 400);
  assert.match(text, /<td class="mono">data\.dicom\.anyAeAccepted<\/td><td class="mono">true<\/td>/);
  assert.match(text, /Remediation:<\/strong> Configure the server to answer only to its own called AE title/);
  // Resolved and triaged findings say so.
  assert.match(def, /dicom-any-ae<\/span><strong>DICOM service accepts any called AE title<\/strong><span class="state">resolved, since [^<]*, resolved 2026-03-09 09:00 UTC</);
  assert.match(def, /open, marked accepted-risk/);
  assert.match(def, /state-unverified/);
});

test('hostile product, version, organisation, host name and tag are escaped in text, attributes and charts', () => {
  assert.ok(!html.includes(HOSTILE.product));
  assert.ok(!html.includes(HOSTILE.org));
  assert.ok(!html.includes(HOSTILE.hostname));
  assert.ok(!html.includes('<b>tag</b>'));
  assert.ok(!html.includes('<img'));
  assert.ok(!html.includes('<svg onload'));
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(html.includes('&quot;&gt;&lt;img src=x&gt;'), 'the version');
  assert.ok(html.includes('Clinic &quot;&gt;&lt;img src=x onerror=alert(2)&gt; Two'));
  assert.ok(html.includes('viewer&quot;&gt;&lt;svg onload=alert(3)&gt;.lab.test'));
  assert.ok(html.includes('&lt;b&gt;tag&lt;/b&gt;'));
  const products = slice(html, '<figure class="chart" id="chart-products"', '</figure>');
  assert.match(products, /<svg role="img"/);
  assert.match(products, /<text [^>]*>OHIF &lt;script&gt;alert\(1\)/, 'ECharts escaped the label');
});

test('no patient canary of the lab appears, although the inventory holds them where a careless report would look', async () => {
  const dump = (await dumpInventory(inv.db)).join('\n');
  const findings = await inv.listFindings();
  for (const c of CANARY_VALUES) {
    assert.ok(dump.includes(c.replace(/"/g, '\\"')), `the seeded inventory holds ${c}`);
    for (const f of findings) assert.ok(!JSON.stringify(f.evidence ?? {}).includes(c), `no check copied ${c} into evidence`);
  }
  for (const page of [html, renderHtml(withHoneypots)]) {
    for (const c of CANARY_VALUES) {
      const forms = [c, c.toLowerCase(), c.replace(/\^/g, ' '), c.replace(/&/g, '&amp;')];
      for (const f of forms) assert.ok(!page.toLowerCase().includes(f.toLowerCase()), `canary ${c}`);
    }
  }
});

test('statistics: TLS share, DICOM any-AE share, records reachable, as recomputed from the inventory', async () => {
  const services = (await inv.listServices()).filter((s) => s.ip !== HOSTS.honeypot);
  const tls = services.filter((s) => s.tls !== null).length;
  assert.equal(data.stats.tls.services, services.length);
  assert.equal(data.stats.tls.withTls, tls);
  const dicom = services.filter((s) => s.protocol === 'dicom');
  const anyAe = (await inv.listFindings({ checkId: 'dicom-any-ae', state: 'open' })).filter((f) => f.ip !== HOSTS.honeypot && f.userState === null);
  assert.deepEqual(data.stats.dicomAnyAe, { dicomServices: dicom.length, anyAe: anyAe.length });
  let records = 0;
  let withRecords = 0;
  for (const o of await inv.latestObservations(0, 1000)) {
    if (o.ip === HOSTS.honeypot) continue;
    const n = reachableRecords(o.data);
    records += n;
    if (n > 0) withRecords++;
  }
  assert.ok(records > 0);
  assert.equal(data.summary.recordsReachable, records);
  assert.equal(data.summary.servicesWithRecords, withRecords);
  const row = (stat: string) => {
    const m = new RegExp(`<tr data-stat="${stat}"><td>[^<]*</td><td class="num">([\\d,]*)</td><td class="num">([\\d,]*)</td><td class="num">([^<]*)</td>`).exec(html);
    assert.ok(m, stat);
    return [m[1], m[2], m[3]];
  };
  assert.deepEqual(row('tls'), [String(tls), String(services.length), `${((100 * tls) / services.length).toFixed(1)}%`]);
  assert.deepEqual(row('dicom-any-ae'), [String(anyAe.length), String(dicom.length), `${((100 * anyAe.length) / dicom.length).toFixed(1)}%`]);
  assert.deepEqual(row('records')[0], String(records));
  const countries = Object.fromEntries(data.stats.byCountry.map((b) => [b.key, b.count]));
  assert.deepEqual(countries, { NL: 4, DE: 3, US: 4, unknown: 4 });
  for (const table of ['country', 'device-type', 'product', 'tls', 'records']) assert.ok(html.includes(`data-table="${table}"`), table);
});

test('trend = the diff between the two completed runs; remediation over time = findings per state after each run', async () => {
  const diff = await diffRuns(inv.db, 'r1', 'r2');
  assert.ok(data.trend);
  assert.equal(data.trend.basis, 'previous-run');
  assert.deepEqual([data.trend.from?.id, data.trend.to.id], ['r1', 'r2']);
  assert.deepEqual(data.trend.counts, diff.summary.counts);
  assert.equal(data.trend.counts['service-new'], 1);
  assert.equal(data.trend.counts['service-gone'], 1);
  assert.equal(data.trend.counts['finding-resolved'], 3);
  assert.match(html, /<tr data-kind="finding-resolved"><td>findings resolved<\/td><td class="num">3<\/td>/);

  const now = (await inv.listFindings()).filter((f) => f.ip !== HOSTS.honeypot);
  assert.deepEqual(
    data.remediation.map((p) => [p.runId, p.open, p.resolved, p.unverified]),
    [
      ['r1', now.filter((f) => f.firstSeen < '2026-03-03').length, 0, 0],
      ['r2', now.filter((f) => f.state === 'open').length, now.filter((f) => f.state === 'resolved').length, now.filter((f) => f.state === 'unverified').length],
    ],
  );
  const since = await gatherReport(inv, { now: NOW, since: '2026-03-05T00:00:00Z' });
  assert.equal(since.trend?.basis, 'since');
  assert.deepEqual(since.trend?.counts, data.trend.counts, 'the window holds the same single run');
});

test('charts: five inline SVG figures; the checker refuses anything but drawing', () => {
  const figures = [...html.matchAll(/<figure class="chart" id="([^"]+)">/g)].map((m) => m[1]);
  assert.deepEqual(figures, ['chart-device-types', 'chart-severity', 'chart-countries', 'chart-products', 'chart-remediation']);
  assert.equal((slice(html, '<section id="charts"', '<section id="statistics"').match(/<svg role="img"/g) ?? []).length, 5);
  const ok = '<svg width="10" height="10" xmlns="http://www.w3.org/2000/svg"><text>a &lt; b</text><path fill="url(#g)"/></svg>';
  assert.equal(inlineSvg(ok, 'x'), '<svg role="img" aria-label="x" width="10" height="10"><text>a &lt; b</text><path fill="url(#g)"/></svg>');
  for (const bad of [
    '<svg><script>alert(1)</script></svg>',
    '<svg><foreignObject><div/></foreignObject></svg>',
    '<svg onload="alert(1)"></svg>',
    '<svg><a href="https://x.test">x</a></svg>',
    '<svg><image href="x.png"/></svg>',
    '<svg><path fill="url(https://x.test/a)"/></svg>',
    '<svg><text>see https://x.test</text></svg>',
  ]) {
    assert.throws(() => inlineSvg(bad, 'bad'), UnsafeChartError, bad);
  }
});

test('--query and --org narrow every figure to the services they select', async () => {
  const pacs = await gatherReport(inv, { now: NOW, query: 'devicetype:pacs' });
  const hosts = await inv.search('devicetype:pacs', { assets: true, limit: 1000 });
  assert.equal(pacs.summary.assets, hosts.total);
  assert.deepEqual(pacs.assets.map((a) => a.ip).sort(), hosts.rows.map((r) => r.ip).sort());
  assert.ok(pacs.assets.every((a) => a.deviceType === 'pacs' || a.serviceDetails.every((s) => s.deviceType === 'pacs')));
  assert.ok(renderHtml(pacs).includes('services matching the query &quot;devicetype:pacs&quot;'));

  const lab = await gatherReport(inv, { now: NOW, org: 'lab hospital' });
  assert.deepEqual(lab.assets.map((a) => a.ip).sort(), [HOSTS.orthanc, HOSTS.dcmtk, HOSTS.dcm4che, HOSTS.weakTls].sort());
  assert.equal(lab.meta.title, 'Exposure assessment of healthcare systems: lab hospital');
  assert.deepEqual(lab.stats.byCountry, [{ key: 'NL', count: 4 }]);
  const nl = lab.assets.flatMap((a) => a.serviceDetails.flatMap((s) => s.findings)).filter((f) => f.state === 'open' && f.userState === null).length;
  assert.equal(lab.summary.openFindings, nl);

  await assert.rejects(gatherReport(inv, { query: 'port:notaport' }), UsageError);
});

test('--max-assets cuts the detail (riskiest first) and says how many are left out', async () => {
  const short = await gatherReport(inv, { now: NOW, maxAssets: 3 });
  assert.equal(short.assets.length, 3);
  assert.equal(short.assetsOmitted, data.summary.assets - 3);
  assert.equal(short.topAssets.length, 10, 'the top table is not cut');
  assert.deepEqual(short.assets.map((a) => a.ip), data.assets.slice(0, 3).map((a) => a.ip));
  assert.ok(short.assets[0]!.risk >= short.assets[1]!.risk && short.assets[1]!.risk >= short.assets[2]!.risk);
  assert.match(renderHtml(short), /12 further system\(s\) in scope are not detailed here/);
  await assert.rejects(gatherReport(inv, { maxAssets: -1 }), ReportOptionError);
});

test('an empty inventory gives a report that says so', async () => {
  const empty = await openKyselyInventory(':memory:');
  try {
    const d = await gatherReport(empty, { now: NOW, tlp: 'red' });
    assert.equal(d.summary.assets, 0);
    assert.equal(d.trend, null);
    assert.equal(d.trendNote, 'No completed scan run: there is nothing to compare.');
    const page = renderHtml(d);
    assert.match(page, /<title>TLP:RED \| /);
    assert.match(page, /No system in scope\./);
    assert.equal((page.match(/Nothing to show\./g) ?? []).length, 5);
    assert.doesNotMatch(page, /<svg/);
  } finally {
    await empty.close();
  }
});
