/**
 * Self-test of the interop harness: the real peers start on their own loopback addresses, answer
 * DCMTK's own tools the way peers.ts says they do, agree with nmap's dicom-ping, serve the synthetic
 * studies, and leave nothing listening once stopped. A missing binary FAILS this file (no skip).
 *
 * Named "harness: ..." so that scripts/count-interop.ts does not count it for any peer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertLoopbackTargets, nmapDicomPing, parseNmapXml } from './nmap.js';
import {
  echoscu,
  findBinary,
  listenersOn,
  PEER_DEFS,
  PEER_NAMES,
  type Peer,
  peerBinariesPresent,
  peerHttpGet,
  processGroupAlive,
  runCommand,
  startPeers,
  stopPeers,
  syntheticDataset,
  tcpListeners,
} from './peers.js';

const ALL_IPS = PEER_DEFS.map((d) => d.ip);

/** DCMTK findscu at study level (PS3.4 C.6.2, Study Root); returns the number of pending responses. */
async function findStudies(peer: Peer, callingAe: string): Promise<{ ok: boolean; matches: number; output: string }> {
  const findscu = findBinary('findscu');
  assert.ok(findscu, 'findscu is installed');
  const r = await runCommand(findscu, [
    '-S',
    '-to',
    '5',
    '-ta',
    '5',
    '-td',
    '5',
    '-aet',
    callingAe,
    '-aec',
    peer.expected.calledAe ?? 'ANY-SCP',
    '-k',
    'QueryRetrieveLevel=STUDY',
    '-k',
    'StudyInstanceUID',
    peer.ip,
    String(peer.port),
  ]);
  const output = r.stdout + r.stderr;
  return { ok: r.code === 0, matches: (output.match(/Find Response: \d+ \(Pending\)/g) ?? []).length, output };
}

function byName(peers: Peer[], name: string): Peer {
  const p = peers.find((x) => x.name === name);
  assert.ok(p, `peer ${name} started`);
  return p;
}

// Outside the suite so that a missing binary shows as a plain failed assertion (the suite's
// before() then fails too, which cancels every test in it: a failure, never a skip).
test('harness: every peer binary is installed', () => {
  assert.deepEqual(peerBinariesPresent().missing, [], 'run: bash scripts/install-peers.sh');
});

describe('harness: real peers on loopback', { timeout: 120_000 }, () => {
  let peers: Peer[] = [];

  before(async () => {
    peers = await startPeers();
  });

  after(async () => {
    await stopPeers(peers);
  });

  test('all peers started, each on its own 127.0.0.x address, never 127.0.0.1', () => {
    assert.deepEqual(peers.map((p) => p.name).sort(), [...PEER_NAMES].sort());
    const ips = peers.map((p) => p.ip);
    assert.equal(new Set(ips).size, ips.length);
    for (const ip of ips) {
      assert.match(ip, /^127\.\d+\.\d+\.\d+$/);
      assert.notEqual(ip, '127.0.0.1');
    }
  });

  test('every listening socket of every peer process is on that peer address', async () => {
    const listeners = await tcpListeners();
    for (const p of peers) {
      const mine = listeners.filter((l) => l.pids.includes(p.pid));
      const ports = mine.map((l) => l.port).sort((a, b) => a - b);
      assert.deepEqual(ports, [p.port, ...(p.httpPort ? [p.httpPort] : [])].sort((a, b) => a - b), `${p.name} ports`);
      for (const l of mine) assert.equal(l.ip, p.ip, `${p.name} listens on ${l.ip}:${l.port}`);
    }
  });

  test('every peer answers a C-ECHO on its called AE, with the expected implementation UID and version name', async () => {
    for (const p of peers) {
      const r = await echoscu(p.ip, p.port, p.expected.calledAe ?? 'ANY-SCP');
      assert.ok(r.ok, `${p.name}: C-ECHO failed\n${r.output.slice(-1500)}`);
      assert.equal(r.implementationClassUid, p.expected.implementationClassUid, `${p.name} implementation class UID`);
      assert.equal(r.implementationVersionName, p.expected.implementationVersionName, `${p.name} implementation version name`);
      assert.equal(p.expected.vendor, 'OFFIS');
      assert.equal(p.expected.product, 'DCMTK');
      assert.equal(r.implementationVersionName, `OFFIS_DCMTK_${p.expected.version.replaceAll('.', '')}`);
    }
  });

  test('an unknown called AE is accepted exactly by the peers expected to accept any AE', async () => {
    for (const p of peers) {
      const r = await echoscu(p.ip, p.port, 'MEDSURF-NOPE');
      if (p.expected.anyAeAccepted) {
        assert.ok(r.ok, `${p.name} should accept any called AE\n${r.output.slice(-1500)}`);
      } else {
        assert.equal(r.ok, false, `${p.name} should reject an unknown called AE`);
        // A-ASSOCIATE-RJ result 1, source 1, reason 7 (PS3.8 §9.3.4)
        assert.equal(r.rejectReason, 'Called AE Title Not Recognized', p.name);
      }
    }
  });

  test("nmap dicom-ping's verdict equals each peer's expected.anyAeAccepted", async () => {
    const ports = [...new Set(peers.map((p) => p.port))];
    const { verdicts, wallMs } = await nmapDicomPing(
      peers.map((p) => p.ip),
      ports,
    );
    assert.ok(wallMs > 0);
    for (const p of peers) {
      const v = verdicts.find((x) => x.ip === p.ip && x.port === p.port);
      assert.ok(v, `nmap listed ${p.name} ${p.ip}:${p.port}`);
      assert.equal(v.state, 'open', p.name);
      assert.equal(v.anyAeAccepted, p.expected.anyAeAccepted, `${p.name}: nmap said ${JSON.stringify(v.raw)}`);
    }
    // Ports where no peer listens are closed on the peer addresses (nothing else sits there).
    for (const v of verdicts) {
      if (!peers.some((p) => p.ip === v.ip && p.port === v.port)) assert.equal(v.state, 'closed', `${v.ip}:${v.port}`);
    }
  });

  test('findscu on orthanc-open from an unknown calling AE returns every synthetic study', async () => {
    const p = byName(peers, 'orthanc-open');
    const data = syntheticDataset();
    assert.equal(p.studies, data.studies);
    assert.equal(p.patients, data.patients);
    assert.deepEqual(data.patientNames, ['TEST^ALPHA', 'TEST^BRAVO', 'TEST^CHARLIE']);
    const r = await findStudies(p, 'MEDSURF-ANY');
    assert.ok(r.ok, r.output.slice(-1500));
    assert.equal(r.matches, p.studies);
  });

  test('findscu on orthanc-aecheck: aborted from an unknown calling AE, answered from the known one', async () => {
    const p = byName(peers, 'orthanc-aecheck');
    const unknown = await findStudies(p, 'MEDSURF-ANY');
    // Orthanc accepts the association, then answers the C-FIND with an A-ABORT (PEERS.md); findscu
    // still exits 0, so judge by its output.
    assert.equal(unknown.matches, 0);
    assert.match(unknown.output, /Peer aborted Association/);
    assert.ok(p.knownCallingAe);
    const known = await findStudies(p, p.knownCallingAe);
    assert.ok(known.ok, known.output.slice(-1500));
    assert.equal(known.matches, p.studies);
  });

  test('findscu on dcmqrscp returns every synthetic study; storescp-aet has an empty archive', async () => {
    const q = byName(peers, 'dcmqrscp');
    const r = await findStudies(q, 'MEDSURF-ANY');
    assert.ok(r.ok, r.output.slice(-1500));
    assert.equal(r.matches, q.studies);
    const s = byName(peers, 'storescp-aet');
    const e = await findStudies(s, 'MEDSURF-ANY');
    assert.ok(e.ok, e.output.slice(-1500));
    assert.equal(e.matches, 0);
    assert.equal(s.studies, 0);
  });

  test("Orthanc's HTTP side: open on orthanc-open, Basic auth on orthanc-aecheck, DICOMweb enabled", async () => {
    const open = byName(peers, 'orthanc-open');
    const sys = await peerHttpGet(open, '/system');
    assert.equal(sys.status, 200);
    const body = JSON.parse(sys.body) as { Version: string; DicomAet: string };
    assert.equal(body.Version, open.expected.http?.version);
    assert.equal(body.DicomAet, 'ORTHANC');
    const qido = await peerHttpGet(open, `${open.expected.http?.dicomWebRoot}studies`);
    assert.equal(qido.status, 200);
    assert.equal((JSON.parse(qido.body) as unknown[]).length, open.studies);

    const sec = byName(peers, 'orthanc-aecheck');
    const denied = await peerHttpGet(sec, '/system');
    assert.equal(denied.status, 401);
    assert.match(String(denied.headers['www-authenticate']), /^Basic realm="Orthanc Secure Area"/);
    assert.ok(sec.httpAuth);
    assert.equal((await peerHttpGet(sec, '/system', sec.httpAuth)).status, 200);
  });

  test('each peer writes its log file', async () => {
    const { readFileSync } = await import('node:fs');
    for (const p of peers) assert.ok(readFileSync(p.logFile, 'utf8').length > 0, p.logFile);
  });

  test('the nmap helper refuses non-loopback targets and parses dicom-ping XML', () => {
    for (const bad of ['10.0.0.1', '127.example.org', '0.0.0.0', '127.0.0.1 10.0.0.1', '::1', '127.0.0.300']) {
      assert.throws(() => assertLoopbackTargets([bad]), /non-loopback|bad octet/, bad);
    }
    assert.doesNotThrow(() => assertLoopbackTargets(['127.0.0.21', '127.0.0.21-25', '127.0.0.0/24']));
    // Shape from nmap scripts/dicom-ping.nse @xmloutput
    const xml =
      '<nmaprun><host><status state="up"/><address addr="127.0.0.9" addrtype="ipv4"/><ports>' +
      '<port protocol="tcp" portid="104"><state state="open" reason="syn-ack"/><service name="dicom"/>' +
      '<script id="dicom-ping" output="&#xa;  dicom: DICOM Service Provider discovered!&#xa;  config: Called AET check enabled">' +
      '<elem key="config">Called AET check enabled</elem></script></port>' +
      '<port protocol="tcp" portid="4242"><state state="open" reason="syn-ack"/></port>' +
      '<port protocol="tcp" portid="11112"><state state="closed" reason="conn-refused"/></port>' +
      '</ports></host></nmaprun>';
    assert.deepEqual(parseNmapXml(xml), [
      { ip: '127.0.0.9', port: 104, state: 'open', anyAeAccepted: false, raw: 'dicom: DICOM Service Provider discovered!\n  config: Called AET check enabled' },
      { ip: '127.0.0.9', port: 4242, state: 'open', anyAeAccepted: null, raw: '' },
      { ip: '127.0.0.9', port: 11112, state: 'closed', anyAeAccepted: null, raw: '' },
    ]);
  });

  // Keep last: it stops the peers.
  test('stopPeers stops every peer and leaves nothing listening on the peer addresses', async () => {
    const pids = peers.map((p) => p.pid);
    const t0 = Date.now();
    await stopPeers(peers);
    peers = [];
    assert.ok(Date.now() - t0 < 15_000, 'stop within the SIGKILL deadline');
    assert.deepEqual(await listenersOn(ALL_IPS), []);
    for (const pid of pids) assert.equal(processGroupAlive(pid), false, `process group ${pid} is gone`);
  });
});

describe('harness: count-interop reads the spec reporter', () => {
  // Shape of node 20's spec reporter (--test-reporter=spec), one suite passing, one with a failed hook.
  const log = [
    '▶ orthanc: identity',
    '  ✔ orthanc-open: identified (1.5ms)',
    '  ✔ orthanc-aecheck: identified (0.9ms)',
    '✔ orthanc: identity (3.2ms)',
    '▶ dcmtk: identity',
    '  ✔ storescp: identified (1ms)',
    '  ✔ storescp-aet: identified (1ms)',
    '  ✖ dcmqrscp: identified (2ms)',
    '    AssertionError [ERR_ASSERTION]: boom',
    '      ✔ not a test line (inside the error text)',
    '  ﹣ storescp: skipped (0.1ms) # SKIP',
    '✖ dcmtk: identity (5ms)',
    '▶ nmap: verdicts',
    '  ✔ full sorted verdict records are equal (300ms)',
    '✔ nmap: verdicts (301ms)',
    'ℹ tests 6',
    'ℹ pass 4',
    'ℹ fail 1',
    'ℹ cancelled 0',
    'ℹ skipped 1',
    'ℹ todo 0',
    '',
    '✖ failing tests:',
    '',
    '✖ dcmqrscp: identified (2ms)',
  ].join('\n');

  test('counts per peer and per family, and lists every problem', async () => {
    const { countInterop } = await import('../../scripts/count-interop.js');
    const c = countInterop(log, PEER_NAMES);
    assert.deepEqual(c.perPeer['orthanc-open'], { passed: 1, failed: 0, skipped: 0, todo: 0 });
    assert.deepEqual(c.perPeer.storescp, { passed: 1, failed: 0, skipped: 1, todo: 0 });
    assert.deepEqual(c.perPeer.dcmqrscp, { passed: 0, failed: 1, skipped: 0, todo: 0 });
    assert.deepEqual(c.perPeer.other, { passed: 1, failed: 0, skipped: 0, todo: 0 });
    assert.deepEqual(c.perFamily.dcmtk, { passed: 2, failed: 1, skipped: 1, todo: 0 });
    assert.deepEqual(c.perFamily.nmap, { passed: 1, failed: 0, skipped: 0, todo: 0 });
    assert.deepEqual(c.problems, [
      'node:test reports fail 1',
      'node:test reports skipped 1',
      'peer storescp: 1 skipped, 0 todo',
      'peer dcmqrscp: no passing interop test',
      'peer dcmqrscp: 1 failed',
    ]);
  });

  test('a clean log with a passing test for every peer has no problems', async () => {
    const { countInterop } = await import('../../scripts/count-interop.js');
    const ok = [
      ...PEER_NAMES.flatMap((n) => ['▶ family: x', `  ✔ ${n}: works (1ms)`, '✔ family: x (2ms)']),
      'ℹ tests 5',
      'ℹ pass 5',
      'ℹ fail 0',
      'ℹ cancelled 0',
      'ℹ skipped 0',
      'ℹ todo 0',
    ].join('\n');
    assert.deepEqual(countInterop(ok, PEER_NAMES).problems, []);
    assert.ok(countInterop('').problems.some((p) => p.startsWith('no node:test summary')));
  });
});
