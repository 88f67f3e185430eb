/**
 * Shared pieces of the alert tests (not used by the product): the loopback-only guard the tests
 * give the outbox, synthetic events, a fake clock, temporary spool folders and a node:http
 * receiver on a 127.80.1.x address (the block the alert tests own).
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ExposureEvent } from '../core/events.js';
import { ScopeError } from '../core/errors.js';
import type { SinkGuard } from './config.js';

/** Accepts 127.0.0.0/8 only (IP literals: a host name is refused). */
export const loopbackOnly: SinkGuard = (host, port) => {
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m || m.slice(1).some((o) => Number(o) > 255)) throw new ScopeError(`${host}:${port} is outside 127.0.0.0/8`);
};

export const T0 = Date.parse('2030-03-01T12:00:00.000Z');

export interface FakeClock {
  t: number;
  now: () => number;
}

export function fakeClock(start = T0): FakeClock {
  const c: FakeClock = { t: start, now: () => c.t };
  return c;
}

/** A synthetic finding event (lab addresses, no real system). */
export function sampleEvent(over: Partial<ExposureEvent> = {}): ExposureEvent {
  return {
    kind: 'finding-opened',
    key: 'finding:127.77.0.10:104:dicom-any-ae:open',
    at: '2030-03-01T11:59:00.000Z',
    runId: 'run-0001',
    ip: '127.77.0.10',
    port: 104,
    protocol: 'dicom',
    product: 'Orthanc',
    version: '1.12.3',
    deviceType: 'pacs',
    tags: ['radiology'],
    country: null,
    org: null,
    checkId: 'dicom-any-ae',
    severity: 'critical',
    title: 'DICOM accepts any calling AE title',
    changes: null,
    ...over,
  };
}

export async function tempDir(prefix = 'medsurface-alerts-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpReceiver {
  port: number;
  url: (p?: string) => string;
  received: Received[];
  close: () => Promise<void>;
}

/**
 * A node:http server on `host` (by default port 0: the kernel picks one) that records every request and
 * answers with `respond` (default 200 "ok"). Request bodies are capped at 1 MiB.
 */
export async function httpReceiver(
  host: string,
  respond: (req: Received, res: http.ServerResponse, n: number) => void = (_r, res) => res.end('ok'),
  port = 0,
): Promise<HttpReceiver> {
  const received: Received[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1024 * 1024) chunks.push(c);
    });
    req.on('end', () => {
      const r: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      received.push(r);
      respond(r, res, received.length);
    });
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const bound = (server.address() as net.AddressInfo).port;
  return {
    port: bound,
    url: (p = '/hook') => `http://${host}:${bound}${p}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on `host` with nothing listening (bound once by the kernel, then released). */
export async function closedPort(host: string): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
