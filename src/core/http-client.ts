/**
 * The shared, bounded HTTP/1.1 client of the probes (http, fhir, dicomweb): undici 7 with a custom
 * `connect`, so that every connection, redirects included, is a ProbeContext.openRaw socket (scope
 * guard at connect time, connect timeout, session deadline, byte cap: DESIGN.md "core/bounded-socket
 * ... HTTP through undici with a custom connect").
 *
 * Bounds, each named in core/limits.ts:
 * - response headers: undici's `maxHeaderSize` (LIMITS.httpHeaderBytes) ends the request with a
 *   protocol-error; each kept header value is cut to LIMITS.httpHeaderValueChars;
 * - body: counted as it is read and cut at `maxBodyBytes` (default LIMITS.httpBodyBytes, hard cap
 *   LIMITS.httpMaxBodyBytes); the connection is dropped there (`bodyTruncated`), nothing more is read;
 * - the socket itself: the guard's byte cap (body cap + header cap + framing slack) and deadline;
 * - time: `headersTimeout` (whole header block) and `bodyTimeout` (idle between body chunks) from
 *   ctx.timeouts.readMs, the socket's session deadline, and one deadline of ctx.timeouts.sessionMs for
 *   the request with all its redirects;
 * - redirects: at most `followRedirects` (LIMITS.httpRedirects), a loop stops at the first repeated
 *   URL, a redirect to another host name is refused (it would need DNS; RFC 9110 §15.4 leaves following
 *   to the client), one to an IP literal or to the same host is followed and scope-guarded like any
 *   connection.
 * `Accept-Encoding: identity` (RFC 9110 §12.5.3): no compressed body is ever inflated, so the byte
 * counts are the server's bytes. One connection per request (`Connection: close`), never pipelined.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Client, type Dispatcher } from 'undici';
import { guardFailureOf } from './bounded-socket.js';
import { ScanError, ScopeError, messageOf, scanError, statusOf } from './errors.js';
import { LIMITS } from './limits.js';
import type { ProbeContext } from './probe.js';
import type { Status } from './status.js';
import { tlsInfoOf } from './tls-info.js';
import type { TlsInfo } from './types.js';
import { VERSION } from './version.js';

export interface HttpRequest {
  /** POST only for the intrusive credential attempts (src/credentials/), with a small `body`. */
  method?: 'GET' | 'HEAD' | 'OPTIONS' | 'POST';
  /** Request body of a POST, at most 4 KiB (a login form). Sent with Content-Length. */
  body?: string;
  /** Origin-form request target: starts with '/', no spaces or control characters, at most 2048 characters. */
  path: string;
  headers?: Record<string, string>;
  /** Default LIMITS.httpBodyBytes (64 KiB), hard cap LIMITS.httpMaxBodyBytes (1 MiB). */
  maxBodyBytes?: number;
  /** Default 0, max LIMITS.httpRedirects (5). */
  followRedirects?: number;
  /** Default ctx.tls. */
  tls?: boolean;
  accept?: string;
}

/** Why a redirect chain stopped before a final (non-3xx) answer. */
export type RedirectStop = 'limit' | 'loop' | 'refused-cross-host' | 'refused-scheme' | 'refused-scope' | 'bad-location';

export interface HttpResponse {
  status: number;
  statusText: string;
  /** From the status line as received ("HTTP/1.1", "HTTP/1.0"). */
  httpVersion: string;
  /** Lower-case names, repeated headers joined with ', ', each value bounded; at most LIMITS.httpHeaderNames names. */
  headers: Record<string, string>;
  /** At most maxBodyBytes. */
  body: Buffer;
  bodyTruncated: boolean;
  /** Body bytes read from the server (more than body.length when truncated). */
  bodyBytes: number;
  redirects: { status: number; location: string }[];
  /** Final request target (path + query). */
  url: string;
  tls: TlsInfo | null;
  /** Set when the chain ended on a 3xx that was not followed (and followRedirects > 0). */
  redirectStop?: RedirectStop;
  /** The body ended early for this reason (timeout, reset); the response is otherwise complete. */
  bodyError?: string;
}

/** A failed request: a ScanError with what was seen of the connection (for scheme detection). */
export class HttpRequestError extends ScanError {
  /** First bytes the server sent on the failing connection (at most 16; a TLS alert starts 0x15 0x03). */
  readonly firstBytes: Buffer;
  /** Bytes received on the failing connection. */
  readonly bytesReceived: number;
  /** Redirects followed before the failing hop. */
  readonly redirects: { status: number; location: string }[];
  constructor(status: Status, message: string, info: { firstBytes: Buffer; bytesReceived: number; redirects: HttpResponse['redirects'] }, cause?: unknown) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(status, message, cause === undefined ? undefined : { cause });
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = 'HttpRequestError';
    this.firstBytes = info.firstBytes;
    this.bytesReceived = info.bytesReceived;
    this.redirects = info.redirects;
  }
}

const DEFAULT_CONTACT = 'security scan; contact the operator of the scanning address';

/** Keeps a contact text safe inside a User-Agent comment (RFC 9110 §10.1.5, §5.6.5): printable ASCII, no parentheses. */
function cleanContact(s: string): string {
  const t = s.replace(/[^\x20-\x7e]|[()\\]/g, '').trim();
  return t.length > 128 ? t.slice(0, 128) : t;
}

/** The honest User-Agent (DESIGN.md "Every probe identifies itself honestly"), with the default contact. */
export const USER_AGENT: string = `medsurface/${VERSION} (+${DEFAULT_CONTACT})`;

/** The User-Agent for this scan: the contact from `--http-contact` (ctx.options.http.contact) when given. */
export function userAgentFor(ctx: Pick<ProbeContext, 'options'>): string {
  const opts = ctx.options.http as { contact?: unknown } | undefined;
  const contact = typeof opts?.contact === 'string' ? cleanContact(opts.contact) : '';
  return contact ? `medsurface/${VERSION} (+${contact})` : USER_AGENT;
}

/** Framing and buffering slack on top of the body and header caps (chunk headers, what undici reads ahead). */
const SOCKET_SLACK_BYTES = 256 * 1024;
const MAX_PATH_CHARS = 2048;
const MAX_REQUEST_BODY_BYTES = 4096;
const FIRST_BYTES = 16;

interface Hop {
  ip: string;
  port: number;
  tls: boolean;
  /** Host as written in URLs and the Host header ("127.0.0.1:8042", "[::1]:80", "pacs.example:8042"). */
  authority: string;
  /** Host name for SNI, when the hop is addressed by name. */
  servername?: string;
  path: string;
}

interface ConnState {
  connects: number;
  socket: net.Socket | null;
  tls: TlsInfo | null;
  first: Buffer;
  bytes: number;
  connectError: unknown;
}

const defaultPort = (useTls: boolean) => (useTls ? 443 : 80);

function authorityOf(host: string, port: number, useTls: boolean): string {
  const h = net.isIPv6(host) ? `[${host}]` : host;
  return port === defaultPort(useTls) ? h : `${h}:${port}`;
}

function checkPath(path: string): void {
  if (typeof path !== 'string' || !path.startsWith('/') || path.length > MAX_PATH_CHARS || /[\s\x00-\x1f\x7f]/.test(path)) {
    throw scanError('unknown-error', 'bad request path (origin-form, no spaces, at most 2048 characters)');
  }
}

function clip(s: string, n: number): string {
  return s.length > n ? s.slice(0, n) : s;
}

/** Lower-case names, values joined with ', ' and bounded, at most LIMITS.httpHeaderNames names. */
function boundHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (n++ >= LIMITS.httpHeaderNames) break;
    const joined = Array.isArray(value) ? value.join(', ') : String(value);
    out[clip(name.toLowerCase(), 128)] = clip(joined, LIMITS.httpHeaderValueChars);
  }
  return out;
}

/** Where a Location header leads, or why it is not followed. Never resolves a name. */
function nextHop(ctx: ProbeContext, cur: Hop, location: string): { hop: Hop } | { stop: RedirectStop } {
  let url: URL;
  try {
    url = new URL(location, `${cur.tls ? 'https' : 'http'}://${cur.authority}${cur.path}`);
  } catch {
    return { stop: 'bad-location' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { stop: 'refused-scheme' };
  const useTls = url.protocol === 'https:';
  const port = url.port ? Number(url.port) : defaultPort(useTls);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const path = url.pathname + url.search;
  if (path.length > MAX_PATH_CHARS) return { stop: 'bad-location' };
  let ip: string;
  let servername: string | undefined;
  if (net.isIP(host) !== 0) {
    ip = host;
  } else if (ctx.hostname && host.toLowerCase() === ctx.hostname.toLowerCase()) {
    // The same host name the target came from: it was resolved (and scope-checked) before the scan.
    ip = ctx.ip;
    servername = ctx.hostname;
  } else if (cur.servername && host.toLowerCase() === cur.servername.toLowerCase()) {
    ip = cur.ip;
    servername = cur.servername;
  } else {
    return { stop: 'refused-cross-host' };
  }
  return { hop: { ip, port, tls: useTls, authority: authorityOf(servername ?? ip, port, useTls), ...(servername ? { servername } : {}), path } };
}

/** Maps an undici or socket error to a status word (zgrab2 status.go). */
export function httpStatusOf(err: unknown): Status {
  if (err instanceof ScanError) return err.status;
  // llhttp's verdict on bytes that are not an HTTP/1.x response (its code is not always set).
  if ((err as { name?: unknown } | null)?.name === 'HTTPParserError') return 'protocol-error';
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'io-timeout';
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connection-timeout';
    if (code === 'UND_ERR_HEADERS_OVERFLOW' || code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return 'protocol-error';
    if (code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED' || code === 'UND_ERR_DESTROYED') return 'connection-closed';
  }
  return statusOf(err);
}

/** Error text for people and logs: the library's message only (never the raw bytes a parser error carries), bounded. */
function errorText(err: unknown): string {
  return clip(messageOf(err).replace(/[^\x20-\x7e]/g, '?'), 200);
}

interface HopResult {
  status: number;
  statusText: string;
  httpVersion: string;
  headers: Record<string, string>;
  body: Buffer;
  bodyTruncated: boolean;
  bodyBytes: number;
  tls: TlsInfo | null;
  bodyError?: string;
}

/** The marker with which we stop reading a body at the cap. */
class BodyCap extends Error {}

function runHop(
  ctx: ProbeContext,
  hop: Hop,
  req: HttpRequest,
  maxBody: number,
  deadlineAt: number,
  redirects: HttpResponse['redirects'],
): Promise<HopResult> {
  const openRaw = ctx.openRaw;
  if (!openRaw) return Promise.reject(scanError('unknown-error', 'this probe context cannot open raw sockets (openRaw)'));
  const method = req.method ?? 'GET';
  const state: ConnState = { connects: 0, socket: null, tls: null, first: Buffer.alloc(0), bytes: 0, connectError: undefined };
  const connector = (_o: unknown, cb: (...args: [null, net.Socket] | [Error, null]) => void) => {
    // One connection per request: a reconnect (undici retrying after a reset) would be an unpaced extra connect.
    if (state.connects++ > 0) {
      cb(scanError('connection-closed', 'connection lost (not reconnecting)'), null);
      return;
    }
    const tlsOpts: tls.ConnectionOptions | false = hop.tls
      ? { ALPNProtocols: ['http/1.1'], ...(hop.servername && net.isIP(hop.servername) === 0 ? { servername: hop.servername } : {}) }
      : false;
    openRaw({
      ip: hop.ip,
      port: hop.port,
      tls: tlsOpts,
      maxBytes: maxBody + LIMITS.httpHeaderBytes + SOCKET_SLACK_BYTES,
      // The send log is kept: the query string is left out (it can carry record ids).
      what: `HTTP ${method} ${clip(hop.path.replace(/[?#].*$/s, ''), 256)}${/[?#]/.test(hop.path) ? '?...' : ''}${hop.tls ? ' (TLS)' : ''}`,
    }).then(
      (socket) => {
        state.socket = socket;
        state.tls = socket instanceof tls.TLSSocket ? tlsInfoOf(socket) : null;
        socket.on('data', (chunk: Buffer) => {
          state.bytes += chunk.length;
          if (state.first.length < FIRST_BYTES) state.first = Buffer.concat([state.first, chunk.subarray(0, FIRST_BYTES - state.first.length)]);
        });
        cb(null, socket);
      },
      (err: unknown) => {
        state.connectError = err;
        cb(err instanceof Error ? err : new Error(String(err)), null);
      },
    );
  };
  const readMs = Math.max(1, ctx.timeouts.readMs);
  const client = new Client(`${hop.tls ? 'https' : 'http'}://${authorityOf(hop.ip, hop.port, hop.tls)}`, {
    connect: connector as never,
    maxHeaderSize: LIMITS.httpHeaderBytes,
    headersTimeout: readMs,
    bodyTimeout: readMs,
    keepAliveTimeout: 1000,
    pipelining: 1,
    allowH2: false,
  });
  const headers: Record<string, string> = {
    host: hop.authority,
    'user-agent': userAgentFor(ctx),
    accept: req.accept ?? '*/*',
    'accept-encoding': 'identity',
  };
  for (const [k, v] of Object.entries(req.headers ?? {})) {
    const name = k.toLowerCase();
    if (name === 'accept-encoding' || name === 'connection' || name === 'content-length' || name === 'transfer-encoding') continue;
    headers[name] = v;
  }

  return new Promise<HopResult>((resolve, reject) => {
    let settled = false;
    let started: Omit<HopResult, 'body' | 'bodyTruncated' | 'bodyBytes' | 'bodyError'> | null = null;
    const chunks: Buffer[] = [];
    let kept = 0;
    let total = 0;
    let truncated = false;
    let controller: Dispatcher.DispatchController | null = null;

    const cleanup = () => {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      client.destroy().catch(() => undefined);
      state.socket?.destroy();
    };
    const httpVersion = () => {
      const m = /^HTTP\/(\d)\.(\d)/.exec(state.first.toString('latin1'));
      return m ? `HTTP/${m[1]}.${m[2]}` : 'HTTP/1.1';
    };
    const done = (bodyError?: string) => {
      if (settled) return;
      settled = true;
      cleanup();
      const s = started!;
      resolve({
        ...s,
        body: Buffer.concat(chunks, kept),
        bodyTruncated: truncated,
        bodyBytes: total,
        ...(bodyError ? { bodyError } : {}),
      });
    };
    const fail = (err: unknown) => {
      if (settled) return;
      // Headers arrived: the body ended early, the answer stands (marked truncated).
      if (started) {
        truncated = true;
        done(errorText(guardError() ?? err));
        return;
      }
      settled = true;
      cleanup();
      if (state.connectError !== undefined) {
        if (state.connectError instanceof ScopeError) return reject(state.connectError);
        const ce = state.connectError;
        return reject(new HttpRequestError(httpStatusOf(ce), errorText(ce), { firstBytes: Buffer.alloc(0), bytesReceived: 0, redirects: [...redirects] }, ce));
      }
      const cause = guardError() ?? err;
      reject(
        new HttpRequestError(httpStatusOf(cause), errorText(cause), { firstBytes: Buffer.from(state.first), bytesReceived: state.bytes, redirects: [...redirects] }, cause),
      );
    };
    const guardError = () => (state.socket ? guardFailureOf(state.socket) : undefined);
    const stop = (err: ScanError) => {
      if (controller && !controller.aborted) controller.abort(err);
      fail(err);
    };
    const timer = setTimeout(() => stop(scanError('io-timeout', `request deadline of ${ctx.timeouts.sessionMs} ms reached`)), Math.max(1, deadlineAt - Date.now()));
    timer.unref?.();
    const onAbort = () => stop(scanError('unknown-error', 'aborted'));
    if (ctx.signal.aborted) {
      onAbort();
      return;
    }
    ctx.signal.addEventListener('abort', onAbort, { once: true });

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
      },
      onResponseStart(_c, statusCode, rawHeaders, statusMessage) {
        if (statusCode < 200) return;
        started = {
          status: statusCode,
          statusText: clip(String(statusMessage ?? '').replace(/[^\x20-\x7e]/g, '?'), 128),
          httpVersion: httpVersion(),
          headers: boundHeaders(rawHeaders as Record<string, string | string[] | undefined>),
          tls: state.tls,
        };
      },
      onResponseData(c, chunk) {
        total += chunk.length;
        if (kept < maxBody) {
          const take = Math.min(chunk.length, maxBody - kept);
          chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
          kept += take;
        }
        if (total > maxBody) {
          truncated = true;
          c.abort(new BodyCap('body cap'));
          done();
        }
      },
      onResponseEnd() {
        done();
      },
      onResponseError(_c, err) {
        if (err instanceof BodyCap) return done();
        fail(err);
      },
    };
    try {
      client.dispatch(
        { path: hop.path, method, headers, reset: true, headersTimeout: readMs, bodyTimeout: readMs, ...(req.body !== undefined ? { body: req.body } : {}) },
        handler,
      );
    } catch (err) {
      fail(err);
    }
  });
}

const isRedirect = (status: number) => status === 301 || status === 302 || status === 303 || status === 307 || status === 308;

/**
 * One HTTP request (and the redirects it is allowed to follow) to the context's (ip, port). Throws
 * a ScanError (an HttpRequestError, or the ScopeError of the first connection) with a zgrab2 status
 * word; a response of any status code is an answer, not an error.
 */
export async function httpRequest(ctx: ProbeContext, req: HttpRequest): Promise<HttpResponse> {
  checkPath(req.path);
  if (req.body !== undefined && (req.method !== 'POST' || Buffer.byteLength(req.body) > MAX_REQUEST_BODY_BYTES)) {
    throw scanError('unknown-error', `a request body needs POST and at most ${MAX_REQUEST_BODY_BYTES} bytes`);
  }
  const maxBody = Math.max(0, Math.min(Math.floor(req.maxBodyBytes ?? LIMITS.httpBodyBytes), LIMITS.httpMaxBodyBytes));
  const maxRedirects = Math.max(0, Math.min(Math.floor(req.followRedirects ?? 0), LIMITS.httpRedirects));
  const useTls = req.tls ?? ctx.tls;
  const byName = ctx.hostname !== undefined && net.isIP(ctx.hostname) === 0;
  let hop: Hop = {
    ip: ctx.ip,
    port: ctx.port,
    tls: useTls,
    authority: authorityOf(byName ? ctx.hostname! : ctx.ip, ctx.port, useTls),
    ...(byName ? { servername: ctx.hostname! } : {}),
    path: req.path,
  };
  const deadlineAt = Date.now() + ctx.timeouts.sessionMs;
  const redirects: HttpResponse['redirects'] = [];
  const seen = new Set<string>([`${hop.tls}|${hop.ip}|${hop.port}|${hop.path}`]);
  let last: HttpResponse | null = null;
  for (;;) {
    let r: HopResult;
    try {
      r = await runHop(ctx, hop, req, maxBody, deadlineAt, redirects);
    } catch (err) {
      // A redirect to an address outside the scope is refused: the chain stops at the 3xx that asked for it.
      if (err instanceof ScopeError && last !== null) {
        redirects.pop();
        return { ...last, redirects: [...redirects], redirectStop: 'refused-scope' };
      }
      throw err;
    }
    const current: HttpResponse = {
      status: r.status,
      statusText: r.statusText,
      httpVersion: r.httpVersion,
      headers: r.headers,
      body: r.body,
      bodyTruncated: r.bodyTruncated,
      bodyBytes: r.bodyBytes,
      redirects: [...redirects],
      url: hop.path,
      tls: r.tls,
      ...(r.bodyError ? { bodyError: r.bodyError } : {}),
    };
    const location = r.headers.location;
    if (!isRedirect(r.status) || location === undefined || maxRedirects === 0) return current;
    if (redirects.length >= maxRedirects) return { ...current, redirectStop: 'limit' };
    const next = nextHop(ctx, hop, location);
    if ('stop' in next) return { ...current, redirectStop: next.stop };
    const key = `${next.hop.tls}|${next.hop.ip}|${next.hop.port}|${next.hop.path}`;
    if (seen.has(key)) return { ...current, redirectStop: 'loop' };
    if (Date.now() >= deadlineAt) return { ...current, redirectStop: 'limit' };
    seen.add(key);
    redirects.push({ status: r.status, location: clip(location, 512) });
    last = current;
    hop = next.hop;
  }
}
