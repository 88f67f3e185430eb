/**
 * The disclosure proof (issue 7) on the lab, through the `medsurface disclose` commands: a lab on
 * its own block (127.214.0.0/16) and three fake organisations, each owning some of its hosts:
 * - "Fake General Hospital": the lab's PACS (127.214.1.0/24) and web nodes (127.214.4.0/24),
 *   with a contact in orgs.yaml;
 * - "Fake Imaging Clinic": 127.214.7.0/24, an open Orthanc run by this test and a secured one,
 *   with a contact whose OpenPGP key is generated here;
 * - "Fake Research Lab": 127.214.8.0/24, an open Orthanc run by this test, no contact in
 *   orgs.yaml: its abuse contact comes from an RDAP stub.
 * One lab host (fhir-leaky, 127.214.5.17) belongs to nobody. The scan runs in-process into a
 * temporary SQLite inventory; then prepare, send (dry run, then to a local SMTP sink), the
 * Clinic's message decrypted with its private key, the two test-run Orthancs fixed (TLS and
 * authentication on the same address and port: the service still answers, the checks no longer
 * fire), remeasure --after 0d, status and the remediation report.
 *
 * Throughout: every package file and every message carries only its own party's addresses, and
 * none of the lab's synthetic patient values (canaries, record names) appears anywhere.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import * as openpgp from 'openpgp';
import { loopbackOnly } from '../../alerts/test-support.js';
import { openKyselyInventory } from '../../inventory/db.js';
import { type RunningLab, startLab } from '../../lab/index.js';
import { CLINICAL_LAB_CANARIES } from '../../lab/nodes/clinical.js';
import { HL7_LAB_CANARIES } from '../../lab/nodes/hl7.js';
import { CERT_LAB_CANARIES, WEB_LAB_CANARIES, type Route, orthancRoutes, orthancSecure, routeServer } from '../../lab/nodes/web.js';
import { recordSet } from '../../lab/records.js';
import { type ReceivedMail, allText, decryptPgpMime, parseMime, rdapNetwork, rdapStub, smtpSink } from '../../disclosure/test-support.js';
import type { CommandIo } from './inventory.js';
import { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { executeNote, executePrepare, executeRemeasure, executeReport, executeSend, executeSetState, executeStatus, parseSmtp, registerDisclose } from './disclose.js';
import { executeScan, scanOptions } from './scan.js';

const BLOCK = '127.214.0.0/16';
const SMTP_HOST = '127.80.3.20';
const RDAP_HOST = '127.80.3.21';
const LAB_NODES = ['pacs-open', 'pacs-open-4242', 'pacs-ae-check', 'pacs-large', 'web-viewer-leaky', 'web-orthanc', 'fhir-leaky'];
const PORTS = '104,4242,11112,8080,8042,80';
const CLINIC_OPEN = '127.214.7.10';
const CLINIC_SECURE = '127.214.7.11';
const LAB_OPEN = '127.214.8.10';
const UNATTRIBUTED = '127.214.5.17';
const FROM = 'research@scanner.example';

const ORGS = {
  general: { name: 'Fake General Hospital', cidrs: ['127.214.1.0/24', '127.214.4.0/24'], email: 'security@general-hospital.example' },
  clinic: { name: 'Fake Imaging Clinic', cidrs: ['127.214.7.0/24'], email: 'it@imaging-clinic.example' },
  research: { name: 'Fake Research Lab', cidrs: ['127.214.8.0/24'], email: 'noc@research-lab.example' },
} as const;
type OrgKey = keyof typeof ORGS;
const ORG_KEYS = Object.keys(ORGS) as OrgKey[];

/** Orthanc as of 1.12.11 (no curated CVE) with remote access and no authentication: the page shapes of the lab's web-orthanc. */
function orthancOpen(name: string): Route {
  const base = orthancRoutes(name);
  return (p, req) => {
    const r = base(p, req);
    if (p !== '/system' || typeof r.body !== 'string') return r;
    return { ...r, body: JSON.stringify({ ...(JSON.parse(r.body) as Record<string, unknown>), Version: '1.12.11' }, null, 3) };
  };
}
/** The fix: authentication enabled (every resource 401, lab web-orthanc-secure) and HTTPS with a CA-issued certificate. */
const orthancFixed = (name: string) => routeServer(name, orthancSecure, { tls: true, cert: 'cert-canary' });

/** Every synthetic patient value the lab can show: canaries of each node family, and the record store's names and ids. */
function patientValues(): string[] {
  const out = new Set<string>([
    ...Object.values(WEB_LAB_CANARIES),
    ...Object.values(CERT_LAB_CANARIES),
    ...Object.values(HL7_LAB_CANARIES),
    ...Object.values(CLINICAL_LAB_CANARIES.fhir),
    ...Object.values(CLINICAL_LAB_CANARIES.dicomweb),
  ]);
  for (const set of ['standard', 'large'] as const) {
    for (const r of recordSet(set)) {
      out.add(r.patientName);
      out.add(r.patientId);
      out.add(r.accessionNumber);
      out.add(r.studyInstanceUid);
    }
  }
  return [...out].filter((v) => typeof v === 'string' && v.length >= 6);
}

function capture(): CommandIo & { text: () => string; errText: () => string; code: number | null } {
  let out = '';
  let err = '';
  const io = {
    code: null as number | null,
    out: new Writable({
      write(chunk, _e, cb) {
        out += String(chunk);
        cb();
      },
    }),
    err: new Writable({
      write(chunk, _e, cb) {
        err += String(chunk);
        cb();
      },
    }),
    setExitCode(c: number) {
      io.code = c;
    },
    text: () => out,
    errText: () => err,
  };
  return io;
}

/** Files under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

const mentions = (text: string, ip: string) => new RegExp(`(^|[^0-9.])${ip.replace(/\./g, '\\.')}($|[^0-9])`).test(text);

let dir: string;
let db: string;
let out: string;
let lab: RunningLab;
let smtp: Awaited<ReturnType<typeof smtpSink>>;
let rdap: Awaited<ReturnType<typeof rdapStub>>;
let clinicKey: { privateKey: string; publicKey: string };
const servers: Record<string, { stop(): Promise<void> }> = {};
/** The addresses with open findings of each organisation, as the inventory says (the expectation). */
const exposed: Record<OrgKey, Set<string>> = { general: new Set(), clinic: new Set(), research: new Set() };
const caseOf: Partial<Record<OrgKey, number>> = {};
const deps = { guard: loopbackOnly, stopDir: null };

const scanIo = { stdout: process.stdout, stderr: process.stderr, stopDir: null, writer: { count: 0, write() {}, close: async () => {} } };

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'medsurface-disclose-'));
  db = path.join(dir, 'inventory.sqlite');
  out = path.join(dir, 'packages');
  clinicKey = await openpgp.generateKey({ userIDs: [{ name: 'Fake Imaging Clinic IT', email: ORGS.clinic.email }], format: 'armored' });
  writeFileSync(path.join(dir, 'clinic.asc'), clinicKey.publicKey);
  writeFileSync(
    path.join(dir, 'orgs.yaml'),
    [
      `- name: ${ORGS.general.name}`,
      `  cidrs: [${ORGS.general.cidrs.join(', ')}]`,
      `  contact: { name: General Hospital Security Office, email: ${ORGS.general.email} }`,
      `- name: ${ORGS.clinic.name}`,
      `  cidrs: [${ORGS.clinic.cidrs.join(', ')}]`,
      `  contact: { name: Imaging Clinic IT, email: ${ORGS.clinic.email}, pgpKey: clinic.asc }`,
      `- name: ${ORGS.research.name}`,
      `  cidrs: [${ORGS.research.cidrs.join(', ')}]`,
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'certs.yaml'), 'sector:\n  - name: Health sector ISAC (test)\n    email: isac@cert.example\n');

  lab = await startLab({ block: BLOCK, only: LAB_NODES, quiet: true });
  servers.clinicOpen = await routeServer('clinic-open', orthancOpen('CLINIC'))(CLINIC_OPEN, 8042);
  servers.clinicSecure = await orthancFixed('clinic-secure')(CLINIC_SECURE, 8042);
  servers.labOpen = await routeServer('research-open', orthancOpen('RESEARCH'))(LAB_OPEN, 8042);
  smtp = await smtpSink(SMTP_HOST);
  rdap = await rdapStub(RDAP_HOST, (ip) => (ip.startsWith('127.214.8.') ? { status: 200, body: rdapNetwork('127.214.8.0', '127.214.8.255', ORGS.research.email, 'FAKE-RESEARCH-NET') } : null));

  const hosts = [...new Set(lab.nodes.map((n) => n.ip)), CLINIC_OPEN, CLINIC_SECURE, LAB_OPEN];
  const s = await executeScan(
    hosts,
    scanOptions({ ports: PORTS, db, orgs: path.join(dir, 'orgs.yaml'), quiet: true, json: true, concurrency: 16, hostDelay: 0, connectTimeout: 2000, readTimeout: 4000, sessionTimeout: 10000, retries: 0 }),
    scanIo,
  );
  assert.equal(s.state, 'completed');

  const inv = await openKyselyInventory(db);
  try {
    for (const k of ORG_KEYS) {
      for (const cidr of ORGS[k].cidrs) {
        for (const f of await inv.listFindings({ ip: cidr, state: 'open' })) if (f.userState === null && f.severity !== 'info') exposed[k].add(f.ip);
      }
    }
    assert.equal((await inv.listAssets({})).filter((a) => a.ip.startsWith('127.214.')).length >= 8, true);
  } finally {
    await inv.close();
  }
});

after(async () => {
  await Promise.all(Object.values(servers).map((s) => s.stop()));
  await lab?.stop();
  await smtp?.close();
  await rdap?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('disclosure over a lab with three fake organisations', () => {
  test('the scan saw exposures in every organisation, and the ones this test fixes later', () => {
    assert.ok(exposed.general.size >= 3, `general: ${[...exposed.general]}`);
    assert.deepEqual([...exposed.clinic], [CLINIC_OPEN], 'the secured Orthanc raises nothing');
    assert.deepEqual([...exposed.research], [LAB_OPEN]);
  });

  test('prepare: one case per organisation, each package with exactly its own addresses', async () => {
    const io = capture();
    await executePrepare(
      { db, out, from: FROM, reporter: 'Example Measurement Team', orgs: path.join(dir, 'orgs.yaml'), certs: path.join(dir, 'certs.yaml'), rdap: rdap.url, rdapDelay: 0 },
      io,
      deps,
    );
    assert.match(io.text(), /3 new case\(s\)/);
    assert.match(io.errText(), /open finding\(s\) on hosts with no organisation/, 'the unowned lab host is reported, not notified');

    const st = capture();
    await executeStatus(undefined, { db, json: true }, st);
    const cases = JSON.parse(st.text()) as { id: number; partyName: string; partyKind: string; state: string; recipient: { email: string; source: string; pgpKey?: string } }[];
    assert.deepEqual(cases.map((c) => c.partyName).sort(), ORG_KEYS.map((k) => ORGS[k].name).sort());
    for (const c of cases) {
      assert.equal(c.partyKind, 'org');
      assert.equal(c.state, 'new');
      const k = ORG_KEYS.find((x) => ORGS[x].name === c.partyName)!;
      caseOf[k] = c.id;
      assert.equal(c.recipient.email, ORGS[k].email);
    }
    assert.equal(cases.find((c) => c.id === caseOf.clinic)!.recipient.pgpKey, path.join(dir, 'clinic.asc'));
    assert.equal(cases.find((c) => c.id === caseOf.research)!.recipient.source, 'rdap');
    assert.equal(cases.find((c) => c.id === caseOf.general)!.recipient.source, 'orgs');
    assert.deepEqual(rdap.requests, [`/ip/${LAB_OPEN}`], 'one RDAP lookup, for the one address of the organisation without a contact');

    for (const k of ORG_KEYS) {
      const folder = readdirSync(out).find((f) => f.startsWith(`case-${caseOf[k]}-`));
      assert.ok(folder, `package of ${k}`);
      const json = JSON.parse(readFileSync(path.join(out, folder, 'affected.json'), 'utf8')) as { tlp: string; services: { ip: string; findings: unknown[] }[] };
      assert.equal(json.tlp, 'TLP:AMBER');
      assert.deepEqual(new Set(json.services.map((s) => s.ip)), exposed[k], `${k}: the package lists exactly the organisation's exposed addresses`);
      const csv = readFileSync(path.join(out, folder, 'affected.csv'), 'utf8').trim().split('\r\n');
      assert.equal(csv.length - 1, json.services.reduce((n, s) => n + s.findings.length, 0));
      for (const row of csv.slice(1)) assert.ok(row.startsWith('TLP:AMBER,'), row);
      const text = readFileSync(path.join(out, folder, 'message.txt'), 'utf8');
      assert.ok(text.startsWith('TLP:AMBER\n'), text.slice(0, 40));
      for (const ip of exposed[k]) assert.ok(mentions(text, ip), `${k}: message names ${ip}`);
      assert.match(readFileSync(path.join(out, folder, 'message.html'), 'utf8'), /<span class="tlp">TLP:AMBER<\/span>/);
      for (const f of readdirSync(path.join(out, folder))) {
        const body = readFileSync(path.join(out, folder, f), 'utf8');
        assert.match(body, /TLP:AMBER/, `${folder}/${f} carries the TLP marking`);
        for (const other of ORG_KEYS.filter((x) => x !== k)) {
          for (const ip of exposed[other]) assert.ok(!mentions(body, ip), `${folder}/${f} names ${ip} of ${other}`);
          assert.ok(!body.includes(ORGS[other].name), `${folder}/${f} names ${ORGS[other].name}`);
        }
        assert.ok(!mentions(body, UNATTRIBUTED), `${folder}/${f} names the unowned host`);
      }
    }
  });

  test('prepare: the CERT batch covers every owner at once, as CSV and XARF v4', () => {
    const batch = path.join(out, 'cert-batches', 'health-sector-isac-test');
    const csv = readFileSync(path.join(batch, 'batch.csv'), 'utf8').trim().split('\r\n');
    assert.equal(csv[0], 'case,party,country,tlp,ip,port,protocol,product,vendor,version,device_type,finding_id,severity,title,confidence,first_seen,last_seen,remediation');
    const parties = new Set(csv.slice(1).map((r) => r.split(',')[1]));
    assert.deepEqual(parties, new Set(ORG_KEYS.map((k) => ORGS[k].name)));
    const reports = readFileSync(path.join(batch, 'xarf.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(reports.length, csv.length - 1);
    const all = new Set(ORG_KEYS.flatMap((k) => [...exposed[k]]));
    for (const r of reports) {
      assert.equal(r.xarf_version, '4.0.0');
      assert.equal(r.category, 'vulnerability');
      assert.equal(r.tlp, 'TLP:AMBER');
      assert.ok((r.tags as string[]).includes('tlp:amber'));
      assert.ok(all.has(r.source_identifier as string));
      assert.match(r.report_id as string, /^[0-9a-f-]{36}$/);
      assert.deepEqual(r.reporter, { org: 'Example Measurement Team', contact: FROM, domain: 'scanner.example' });
    }
    const index = JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8')) as { tlp: string; unattributedFindings: number };
    assert.equal(index.tlp, 'TLP:AMBER');
    assert.ok(index.unattributedFindings > 0);
  });

  test('no synthetic patient value appears in any package file', () => {
    const values = patientValues();
    assert.ok(values.length > 300);
    for (const f of filesUnder(out)) {
      const body = readFileSync(f, 'utf8');
      for (const v of values) assert.ok(!body.includes(v), `${path.relative(out, f)} contains ${v}`);
    }
  });

  test('send without --yes sends nothing and says what it would send', async () => {
    const io = capture();
    await executeSend({ db, smtp: `${SMTP_HOST}:${smtp.port}` }, io, deps);
    assert.equal(smtp.connections(), 0);
    assert.equal(smtp.mails.length, 0);
    assert.equal((io.text().match(/would send/g) ?? []).length, 3);
    assert.match(io.text(), new RegExp(`would send ${ORGS.clinic.email}: .*OpenPGP-encrypted`));
    assert.match(io.errText(), /nothing was sent/);
    const st = capture();
    await executeStatus(undefined, { db, json: true }, st);
    assert.ok((JSON.parse(st.text()) as { state: string }[]).every((c) => c.state === 'new'));
  });

  let mails: Record<OrgKey, ReceivedMail>;

  test('send --yes: the sink receives exactly one message per case, logged with its Message-ID', async () => {
    const io = capture();
    await executeSend({ db, smtp: `${SMTP_HOST}:${smtp.port}`, from: FROM, yes: true }, io, deps);
    assert.equal(io.code, null, io.errText());
    assert.equal(smtp.mails.length, 3);
    assert.deepEqual(smtp.mails.map((m) => m.to).sort(), ORG_KEYS.map((k) => [ORGS[k].email]).sort());
    mails = Object.fromEntries(ORG_KEYS.map((k) => [k, smtp.mails.find((m) => m.to[0] === ORGS[k].email)!])) as Record<OrgKey, ReceivedMail>;
    for (const k of ORG_KEYS) {
      const m = mails[k];
      assert.equal(m.from, FROM);
      const st = capture();
      await executeStatus(String(caseOf[k]), { db, json: true }, st);
      const c = JSON.parse(st.text()) as { state: string; history: { event: string; toState: string | null; detail: Record<string, unknown> }[] };
      assert.equal(c.state, 'notified');
      const notified = c.history.filter((e) => e.event === 'notified');
      assert.equal(notified.length, 1);
      assert.equal(notified[0]!.toState, 'notified');
      assert.equal(notified[0]!.detail.to, ORGS[k].email);
      assert.equal(parseMime(m.raw).headers['message-id'], notified[0]!.detail.messageId);
      assert.match(parseMime(m.raw).headers.subject ?? '', /^\[TLP:AMBER\] /);
    }
  });

  test("the Clinic's message is PGP/MIME, readable only with its key, and complete once decrypted", async () => {
    const raw = mails.clinic.raw;
    const outer = parseMime(raw);
    assert.match(outer.headers['content-type'] ?? '', /^multipart\/encrypted;.*protocol="application\/pgp-encrypted"/s);
    assert.equal(outer.parts[0]!.body.trim(), 'Version: 1');
    assert.ok(!mentions(raw, CLINIC_OPEN), 'the address is not readable in transit');
    const inner = await decryptPgpMime(raw, clinicKey.privateKey);
    const text = allText(inner);
    assert.ok(mentions(text, CLINIC_OPEN));
    assert.match(text, /orthanc-rest-open/);
    assert.match(text, /^TLP:AMBER$/m);
    const names = inner.parts.map((p) => /filename="?([^";]+)/.exec(p.headers['content-disposition'] ?? '')?.[1]).filter(Boolean);
    assert.deepEqual(names, ['affected.csv', 'affected.json']);
    // The plain messages are not encrypted.
    assert.match(parseMime(mails.general.raw).headers['content-type'] ?? '', /^multipart\/mixed/);
  });

  test('no recipient receives another party’s addresses, findings or patient values', async () => {
    const values = patientValues();
    for (const k of ORG_KEYS) {
      const m = mails[k];
      const readable = k === 'clinic' ? allText(await decryptPgpMime(m.raw, clinicKey.privateKey)) : allText(parseMime(m.raw));
      for (const ip of exposed[k]) assert.ok(mentions(readable, ip), `${k} is told about ${ip}`);
      for (const other of ORG_KEYS.filter((x) => x !== k)) {
        for (const ip of exposed[other]) assert.ok(!mentions(readable, ip) && !mentions(m.raw, ip), `${k} received ${ip} of ${other}`);
        assert.ok(!readable.includes(ORGS[other].name), `${k} received the name of ${other}`);
      }
      assert.ok(!mentions(readable, UNATTRIBUTED));
      for (const v of values) assert.ok(!readable.includes(v) && !m.raw.includes(v), `${k}'s message contains ${v}`);
    }
  });

  test('notes and manual states land in the history', async () => {
    const io = capture();
    await executeSetState(String(caseOf.general), 'acknowledged', { db, note: 'reply from the security office' }, io);
    assert.match(io.text(), /notified → acknowledged/);
    await executeNote(String(caseOf.general), 'PACS vendor contacted\u001b[2J by the hospital', { db }, capture());
    await assert.rejects(executeSetState(String(caseOf.general), 'new', { db }, capture()), /cannot become new/);
    const st = capture();
    await executeStatus(String(caseOf.general), { db }, st);
    assert.match(st.text(), /state notified → acknowledged note=reply from the security office/);
    assert.match(st.text(), /note text=PACS vendor contacted \[2J by the hospital\n/, 'the escape character is gone');
  });

  test('remeasure after fixing two nodes resolves exactly those cases', async () => {
    await servers.clinicOpen!.stop();
    await servers.labOpen!.stop();
    servers.clinicOpen = await orthancFixed('clinic-fixed')(CLINIC_OPEN, 8042);
    servers.labOpen = await orthancFixed('research-fixed')(LAB_OPEN, 8042);

    // One of the General Hospital's hosts opted out since: the rescan must not touch it.
    const optedOut = [...exposed.general].sort()[0]!;
    const observationsOf = async (ip: string) => {
      const inv = await openKyselyInventory(db);
      try {
        const r = await inv.db.selectFrom('observations').innerJoin('services', 'services.id', 'observations.service_id').select((eb) => eb.fn.countAll<number>().as('n')).where('services.ip', '=', ip).executeTakeFirstOrThrow();
        return Number(r.n);
      } finally {
        await inv.close();
      }
    };
    const before = await observationsOf(optedOut);
    const io = capture();
    await executeRemeasure({ db, after: '0d', json: true, exclude: [optedOut] }, io, deps);
    assert.equal(await observationsOf(optedOut), before, `${optedOut} was excluded from the rescan`);
    const r = JSON.parse(io.text()) as { runs: { runId: string; state: string }[]; cases: { caseId: number; after: string; findings: { total: number; fixed: number } }[]; resolved: number };
    assert.ok(r.runs.length >= 1 && r.runs.every((x) => x.state === 'completed'));
    assert.equal(r.resolved, 2);
    const after = Object.fromEntries(r.cases.map((c) => [c.caseId, c]));
    assert.equal(after[caseOf.clinic!]!.after, 'resolved');
    assert.equal(after[caseOf.research!]!.after, 'resolved');
    assert.equal(after[caseOf.general!]!.after, 'acknowledged');
    assert.ok(after[caseOf.general!]!.findings.fixed < after[caseOf.general!]!.findings.total);

    // Only the services of the notified cases were rescanned.
    const inv = await openKyselyInventory(db);
    try {
      const runs = await inv.db.selectFrom('scan_runs').select(['id', 'targets_spec', 'options']).where('id', 'in', r.runs.map((x) => x.runId)).execute();
      const targets = new Set(runs.flatMap((x) => JSON.parse(x.targets_spec) as string[]));
      assert.deepEqual(targets, new Set([...exposed.general, ...exposed.clinic, ...exposed.research]));
      assert.ok(!targets.has(CLINIC_SECURE) && !targets.has(UNATTRIBUTED));
    } finally {
      await inv.close();
    }

    const st = capture();
    await executeStatus(undefined, { db, json: true }, st);
    const states = Object.fromEntries((JSON.parse(st.text()) as { id: number; state: string }[]).map((c) => [c.id, c.state]));
    assert.deepEqual(states, { [caseOf.general!]: 'acknowledged', [caseOf.clinic!]: 'resolved', [caseOf.research!]: 'resolved' });
  });

  test('the remediation report counts the fixes by party and over time, and names no address', async () => {
    const io = capture();
    await executeReport({ db, format: 'json' }, io);
    const r = JSON.parse(io.text()) as { tlp: string; totals: { resolvedCases: number; fixed: number }; parties: { caseId: number; findings: number; fixed: number; fixedWithinDays: Record<string, number> }[]; timeline: { cumulativeFixed: number }[] };
    assert.equal(r.tlp, 'TLP:AMBER');
    assert.equal(r.totals.resolvedCases, 2);
    for (const k of ['clinic', 'research'] as const) {
      const p = r.parties.find((x) => x.caseId === caseOf[k])!;
      assert.equal(p.fixed, p.findings);
      assert.equal(p.fixedWithinDays['7'], p.findings);
    }
    assert.equal(r.timeline.at(-1)!.cumulativeFixed, r.totals.fixed);
    const md = capture();
    await executeReport({ db, format: 'md', tlp: 'amber+strict' }, md);
    assert.match(md.text(), /^\*\*TLP:AMBER\+STRICT\*\*/);
    assert.match(md.text(), /\| Fake Imaging Clinic \| resolved \|/);
    assert.ok(!/127\.214\./.test(md.text()));
  });
});

describe('the disclose command line', () => {
  async function run(args: string[]): Promise<ReturnType<typeof capture>> {
    const io = capture();
    const program = new Command().exitOverride();
    program.configureOutput({ writeOut: () => {}, writeErr: () => {} });
    registerDisclose(program, io, deps);
    await program.parseAsync(['disclose', ...args], { from: 'user' });
    return io;
  }

  test('subcommands are wired: status, report', async () => {
    const st = await run(['status', '--db', db]);
    assert.match(st.text(), /Fake Imaging Clinic \(org\)/);
    const rep = await run(['report', '--db', db, '--format', 'json', '--tlp', 'green']);
    assert.equal((JSON.parse(rep.text()) as { tlp: string }).tlp, 'TLP:GREEN');
  });

  test('bad input is a UsageError with a clear message', async () => {
    const cases: [string[], RegExp][] = [
      [['prepare', '--db', db, '--out', path.join(dir, 'x')], /--from ADDRESS is required/],
      [['prepare', '--db', db, '--out', path.join(dir, 'x'), '--from', 'not-an-address'], /--from: not an e-mail address/],
      [['prepare', '--db', db, '--out', path.join(dir, 'x'), '--from', FROM, '--tlp', 'purple'], /--tlp must be one of clear, green, amber, amber\+strict, red/],
      [['prepare', '--db', db, '--out', path.join(dir, 'x'), '--from', FROM, '--min-severity', 'huge'], /--min-severity must be one of/],
      [['prepare', '--db', db, '--out', path.join(dir, 'x'), '--from', FROM, '--rdap', 'ftp://example.org'], /--rdap: only http and https/],
      [['prepare', '--db', db, '--out', path.join(dir, 'x'), '--from', FROM, '--certs', path.join(dir, 'missing.yaml')], /missing\.yaml: file not found/],
      [['send', '--db', db, '--yes'], /--yes needs --smtp HOST:PORT/],
      [['send', '--db', db, '--smtp', 'a:b:c'], /--smtp: "a:b:c" is not HOST:PORT/],
      [['set-state', 'x', 'resolved', '--db', db], /not a case number/],
      [['set-state', '1', 'fixed', '--db', db], /unknown case state "fixed"/],
      [['note', '999', 'hello', '--db', db], /no disclosure case "999"/],
      [['remeasure', '--db', db, '--after', '1m'], /--after: "1m" is not an age/],
      [['report', '--db', db, '--format', 'pdf'], /--format must be md or json/],
    ];
    for (const [args, re] of cases) {
      await assert.rejects(run(args), (e: unknown) => e instanceof UsageError && re.test(e.message), args.join(' '));
    }
    assert.equal(readdirSync(dir).includes('x'), false, 'nothing written when the input is bad');
  });

  test('--smtp takes HOST:PORT, [IPv6]:PORT and HOST', () => {
    assert.deepEqual(parseSmtp('127.0.0.1:2525', {}), { host: '127.0.0.1', port: 2525, secure: false, requireTLS: false, timeoutMs: 30000 });
    assert.equal(parseSmtp('[::1]:25', {}).host, '::1');
    assert.equal(parseSmtp('mail.example.org', { smtpSecure: true }).port, 465);
    assert.throws(() => parseSmtp('h:70000', {}), /outside 1-65535/);
    assert.throws(() => parseSmtp('h:25', { smtpUser: 'u' }), /MEDSURFACE_SMTP_PASSWORD/);
  });
});
