import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { BoundedSocket } from './bounded-socket.js';
import { type ScanError, ScopeError } from './errors.js';

const allowAll = () => {};
const servers: net.Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

function serve(onConn: (s: net.Socket) => void, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer((s) => {
      s.on("error", () => {});
      onConn(s);
    });
    servers.push(srv);
    srv.listen(0, host, () => resolve((srv.address() as net.AddressInfo).port));
  });
}

const base = { guard: allowAll, connectTimeoutMs: 1000, readTimeoutMs: 1000, sessionTimeoutMs: 5000 };

describe('BoundedSocket', () => {
  test('reads exact lengths however the peer splits them (3 bytes per write)', async () => {
    const payload = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
    const port = await serve((s) => {
      let i = 0;
      const t = setInterval(() => {
        if (i >= payload.length) return clearInterval(t);
        s.write(payload.subarray(i, i + 3));
        i += 3;
      }, 2);
      s.on('close', () => clearInterval(t));
    });
    const b = await BoundedSocket.open({ ip: '127.0.0.1', port, ...base });
    try {
      assert.equal((await b.read(6)).toString(), '012345');
      assert.equal((await b.read(20)).toString(), '6789abcdefghijklmnop');
      assert.equal((await b.read(10)).toString(), 'qrstuvwxyz');
    } finally {
      b.destroy();
    }
  });

  test('a refused port is connection-refused', async () => {
    const port = await serve(() => {});
    servers.pop()!.close();
    await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(BoundedSocket.open({ ip: '127.0.0.1', port, ...base }), (e: ScanError) => e.status === 'connection-refused');
  });

  test('the byte cap ends the session with protocol-error', async () => {
    const port = await serve((s) => s.write(Buffer.alloc(70_000, 0x41)));
    const b = await BoundedSocket.open({ ip: '127.0.0.1', port, ...base, maxBytes: 1024 });
    await assert.rejects(b.read(2048), (e: ScanError) => e.status === 'protocol-error');
    b.destroy();
  });

  test('a silent peer gives io-timeout on read', async () => {
    const port = await serve(() => {});
    const b = await BoundedSocket.open({ ip: '127.0.0.1', port, ...base, readTimeoutMs: 150 });
    await assert.rejects(b.read(1), (e: ScanError) => e.status === 'io-timeout');
    b.destroy();
  });

  test('the session deadline cuts a slow drip', async () => {
    const port = await serve((s) => {
      const t = setInterval(() => s.write('x'), 50);
      s.on('close', () => clearInterval(t));
      s.on('error', () => clearInterval(t));
    });
    const b = await BoundedSocket.open({ ip: '127.0.0.1', port, ...base, sessionTimeoutMs: 300, readTimeoutMs: 1000 });
    const started = Date.now();
    await assert.rejects(b.read(1000), (e: ScanError) => e.status === 'io-timeout');
    assert.ok(Date.now() - started < 1000);
  });

  test('peer close while reading is connection-closed', async () => {
    const port = await serve((s) => s.end('ab'));
    const b = await BoundedSocket.open({ ip: '127.0.0.1', port, ...base });
    assert.equal((await b.read(2)).toString(), 'ab');
    await assert.rejects(b.read(1), (e: ScanError) => e.status === 'connection-closed');
    b.destroy();
  });

  test('the scope guard is asked before any connect', async () => {
    let asked = '';
    const guard = (ip: string) => {
      asked = ip;
      throw new ScopeError(`${ip} is outside the scope`);
    };
    await assert.rejects(BoundedSocket.open({ ...base, guard, ip: '127.0.0.1', port: 9 }), ScopeError);
    assert.equal(asked, '127.0.0.1');
  });

  test('a host name is refused: names are resolved before connect', async () => {
    await assert.rejects(BoundedSocket.open({ ...base, ip: 'localhost', port: 9 }), /not an IP address/);
  });

  test('refuses a read larger than the cap without waiting', async () => {
    const port = await serve(() => {});
    const b = await BoundedSocket.open({ ip: '127.0.0.1', port, ...base, maxBytes: 100 });
    await assert.rejects(b.read(101), (e: ScanError) => e.status === 'protocol-error');
    b.destroy();
  });

  test('TLS handshake failure against a plain server is tls-error', async () => {
    const port = await serve((s) => s.end('HTTP/1.0 400 Bad Request\r\n\r\n'));
    await assert.rejects(BoundedSocket.open({ ip: '127.0.0.1', port, ...base, tls: true }), (e: ScanError) => e.status === 'tls-error');
  });
});
