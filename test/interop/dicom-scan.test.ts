/**
 * The medsurface CLI against real third-party DICOM peers (Debian's Orthanc and DCMTK),
 * started on loopback by peers.ts, and compared with nmap's dicom-ping on the same peers.
 * Describe names start with the peer family (orthanc, dcmtk, nmap): .ci/run counts tests per family.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { OutputRecord } from '../../src/output/schema.js';
import type { DicomObservation } from '../../src/probes/dicom/schema.js';
import { nmapDicomPing } from './nmap.js';
import { type Peer, REPO_ROOT, startPeers, stopPeers, syntheticDataset } from './peers.js';

const CLI = path.join(REPO_ROOT, 'bin/medsurface.js');
const PORTS = '104,4242,11112';

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  records: OutputRecord[];
}

function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err && typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : err ? 1 : 0;
        if (err && (err as { killed?: boolean }).killed) return reject(new Error(`CLI timed out: ${stderr}`));
        try {
          const records = stdout
            .split('\n')
            .filter(Boolean)
            .map((l) => OutputRecord.parse(JSON.parse(l)));
          resolve({ code, stdout, stderr, records });
        } catch (e) {
          reject(new Error(`output is not valid schema JSONL: ${(e as Error).message}\n${stdout.slice(0, 2000)}\nstderr: ${stderr}`));
        }
      },
    );
  });
}

const dicomOf = (r: OutputRecord | undefined): DicomObservation => {
  assert.ok(r, 'no record for this peer');
  assert.ok(r.data.dicom, `no data.dicom in ${JSON.stringify(r)}`);
  return r.data.dicom;
};

let peers: Peer[] = [];
let work = '';
let safe: CliRun;
const byName = (name: string) => {
  const p = peers.find((x) => x.name === name);
  assert.ok(p, `peer ${name} not started`);
  return p;
};
const recordOf = (run: CliRun, p: Peer) => run.records.find((r) => r.ip === p.ip && r.port === p.port);

before(async () => {
  peers = await startPeers();
  work = mkdtempSync(path.join(tmpdir(), 'medsurface-interop-'));
  safe = await runCli([
    'scan',
    ...peers.map((p) => p.ip),
    '--ports',
    PORTS,
    '--json',
    '--quiet',
    '--db',
    path.join(work, 'safe.sqlite'),
    '--scope',
    '127.0.0.0/24',
  ]);
});

after(async () => {
  await stopPeers(peers);
  if (work) rmSync(work, { recursive: true, force: true });
});

function identityTests(family: string, names: string[]) {
  describe(`${family}: identity and AE verdicts (safe profile)`, () => {
    for (const name of names) {
      test(`${name}: identified at the DICOM layer, AE verdict right`, () => {
        assert.equal(safe.code, 0, safe.stderr);
        const p = byName(name);
        const rec = recordOf(safe, p);
        const d = dicomOf(rec);
        assert.equal(rec!.status, 'success');
        assert.equal(rec!.protocol, 'dicom');
        assert.equal(d.anyAeAccepted, p.expected.anyAeAccepted, `attempts: ${JSON.stringify(d.attempts)}`);
        if (d.association) {
          assert.equal(d.association.implementationClassUid, p.expected.implementationClassUid);
          assert.equal(d.association.implementationVersionName, p.expected.implementationVersionName);
          assert.equal(rec!.vendor, p.expected.vendor);
          assert.equal(rec!.product, p.expected.product);
          assert.equal(rec!.version, p.expected.version);
        }
        const ids = rec!.findings.map((f) => f.id);
        assert.equal(ids.includes('dicom-any-ae'), p.expected.anyAeAccepted, `findings ${ids}`);
        // We release or close every association right after the reply.
        assert.ok(['released', 'aborted-by-peer', 'closed', 'none'].includes(d.release), d.release);
      });
    }
  });
}

identityTests('orthanc', ['orthanc-open', 'orthanc-aecheck']);
identityTests('dcmtk', ['storescp', 'storescp-aet', 'dcmqrscp']);

describe('orthanc: AE policy and the query door', () => {
  test('orthanc-aecheck: random AE rejected, the documented default ORTHANC accepted', () => {
    const d = dicomOf(recordOf(safe, byName('orthanc-aecheck')));
    assert.equal(d.attempts[0]?.kind, 'random');
    assert.equal(d.attempts[0]?.outcome, 'rejected');
    assert.equal(d.attempts[0]?.reject?.reason, 7);
    assert.equal(d.acceptedCalledAe, 'ORTHANC');
    assert.ok(d.attempts.length <= 3, 'safe profile tries at most two defaults');
  });

  test('orthanc-open: safe C-FIND with a random Study Instance UID proves the door open, zero records', () => {
    const rec = recordOf(safe, byName('orthanc-open'));
    const d = dicomOf(rec);
    assert.equal(d.services?.studyRootFind, true);
    assert.equal(d.find?.kind, 'random-uid');
    assert.equal(d.find?.status, 0);
    assert.equal(d.find?.matches, 0);
    assert.ok(rec!.findings.some((f) => f.id === 'dicom-query-open'));
    assert.equal(d.release, 'released');
  });

  test('orthanc-aecheck: C-FIND from an unknown calling AE is aborted; no query-open finding', () => {
    const rec = recordOf(safe, byName('orthanc-aecheck'));
    const d = dicomOf(rec);
    assert.ok(!rec!.findings.some((f) => f.id === 'dicom-query-open'));
    if (d.find) assert.notEqual(d.find.outcome, 'answered');
  });
});

describe('orthanc: intrusive count without keeping a single patient value', () => {
  let run: CliRun;
  let db: string;
  before(async () => {
    db = path.join(work, 'intrusive.sqlite');
    const p = byName('orthanc-open');
    run = await runCli(['scan', p.ip, '--ports', String(p.port), '--profile', 'intrusive', '--json', '--db', db]);
  });

  test('counts the synthetic studies and patients exactly', () => {
    assert.equal(run.code, 0, run.stderr);
    const p = byName('orthanc-open');
    const d = dicomOf(recordOf(run, p));
    assert.equal(d.find?.kind, 'count');
    assert.equal(d.find?.level, 'STUDY');
    assert.equal(d.find?.matches, p.studies);
    assert.equal(d.patientFind?.matches, p.patients);
    assert.ok(d.find?.attributes.includes('StudyInstanceUID'), JSON.stringify(d.find?.attributes));
    assert.ok(recordOf(run, p)!.findings.some((f) => f.id === 'dicom-records-reachable'));
  });

  test('the fake names appear nowhere: stdout, stderr, send log, database files', () => {
    const names = syntheticDataset().patientNames;
    assert.ok(names.length >= 2);
    const places: Record<string, Buffer> = { stdout: Buffer.from(run.stdout), stderr: Buffer.from(run.stderr) };
    for (const f of readdirSync(work)) if (f.startsWith('intrusive.sqlite')) places[f] = readFileSync(path.join(work, f));
    const runs = path.join(work, 'runs');
    if (existsSync(runs)) for (const f of readdirSync(runs)) places[`runs/${f}`] = readFileSync(path.join(runs, f));
    assert.ok(Object.keys(places).some((k) => k.includes('sendlog')), 'a send log was written');
    for (const name of names) {
      const variants = [name, name.replace('^', ' '), name.split('^')[1]!].filter((v) => v.length >= 4);
      for (const [where, bytes] of Object.entries(places)) {
        for (const v of variants) assert.ok(!bytes.includes(Buffer.from(v)), `"${v}" leaked into ${where}`);
      }
    }
  });
});

describe('nmap: our AE verdicts equal nmap dicom-ping on every peer', () => {
  test('full sorted verdict records are equal', async () => {
    const ips = peers.map((p) => p.ip);
    const { verdicts } = await nmapDicomPing(ips, [104, 4242, 11112]);
    const theirs = verdicts
      .filter((v) => v.anyAeAccepted !== null)
      .map((v) => `${v.ip}:${v.port} anyAeAccepted=${v.anyAeAccepted}`)
      .sort();
    const ours = safe.records
      .filter((r) => r.data.dicom && r.data.dicom.anyAeAccepted !== null)
      .map((r) => `${r.ip}:${r.port} anyAeAccepted=${r.data.dicom!.anyAeAccepted}`)
      .sort();
    const onlyOurs = ours.filter((x) => !theirs.includes(x));
    const onlyTheirs = theirs.filter((x) => !ours.includes(x));
    assert.equal(theirs.length, peers.length, `nmap gave a verdict for every peer: ${theirs.join(', ')}`);
    assert.deepEqual(ours, theirs, `difference:\n only medsurface: ${onlyOurs.join(', ')}\n only nmap: ${onlyTheirs.join(', ')}`);
  });
});

describe('dcmtk: inventory after the scan', () => {
  test('inventory list --json holds every peer with its identity', async () => {
    const r = await new Promise<{ stdout: string; code: number }>((resolve) =>
      execFile(process.execPath, [CLI, 'inventory', 'list', '--json', '--db', path.join(work, 'safe.sqlite')], (err, stdout) =>
        resolve({ stdout, code: err ? 1 : 0 }),
      ),
    );
    assert.equal(r.code, 0);
    const assets = JSON.parse(r.stdout) as { ip: string; product: string | null }[];
    for (const p of peers) assert.ok(assets.some((a) => a.ip === p.ip), `asset ${p.ip} in inventory`);
    const sc = assets.find((a) => a.ip === byName('storescp').ip);
    assert.equal(sc?.product, 'DCMTK');
  });
});

describe('dcmtk: intrusive profile on DCMTK peers', () => {
  let run: CliRun;
  before(async () => {
    const targets = ['dcmqrscp', 'storescp', 'storescp-aet'].map((n) => byName(n).ip);
    run = await runCli(['scan', ...targets, '--ports', PORTS, '--profile', 'intrusive', '--json', '--no-inventory', '--quiet']);
  });

  test('dcmqrscp: the guess list finds its called AE within the budget, the count is exact', () => {
    assert.equal(run.code, 0, run.stderr);
    const p = byName('dcmqrscp');
    const rec = recordOf(run, p);
    const d = dicomOf(rec);
    assert.equal(d.anyAeAccepted, false);
    assert.equal(d.acceptedCalledAe, 'DCMQRSCP');
    assert.equal(d.attempts.at(-1)?.kind, 'guess');
    assert.equal(rec!.product, 'DCMTK');
    assert.equal(d.find?.kind, 'count');
    assert.equal(d.find?.matches, p.studies);
    assert.ok(!d.find?.capped);
  });

  test('storescp: storage SCP only, no query was sent, association released', () => {
    const d = dicomOf(recordOf(run, byName('storescp')));
    assert.equal(d.anyAeAccepted, true);
    assert.equal(d.services?.studyRootFind, false);
    assert.ok((d.services?.storage.length ?? 0) > 0);
    assert.equal(d.find, null);
    assert.equal(d.echo?.ok, true);
    assert.equal(d.release, 'released');
  });

  test('storescp-aet: an empty archive counts zero records; no records-reachable finding', () => {
    const rec = recordOf(run, byName('storescp-aet'));
    const d = dicomOf(rec);
    assert.equal(d.acceptedCalledAe, 'STORESCP');
    assert.equal(d.find?.matches, 0);
    assert.ok(!rec!.findings.some((f) => f.id === 'dicom-records-reachable'));
  });
});

describe('orthanc-open: identity fused from DICOM and HTTP, known CVEs by version', () => {
  let run: CliRun;
  before(async () => {
    const p = byName('orthanc-open');
    run = await runCli(['scan', p.ip, '--ports', `${p.port},${p.httpPort}`, '--json', '--no-inventory', '--quiet']);
  });

  test('orthanc-open: the asset is Orthanc although DICOM answers as DCMTK', () => {
    assert.equal(run.code, 0, run.stderr);
    const dicom = run.records.find((r) => r.port === 4242);
    const web = run.records.find((r) => r.port === 8042);
    assert.equal(dicom?.product, 'DCMTK');
    assert.equal(web?.product, 'Orthanc');
    assert.equal(web?.version, '1.10.1');
    assert.equal(dicom?.asset?.product, 'Orthanc');
    assert.equal(web?.asset?.product, 'Orthanc');
  });

  test('orthanc-open: Orthanc 1.10.1 carries the CVEs NVD lists for it, each with confidence "version"', () => {
    const web = run.records.find((r) => r.port === 8042)!;
    const cves = web.findings.filter((f) => f.id.startsWith('CVE-'));
    assert.ok(cves.some((f) => f.id === 'CVE-2023-33466'), cves.map((f) => f.id).join(' '));
    for (const f of cves) assert.equal(f.confidence, 'version');
    assert.ok(web.checksRun?.includes('CVE-2023-33466'));
  });
});
