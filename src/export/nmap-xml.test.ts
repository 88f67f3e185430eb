/**
 * nmap-XML-like export: well-formed XML (fast-xml-parser's validator; xmllint is not installed
 * here), nmap's structure (nmaprun/host/address/ports/port/state/service, findings as
 * script output), the TLP comment and attribute, and hostile values escaped.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { KyselyInventory } from '../inventory/index.js';
import { xmlEscape } from './nmap-xml.js';
import { exportText, HOSTILE, seedExportInventory } from './test-inventory.js';

let inv: KyselyInventory;

before(async () => {
  inv = await seedExportInventory(':memory:');
});

after(async () => {
  await inv.close();
});

type Node = Record<string, unknown>;
const asList = (v: unknown): Node[] => (v === undefined ? [] : Array.isArray(v) ? (v as Node[]) : [v as Node]);

function parse(xml: string): Node {
  const valid = XMLValidator.validate(xml);
  assert.equal(valid, true, JSON.stringify(valid));
  return new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', commentPropName: '#comment', processEntities: true, htmlEntities: true }).parse(xml) as Node;
}

test('escaping drops what XML cannot carry and keeps line breaks in attributes', () => {
  assert.equal(xmlEscape('a<b>&"c\'\n\u0001\uFFFE'), 'a&lt;b&gt;&amp;&quot;c&apos;&#10;');
});

test('well-formed, nmap-like structure, findings as script output', async () => {
  const xml = (await exportText(inv, { format: 'nmap-xml' })).text;
  const doc = parse(xml);
  const run = doc.nmaprun as Node;
  assert.equal(run['@scanner'], 'medsurface');
  assert.equal(run['@xmloutputversion'], '1.05');
  const hosts = asList(run.host);
  assert.equal(hosts.length, 8, 'one host element per address, honeypot left out');
  const h = hosts.find((x) => (x.address as Node)['@addr'] === '127.77.61.10')!;
  assert.equal((h.status as Node)['@state'], 'up');
  assert.equal((h.address as Node)['@addrtype'], 'ipv4');
  const ports = asList((h.ports as Node).port);
  assert.deepEqual(
    ports.map((p) => p['@portid']),
    ['8042', '11112'],
  );
  const dicom = ports[1]!;
  assert.equal(dicom['@protocol'], 'tcp');
  assert.equal((dicom.state as Node)['@state'], 'open');
  const service = dicom.service as Node;
  assert.equal(service['@name'], 'dicom');
  assert.equal(service['@product'], 'DCMTK');
  assert.equal(service['@version'], '3.6.7');
  assert.equal(service['@devicetype'], 'pacs');
  assert.equal(service.cpe, 'cpe:2.3:a:offis:dcmtk:3.6.7:*:*:*:*:*:*:*');
  const script = dicom.script as Node;
  assert.equal(script['@id'], 'medsurface-findings');
  assert.match(String(script['@output']), /^HIGH CVE-2022-43272: /);
  assert.match(String(script['@output']), /\nHIGH dicom-any-ae: DICOM service accepts any called AE title\n/);
  const tables = asList(script.table);
  const anyAe = tables.find((t) => t['@key'] === 'dicom-any-ae')!;
  const elems = Object.fromEntries(asList(anyAe.elem).map((e) => [e['@key'], e['#text']]));
  assert.equal(elems.severity, 'high');
  assert.equal(elems.confidence, 'confirmed');
  const stats = run.runstats as Node;
  assert.equal((stats.hosts as Node)['@up'], '8');
  // TLS services are marked as nmap marks them.
  const tlsHost = hosts.find((x) => (x.address as Node)['@addr'] === '127.77.61.13')!;
  assert.equal((asList((tlsHost.ports as Node).port)[0]?.service as Node | undefined)?.['@tunnel'], 'ssl');
});

test('TLP marking: an XML comment before the root and the <medsurface tlp> attribute', async () => {
  for (const [tlp, label] of [
    [undefined, 'TLP:AMBER'],
    ['amber+strict', 'TLP:AMBER+STRICT'],
  ] as const) {
    const xml = (await exportText(inv, { format: 'nmap-xml', ...(tlp ? { tlp } : {}) })).text;
    const lines = xml.split('\n');
    assert.equal(lines[0], '<?xml version="1.0" encoding="UTF-8"?>');
    assert.ok(lines[1]!.startsWith(`<!-- ${label}: `), lines[1]);
    const run = parse(xml).nmaprun as Node;
    assert.equal((run.medsurface as Node)['@tlp'], label);
  }
});

test('hostile values are escaped and read back exactly', async () => {
  const xml = (await exportText(inv, { format: 'nmap-xml', query: 'ip:127.77.61.20' })).text;
  assert.ok(!xml.includes(HOSTILE.product), 'the raw value with its quotes is not in the file');
  const host = asList((parse(xml).nmaprun as Node).host)[0]!;
  const port = asList((host.ports as Node).port)[0]!;
  assert.equal((port.service as Node)['@product'], HOSTILE.product);
  assert.equal((port.service as Node)['@version'], HOSTILE.version);
  assert.equal(((host.hostnames as Node).hostname as Node)['@name'], HOSTILE.hostname);
  assert.equal(((parse(xml).nmaprun as Node).medsurface as Node)['@query'], 'ip:127.77.61.20');
});
