/**
 * Default-credential attempts against a real Orthanc (Debian's, started by peers.ts): orthanc-aecheck
 * has authentication on and keeps the Docker images' default account orthanc/orthanc beside a
 * test account. The scan reaches it through a counting TCP relay on 127.0.0.26:8042, so the test
 * counts the credential attempts the peer was sent (requests carrying an Authorization header),
 * and judges: no attempt and no finding in the safe profile; the default-credential finding in the
 * intrusive profile, within the per-host budget; nothing sent with a budget of zero.
 * Describe names start with the peer name: .ci/run counts tests per peer.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { CredentialsObservation } from '../../src/credentials/schema.js';
import { DEFAULT_TIMEOUTS } from '../../src/core/limits.js';
import type { Profile } from '../../src/core/types.js';
import { type ScanConfig, scanHost } from '../../src/engine/scan-service.js';
import { PROBES } from '../../src/probes/index.js';
import { IpSet, makeScopeGuard } from '../../src/scope/index.js';
import { type Peer, startPeers, stopPeers } from './peers.js';

const RELAY_IP = '127.0.0.26';
let peers: Peer[] = [];
let relay: net.Server;
let attemptsSeen = 0;
let requestsSeen = 0;

/** A byte relay that counts HTTP request heads, and those with an Authorization header, on their way to Orthanc. */
function startRelay(target: Peer): Promise<net.Server> {
  const srv = net.createServer((client) => {
    const upstream = net.connect(target.httpPort!, target.ip);
    let head = '';
    client.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      for (;;) {
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) break;
        const block = head.slice(0, end);
        requestsSeen++;
        if (/^authorization:/im.test(block)) attemptsSeen++;
        head = head.slice(end + 4);
      }
      if (head.length > 65536) head = '';
      upstream.write(chunk);
    });
    upstream.on('data', (c) => client.write(c));
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  return new Promise((resolve) => srv.listen(target.httpPort!, RELAY_IP, () => resolve(srv)));
}

function config(profile: Profile, budget: number): ScanConfig {
  return {
    probes: PROBES,
    ports: [8042],
    profile,
    timeouts: { ...DEFAULT_TIMEOUTS },
    retries: 0,
    guard: makeScopeGuard({ scope: IpSet.parse(['127.0.0.0/24']) }),
    rate: null,
    hostConcurrency: 1,
    hostDelayMs: 0,
    dicomTls: false,
    probeOptions: {},
    credentials: { enabled: true, budget, delayMs: 200, weak: true },
    signal: new AbortController().signal,
  };
}

before(async () => {
  peers = await startPeers(['orthanc-aecheck']);
  relay = await startRelay(peers[0]!);
});
after(async () => {
  relay?.close();
  await stopPeers(peers);
});

describe('orthanc-aecheck: default credentials', () => {
  test('orthanc-aecheck: safe profile tries nothing and reports no default-credential finding', async () => {
    const before = attemptsSeen;
    const [rec] = await scanHost({ ip: RELAY_IP }, config('safe', 6));
    assert.equal(rec?.product, 'Orthanc');
    assert.equal(rec?.data.credentials, undefined);
    assert.ok(!rec?.findings.some((f) => f.id === 'http-default-credentials'));
    assert.equal(attemptsSeen - before, 0, 'the peer saw no credential attempt');
  });

  test('orthanc-aecheck: intrusive profile finds orthanc/orthanc, within the budget, the password nowhere in the record', async () => {
    const before = attemptsSeen;
    const [rec] = await scanHost({ ip: RELAY_IP }, config('intrusive', 6));
    const c = rec?.data.credentials as CredentialsObservation;
    assert.equal(c.stoppedBy, 'accepted');
    assert.deepEqual(c.accepted, { id: 'orthanc-default', user: 'orthanc', kind: 'default' });
    const f = rec?.findings.find((x) => x.id === 'http-default-credentials');
    assert.equal(f?.severity, 'critical');
    assert.equal(f?.evidence?.['data.credentials.accepted.user'], 'orthanc');
    const seen = attemptsSeen - before;
    assert.equal(seen, c.attempts, 'the attempts we report are the attempts the peer saw');
    assert.ok(seen >= 1 && seen <= 6, `${seen} attempts`);
    assert.ok(!JSON.stringify(rec).includes('orthanc:orthanc') && !JSON.stringify(rec).includes(Buffer.from('orthanc:orthanc').toString('base64')));
    assert.ok((rec?.risk ?? 0) >= 60, `risk ${rec?.risk}`);
  });

  test('orthanc-aecheck: a budget of zero sends no credential at all', async () => {
    const before = attemptsSeen;
    const [rec] = await scanHost({ ip: RELAY_IP }, config('intrusive', 0));
    assert.ok(rec);
    assert.equal((rec.data.credentials as CredentialsObservation).stoppedBy, 'budget');
    assert.equal(attemptsSeen - before, 0);
    assert.ok(requestsSeen > 0);
  });
});
