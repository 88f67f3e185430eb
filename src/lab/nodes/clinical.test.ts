/**
 * The clinical web family of the lab: its layout rules, and its ground truth checked by scanning
 * every node with both web-API probes (FHIR first, then DICOMweb, as the engine orders probes
 * that claim the same port). Nodes run on a test block of their own (127.217.5.x).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Probe } from '../../core/probe.js';
import type { Profile, ServiceRecord } from '../../core/types.js';
import { type ScanConfig, newHostState, scanService } from '../../engine/scan-service.js';
import { dicomwebProbe } from '../../probes/dicomweb/probe.js';
import { fhirProbe } from '../../probes/fhir/probe.js';
import { httpProbe } from '../../probes/http/probe.js';
import { blockScanConfig } from '../../probes/lab-harness.js';
import { compareWithTruth } from '../ground-truth.js';
import { CLINICAL_LAB_CANARIES, NODES } from './clinical.js';

const PREFIX = '127.217';
const ipOf = (n: (typeof NODES)[number]) => `${PREFIX}.${n.hostOffset[0]}.${n.hostOffset[1]}`;
const running: Array<{ stop(): Promise<void> }> = [];

function config(profile: Profile): ScanConfig {
  return blockScanConfig(PREFIX, [httpProbe as Probe, fhirProbe as Probe, dicomwebProbe as Probe], { profile });
}

describe('clinical lab nodes: layout', () => {
  test('third octet 5, fourth 10..250, unique names and addresses, every node has a factory and a status', () => {
    const names = new Set<string>();
    const places = new Set<string>();
    for (const n of NODES) {
      assert.equal(n.kind, 'service');
      assert.equal(n.hostOffset[0], 5, n.name);
      assert.ok(n.hostOffset[1] >= 10 && n.hostOffset[1] <= 250, n.name);
      assert.ok(!names.has(n.name), `duplicate ${n.name}`);
      names.add(n.name);
      const place = `${n.hostOffset.join('.')}:${n.port}`;
      assert.ok(!places.has(place), `duplicate ${place}`);
      places.add(place);
      assert.equal(typeof n.service, 'function');
      assert.equal(typeof n.expected.status, 'string');
    }
    assert.ok(NODES.length >= 12);
  });
});

describe('clinical lab nodes: ground truth', () => {
  const records = new Map<string, { safe: ServiceRecord; intrusive: ServiceRecord }>();

  before(async () => {
    for (const n of NODES) running.push(await n.service!(ipOf(n), n.port));
    for (const n of NODES) {
      const safe = (await scanService({ ip: ipOf(n) }, n.port, config('safe'), newHostState())).record;
      const intrusive = (await scanService({ ip: ipOf(n) }, n.port, config('intrusive'), newHostState())).record;
      records.set(n.name, { safe, intrusive });
    }
  });

  after(async () => {
    await Promise.all(running.map((r) => r.stop()));
  });

  test('every expectation of every node holds (safe profile)', () => {
    const nodes = NODES.map((n) => ({ name: n.name, ip: ipOf(n), port: n.port, kind: n.kind, role: n.role, description: n.description, tls: false, expected: n.expected }));
    const truth = compareWithTruth(nodes, [...records.values()].map((r) => r.safe));
    assert.deepEqual(truth.differences, []);
  });

  test('FHIR nodes are reported as fhir, DICOMweb nodes as dicomweb, whichever probe runs first', () => {
    for (const n of NODES) {
      const r = records.get(n.name)!.safe;
      if (r.status !== 'success' || n.expected.protocol === 'http') continue;
      assert.equal(r.protocol, n.name.startsWith('dicomweb') ? 'dicomweb' : 'fhir', n.name);
    }
  });

  test('no canary and no synthetic patient name appears in any record of either profile', () => {
    const text = JSON.stringify([...records.values()]);
    const canaries = [...Object.values(CLINICAL_LAB_CANARIES.fhir), ...Object.values(CLINICAL_LAB_CANARIES.dicomweb)];
    for (const c of canaries) assert.ok(!text.includes(c), `canary ${c} leaked`);
    assert.ok(!/TEST\^[A-Z]+/.test(text), 'a synthetic patient name leaked');
  });

  test('the open FHIR and DICOMweb nodes report counts in the intrusive profile only', () => {
    const fhir = records.get('fhir-hapi-open')!;
    assert.equal((fhir.safe.data.fhir as { patientCount: unknown }).patientCount, null);
    assert.equal((fhir.intrusive.data.fhir as { patientCount: unknown }).patientCount, 26);
    const dw = records.get('dicomweb-open')!;
    assert.equal((dw.safe.data.dicomweb as { studyCount: unknown }).studyCount, null);
    assert.equal((dw.intrusive.data.dicomweb as { studyCount: unknown }).studyCount, 52);
  });

  test('nodes refuse methods other than GET/HEAD and bad credentials', async () => {
    const n = NODES.find((x) => x.name === 'fhir-medplum')!;
    const req = (method: string, path: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve, reject) => {
        const r = http.request({ host: ipOf(n), port: n.port, method, path, headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        r.on('error', reject);
        r.end();
      });
    assert.equal(await req('POST', '/fhir/R4/Patient'), 405);
    assert.equal(await req('GET', '/fhir/R4/Patient?_id=x', { authorization: 'Bearer guessed' }), 401);
    assert.equal(await req('GET', '/fhir/R4/metadata'), 200);
  });
});
