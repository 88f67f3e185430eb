import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { PduType, encodeAssociateRq, parseAssociateAc } from '../probes/dicom/parse.js';
import { type RunningLab, startLab } from './index.js';
import { LabClient, STANDARD_CONTEXTS, associate, readMessage, release, sendEcho } from './lab-client.js';

const BLOCK = '127.202.0.0/16';
let lab: RunningLab;

before(async () => {
  lab = await startLab({
    block: BLOCK,
    quiet: true,
    only: [
      'hostile-garbage',
      'hostile-oversized',
      'hostile-slow-drip',
      'hostile-split',
      'hostile-reset',
      'hostile-silent',
      'hostile-http',
    ],
  });
});
after(() => lab.stop());

const at = (name: string) => {
  const n = lab.nodes.find((x) => x.name === name);
  assert.ok(n, `node ${name}`);
  return n;
};
const connect = (name: string) => LabClient.connect(at(name).ip, at(name).port);
const rq = () => encodeAssociateRq({ calledAe: 'ANY-SCP', callingAe: 'LABTEST', contexts: STANDARD_CONTEXTS });

describe('hostile peers', () => {
  test('garbage: random bytes at once, the first of them no PDU type', async () => {
    const c = await connect('hostile-garbage');
    const b = await c.readBytes(64, 2000);
    assert.ok(b[0]! < 1 || b[0]! > 7, `first byte 0x${b[0]!.toString(16)}`);
    c.destroy();
  });

  test('oversized: a PDU header declaring 0xFFFFFFFF bytes, then a drip', async () => {
    const c = await connect('hostile-oversized');
    c.write(rq());
    const head = await c.readBytes(6, 2000);
    assert.equal(head[0], PduType.AssociateAc);
    assert.equal(head.readUInt32BE(2), 0xffffffff);
    const t0 = Date.now();
    await c.readBytes(1, 2000);
    assert.ok(Date.now() - t0 >= 300, 'the body drips, it does not flow');
    c.destroy();
  });

  test('slow-drip: a valid A-ASSOCIATE-AC, one byte per 500 ms', async () => {
    const c = await connect('hostile-slow-drip');
    c.write(rq());
    const got = await c.drain(1200);
    assert.ok(got.length >= 2 && got.length <= 4, `${got.length} bytes in 1.2 s`);
    assert.equal(got[0], PduType.AssociateAc);
    c.destroy();
  });

  test('split: 3-byte writes still make a whole association, echo and release', async () => {
    const c = await connect('hostile-split');
    const a = await associate(c);
    assert.equal(a.kind, 'accepted');
    if (a.kind === 'accepted') assert.equal(a.ac.implementationVersionName, 'OFFIS_DCMTK_367');
    assert.ok(c.chunks >= 10, `AC arrived in ${c.chunks} chunks`);
    sendEcho(c);
    const m = await readMessage(c);
    assert.equal(m.kind === 'message' && m.command.status, 0);
    await release(c);
    assert.equal(await c.closesWithin(2000), true);
    // The AC is valid byte for byte: parse it once more from the raw bytes.
    const c2 = await connect('hostile-split');
    c2.write(rq());
    const p = await c2.readPdu(5000);
    assert.equal(parseAssociateAc(p.body).calledAe, 'ANY-SCP');
    c2.destroy();
  });

  test('reset: the connection is reset at once', async () => {
    const n = at('hostile-reset');
    const outcome = await new Promise<string>((resolve) => {
      const s = net.connect({ host: n.ip, port: n.port });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      s.on('close', () => resolve('closed'));
      s.on('data', () => resolve('data'));
    });
    assert.equal(outcome, 'ECONNRESET');
  });

  test('silent: accepts and never answers', async () => {
    const c = await connect('hostile-silent');
    c.write(rq());
    const got = await c.drain(800);
    assert.equal(got.length, 0);
    assert.equal(await c.closesWithin(10), false);
    c.destroy();
  });

  test('http-on-dicom-port: HTTP/1.1 400 in answer to the A-ASSOCIATE-RQ', async () => {
    const c = await connect('hostile-http');
    c.write(rq());
    await c.closed;
    const got = (await c.drain(0)).toString('latin1');
    assert.match(got, /^HTTP\/1\.1 400 Bad Request\r\n/);
  });

  test('hostile nodes count their connections', () => {
    const s = lab.stats();
    for (const name of ['hostile-garbage', 'hostile-oversized', 'hostile-reset', 'hostile-silent', 'hostile-http']) {
      assert.ok(s[name]!.connections >= 1, `${name} saw a connection`);
    }
  });
});
