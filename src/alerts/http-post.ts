/**
 * One bounded HTTP POST to a webhook (webhook and Slack sinks), on undici 7 with a custom
 * `connect` that opens the socket through transport.openSinkSocket (resolver, guard, deadline,
 * byte cap). The probes' client (core/http-client.ts) is not used: it is bound to a probe context,
 * never verifies certificates (it observes any TLS) and caps request bodies at 4 KiB.
 *
 * Bounds: one connection, never reconnected; `timeoutMs` for the connect, for the response
 * headers, between body chunks, and for the whole request (AbortSignal); response headers at most
 * LIMITS.httpHeaderBytes; at most LIMITS.httpBodyBytes (64 KiB) of the reply body are read, then
 * the connection is dropped; no redirect is followed (a 3xx is a failed delivery).
 */
import type net from 'node:net';
import { Client, type Dispatcher, type buildConnector } from 'undici';
import { guardFailureOf } from '../core/bounded-socket.js';
import { LIMITS } from '../core/limits.js';
import { VERSION } from '../core/version.js';
import { formatHostPort } from './config.js';
import { type DeliveryContext, DeliveryError, errorText, openSinkSocket } from './transport.js';

export const ALERT_USER_AGENT = `medsurface/${VERSION} (alert delivery)`;
/** Request bodies we send are our own JSON; this is a sanity cap. */
const MAX_REQUEST_BYTES = 1024 * 1024;
/** Reply bytes kept for the error message of a failed delivery. */
const KEPT_REPLY_BYTES = 200;
/** Slack for undici's read-ahead and framing on top of the header and body caps. */
const SOCKET_SLACK_BYTES = 64 * 1024;

export interface PostResult {
  status: number;
  /** Reply bytes read (at most LIMITS.httpBodyBytes, more were dropped). */
  bodyBytes: number;
}

/** Retry-After in ms (delta-seconds or HTTP-date, RFC 9110 §10.2.3), bounded to a day. */
function retryAfterMs(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const ms = /^\d{1,9}$/.test(v.trim()) ? Number(v.trim()) * 1000 : Date.parse(v) - now;
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, 86_400_000) : undefined;
}

const RESERVED = new Set(['host', 'content-type', 'content-length', 'transfer-encoding', 'connection', 'user-agent', 'accept-encoding']);

/** The caller's headers with lower-case names, without the ones this module sets. */
function callerHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const name = k.toLowerCase();
    if (!RESERVED.has(name)) out[name] = v;
  }
  return out;
}

/** POSTs `body` to `url`; resolves on a 2xx, throws DeliveryError otherwise. */
export async function postJson(url: string, body: string, headers: Record<string, string>, timeoutMs: number, ctx: DeliveryContext): Promise<PostResult> {
  if (Buffer.byteLength(body) > MAX_REQUEST_BYTES) throw new DeliveryError(`request body larger than ${MAX_REQUEST_BYTES} bytes`, 'event');
  const u = new URL(url);
  const useTls = u.protocol === 'https:';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port ? Number(u.port) : useTls ? 443 : 80;
  const where = formatHostPort(host, port);
  let connects = 0;
  let socket: net.Socket | null = null;
  const connect: buildConnector.connector = (_o, cb) => {
    if (connects++ > 0) {
      cb(new Error('connection lost (not reconnecting)'), null);
      return;
    }
    openSinkSocket(
      { host, port, timeoutMs, maxBytes: LIMITS.httpBodyBytes + LIMITS.httpHeaderBytes + SOCKET_SLACK_BYTES, ...(useTls ? { tls: { ALPNProtocols: ['http/1.1'] } } : {}) },
      ctx,
    ).then(
      (s) => {
        socket = s;
        cb(null, s);
      },
      (err: unknown) => cb(err instanceof Error ? err : new Error(String(err)), null),
    );
  };
  const client = new Client(u.origin, {
    connect,
    maxHeaderSize: LIMITS.httpHeaderBytes,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    pipelining: 1,
    allowH2: false,
  });
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    let res: Dispatcher.ResponseData;
    try {
      res = await client.request({
        method: 'POST',
        path: u.pathname + u.search,
        headers: {
          ...callerHeaders(headers),
          host: u.host,
          'content-type': 'application/json',
          'user-agent': ALERT_USER_AGENT,
          'accept-encoding': 'identity',
        },
        body,
        signal,
        reset: true,
      });
    } catch (err) {
      if (err instanceof DeliveryError) throw err;
      const cause = (socket && guardFailureOf(socket)) || err;
      throw new DeliveryError(`${where}: ${signal.aborted ? `no answer within ${timeoutMs} ms` : errorText(cause)}`, 'sink', { cause });
    }
    // Read at most LIMITS.httpBodyBytes of the reply, keep a little for the error message, drop the rest.
    let bodyBytes = 0;
    let kept = Buffer.alloc(0);
    try {
      for await (const chunk of res.body) {
        const b = chunk as Buffer;
        bodyBytes += b.length;
        if (kept.length < KEPT_REPLY_BYTES) kept = Buffer.concat([kept, b.subarray(0, KEPT_REPLY_BYTES - kept.length)]);
        if (bodyBytes >= LIMITS.httpBodyBytes) break;
      }
    } catch {
      // A reply body cut short does not change the verdict of the status code.
    } finally {
      res.body.destroy();
    }
    const { statusCode } = res;
    if (statusCode >= 200 && statusCode < 300) return { status: statusCode, bodyBytes: Math.min(bodyBytes, LIMITS.httpBodyBytes) };
    const text = kept.toString('utf8').replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, 120);
    const msg = `${where}: HTTP ${statusCode}${statusCode >= 300 && statusCode < 400 ? ' (redirects are not followed)' : ''}${text ? `: ${text}` : ''}`;
    const sinkWide = statusCode >= 500 || statusCode === 408 || statusCode === 429;
    const after = retryAfterMs(res.headers['retry-after'], ctx.now());
    throw new DeliveryError(msg, sinkWide ? 'sink' : 'event', after === undefined ? {} : { retryAfterMs: after });
  } finally {
    await client.destroy().catch(() => undefined);
    (socket as net.Socket | null)?.destroy();
  }
}
