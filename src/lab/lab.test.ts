import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { DEFAULT_LAYOUT, LabStartError, startBenchLab, startLab } from './index.js';
import { LabClient, associate, readMessage, release, sendEcho } from './lab-client.js';

/** Resource kinds whose count must return to its baseline after stop(). */
const WATCHED = ['TCPServerWrap', 'TCPSocketWrap', 'ProcessWrap', 'PipeWrap', 'MessagePort', 'Worker'];
function handles(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of WATCHED) out[k] = 0;
  for (const r of process.getActiveResourcesInfo()) if (r in out) out[r]!++;
  return out;
}

function connectOutcome(ip: string, port: number, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port });
    const t = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve(e.code ?? 'error');
    });
  });
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 50));
}

describe('startLab', () => {
  test('starts the whole default layout, answers, and stop() frees every port and handle', async () => {
    await settle();
    const base = handles();
    const lab = await startLab({ block: '127.204.0.0/16', quiet: true });
    assert.equal(lab.block, '127.204.0.0/16');
    assert.equal(lab.nodes.length, DEFAULT_LAYOUT.length);
    for (const n of lab.nodes) {
      assert.match(n.ip, /^127\.204\./);
      assert.ok(n.description.length > 0 && typeof n.expected === 'object');
    }
    // Every node answers the way its kind says, in one pass.
    for (const n of lab.nodes) {
      const outcome = await connectOutcome(n.ip, n.port, n.kind === 'tarpit' ? 500 : 2000);
      if (n.kind === 'tarpit') assert.equal(outcome, 'timeout', n.name);
      else if (n.kind === 'hostile:reset') assert.ok(['connected', 'ECONNRESET'].includes(outcome), `${n.name}: ${outcome}`);
      else assert.equal(outcome, 'connected', n.name);
    }
    const open = lab.nodes.find((n) => n.name === 'pacs-open')!;
    const c = await LabClient.connect(open.ip, open.port);
    assert.equal((await associate(c)).kind, 'accepted');
    sendEcho(c);
    assert.equal((await readMessage(c)).kind, 'message');
    await release(c);
    assert.equal(await c.closesWithin(2000), true);
    assert.equal(lab.stats('pacs-open')['pacs-open']!.echo, 1);
    assert.deepEqual(Object.keys(lab.stats('no-such-node')), []);
    // Service nodes (HL7, web, ...) keep no DICOM counters; the DICOM, hostile and tarpit nodes do.
    assert.ok(lab.totals().connections >= lab.nodes.filter((n) => n.kind !== 'service').length - 2);

    await lab.stop();
    await lab.stop(); // idempotent
    for (const n of lab.nodes) assert.equal(await connectOutcome(n.ip, n.port), 'ECONNREFUSED', `${n.name} freed`);
    await settle();
    assert.deepEqual(handles(), base, 'no listener, socket, child process or worker left');
  });

  test('a taken port fails startup with an error naming the node, address and port', async () => {
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(11112, '127.204.1.11', r));
    try {
      await assert.rejects(
        startLab({ block: '127.204.0.0/16', quiet: true, only: ['pacs-open', 'pacs-ae-check'] }),
        (err: unknown) => {
          assert.ok(err instanceof LabStartError);
          assert.match(err.message, /port 11112 on 127\.204\.1\.11 is already in use/);
          assert.match(err.message, /pacs-ae-check/);
          return true;
        },
      );
      // The node that did start was stopped again.
      assert.equal(await connectOutcome('127.204.1.10', 104), 'ECONNREFUSED');
    } finally {
      await new Promise<void>((r) => squatter.close(() => r()));
    }
  });

  test('unknown node names are refused', async () => {
    await assert.rejects(startLab({ block: '127.204.0.0/16', only: ['nope'] }), /unknown lab node/);
  });
});

async function hammer(nodes: { ip: string; port: number }[], concurrency: number): Promise<number> {
  let ok = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < nodes.length) {
        const n = nodes[next++]!;
        const c = await LabClient.connect(n.ip, n.port);
        const a = await associate(c, { contexts: [{ id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }] });
        if (a.kind === 'accepted') {
          await release(c);
          ok++;
        }
        c.destroy();
      }
    }),
  );
  return ok;
}

describe('startBenchLab', () => {
  test('500 endpoints in a worker thread answer 500 associations, then stop cleanly', async () => {
    await settle();
    const base = handles();
    const lab = await startBenchLab({ count: 500, block: '127.205.0.0/16' });
    assert.equal(lab.nodes.length, 500);
    assert.equal(new Set(lab.nodes.map((n) => n.ip)).size, 500);
    assert.equal(await hammer(lab.nodes, 32), 500);
    const t = lab.totals();
    assert.equal(t.accepted, 500);
    assert.equal(t.released, 500);
    assert.ok(Object.values(lab.stats()).every((s) => s.accepted === 1), 'each endpoint answered once');
    await lab.stop();
    assert.equal(await connectOutcome(lab.nodes[0]!.ip, 104), 'ECONNREFUSED');
    await settle();
    assert.deepEqual(handles(), base);
  });

  test('in-process bench (thread: false) works the same', async () => {
    const lab = await startBenchLab({ count: 50, block: '127.206.0.0/16', port: 11112, thread: false });
    assert.equal(await hammer(lab.nodes, 8), 50);
    assert.equal(lab.totals().released, 50);
    await lab.stop();
  });
});
