/**
 * RDAP abuse contacts for addresses, from the cache table `rdap_networks` (filled by
 * `disclose import-rdap` and by earlier lookups) and, when a base URL is given (`--rdap URL`),
 * from an RDAP server: GET <base>/ip/<address> (RFC 9082 §3.1.1), `Accept: application/rdap+json`.
 * The answer is cached by network range, so one lookup serves every address of that network.
 *
 * The request goes out like an alert delivery (src/alerts/transport.ts openSinkSocket: the
 * resolver, the caller's guard, connect and session deadlines, a byte cap) on undici with a
 * custom `connect`; certificates are verified for https. Bounds: RDAP_RESPONSE_BYTES of body,
 * `timeoutMs` for the whole request, at most RDAP_REDIRECTS redirects (rdap.org and the RIRs
 * redirect to the registry that holds the address), `maxLookups` per run and `delayMs` between
 * two lookups (RDAP servers rate-limit; the default is one per second).
 */
import type net from 'node:net';
import { Client, type Dispatcher, type buildConnector } from 'undici';
import { guardFailureOf } from '../core/bounded-socket.js';
import { LIMITS } from '../core/limits.js';
import { VERSION } from '../core/version.js';
import { type DeliveryContext, errorText, openSinkSocket } from '../alerts/transport.js';
import { ipKey } from '../inventory/ip-key.js';
import { DisclosureError } from './errors.js';
import { type RdapNetwork, parseRdapNetwork } from './rdap.js';
import type { DisclosureDb } from './tables.js';

export const RDAP_RESPONSE_BYTES = 512 * 1024;
export const RDAP_REDIRECTS = 3;
export const RDAP_DEFAULTS = { timeoutMs: 15_000, delayMs: 1000, maxLookups: 500 } as const;
const SOCKET_SLACK_BYTES = 64 * 1024;

export interface StoredNetwork {
  startAddress: string;
  endAddress: string;
  handle: string | null;
  name: string | null;
  country: string | null;
  abuseEmails: string[];
  source: string;
  fetchedAt: string;
}

/** Upserts networks by range (a newer answer for the same range replaces the older one). */
export async function storeNetworks(db: DisclosureDb, networks: readonly RdapNetwork[], source: string, at: string): Promise<number> {
  let n = 0;
  await db.transaction().execute(async (trx) => {
    for (const net of networks) {
      const row = {
        start_key: net.startKey,
        end_key: net.endKey,
        start_address: net.startAddress,
        end_address: net.endAddress,
        handle: net.handle,
        name: net.name,
        country: net.country,
        abuse_emails: JSON.stringify(net.abuseEmails),
        source,
        fetched_at: at,
      };
      await trx
        .insertInto('rdap_networks')
        .values(row)
        .onConflict((oc) => oc.columns(['start_key', 'end_key']).doUpdateSet({ ...row }))
        .execute();
      n++;
    }
  });
  return n;
}

/** Cached networks containing `ip`, most specific first. */
export async function cachedNetworks(db: DisclosureDb, ip: string): Promise<StoredNetwork[]> {
  const k = ipKey(ip);
  if (k.startsWith('x:')) return [];
  const rows = await db
    .selectFrom('rdap_networks')
    .selectAll()
    .where('start_key', '<=', k)
    .where('end_key', '>=', k)
    .orderBy('start_key', 'desc')
    .orderBy('end_key', 'asc')
    .limit(16)
    .execute();
  return rows.map((r) => ({
    startAddress: r.start_address,
    endAddress: r.end_address,
    handle: r.handle,
    name: r.name,
    country: r.country,
    abuseEmails: parseEmails(r.abuse_emails),
    source: r.source,
    fetchedAt: r.fetched_at,
  }));
}

function parseEmails(s: string): string[] {
  try {
    const v = JSON.parse(s) as unknown;
    return Array.isArray(v) ? v.filter((e): e is string => typeof e === 'string') : [];
  } catch {
    return [];
  }
}

/** One bounded GET of an RDAP URL; the parsed JSON body. Redirects followed up to RDAP_REDIRECTS. */
export async function rdapGet(url: string, ctx: DeliveryContext, timeoutMs: number): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    if (current.protocol !== 'https:' && current.protocol !== 'http:') throw new DisclosureError(`RDAP: ${current.protocol} URLs are not supported (${current.origin})`);
    const left = deadline - Date.now();
    if (left <= 0) throw new DisclosureError(`RDAP ${current.origin}: no answer within ${timeoutMs} ms`);
    const r = await getOnce(current, ctx, left);
    if (r.status >= 300 && r.status < 400 && r.location !== null) {
      if (hop >= RDAP_REDIRECTS) throw new DisclosureError(`RDAP ${url}: more than ${RDAP_REDIRECTS} redirects`);
      current = new URL(r.location, current);
      continue;
    }
    if (r.status === 404) return null;
    if (r.status < 200 || r.status >= 300) throw new DisclosureError(`RDAP ${current.origin}${current.pathname}: HTTP ${r.status}`);
    if (r.truncated) throw new DisclosureError(`RDAP ${current.origin}: answer larger than ${RDAP_RESPONSE_BYTES} bytes`);
    try {
      return JSON.parse(r.body.toString('utf8')) as unknown;
    } catch (err) {
      throw new DisclosureError(`RDAP ${current.origin}${current.pathname}: the answer is not JSON`, { cause: err });
    }
  }
}

async function getOnce(u: URL, ctx: DeliveryContext, timeoutMs: number): Promise<{ status: number; location: string | null; body: Buffer; truncated: boolean }> {
  const useTls = u.protocol === 'https:';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port ? Number(u.port) : useTls ? 443 : 80;
  let connects = 0;
  let socket: net.Socket | null = null;
  const connect: buildConnector.connector = (_o, cb) => {
    if (connects++ > 0) {
      cb(new Error('connection lost (not reconnecting)'), null);
      return;
    }
    openSinkSocket(
      { host, port, timeoutMs, maxBytes: RDAP_RESPONSE_BYTES + LIMITS.httpHeaderBytes + SOCKET_SLACK_BYTES, ...(useTls ? { tls: { ALPNProtocols: ['http/1.1'] } } : {}) },
      ctx,
    ).then(
      (s) => {
        socket = s;
        cb(null, s);
      },
      (err: unknown) => cb(err instanceof Error ? err : new Error(String(err)), null),
    );
  };
  const client = new Client(u.origin, { connect, maxHeaderSize: LIMITS.httpHeaderBytes, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, pipelining: 1, allowH2: false });
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    let res: Dispatcher.ResponseData;
    try {
      res = await client.request({
        method: 'GET',
        path: u.pathname + u.search,
        headers: { host: u.host, accept: 'application/rdap+json, application/json', 'user-agent': `medsurface/${VERSION} (disclosure contact lookup)`, 'accept-encoding': 'identity' },
        signal,
        reset: true,
      });
    } catch (err) {
      const cause = (socket && guardFailureOf(socket)) || err;
      throw new DisclosureError(`RDAP ${u.origin}: ${signal.aborted ? `no answer within ${timeoutMs} ms` : errorText(cause)}`, { cause });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    try {
      for await (const chunk of res.body) {
        const b = chunk as Buffer;
        size += b.length;
        if (size > RDAP_RESPONSE_BYTES) {
          truncated = true;
          break;
        }
        chunks.push(b);
      }
    } catch (err) {
      throw new DisclosureError(`RDAP ${u.origin}: the answer broke off (${errorText(err)})`, { cause: err });
    } finally {
      res.body.destroy();
    }
    const loc = res.headers.location;
    return { status: res.statusCode, location: typeof loc === 'string' ? loc : null, body: Buffer.concat(chunks), truncated };
  } finally {
    await client.destroy().catch(() => undefined);
    (socket as net.Socket | null)?.destroy();
  }
}

export interface RdapLookupOptions {
  /** Base URL, e.g. https://rdap.db.ripe.net (RFC 9082: <base>/ip/<address>). */
  baseUrl: string;
  ctx: DeliveryContext;
  timeoutMs?: number;
  delayMs?: number;
  maxLookups?: number;
}

/** An address's abuse contact: cache first, then (when configured) one RDAP lookup, cached. */
export class RdapResolver {
  lookups = 0;
  /** Lookups that failed, one line each (the caller reports them; the case falls back to the CERT). */
  readonly errors: string[] = [];
  private lastLookupAt = 0;

  constructor(
    private readonly db: DisclosureDb,
    private readonly online: RdapLookupOptions | null,
    private readonly now: () => string = () => new Date().toISOString(),
  ) {}

  /** The most specific network holding `ip` that names an abuse mailbox, or null. */
  async contactFor(ip: string): Promise<StoredNetwork | null> {
    let nets = await cachedNetworks(this.db, ip);
    if (nets.length === 0 && this.online !== null) {
      await this.lookup(ip);
      nets = await cachedNetworks(this.db, ip);
    }
    return nets.find((n) => n.abuseEmails.length > 0) ?? null;
  }

  private async lookup(ip: string): Promise<void> {
    const o = this.online!;
    if (this.lookups >= (o.maxLookups ?? RDAP_DEFAULTS.maxLookups)) return;
    const wait = this.lastLookupAt + (o.delayMs ?? RDAP_DEFAULTS.delayMs) - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    this.lookups++;
    this.lastLookupAt = Date.now();
    const url = `${o.baseUrl.replace(/\/+$/, '')}/ip/${encodeURIComponent(ip)}`;
    try {
      const body = await rdapGet(url, o.ctx, o.timeoutMs ?? RDAP_DEFAULTS.timeoutMs);
      if (body === null) return;
      const net = parseRdapNetwork(body, `RDAP answer for ${ip}`);
      const k = ipKey(ip);
      if (!(net.startKey <= k && k <= net.endKey)) throw new DisclosureError(`RDAP answer for ${ip}: network ${net.startAddress}-${net.endAddress} does not contain the address`);
      await storeNetworks(this.db, [net], `lookup:${new URL(o.baseUrl).origin}`, this.now());
    } catch (err) {
      if (!(err instanceof DisclosureError)) throw err;
      if (this.errors.length < 50) this.errors.push(err.message);
    }
  }
}
