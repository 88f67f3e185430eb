import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UsageError } from '../core/errors.js';
import {
  DEFAULT_LAYOUT,
  FALLBACK_BASE_PORT,
  HOSTILE_MODES,
  canBindPort,
  parseLoopbackBlock,
  placeBench,
  placeLayout,
} from './layout.js';
import { compileMatcher, findRecords, recordSet } from './records.js';

describe('layout', () => {
  test('Linux: every node in 127.77.0.0/16, never 127.0.0.1, unique address and port', () => {
    const { block, nodes } = placeLayout({ platform: 'linux' });
    assert.equal(block, '127.77.0.0/16');
    const seen = new Set<string>();
    for (const n of nodes) {
      assert.match(n.ip, /^127\.77\.\d+\.\d+$/);
      assert.notEqual(n.ip, '127.0.0.1');
      const key = `${n.ip}:${n.port}`;
      assert.ok(!seen.has(key), `duplicate ${key}`);
      seen.add(key);
    }
    const at = (name: string) => nodes.find((n) => n.name === name)!;
    assert.equal(`${at('pacs-open').ip}:${at('pacs-open').port}`, '127.77.1.10:104');
    assert.equal(`${at('pacs-open-4242').ip}:${at('pacs-open-4242').port}`, '127.77.1.10:4242');
    assert.equal(`${at('pacs-ae-check').ip}:${at('pacs-ae-check').port}`, '127.77.1.11:11112');
    assert.equal(`${at('pacs-tls').ip}:${at('pacs-tls').port}`, '127.77.1.12:2762');
    assert.equal(`${at('us-modality').ip}:${at('us-modality').port}`, '127.77.2.20:104');
    assert.equal(`${at('tarpit-104').ip}:${at('tarpit-104').port}`, '127.77.9.50:104');
  });

  test('the layout has the required kinds, every hostile mode, and ground truth for each node', () => {
    const kinds = new Set(DEFAULT_LAYOUT.map((n) => n.kind));
    assert.deepEqual(kinds, new Set(['dicom', 'dicom-tls', 'hostile', 'tarpit', 'service']));
    assert.deepEqual(new Set(DEFAULT_LAYOUT.filter((n) => n.hostile).map((n) => n.hostile)), new Set(HOSTILE_MODES));
    assert.ok(DEFAULT_LAYOUT.some((n) => n.dicom?.calledAes === 'any'));
    assert.ok(DEFAULT_LAYOUT.some((n) => Array.isArray(n.dicom?.calledAes)));
    assert.ok(DEFAULT_LAYOUT.some((n) => n.role === 'modality'));
    for (const n of DEFAULT_LAYOUT) {
      assert.equal(typeof n.expected.status, 'string', `${n.name} has an expected status`);
      if (n.kind === 'dicom' || n.kind === 'dicom-tls') assert.ok(n.dicom, `${n.name} has a DICOM profile`);
      if (n.kind === 'service') assert.equal(typeof n.service, 'function', `${n.name} has a service factory`);
    }
  });

  test('other platforms: 127.0.0.1 with distinct, stable ports', () => {
    const { block, nodes } = placeLayout({ platform: 'darwin' });
    assert.equal(block, '127.0.0.1/32');
    assert.ok(nodes.every((n) => n.ip === '127.0.0.1'));
    assert.equal(new Set(nodes.map((n) => n.port)).size, nodes.length);
    assert.equal(nodes[0]!.port, FALLBACK_BASE_PORT);
  });

  test('a custom block moves the lab; blocks outside 127/8 or too small are refused', () => {
    const { nodes } = placeLayout({ platform: 'linux', block: '127.88.0.0/16' });
    assert.ok(nodes.every((n) => n.ip.startsWith('127.88.')));
    assert.throws(() => placeLayout({ platform: 'linux', block: '10.0.0.0/16' }), UsageError);
    assert.throws(() => placeLayout({ platform: 'linux', block: '127.88.0.0/24' }), /too small/);
    assert.throws(() => parseLoopbackBlock('127.1.2.3'), UsageError);
    assert.equal(parseLoopbackBlock('127.65.7.9/16').text, '127.65.0.0/16');
    // A block whose offsets would land on 127.0.0.1 is refused.
    assert.throws(() => placeLayout({ platform: 'linux', block: '127.0.0.0/8', layout: [{ ...DEFAULT_LAYOUT[0]!, hostOffset: [0, 1] }] }), /127\.0\.0\.1/);
  });

  test('without the right to bind ports below 1024, those nodes move up by 10000', () => {
    const { nodes } = placeLayout({ platform: 'linux', canBind: (p) => p >= 1024 });
    const at = (name: string) => nodes.find((n) => n.name === name)!;
    assert.equal(at('pacs-open').port, 10104);
    assert.equal(at('pacs-open-4242').port, 4242);
    assert.equal(at('pacs-ae-check').port, 11112);
    assert.equal(new Set(nodes.map((n) => `${n.ip}:${n.port}`)).size, nodes.length);
    assert.equal(placeBench({ count: 1, platform: 'linux', canBind: () => false }).endpoints[0]!.port, 10104);
    assert.equal(canBindPort(5000), true);
  });

  test('bench placement: count addresses, skipping .0 and .255', () => {
    const { endpoints } = placeBench({ count: 600, platform: 'linux' });
    assert.equal(endpoints.length, 600);
    assert.equal(endpoints[0]!.ip, '127.65.0.1');
    assert.ok(endpoints.every((e) => e.port === 104 && !/\.(0|255)$/.test(e.ip)));
    assert.equal(new Set(endpoints.map((e) => e.ip)).size, 600);
    assert.throws(() => placeBench({ count: 300, block: '127.65.0.0/24', platform: 'linux' }), /only/);
    const mac = placeBench({ count: 3, port: 104, platform: 'darwin' });
    assert.deepEqual(mac.endpoints.map((e) => `${e.ip}:${e.port}`), ['127.0.0.1:20000', '127.0.0.1:20001', '127.0.0.1:20002']);
  });
});

describe('record store and matching', () => {
  const std = recordSet('standard');

  test('synthetic only: TEST^ names, TEST ids, 2.25 UIDs, deterministic', () => {
    assert.equal(std.length, 51);
    assert.equal(recordSet('large').length, 1500);
    assert.ok(std.every((r) => /^TEST\^[A-Z]+\d*$/.test(r.patientName) && /^TEST\d{4}$/.test(r.patientId)));
    assert.ok(std.every((r) => /^2\.25\.\d+$/.test(r.studyInstanceUid) && r.studyInstanceUid.length <= 64));
    assert.equal(new Set(std.map((r) => r.studyInstanceUid)).size, std.length);
    assert.equal(std[0]!.patientName, 'TEST^ALPHA');
    assert.equal(std[0]!.patientId, 'TEST0001');
  });

  test('matchers: universal, exact, wildcard, UID list, range', () => {
    assert.equal(compileMatcher('PN', ''), null);
    assert.equal(compileMatcher('PN', '*'), null);
    assert.equal(compileMatcher('LO', 'TEST0001')!('TEST0001'), true);
    assert.equal(compileMatcher('LO', 'TEST0001')!('TEST00011'), false);
    const w = compileMatcher('PN', 'TEST^?R*')!;
    assert.equal(w('TEST^BRAVO'), true);
    assert.equal(w('TEST^ALPHA'), false);
    assert.equal(compileMatcher('PN', 'a.b')!('axb'), false, 'regex metacharacters are literal');
    const l = compileMatcher('UI', '1.2.3\\1.2.4\0')!;
    assert.equal(l('1.2.4'), true);
    assert.equal(l('1.2.5'), false);
    const r = compileMatcher('DA', '20240301-20240331')!;
    assert.equal(r('20240315'), true);
    assert.equal(r('20240401'), false);
  });

  test('findRecords: STUDY and PATIENT levels; unknown keys are return keys only', () => {
    const all = findRecords(std, 'STUDY', [{ tag: 0x0020000d, vr: 'UI', value: '' }]);
    assert.equal(all.length, std.length);
    const none = findRecords(std, 'STUDY', [{ tag: 0x0020000d, vr: 'UI', value: '2.25.1234567890' }]);
    assert.equal(none.length, 0);
    const patients = findRecords(std, 'PATIENT', [
      { tag: 0x00100020, vr: 'LO', value: '' },
      { tag: 0x00201200, vr: 'IS', value: '' },
      { tag: 0x00091001, vr: 'UN', value: '' },
    ]);
    assert.equal(patients.length, 26);
    assert.deepEqual(patients[1], ['TEST0002', '2', '']);
  });
});
