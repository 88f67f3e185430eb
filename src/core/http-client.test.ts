import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { openGuardedSocket } from './bounded-socket.js';
import { ScopeError } from './errors.js';
import { HttpRequestError, USER_AGENT, httpRequest, userAgentFor } from './http-client.js';
import { packageRoot } from './paths.js';
import { testProbeContext } from './testing.js';
import type { ProbeContext } from './probe.js';

/** Test servers listen on 127.0.4.x (the web family's loopback addresses), never 127.0.0.1. */
const A = '127.0.4.201';
const B = '127.0.4.202';
const OUTSIDE = '127.0.4.203';

const closers: (() => void)[] = [];
after(() => {
  for (const c of closers) c();
});

function track(srv: net.Server): void {
  const socks = new Set<net.Socket>();
  srv.on('connection', (s: net.Socket) => {
    socks.add(s);
    s.on('error', () => {});
    s.on('close', () => socks.delete(s));
  });
  closers.push(() => {
    for (const s of socks) s.destroy();
    srv.close();
  });
}

function listen(srv: net.Server, host = A): Promise<number> {
  track(srv);
  return new Promise((resolve) => srv.listen(0, host, () => resolve((srv.address() as net.AddressInfo).port)));
}

/** A raw TCP server: full control of the bytes (hostile peers). */
function raw(onConn: (s: net.Socket) => void, host = A): Promise<number> {
  return listen(net.createServer(onConn), host);
}

function ctxFor(ip: string, port: number, over: Partial<ProbeContext> & { blocked?: string[] } = {}): ProbeContext {
  return testProbeContext(ip, port, { timeouts: { connectMs: 1000, readMs: 1000, sessionMs: 4000 }, ...over });
}

describe('httpRequest', () => {
  test('GET: status, reason, version, bounded lower-case headers, identity encoding and the honest User-Agent', async () => {
    let seen: http.IncomingHttpHeaders = {};
    const port = await listen(
      http.createServer((req, res) => {
        seen = req.headers;
        res.setHeader('Server', 'TestServer/1.0');
        res.setHeader('X-Long', 'x'.repeat(5000));
        res.setHeader('Set-Cookie', ['a=1', 'b=2']);
        res.writeHead(200, 'Fine Thanks', { 'Content-Type': 'text/html' });
        res.end('<title>hello</title>');
      }),
    );
    const r = await httpRequest(ctxFor(A, port), { path: '/' });
    assert.equal(r.status, 200);
    assert.equal(r.statusText, 'Fine Thanks');
    assert.equal(r.httpVersion, 'HTTP/1.1');
    assert.equal(r.headers.server, 'TestServer/1.0');
    assert.equal(r.headers['x-long']!.length, 1024);
    assert.equal(r.headers['set-cookie'], 'a=1, b=2');
    assert.equal(r.body.toString(), '<title>hello</title>');
    assert.equal(r.bodyTruncated, false);
    assert.equal(r.bodyBytes, 20);
    assert.equal(r.url, '/');
    assert.equal(r.tls, null);
    assert.deepEqual(r.redirects, []);
    assert.equal(seen['accept-encoding'], 'identity');
    assert.equal(seen['user-agent'], USER_AGENT);
    assert.match(USER_AGENT, /^medsurface\/\d+\.\d+\.\d+\S* \(\+[^()]+\)$/);
    assert.equal(seen.host, `${A}:${port}`);
  });

  test('the User-Agent carries the configured contact, cleaned of parentheses and control characters', () => {
    const ua = userAgentFor({ options: { http: { contact: 'cert@example.org (team)\r\nX: y' } } });
    assert.match(ua, /^medsurface\/\S+ \(\+cert@example\.org team\s?X: y\)$/);
  });

  test('HTTP/1.0 answers are reported as such', async () => {
    const port = await raw((s) => s.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nold'));
    const r = await httpRequest(ctxFor(A, port), { path: '/' });
    assert.equal(r.httpVersion, 'HTTP/1.0');
    assert.equal(r.body.toString(), 'old');
  });

  test('the body is counted as read and cut at maxBodyBytes; an endless body ends in bounded time', async () => {
    const port = await raw((s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n');
      const chunk = Buffer.alloc(8192, 0x61);
      const pump = () => {
        while (!s.destroyed && s.write(`${chunk.length.toString(16)}\r\n${chunk.toString()}\r\n`)) {}
        if (!s.destroyed) s.once('drain', pump);
      };
      pump();
    });
    const t0 = Date.now();
    const r = await httpRequest(ctxFor(A, port), { path: '/', maxBodyBytes: 10_000 });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 10_000);
    assert.equal(r.bodyTruncated, true);
    assert.ok(r.bodyBytes > 10_000);
    assert.ok(Date.now() - t0 < 2000);
  });

  test('maxBodyBytes is capped at 1 MiB', async () => {
    const big = Buffer.alloc(1_200_000, 0x62);
    const port = await listen(http.createServer((_q, res) => res.end(big)));
    const r = await httpRequest(ctxFor(A, port, { timeouts: { connectMs: 1000, readMs: 2000, sessionMs: 8000 } }), { path: '/', maxBodyBytes: 50_000_000 });
    assert.equal(r.body.length, 1024 * 1024);
    assert.equal(r.bodyTruncated, true);
  });

  test('a 1 MB header block is a protocol-error (undici maxHeaderSize 16 KiB)', async () => {
    const port = await raw((s) => {
      s.write('HTTP/1.1 200 OK\r\n');
      s.write(`X-Huge: ${'h'.repeat(1024 * 1024)}\r\n\r\n`);
    });
    await assert.rejects(httpRequest(ctxFor(A, port), { path: '/' }), (e: HttpRequestError) => e instanceof HttpRequestError && e.status === 'protocol-error');
  });

  test('headers dripped one byte at a time are an io-timeout (headersTimeout)', async () => {
    const port = await raw((s) => {
      const text = 'HTTP/1.1 200 OK\r\nServer: drip\r\n\r\n';
      let i = 0;
      const t = setInterval(() => {
        if (s.destroyed) return clearInterval(t);
        s.write(text[i++ % text.length]!);
      }, 100);
      s.on('close', () => clearInterval(t));
    });
    const t0 = Date.now();
    await assert.rejects(
      httpRequest(ctxFor(A, port, { timeouts: { connectMs: 500, readMs: 600, sessionMs: 3000 } }), { path: '/' }),
      (e: HttpRequestError) => e.status === 'io-timeout',
    );
    assert.ok(Date.now() - t0 < 2500);
  });

  test('a body dripped forever ends at the session deadline with what arrived (truncated)', async () => {
    const port = await raw((s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n');
      const t = setInterval(() => (s.destroyed ? clearInterval(t) : s.write('z')), 50);
      s.on('close', () => clearInterval(t));
    });
    const t0 = Date.now();
    const r = await httpRequest(ctxFor(A, port, { timeouts: { connectMs: 500, readMs: 1000, sessionMs: 1500 } }), { path: '/' });
    assert.equal(r.status, 200);
    assert.equal(r.bodyTruncated, true);
    assert.ok(r.bodyError);
    assert.ok(r.body.length > 0 && r.body.length < 100);
    assert.ok(Date.now() - t0 < 2500);
  });

  test('garbage instead of a status line is a protocol-error with the first bytes kept for scheme detection', async () => {
    const port = await raw((s) => s.end(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46])));
    await assert.rejects(httpRequest(ctxFor(A, port), { path: '/' }), (e: HttpRequestError) => {
      assert.equal(e.status, 'protocol-error');
      assert.equal(e.firstBytes[0], 0x15);
      return true;
    });
  });

  test('a closed port is connection-refused; a silent one an io-timeout', async () => {
    const port = await raw(() => {});
    const srvPort = port;
    closers.pop()!();
    await new Promise((r) => setTimeout(r, 30));
    await assert.rejects(httpRequest(ctxFor(A, srvPort), { path: '/' }), (e: HttpRequestError) => e.status === 'connection-refused');
    const silent = await raw(() => {});
    await assert.rejects(
      httpRequest(ctxFor(A, silent, { timeouts: { connectMs: 500, readMs: 400, sessionMs: 2000 } }), { path: '/' }),
      (e: HttpRequestError) => e.status === 'io-timeout',
    );
  });

  test('the scope guard refuses the first connection with a ScopeError', async () => {
    await assert.rejects(httpRequest(ctxFor(OUTSIDE, 80, { blocked: [OUTSIDE] }), { path: '/' }), ScopeError);
  });

  test('bad request paths are refused before any connection', async () => {
    for (const p of ['x', '/a b', '/\r\nX: y', `/${'a'.repeat(3000)}`]) {
      await assert.rejects(httpRequest(ctxFor(A, 1), { path: p }), (e: HttpRequestError) => e.status === 'unknown-error');
    }
  });
});

describe('httpRequest redirects', () => {
  test('not followed by default; followed on the same host up to the final answer', async () => {
    const port = await listen(
      http.createServer((req, res) => {
        if (req.url === '/') return res.writeHead(301, { Location: 'app/explorer.html' }).end();
        if (req.url === '/app/explorer.html') return res.writeHead(302, { Location: '/app/final?x=1' }).end();
        res.end(`final ${req.url}`);
      }),
    );
    const ctx = ctxFor(A, port);
    const r0 = await httpRequest(ctx, { path: '/' });
    assert.equal(r0.status, 301);
    assert.equal(r0.headers.location, 'app/explorer.html');
    assert.equal(r0.redirectStop, undefined);
    const r = await httpRequest(ctx, { path: '/', followRedirects: 3 });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'final /app/final?x=1');
    assert.equal(r.url, '/app/final?x=1');
    assert.deepEqual(r.redirects, [
      { status: 301, location: 'app/explorer.html' },
      { status: 302, location: '/app/final?x=1' },
    ]);
  });

  test('a redirect to another IP literal is followed through the guard; one outside the scope is refused', async () => {
    const other = await listen(http.createServer((_q, res) => res.end('on B')), B);
    const port = await listen(http.createServer((_q, res) => res.writeHead(302, { Location: `http://${B}:${other}/there` }).end()));
    const r = await httpRequest(ctxFor(A, port), { path: '/', followRedirects: 2 });
    assert.equal(r.body.toString(), 'on B');
    assert.equal(r.url, '/there');
    const refused = await httpRequest(ctxFor(A, port, { blocked: [B] }), { path: '/', followRedirects: 2 });
    assert.equal(refused.status, 302);
    assert.equal(refused.redirectStop, 'refused-scope');
    assert.deepEqual(refused.redirects, []);
  });

  test('a redirect to another host name (needs DNS) or another scheme is refused, not followed', async () => {
    const port = await listen(
      http.createServer((req, res) => {
        if (req.url === '/ftp') return res.writeHead(302, { Location: 'ftp://files.example/' }).end();
        res.writeHead(302, { Location: 'https://elsewhere.example/login' }).end();
      }),
    );
    const r = await httpRequest(ctxFor(A, port), { path: '/', followRedirects: 3 });
    assert.equal(r.status, 302);
    assert.equal(r.redirectStop, 'refused-cross-host');
    const f = await httpRequest(ctxFor(A, port), { path: '/ftp', followRedirects: 3 });
    assert.equal(f.redirectStop, 'refused-scheme');
  });

  test('a redirect loop stops at the first repeated URL; an endless chain at the limit', async () => {
    let hits = 0;
    const port = await listen(
      http.createServer((req, res) => {
        hits++;
        if (req.url === '/a') return res.writeHead(302, { Location: '/b' }).end();
        if (req.url === '/b') return res.writeHead(302, { Location: '/a' }).end();
        const n = Number((req.url ?? '/0').slice(1)) || 0;
        res.writeHead(302, { Location: `/${n + 1}` }).end();
      }),
    );
    const loop = await httpRequest(ctxFor(A, port), { path: '/a', followRedirects: 5 });
    assert.equal(loop.redirectStop, 'loop');
    assert.equal(hits, 2);
    const chain = await httpRequest(ctxFor(A, port), { path: '/0', followRedirects: 50 });
    assert.equal(chain.redirectStop, 'limit');
    assert.equal(chain.redirects.length, 5);
  });
});

describe('httpRequest over TLS', () => {
  test('HTTPS: TLS facts come from the handshake (version, cipher, certificate)', async () => {
    const certs = path.join(packageRoot(), 'src/lab/certs');
    const srv = https.createServer(
      { cert: readFileSync(path.join(certs, 'pacs-tls.cert.pem')), key: readFileSync(path.join(certs, 'pacs-tls.key.pem')) },
      (_q, res) => res.end('secure'),
    );
    const port = await listen(srv);
    const r = await httpRequest(ctxFor(A, port, { tls: true }), { path: '/' });
    assert.equal(r.body.toString(), 'secure');
    assert.ok(r.tls);
    assert.match(r.tls.version ?? '', /^TLSv1\.[23]$/);
    assert.equal(r.tls.certificate?.selfSigned, true);
    assert.match(r.tls.certificate?.subject ?? '', /pacs-tls\.lab\.medsurface\.test/);
  });

  test('TLS to a plain HTTP port is a tls-error', async () => {
    const port = await listen(http.createServer((_q, res) => res.end('plain')));
    await assert.rejects(httpRequest(ctxFor(A, port), { path: '/', tls: true }), (e: HttpRequestError) => e.status === 'tls-error');
  });
});

describe('openGuardedSocket', () => {
  test('destroys the socket once the peer sent more than maxBytes, and says why', async () => {
    const port = await raw((s) => s.write(Buffer.alloc(200_000, 1)));
    const sock = await openGuardedSocket({ ip: A, port, guard: () => {}, connectTimeoutMs: 1000, sessionTimeoutMs: 5000, maxBytes: 10_000 });
    let seen = 0;
    sock.on('data', (c: Buffer) => {
      seen += c.length;
    });
    sock.resume();
    await new Promise((r) => sock.once('close', r));
    assert.ok(seen <= 10_000 + 65_536, `read ${seen} bytes`);
    const { guardFailureOf } = await import('./bounded-socket.js');
    assert.equal(guardFailureOf(sock)?.status, 'protocol-error');
  });

  test('the session deadline destroys an idle socket with io-timeout', async () => {
    const port = await raw(() => {});
    const sock = await openGuardedSocket({ ip: A, port, guard: () => {}, connectTimeoutMs: 1000, sessionTimeoutMs: 300 });
    const t0 = Date.now();
    await new Promise((r) => sock.once('close', r));
    assert.ok(Date.now() - t0 < 1000);
    const { guardFailureOf } = await import('./bounded-socket.js');
    assert.equal(guardFailureOf(sock)?.status, 'io-timeout');
  });

  test('the guard runs before connect, and names are never resolved', async () => {
    await assert.rejects(
      openGuardedSocket({ ip: OUTSIDE, port: 1, guard: () => { throw new ScopeError('no'); }, connectTimeoutMs: 100, sessionTimeoutMs: 100 }),
      ScopeError,
    );
    await assert.rejects(openGuardedSocket({ ip: 'localhost', port: 1, guard: () => {}, connectTimeoutMs: 100, sessionTimeoutMs: 100 }), /not an IP address/);
  });
});
