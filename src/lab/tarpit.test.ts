import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startTarpit } from './tarpit.js';

function tryConnect(ip: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code ?? 'error');
    });
  });
}

test('a tarpit makes connects time out, where a dead port refuses at once', async () => {
  const ip = '127.203.9.50';
  assert.equal(await tryConnect(ip, 104, 1000), 'ECONNREFUSED', 'nothing listens yet: loopback answers with a reset');
  const t = await startTarpit(ip, 104);
  try {
    const t0 = Date.now();
    assert.equal(await tryConnect(ip, 104, 1000), 'timeout');
    assert.ok(Date.now() - t0 >= 950);
    // Still a tarpit on the second try (the queue stays full).
    assert.equal(await tryConnect(ip, 104, 500), 'timeout');
  } finally {
    await t.stop();
  }
  assert.equal(await tryConnect(ip, 104, 1000), 'ECONNREFUSED', 'stop() frees the port');
});

test('a tarpit on a taken port fails with an error naming the address', async () => {
  const ip = '127.203.9.51';
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(4242, ip, r));
  try {
    await assert.rejects(startTarpit(ip, 4242), /127\.203\.9\.51:4242.*(in use|failed)/);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});
