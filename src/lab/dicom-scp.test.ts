import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PduType, encodeAssociateRq, encodePData, encodeReleaseRq, parseAbort } from '../probes/dicom/parse.js';
import { UID, randomUid } from '../probes/dicom/uids.js';
import { DicomScpNode, ScpProfile } from './dicom-scp.js';
import { type RunningLab, startLab } from './index.js';
import {
  LabClient,
  STANDARD_CONTEXTS,
  associate,
  collectFind,
  readMessage,
  release,
  sendCancel,
  sendEcho,
  sendFind,
} from './lab-client.js';
import { recordSet } from './records.js';

/** This file's own block, so that it never collides with other lab tests running at the same time. */
const BLOCK = '127.201.0.0/16';

let lab: RunningLab;
const node = (name: string) => {
  const n = lab.nodes.find((x) => x.name === name);
  assert.ok(n, `lab node ${name} is running`);
  return n;
};
const connect = (name: string) => LabClient.connect(node(name).ip, node(name).port);

before(async () => {
  lab = await startLab({
    block: BLOCK,
    quiet: true,
    only: ['pacs-open', 'pacs-ae-check', 'pacs-orthanc-like', 'pacs-calling-check', 'us-modality', 'pacs-tls', 'pacs-weak-tls'],
  });
});
after(() => lab.stop());

const STANDARD = recordSet('standard');

describe('association policy', () => {
  test('permissive PACS accepts a random called AE, prefers Explicit VR LE, announces dcm4che', async () => {
    const c = await connect('pacs-open');
    const before = lab.stats('pacs-open')['pacs-open']!;
    const a = await associate(c, {
      calledAe: 'RND7F3A9C2E',
      contexts: [
        ...STANDARD_CONTEXTS,
        { id: 7, abstractSyntax: UID.UltrasoundImageStorage, transferSyntaxes: [UID.ImplicitVRLittleEndian] },
        { id: 9, abstractSyntax: UID.Verification, transferSyntaxes: [UID.JPEGBaseline8Bit] },
        { id: 11, abstractSyntax: UID.Verification, transferSyntaxes: [UID.ImplicitVRLittleEndian] },
      ],
    });
    assert.equal(a.kind, 'accepted');
    if (a.kind !== 'accepted') return;
    assert.equal(a.ac.implementationClassUid, '1.2.40.0.13.1.3');
    assert.equal(a.ac.implementationVersionName, 'dcm4che-5.31.0');
    assert.equal(a.ac.maxPduLength, 16384);
    assert.equal(a.ac.calledAe, 'RND7F3A9C2E');
    assert.equal(a.ac.callingAe, 'LABTEST');
    const byId = new Map(a.ac.contexts.map((x) => [x.id, x]));
    assert.deepEqual(byId.get(1), { id: 1, result: 0, transferSyntax: UID.ExplicitVRLittleEndian });
    assert.equal(byId.get(5)?.result, 0);
    assert.equal(byId.get(7)?.result, 3, 'ultrasound storage is not offered: abstract syntax not supported');
    assert.equal(byId.get(9)?.result, 4, 'no acceptable transfer syntax');
    assert.deepEqual(byId.get(11), { id: 11, result: 0, transferSyntax: UID.ImplicitVRLittleEndian });
    sendEcho(c, 1, 42);
    const m = await readMessage(c);
    assert.equal(m.kind, 'message');
    if (m.kind === 'message') {
      assert.equal(m.command.commandField, 0x8030);
      assert.equal(m.command.status, 0);
      assert.equal(m.command.messageIdRespondedTo, 42);
    }
    await release(c);
    assert.equal(await c.closesWithin(2000), true, 'the SCP closes after A-RELEASE-RP');
    await waitFor(() => lab.stats('pacs-open')['pacs-open']!.open === before.open);
    const after = lab.stats('pacs-open')['pacs-open']!;
    assert.equal(after.associations - before.associations, 1);
    assert.equal(after.accepted - before.accepted, 1);
    assert.equal(after.echo - before.echo, 1);
    assert.equal(after.released - before.released, 1);
    assert.equal(after.closed - before.closed, 0);
  });

  test('the AC cache answers each request with its own AE titles', async () => {
    for (const called of ['FIRST', 'SECOND-TITLE', 'X']) {
      const c = await connect('pacs-open');
      const a = await associate(c, { calledAe: called, callingAe: `CALLER-${called}`.slice(0, 16) });
      assert.equal(a.kind, 'accepted');
      if (a.kind === 'accepted') {
        assert.equal(a.ac.calledAe, called);
        assert.equal(a.ac.callingAe, `CALLER-${called}`.slice(0, 16));
      }
      c.destroy();
    }
  });

  test('AE-checking PACS rejects an unknown called AE with 1/1/7 and accepts ARCHIVE (DCMTK)', async () => {
    const s0 = lab.stats('pacs-ae-check')['pacs-ae-check']!;
    const c = await connect('pacs-ae-check');
    const a = await associate(c, { calledAe: 'RANDOM123' });
    assert.deepEqual(a, { kind: 'rejected', rj: { result: 1, source: 1, reason: 7 } });
    c.destroy();
    const c2 = await connect('pacs-ae-check');
    const b = await associate(c2, { calledAe: 'ARCHIVE' });
    assert.equal(b.kind, 'accepted');
    if (b.kind === 'accepted') {
      assert.equal(b.ac.implementationClassUid, '1.2.276.0.7230010.3.0.3.6.7');
      assert.equal(b.ac.implementationVersionName, 'OFFIS_DCMTK_367');
    }
    await release(c2);
    await waitFor(() => lab.stats('pacs-ae-check')['pacs-ae-check']!.open === 0);
    const s1 = lab.stats('pacs-ae-check')['pacs-ae-check']!;
    assert.equal(s1.rejected - s0.rejected, 1);
    assert.equal(s1.accepted - s0.accepted, 1);
    assert.equal(s1.closed - s0.closed, 1, 'the rejected client closed');
    assert.equal(s1.released - s0.released, 1);
  });

  test('calling-AE-checking PACS rejects an unknown calling AE with 1/1/3', async () => {
    const c = await connect('pacs-calling-check');
    assert.deepEqual(await associate(c, { callingAe: 'STRANGER' }), { kind: 'rejected', rj: { result: 1, source: 1, reason: 3 } });
    c.destroy();
    const c2 = await connect('pacs-calling-check');
    assert.equal((await associate(c2, { callingAe: 'MODALITY1' })).kind, 'accepted');
    c2.destroy();
  });

  test('Orthanc-like node: unknown calling AE may echo, its C-FIND gets A-ABORT; a known one may find', async () => {
    const c = await connect('pacs-orthanc-like');
    assert.equal((await associate(c, { calledAe: 'SOMEONE' })).kind, 'rejected');
    c.destroy();
    const s0 = lab.stats('pacs-orthanc-like')['pacs-orthanc-like']!;
    const c2 = await connect('pacs-orthanc-like');
    assert.equal((await associate(c2, { calledAe: 'ORTHANC', callingAe: 'STRANGER' })).kind, 'accepted');
    sendEcho(c2);
    const echo = await readMessage(c2);
    assert.equal(echo.kind === 'message' && echo.command.status, 0);
    sendFind(c2, { contextId: 5, sopClass: UID.StudyRootFind, explicit: true, elements: studyQuery(randomUid()) });
    const m = await readMessage(c2);
    assert.deepEqual(m, { kind: 'abort', source: 0, reason: 0 });
    assert.equal(await c2.closesWithin(2000), true);
    const s1 = lab.stats('pacs-orthanc-like')['pacs-orthanc-like']!;
    assert.equal(s1.policyAborts - s0.policyAborts, 1);
    const c3 = await connect('pacs-orthanc-like');
    assert.equal((await associate(c3, { calledAe: 'ORTHANC', callingAe: 'MODALITY1' })).kind, 'accepted');
    sendFind(c3, { contextId: 5, sopClass: UID.StudyRootFind, explicit: true, elements: studyQuery('') });
    const r = await collectFind(c3, true);
    assert.equal(r.status, 0);
    assert.equal(r.pending.length, STANDARD.length);
    await release(c3);
  });

  test('CT modality announces the GE root and offers no query service', async () => {
    const c = await connect('us-modality');
    const a = await associate(c);
    assert.equal(a.kind, 'accepted');
    if (a.kind !== 'accepted') return;
    assert.ok(a.ac.implementationClassUid?.startsWith('1.2.840.113619.'));
    const res = new Map(a.ac.contexts.map((x) => [x.id, x.result]));
    assert.equal(res.get(1), 0);
    assert.equal(res.get(3), 3);
    assert.equal(res.get(5), 3);
    c.destroy();
  });

  test('TLS PACS: DICOM over TLS with the committed RSA 2048 certificate', async () => {
    const n = node('pacs-tls');
    const c = await LabClient.connect(n.ip, n.port, { tls: {} });
    const tlsSock = c.socket as import('node:tls').TLSSocket;
    const cert = tlsSock.getPeerX509Certificate();
    assert.ok(cert);
    assert.match(cert.subject, /CN=pacs-tls\.lab\.medsurface\.test/);
    assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal((await associate(c)).kind, 'accepted');
    sendEcho(c);
    assert.equal((await readMessage(c)).kind, 'message');
    await release(c);
  });

  test('weak TLS PACS: expired RSA 1024 certificate, TLS 1.0 accepted', async () => {
    const n = node('pacs-weak-tls');
    const c = await LabClient.connect(n.ip, n.port, {
      tls: { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' },
    });
    const tlsSock = c.socket as import('node:tls').TLSSocket;
    assert.equal(tlsSock.getProtocol(), 'TLSv1');
    const cert = tlsSock.getPeerX509Certificate();
    assert.ok(cert);
    assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 1024);
    assert.ok(new Date(cert.validTo).getTime() < Date.now(), 'certificate is expired');
    assert.equal((await associate(c)).kind, 'accepted');
    c.destroy();
  });
});

function studyQuery(uid: string, extra: { tag: number; vr: string; value: string }[] = []) {
  return [
    { tag: 0x00080052, vr: 'CS', value: 'STUDY' },
    { tag: 0x0020000d, vr: 'UI', value: uid },
    { tag: 0x00100010, vr: 'PN', value: '' },
    { tag: 0x00100020, vr: 'LO', value: '' },
    { tag: 0x00080020, vr: 'DA', value: '' },
    ...extra,
  ];
}

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('C-FIND', () => {
  test('a random Study Instance UID matches nothing: zero pending, then success', async () => {
    const c = await connect('pacs-open');
    await associate(c);
    sendFind(c, { contextId: 5, sopClass: UID.StudyRootFind, explicit: true, elements: studyQuery(randomUid()) });
    const r = await collectFind(c, true);
    assert.deepEqual(r, { pending: [], status: 0, aborted: false });
    await release(c);
  });

  test('a random PatientID at PATIENT level matches nothing (Implicit VR)', async () => {
    const c = await connect('pacs-open');
    await associate(c, {
      contexts: [{ id: 3, abstractSyntax: UID.PatientRootFind, transferSyntaxes: [UID.ImplicitVRLittleEndian] }],
    });
    sendFind(c, {
      contextId: 3,
      sopClass: UID.PatientRootFind,
      explicit: false,
      elements: [
        { tag: 0x00080052, vr: 'CS', value: 'PATIENT' },
        { tag: 0x00100020, vr: 'LO', value: 'MSDEADBEEF0123' },
        { tag: 0x00100010, vr: 'PN', value: '' },
      ],
    });
    assert.deepEqual(await collectFind(c, false), { pending: [], status: 0, aborted: false });
    await release(c);
  });

  test('all STUDY records: one pending response per record, return keys filled', async () => {
    const c = await connect('pacs-open');
    await associate(c);
    const s0 = lab.stats('pacs-open')['pacs-open']!;
    sendFind(c, { contextId: 5, sopClass: UID.StudyRootFind, explicit: true, elements: studyQuery('') });
    const r = await collectFind(c, true);
    assert.equal(r.status, 0);
    assert.equal(r.pending.length, STANDARD.length);
    const uids = new Set(r.pending.map((els) => els.find((e) => e.tag === 0x0020000d)?.value));
    assert.deepEqual(uids, new Set(STANDARD.map((x) => x.studyInstanceUid)));
    for (const els of r.pending) {
      const tags = els.map((e) => e.tag);
      assert.deepEqual(tags, [0x00080020, 0x00080052, 0x00100010, 0x00100020, 0x0020000d]);
      assert.match(els.find((e) => e.tag === 0x00100010)!.value, /^TEST\^[A-Z]+$/);
      assert.match(els.find((e) => e.tag === 0x0020000d)!.value, /^2\.25\.\d+$/);
    }
    await release(c);
    const s1 = lab.stats('pacs-open')['pacs-open']!;
    assert.equal(s1.find - s0.find, 1);
    assert.equal(s1.findPending - s0.findPending, STANDARD.length);
  });

  test('matching: exact Study Instance UID, PatientID, PatientName wildcard, PATIENT level', async () => {
    const c = await connect('pacs-open');
    await associate(c);
    const target = STANDARD[7]!;
    sendFind(c, { contextId: 5, sopClass: UID.StudyRootFind, explicit: true, elements: studyQuery(target.studyInstanceUid) });
    let r = await collectFind(c, true);
    assert.equal(r.pending.length, 1);
    assert.equal(r.pending[0]!.find((e) => e.tag === 0x00100020)?.value, target.patientId);

    const q = studyQuery('').map((e) => (e.tag === 0x00100020 ? { ...e, value: 'TEST0003' } : e));
    sendFind(c, { contextId: 5, sopClass: UID.StudyRootFind, explicit: true, messageId: 2, elements: q });
    r = await collectFind(c, true);
    assert.equal(r.pending.length, STANDARD.filter((x) => x.patientId === 'TEST0003').length);

    const w = studyQuery('').map((e) => (e.tag === 0x00100010 ? { ...e, value: 'TEST^B*' } : e));
    sendFind(c, { contextId: 5, sopClass: UID.StudyRootFind, explicit: true, messageId: 3, elements: w });
    r = await collectFind(c, true);
    assert.equal(r.pending.length, STANDARD.filter((x) => x.patientName.startsWith('TEST^B')).length);
    assert.ok(r.pending.length > 0);

    sendFind(c, {
      contextId: 3,
      sopClass: UID.PatientRootFind,
      explicit: true,
      messageId: 4,
      elements: [
        { tag: 0x00080052, vr: 'CS', value: 'PATIENT' },
        { tag: 0x00100010, vr: 'PN', value: '*' },
        { tag: 0x00100020, vr: 'LO', value: '' },
        { tag: 0x00201200, vr: 'IS', value: '' },
      ],
    });
    r = await collectFind(c, true);
    assert.equal(r.pending.length, new Set(STANDARD.map((x) => x.patientId)).size);
    const alpha = r.pending.find((els) => els.some((e) => e.value === 'TEST^ALPHA'))!;
    assert.equal(alpha.find((e) => e.tag === 0x00201200)?.value, '1');
    await release(c);
  });

  test('C-CANCEL stops a running C-FIND with 0xFE00', async () => {
    const profile = new ScpProfile({
      aeTitle: 'SLOW',
      calledAes: 'any',
      abstractSyntaxes: [UID.Verification, UID.StudyRootFind],
      implementationClassUid: '1.2.40.0.13.1.3',
      maxPduLength: 16384,
      records: recordSet('large'),
      pendingIntervalMs: 5,
    });
    const slow = new DicomScpNode({ name: 'slow-find', ip: '127.201.200.1', port: 104, profile });
    await slow.start();
    try {
      const c = await LabClient.connect('127.201.200.1', 104);
      await associate(c);
      sendFind(c, { contextId: 5, sopClass: UID.StudyRootFind, explicit: true, messageId: 9, elements: studyQuery('') });
      let cancelled = false;
      const r = await collectFind(c, true, (n) => {
        if (n === 3 && !cancelled) {
          cancelled = true;
          sendCancel(c, 5, 9);
        }
      });
      assert.equal(r.status, 0xfe00);
      assert.ok(r.pending.length >= 3 && r.pending.length < 50, `stopped early (${r.pending.length} pending)`);
      await release(c);
      assert.equal(slow.stats.cancels, 1);
      assert.equal(slow.stats.findCancelled, 1);
    } finally {
      await slow.stop();
    }
  });

  test('responses respect the client maximum PDU length', async () => {
    const c = await connect('pacs-open');
    await associate(c, { maxPduLength: 64 });
    sendFind(c, { contextId: 5, sopClass: UID.StudyRootFind, explicit: true, elements: studyQuery('') });
    let biggest = 0;
    let pdus = 0;
    for (;;) {
      const m = await readMessage(c, 3000, (p) => {
        pdus++;
        biggest = Math.max(biggest, p.body.length);
      });
      if (m.kind !== 'message' || m.command.status !== 0xff00) break;
    }
    assert.ok(biggest <= 64, `largest P-DATA-TF body ${biggest} bytes`);
    assert.ok(pdus > STANDARD.length * 2);
    await release(c);
  });
});

describe('protocol violations and endings', () => {
  test('a non-DICOM first byte gets A-ABORT (unrecognised PDU) and a close', async () => {
    const c = await connect('pacs-open');
    c.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    const p = await c.readPdu();
    assert.equal(p.type, PduType.Abort);
    assert.deepEqual(parseAbort(p.body), { source: 2, reason: 1 });
    assert.equal(await c.closesWithin(2000), true);
  });

  test('a declared PDU length above the cap is refused without waiting for the body', async () => {
    const c = await connect('pacs-open');
    c.write(Buffer.from([0x01, 0x00, 0xff, 0xff, 0xff, 0xff]));
    const p = await c.readPdu();
    assert.equal(p.type, PduType.Abort);
    assert.deepEqual(parseAbort(p.body), { source: 2, reason: 6 });
    assert.equal(await c.closesWithin(2000), true);
  });

  test('P-DATA before the association and A-RELEASE-RQ before it are aborted', async () => {
    for (const pdu of [encodePData([{ contextId: 1, isCommand: true, isLast: true, data: Buffer.alloc(4) }]), encodeReleaseRq()]) {
      const c = await connect('pacs-open');
      c.write(pdu);
      const p = await c.readPdu();
      assert.equal(p.type, PduType.Abort);
      assert.deepEqual(parseAbort(p.body), { source: 2, reason: 2 });
      c.destroy();
    }
  });

  test('an A-ASSOCIATE-RQ sent one byte at a time is still answered', async () => {
    const c = await connect('pacs-open');
    const rq = encodeAssociateRq({ calledAe: 'TRICKLE', callingAe: 'LABTEST', contexts: STANDARD_CONTEXTS });
    for (const b of rq) {
      c.write(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    const p = await c.readPdu();
    assert.equal(p.type, PduType.AssociateAc);
    c.destroy();
  });

  test('counters tell released, aborted and just-closed apart', async () => {
    const s0 = lab.stats('pacs-open')['pacs-open']!;
    const a = await connect('pacs-open');
    await associate(a);
    a.write(Buffer.from([0x07, 0, 0, 0, 0, 4, 0, 0, 0, 0]));
    await a.closesWithin(2000);
    const b = await connect('pacs-open');
    await associate(b);
    b.destroy();
    await waitFor(() => {
      const s = lab.stats('pacs-open')['pacs-open']!;
      return s.aborted - s0.aborted === 1 && s.closed - s0.closed === 1;
    });
    const s1 = lab.stats('pacs-open')['pacs-open']!;
    assert.equal(s1.released - s0.released, 0);
    assert.ok(s1.maxLingerMs >= 0);
  });
});
