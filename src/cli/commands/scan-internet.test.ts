/**
 * Internet mode and the opt-out list on the real scan path (executeScan), against web servers
 * of this file's own on 127.219.0.0/16 that count the connections they accept and keep the
 * User-Agents they see: internet mode refuses to start without a contact, leaves out 127/8
 * (and says so) unless --allow-special names the lab, and then every request carries the
 * contact; an opted-out range (inventory list or --opt-out-file) gets no connection at all.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UsageError } from '../../core/errors.js';
import { captureOutput } from '../../core/testing.js';
import { openKyselyInventory } from '../../inventory/index.js';
import { addOptOut } from '../../inventory/opt-out.js';
import { main } from '../main.js';
import { type ScanOptions, executeScan, scanOptions } from './scan.js';

const BLOCK = '127.219.0.0/16';
const A = '127.219.1.1';
/** In the range the tests opt out. */
const OPTED = '127.219.2.1';
const C = '127.219.3.1';
const CONTACT = 'https://example.org/medsurface-test-scan';

interface Node {
  server: http.Server;
  connections: number;
  agents: string[];
}
const nodes = new Map<string, Node>();
let port = 0;
const work = mkdtempSync(path.join(tmpdir(), 'medsurface-internet-'));

async function listen(ip: string, p: number): Promise<Node> {
  const node: Node = {
    server: http.createServer((req, res) => {
      node.agents.push(String(req.headers['user-agent'] ?? ''));
      res.writeHead(200, { 'content-type': 'text/html', server: 'lab-web/1.0' });
      res.end('<html><head><title>lab node</title></head><body>ok</body></html>');
    }),
    connections: 0,
    agents: [],
  };
  node.server.on('connection', () => {
    node.connections++;
  });
  await new Promise<void>((resolve, reject) => {
    node.server.once('error', reject);
    node.server.listen(p, ip, () => resolve());
  });
  return node;
}

before(async () => {
  const first = await listen(A, 0);
  port = (first.server.address() as AddressInfo).port;
  nodes.set(A, first);
  for (const ip of [OPTED, C]) nodes.set(ip, await listen(ip, port));
});

after(async () => {
  for (const n of nodes.values()) {
    n.server.closeAllConnections();
    await new Promise((r) => n.server.close(r));
  }
  rmSync(work, { recursive: true, force: true });
});

const reset = () => {
  for (const n of nodes.values()) {
    n.connections = 0;
    n.agents = [];
  }
};
const conns = (ip: string) => nodes.get(ip)!.connections;

function options(over: Partial<ScanOptions> = {}): ScanOptions {
  return scanOptions({
    ports: String(port),
    probes: 'http',
    concurrency: 4,
    hostDelay: 0,
    connectTimeout: 2000,
    readTimeout: 4000,
    sessionTimeout: 10000,
    retries: 0,
    quiet: true,
    inventory: false,
    ...over,
  });
}

async function scan(targets: string[], o: ScanOptions) {
  let err = '';
  const stderr = {
    write: (s: string) => {
      err += s;
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  const s = await executeScan(targets, o, { stdout: process.stdout, stderr, stopDir: null, collect: true, writer: { count: 0, write() {}, close: async () => {} } });
  return { ...s, err };
}

describe('internet mode', () => {
  test('refuses to start without --contact, with a clear usage error', async () => {
    reset();
    await assert.rejects(scan([A], options({ internet: true })), (e: unknown) => e instanceof UsageError && /--internet needs --contact/.test(e.message));
    await assert.rejects(scan([A], options({ internet: true, contact: 'the lab team' })), /URL \(https:\/\/\.\.\.\) or an e-mail/);
    await assert.rejects(scan([A], options({ allowSpecial: [BLOCK] })), /--allow-special applies only with --internet/);
    await assert.rejects(scan([A], options({ internet: true, contact: CONTACT, allowSpecial: ['192.0.3.0/24'] })), /not inside a special-purpose block/);
    try {
      const r = await captureOutput(() => main(['node', 'medsurface', 'scan', A, '--internet', '--no-inventory', '-q']));
      assert.equal(r.result, 2, 'exit status 2, as every usage error');
      assert.match(r.err, /medsurface: --internet needs --contact/);
    } finally {
      process.exitCode = undefined;
    }
    assert.equal(conns(A), 0, 'nothing was sent');
  });

  test('leaves out 127/8 by default: the lab is not scanned, and the scan says why', async () => {
    reset();
    const s = await scan([A, C], options({ internet: true, contact: CONTACT }));
    assert.equal(s.state, 'completed');
    assert.equal(s.stats.probes, 0);
    assert.deepEqual(s.records, []);
    assert.match(s.err, /medsurface: internet mode: excluded 2 addresses: special-purpose \(Loopback 127\.0\.0\.0\/8\); nothing left to scan \(--allow-special CIDR/);
    assert.deepEqual(s.excluded, { specialPurpose: 2, optOut: 0 });
    assert.equal(conns(A) + conns(C), 0, 'no connection reached the lab');
  });

  test('with --allow-special the lab is scanned, and every request carries the contact in its User-Agent', async () => {
    reset();
    const s = await scan([A], options({ internet: true, contact: CONTACT, allowSpecial: [BLOCK] }));
    assert.equal(s.state, 'completed');
    assert.match(s.err, /internet mode: excluded 0 addresses: special-purpose/);
    assert.equal(s.records.length, 1);
    assert.equal(s.records[0]?.status, 'success');
    const agents = nodes.get(A)!.agents;
    assert.ok(agents.length > 0, 'the lab node saw requests');
    for (const ua of agents) assert.ok(ua.includes(CONTACT), `User-Agent ${JSON.stringify(ua)} carries the contact`);
  });
});

describe('opt-out list', () => {
  test("a range on the inventory's list gets no connection; the run counts what it left out", async () => {
    reset();
    const db = path.join(work, 'optout.sqlite');
    const inv = await openKyselyInventory(db);
    await addOptOut(inv, { cidr: '127.219.2.0/24', reason: 'test: owner asked', addedBy: 'test' });
    await inv.close();
    const s = await scan([A, OPTED, C], options({ inventory: true, db }));
    assert.equal(s.state, 'completed');
    assert.match(s.err, /medsurface: excluded 1 addresses: opt-out/);
    assert.equal(conns(OPTED), 0, 'no connection reached the opted-out range');
    assert.ok(conns(A) > 0 && conns(C) > 0, 'the other hosts were scanned');
    assert.deepEqual(s.records.map((r) => r.ip).sort(), [A, C]);
    const check = await openKyselyInventory(db);
    try {
      const run = await check.getRun(s.runId!);
      assert.deepEqual((run?.stats as { excluded?: unknown } | undefined)?.excluded, { specialPurpose: 0, optOut: 1 });
      assert.equal(run?.totalTargets, 3);
    } finally {
      await check.close();
    }
  });

  test('--opt-out-file, and the list of the --db inventory even with --no-inventory', async () => {
    reset();
    const file = path.join(work, 'optout.txt');
    writeFileSync(file, '# owners who asked\n127.219.3.0/24\n');
    const s = await scan([A, OPTED, C], options({ inventory: false, db: path.join(work, 'optout.sqlite'), optOutFile: [file] }));
    assert.equal(s.state, 'completed');
    assert.match(s.err, /excluded 2 addresses: opt-out/);
    assert.equal(conns(OPTED) + conns(C), 0);
    assert.ok(conns(A) > 0);
    await assert.rejects(scan([A], options({ optOutFile: [path.join(work, 'missing.txt')] })), /cannot read list/);
  });

  test('internet mode and opt-outs together: the lab allowed back, the opted-out range still left out', async () => {
    reset();
    const file = path.join(work, 'optout2.txt');
    writeFileSync(file, `${C}\n`);
    const s = await scan([A, C], options({ internet: true, contact: CONTACT, allowSpecial: [BLOCK], optOutFile: [file] }));
    assert.deepEqual(s.excluded, { specialPurpose: 0, optOut: 1 });
    assert.equal(conns(C), 0);
    assert.ok(conns(A) > 0);
  });
});
