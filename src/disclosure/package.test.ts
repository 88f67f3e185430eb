/**
 * prepare and send on a synthetic inventory (records written straight in, addresses 127.214.3x.x):
 * the recipient chain (orgs.yaml contact with key, orgs.yaml CERT, national CERT, nobody), CERT
 * batches by constituency, hostile strings escaped in HTML and defused in CSV, the TLP level in
 * every file, user templates (override, syntax error), and send's rules: the edited package is
 * what goes out, a key changed since prepare is refused, a case without recipient is skipped, a
 * notified case re-sent is a reminder that keeps its state.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as openpgp from 'openpgp';
import { loopbackOnly } from '../alerts/test-support.js';
import { OrgTable } from '../attribution/index.js';
import type { RecordAttribution, ServiceRecord } from '../core/types.js';
import { openKyselyInventory } from '../inventory/db.js';
import type { KyselyInventory } from '../inventory/kysely-store.js';
import { remediationLookup } from './affected.js';
import { caseEvents, getCase, listCases } from './cases.js';
import { CertDirectory } from './certs.js';
import { DisclosureError } from './errors.js';
import { preparePackages, type PrepareResult } from './package.js';
import { RdapResolver } from './rdap-client.js';
import { sendCases } from './send.js';
import { disclosureDb, type DisclosureDb } from './tables.js';
import { MessageTemplates } from './templates.js';
import { allText, decryptPgpMime, parseMime, smtpSink } from './test-support.js';

const ctx = { guard: loopbackOnly, resolve: async () => [] as string[], now: Date.now, hostname: os.hostname() };
const HOSTILE_ORG = 'Hostile <b>Clinic</b> & "Co"';
const attr = (over: Partial<RecordAttribution>): RecordAttribution => ({ country: null, asn: null, asOrg: null, org: null, orgSource: null, ...over });

function rec(ip: string, port: number, attribution: RecordAttribution, over: Partial<ServiceRecord> = {}): ServiceRecord {
  return {
    ip,
    port,
    protocol: 'http',
    status: 'success',
    timestamp: '2030-05-01T10:00:00.000Z',
    product: 'Orthanc',
    version: '1.12.11',
    deviceType: 'pacs',
    asset: { evidence: [], deviceType: 'pacs' },
    attribution,
    findings: [{ id: 'http-no-tls', severity: 'medium', title: 'Medical web application or API over plain HTTP', confidence: 'confirmed' }],
    checksRun: ['http-no-tls'],
    data: {},
    ...over,
  };
}

let dir: string;
let inv: KyselyInventory;
let db: DisclosureDb;
let keys: { privateKey: string; publicKey: string };
let orgs: OrgTable;
let certs: CertDirectory;

const prepare = (out: string, over: { tlp?: 'red' | 'amber'; templates?: MessageTemplates } = {}): Promise<PrepareResult> =>
  preparePackages(db, {
    outDir: out,
    orgs,
    certs,
    rdap: new RdapResolver(db, null),
    templates: over.templates ?? MessageTemplates.load(),
    remediation: remediationLookup(),
    tlp: over.tlp ?? 'amber',
    reporter: { name: 'Test Team', email: 'team@scanner.example' },
  });

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'medsurface-package-'));
  keys = await openpgp.generateKey({ userIDs: [{ name: 'Clinic (test)', email: 'sec@clinic.example' }], format: 'armored' });
  writeFileSync(path.join(dir, 'clinic.asc'), keys.publicKey);
  orgs = OrgTable.fromData(
    [
      { name: HOSTILE_ORG, cidrs: ['127.214.30.0/24'], country: 'NL', contact: { email: 'sec@clinic.example', pgpKey: 'clinic.asc' } },
      { name: 'No Contact Org', cidrs: ['127.214.31.0/24'], cert: { name: 'Org CERT (test)', email: 'cert@org-cert.example' } },
    ],
    path.join(dir, 'orgs.yaml'),
  );
  certs = CertDirectory.fromData(
    { national: { DE: { name: 'CERT DE (test)', email: 'cert@de.example' } }, sector: [{ name: 'NL health (test)', email: 'nl-health@example.org', countries: ['NL'] }] },
    path.join(dir, 'certs.yaml'),
  );
  inv = await openKyselyInventory(path.join(dir, 'inv.sqlite'));
  db = disclosureDb(inv.db);
  await inv.createRun({ id: 'r1', profile: 'safe', targets: [], options: {}, totalTargets: 4 });
  await inv.recordServices('r1', [
    rec('127.214.30.1', 8042, attr({ country: 'NL', org: HOSTILE_ORG, orgSource: 'orgs' }), {
      product: '<script>alert(1)</script>',
      version: '=HYPERLINK("http://x")',
      findings: [{ id: 'http-no-tls', severity: 'medium', title: 'Plain HTTP <img src=x onerror=alert(1)>', confidence: 'confirmed' }],
    }),
    rec('127.214.31.1', 104, attr({ org: 'No Contact Org', orgSource: 'orgs' })),
    rec('127.214.32.1', 104, attr({ country: 'DE', asn: 64510, asOrg: 'Carrier GmbH', org: 'Carrier GmbH', orgSource: 'asn' })),
    rec('127.214.33.1', 104, attr({ country: 'FR' })),
  ]);
  await inv.finishRun('r1', 'completed', { stats: {} });
});

after(async () => {
  await inv.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('prepare', () => {
  let r: PrepareResult;
  const out = () => path.join(dir, 'out');
  before(async () => {
    r = await prepare(out());
  });

  test('recipients: orgs.yaml contact with key, orgs.yaml CERT, national CERT, nobody', () => {
    const by = Object.fromEntries(r.cases.map((c) => [c.party, c.recipient]));
    assert.deepEqual(by[HOSTILE_ORG], { name: HOSTILE_ORG, email: 'sec@clinic.example', source: 'orgs', pgpKey: path.join(dir, 'clinic.asc'), pgpFingerprint: by[HOSTILE_ORG]!.pgpFingerprint });
    assert.deepEqual(by['No Contact Org'], { name: 'Org CERT (test)', email: 'cert@org-cert.example', source: 'orgs-cert' });
    assert.deepEqual(by['Carrier GmbH (AS64510)'], { name: 'CERT DE (test)', email: 'cert@de.example', source: 'cert-directory' });
    assert.equal(by['national CERT of FR'], null);
  });

  test('CERT batches follow the constituencies', () => {
    const parties = (name: string) => {
      const csv = readFileSync(path.join(out(), 'cert-batches', name, 'batch.csv'), 'utf8').trim().split('\r\n').slice(1);
      return csv.map((l) => l.split(',')[0]);
    };
    const ids = Object.fromEntries(r.cases.map((c) => [c.party, String(c.caseId)]));
    assert.deepEqual(parties('cert-de-test'), [ids['Carrier GmbH (AS64510)']]);
    assert.deepEqual(parties('nl-health-test'), [ids[HOSTILE_ORG]]);
    assert.deepEqual(readdirSync(path.join(out(), 'cert-batches')).sort(), ['cert-de-test', 'nl-health-test']);
  });

  test('hostile strings: escaped in HTML, plain in text, defused in CSV', () => {
    const c = r.cases.find((x) => x.party === HOSTILE_ORG)!;
    const html = readFileSync(path.join(c.dir, 'message.html'), 'utf8');
    for (const bad of ['<script>', '<img', '<b>Clinic</b>']) assert.ok(!html.includes(bad), bad);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(html, /Hostile &lt;b&gt;Clinic&lt;\/b&gt; &amp; &quot;Co&quot;/);
    const text = readFileSync(path.join(c.dir, 'message.txt'), 'utf8');
    assert.match(text, /Plain HTTP <img src=x onerror=alert\(1\)>/, 'text is text');
    const csv = readFileSync(path.join(c.dir, 'affected.csv'), 'utf8');
    assert.match(csv, /,"'=HYPERLINK\(""http:\/\/x""\)",/);
    const json = JSON.parse(readFileSync(path.join(c.dir, 'affected.json'), 'utf8')) as { services: { version: string }[] };
    assert.equal(json.services[0]!.version, '=HYPERLINK("http://x")', 'JSON keeps the value as it is');
  });

  test('the TLP level is in every file', async () => {
    const red = path.join(dir, 'out-red');
    await prepare(red, { tlp: 'red' });
    const files = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(d, e.name)) : [path.join(d, e.name)]));
    for (const f of files(red)) {
      const body = readFileSync(f, 'utf8');
      assert.match(body, /TLP:RED/, f);
      assert.ok(!body.includes('TLP:AMBER'), f);
    }
  });

  test('user templates replace the defaults file by file; a broken one names itself', async () => {
    const tdir = path.join(dir, 'templates');
    mkdirSync(tdir);
    writeFileSync(path.join(tdir, 'subject.txt.eta'), 'Custom notice <%= it.case.id %> for <%= it.case.party %>\n');
    const custom = await prepare(path.join(dir, 'out-custom'), { templates: MessageTemplates.load(tdir) });
    const m = JSON.parse(readFileSync(path.join(custom.cases[0]!.dir, 'manifest.json'), 'utf8')) as { subject: string };
    assert.match(m.subject, /^Custom notice \d+ for /);
    assert.match(readFileSync(path.join(custom.cases[0]!.dir, 'message.txt'), 'utf8'), /^TLP:AMBER\n/, 'the default body');
    writeFileSync(path.join(tdir, 'message.txt.eta'), 'Hello <%= it.case.id %');
    await assert.rejects(prepare(path.join(dir, 'out-broken'), { templates: MessageTemplates.load(tdir) }), (e: unknown) => e instanceof DisclosureError && e.message.includes(path.join(tdir, 'message.txt.eta')));
    assert.throws(() => MessageTemplates.load(path.join(dir, 'no-such-dir')), /not a folder/);
  });
});

describe('send', () => {
  let sink: Awaited<ReturnType<typeof smtpSink>>;
  before(async () => {
    sink = await smtpSink('127.80.3.40');
    await prepare(path.join(dir, 'send-out'));
  });
  after(() => sink.close());
  const smtp = () => ({ host: '127.80.3.40', port: sink.port, secure: false, requireTLS: false, timeoutMs: 5000 });

  test('dry run: the plan, with the case that has no recipient skipped', async () => {
    const r = await sendCases(db, { smtp: null, yes: false, ctx });
    assert.equal(r.dryRun, true);
    assert.equal(r.planned.length, 4);
    assert.deepEqual(r.planned.filter((p) => p.skip !== null).map((p) => [p.party, p.skip]), [['national CERT of FR', 'no recipient known (give prepare --orgs, --certs or --rdap)']]);
    assert.equal(sink.mails.length, 0);
  });

  test('a key changed since prepare is refused; the edited package is what goes out', async () => {
    const cases = await listCases(db);
    const clinic = cases.find((c) => c.partyName === HOSTILE_ORG)!;
    const carrier = cases.find((c) => c.partyName === 'Carrier GmbH (AS64510)')!;
    const carrierDir = readdirSync(path.join(dir, 'send-out')).find((f) => f.startsWith(`case-${carrier.id}-`))!;
    const txt = path.join(dir, 'send-out', carrierDir, 'message.txt');
    writeFileSync(txt, `${readFileSync(txt, 'utf8')}\nEdited by the researcher before sending.\n`);
    const other = await openpgp.generateKey({ userIDs: [{ email: 'sec@clinic.example' }], format: 'armored' });
    const original = readFileSync(path.join(dir, 'clinic.asc'), 'utf8');
    writeFileSync(path.join(dir, 'clinic.asc'), other.publicKey);
    try {
      const r = await sendCases(db, { smtp: smtp(), yes: true, ctx });
      assert.deepEqual(r.failed.map((f) => f.caseId), [clinic.id]);
      assert.match(r.failed[0]!.error, /the key changed since prepare/);
      assert.equal(r.sent.length, 2);
      assert.equal((await getCase(db, clinic.id)).state, 'new');
      const toCarrier = sink.mails.find((m) => m.to[0] === 'cert@de.example')!;
      assert.match(allText(parseMime(toCarrier.raw)), /Edited by the researcher before sending\./);
    } finally {
      writeFileSync(path.join(dir, 'clinic.asc'), original);
    }
    const again = await sendCases(db, { smtp: smtp(), yes: true, ctx });
    assert.deepEqual(again.sent.map((s) => s.caseId), [clinic.id], 'only the case still new');
    const mailToClinic = sink.mails.find((m) => m.to[0] === 'sec@clinic.example')!;
    assert.match(allText(await decryptPgpMime(mailToClinic.raw, keys.privateKey)), /127\.214\.30\.1/);
  });

  test('a notified case sent again with --case is a reminder: logged, state kept', async () => {
    const carrier = (await listCases(db)).find((c) => c.partyName === 'Carrier GmbH (AS64510)')!;
    assert.equal(carrier.state, 'notified');
    const before = sink.mails.length;
    const r = await sendCases(db, { smtp: smtp(), yes: true, ctx, caseIds: [carrier.id], packagesDir: path.join(dir, 'send-out') });
    assert.equal(r.sent.length, 1);
    assert.equal(sink.mails.length, before + 1);
    const notified = (await caseEvents(db, carrier.id)).filter((e) => e.event === 'notified');
    assert.equal(notified.length, 2);
    assert.equal(notified[1]!.detail?.reminder, true);
    assert.equal(notified[1]!.toState, null);
    assert.equal((await getCase(db, carrier.id)).state, 'notified');
  });
});
