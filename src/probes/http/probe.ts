/**
 * The http probe: HTTP and HTTPS (RFC 9110, RFC 9112) on common web ports. GET / (following up to
 * three redirects on the same host or to an address in scope), then, unless the host is a fragile
 * device: GET /favicon.ico, a short TLS handshake offering h2 by ALPN (RFC 7301), and for a service
 * that looks like Orthanc, GET /system (Orthanc REST API) without credentials.
 *
 * Every request goes through core/http-client (scope guard, byte caps, timeouts, redirect rules).
 * Scheme detection: the port's expected scheme first (TLS on 443/8443), then the other one once
 * when the answer says so: a TLS failure on a "TLS" port, a TLS record (0x15/0x16 0x03) or a closed
 * connection in answer to plain HTTP, or a plain 400 that says "plain HTTP request was sent to
 * HTTPS port".
 *
 * Never throws for network reasons. A redirect chain that ends in a loop or past the limit is an
 * application-error with the observation kept, as zgrab2's http module reports ErrTooManyRedirects
 * (`modules/http/scanner.go`, unless RedirectsSucceed).
 */
import net from 'node:net';
import tls from 'node:tls';
import { ScanError, ScopeError, messageOf, statusOf } from '../../core/errors.js';
import { type HttpRequest, HttpRequestError, type HttpResponse, httpRequest } from '../../core/http-client.js';
import type { Probe, ProbeContext, ProbeResult } from '../../core/probe.js';
import type { Status } from '../../core/status.js';
import { createHash } from 'node:crypto';
import {
  ORTHANC_SYSTEM_BYTES,
  bodyText,
  cookieNamesOf,
  extractMarks,
  extractTitle,
  faviconHashes,
  hasPasswordInput,
  iconPath,
  isSafeTitle,
  joinMarks,
  locationForRecord,
  parseAuthenticate,
  parseOrthancSystem,
  printable,
  saysTlsRequired,
} from './parse.js';
import { type HttpObservation, HttpObservation as HttpObservationSchema } from './schema.js';

/** Redirects followed from `/` (a login page is rarely more than two hops away). */
const PAGE_REDIRECTS = 3;
/** Favicon bytes read; a larger icon is recorded without hashes. */
const FAVICON_MAX_BYTES = 128 * 1024;
/** Header names kept in the observation. */
const HEADER_NAMES = 32;
/** Errors of optional steps kept. */
const MAX_ERRORS = 8;
/** The realm Orthanc's embedded web server announces (OrthancServer: HttpServer "Orthanc Secure Area"). */
const ORTHANC_REALM = 'Orthanc Secure Area';

export interface HttpOptions {
  /** Contact text for the User-Agent (`--http-contact`). */
  contact?: string;
}

type Scheme = 'http' | 'https';

function other(s: Scheme): Scheme {
  return s === 'http' ? 'https' : 'http';
}

/** Whether a failed first attempt says "try the other scheme". */
function wantsOtherScheme(err: unknown, tried: Scheme): boolean {
  if (!(err instanceof ScanError) || err instanceof ScopeError) return false;
  if (tried === 'https') return err.status === 'tls-error';
  if (!(err instanceof HttpRequestError)) return false;
  const b0 = err.firstBytes[0];
  const b1 = err.firstBytes[1];
  if (err.status === 'protocol-error' && (b0 === 0x15 || b0 === 0x16) && b1 === 0x03) return true;
  return err.status === 'connection-closed' && err.bytesReceived === 0;
}

function errorLine(step: string, err: unknown): string {
  return printable(`${step}: ${statusOf(err)} (${messageOf(err)})`, 160);
}

function looksLikeOrthanc(res: HttpResponse, realm: string | null, title: string | null): boolean {
  if (realm === ORTHANC_REALM) return true;
  if (title === 'Orthanc Explorer') return true;
  const explorer = /(^|\/)app\/explorer\.html$/;
  return res.redirects.some((r) => explorer.test(locationForRecord(r.location))) || explorer.test(res.url.split('?')[0] ?? '');
}

/** Observation of one final response (the page). */
function observe(res: HttpResponse, scheme: Scheme, schemeFallback: boolean): HttpObservation {
  const h = res.headers;
  const auth = parseAuthenticate(h['www-authenticate']);
  const finalPath = locationForRecord(res.url);
  const contentType = h['content-type'] ? printable(h['content-type'], 128) : null;
  const isHtml = contentType === null || /html|xml/i.test(contentType);
  const html = isHtml ? bodyText(res.body) : '';
  const loginForm = isHtml && hasPasswordInput(html);
  const rawTitle = isHtml ? extractTitle(html) : null;
  // Keep a title only for a login page or an app shell: a page reached without a query string
  // (a deep link with parameters may be a record view), and only if it does not look like a record.
  const shell = loginForm || !res.url.includes('?');
  const keep = rawTitle !== null && shell && isSafeTitle(rawTitle);
  const cookieNames = cookieNamesOf(h['set-cookie']).map((c) => printable(c, 64));
  const marks = isHtml ? extractMarks(html, finalPath, cookieNames) : extractMarks('', finalPath, cookieNames);
  const first = res.redirects[0];
  return {
    scheme,
    schemeFallback,
    status: res.status,
    statusText: printable(res.statusText, 64),
    httpVersion: printable(res.httpVersion, 16),
    server: h.server ? printable(h.server, 256) : null,
    poweredBy: h['x-powered-by'] ? printable(h['x-powered-by'], 256) : null,
    authScheme: auth?.scheme ?? null,
    realm: auth?.realm ?? null,
    contentType,
    location: first ? locationForRecord(first.location) : res.headers.location ? locationForRecord(res.headers.location) : null,
    redirects: res.redirects.map((r) => ({ status: r.status, location: locationForRecord(r.location) })),
    redirectStop: res.redirectStop ?? null,
    finalPath,
    title: keep ? rawTitle : null,
    titleWithheld: rawTitle !== null && !keep,
    loginForm,
    marks: joinMarks(marks),
    headerNames: Object.keys(h)
      .map((n) => printable(n, 64))
      .sort()
      .slice(0, HEADER_NAMES),
    cookieNames,
    body: { sha256: createHash('sha256').update(res.body).digest('hex'), bytes: res.bodyBytes, truncated: res.bodyTruncated },
    favicon: null,
    http2: null,
    alpn: null,
    orthanc: null,
    errors: [],
  };
}

async function fetchPage(ctx: ProbeContext, scheme: Scheme): Promise<HttpResponse> {
  const req: HttpRequest = { path: '/', followRedirects: PAGE_REDIRECTS, tls: scheme === 'https', accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
  return httpRequest(ctx, req);
}

async function favicon(ctx: ProbeContext, scheme: Scheme, page: HttpResponse, obs: HttpObservation): Promise<void> {
  const tryPath = async (path: string) => {
    const r = await httpRequest(ctx, { path, followRedirects: 2, tls: scheme === 'https', maxBodyBytes: FAVICON_MAX_BYTES, accept: 'image/*,*/*;q=0.5' });
    const contentType = r.headers['content-type'] ? printable(r.headers['content-type'], 128) : null;
    const hashable = r.status === 200 && !r.bodyTruncated && r.body.length > 0 && !/text\/html/i.test(contentType ?? '');
    const hashes = hashable ? faviconHashes(r.body) : null;
    obs.favicon = {
      path: locationForRecord(path),
      status: r.status,
      bytes: r.bodyBytes,
      truncated: r.bodyTruncated,
      contentType,
      md5: hashes?.md5 ?? null,
      mmh3: hashes?.mmh3 ?? null,
    };
    return hashable;
  };
  if (await tryPath('/favicon.ico')) return;
  const declared = /html/i.test(page.headers['content-type'] ?? 'text/html') ? iconPath(bodyText(page.body), locationForRecord(page.url)) : null;
  if (declared && declared !== '/favicon.ico') await tryPath(declared);
}

async function orthancSystem(ctx: ProbeContext, scheme: Scheme, obs: HttpObservation): Promise<void> {
  const r = await httpRequest(ctx, { path: '/system', tls: scheme === 'https', maxBodyBytes: ORTHANC_SYSTEM_BYTES, accept: 'application/json' });
  const info = { authRequired: r.status === 401, status: r.status, version: null, apiVersion: null, name: null } as NonNullable<HttpObservation['orthanc']>;
  if (r.status === 200 && !r.bodyTruncated) {
    try {
      const s = parseOrthancSystem(r.body);
      info.version = s.version;
      info.apiVersion = s.apiVersion;
      info.name = s.name;
    } catch (err) {
      obs.errors.push(errorLine('orthanc /system', err));
    }
  }
  obs.orthanc = info;
}

/** A separate, short TLS handshake offering h2 and http/1.1: which one the server selects. */
async function alpn(ctx: ProbeContext, obs: HttpObservation): Promise<void> {
  if (!ctx.openRaw) return;
  const servername = ctx.hostname && net.isIP(ctx.hostname) === 0 ? { servername: ctx.hostname } : {};
  const sock = await ctx.openRaw({
    tls: { ALPNProtocols: ['h2', 'http/1.1'], ...servername },
    maxBytes: 64 * 1024,
    what: 'TLS ClientHello (ALPN h2, http/1.1)',
  });
  try {
    const selected = sock instanceof tls.TLSSocket && typeof sock.alpnProtocol === 'string' ? sock.alpnProtocol : null;
    obs.alpn = selected ? printable(selected, 32) : null;
    obs.http2 = selected === 'h2';
  } finally {
    sock.destroy();
  }
}

export async function runHttp(ctx: ProbeContext): Promise<ProbeResult<HttpObservation>> {
  const started = Date.now();
  const budgetMs = ctx.timeouts.sessionMs * 2;
  const inBudget = () => Date.now() - started < budgetMs && !ctx.signal.aborted;
  const expected: Scheme = ctx.tls ? 'https' : 'http';
  let scheme = expected;
  let page: HttpResponse;
  try {
    page = await fetchPage(ctx, scheme);
  } catch (err) {
    if (err instanceof ScopeError) throw err;
    if (!wantsOtherScheme(err, scheme) || !inBudget()) return { status: statusOf(err), error: `http: ${messageOf(err)}` };
    try {
      scheme = other(expected);
      page = await fetchPage(ctx, scheme);
    } catch (err2) {
      if (err2 instanceof ScopeError) throw err2;
      // The first answer describes the port better than the fallback's failure.
      return { status: statusOf(err), error: `http: ${messageOf(err)}; ${other(expected)}: ${messageOf(err2)}` };
    }
  }
  // A plain answer that says "this port speaks TLS": ask again over TLS, keep the plain answer if that fails.
  if (scheme === 'http' && saysTlsRequired(page.status, page.body) && inBudget()) {
    try {
      page = await fetchPage(ctx, 'https');
      scheme = 'https';
    } catch (err) {
      if (err instanceof ScopeError) throw err;
    }
  }
  const obs = observe(page, scheme, scheme !== expected);
  const tlsInfo = page.tls ?? undefined;

  if (!ctx.host.fragile) {
    const steps: [string, () => Promise<void>][] = [['favicon', () => favicon(ctx, scheme, page, obs)]];
    if (looksLikeOrthanc(page, obs.realm, obs.title)) steps.push(['orthanc /system', () => orthancSystem(ctx, scheme, obs)]);
    if (scheme === 'https') steps.push(['alpn', () => alpn(ctx, obs)]);
    for (const [name, step] of steps) {
      if (!inBudget()) {
        obs.errors.push(`${name}: skipped (time budget)`);
        continue;
      }
      try {
        await step();
      } catch (err) {
        if (err instanceof ScopeError) throw err;
        if (obs.errors.length < MAX_ERRORS) obs.errors.push(errorLine(name, err));
      }
    }
  }

  let status: Status = 'success';
  let error: string | undefined;
  if (page.redirectStop === 'loop' || page.redirectStop === 'limit') {
    status = 'application-error';
    error = page.redirectStop === 'loop' ? 'http: redirect loop' : `http: more than ${PAGE_REDIRECTS} redirects`;
  } else if (page.bodyError) {
    error = printable(`http: body ended early (${page.bodyError})`, 200);
  }
  return { status, result: obs, ...(error ? { error } : {}), ...(tlsInfo ? { tls: tlsInfo } : {}) };
}

export const httpProbe: Probe<HttpObservation> = {
  id: 'http',
  title: 'HTTP and HTTPS (status, title, headers, redirects, favicon, login form, TLS, Orthanc /system)',
  defaultPorts: [80, 443, 8080, 8443, 8042, 8000, 8888, 9090, 3000, 5000],
  tlsPorts: [443, 8443],
  safety: {
    getRoot: 'safe',
    getFavicon: 'safe',
    alpnHandshake: 'safe',
    orthancSystem: 'safe',
  },
  resultSchema: HttpObservationSchema,
  run: runHttp,
};
