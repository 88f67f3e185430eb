/**
 * What every network sink shares: the delivery context (guard, resolver, clock), the typed
 * delivery failure, and one way to reach a destination: resolve the configured host (an IP
 * literal is used as is), check the address with the caller's guard, then open the socket
 * through core/bounded-socket (connect timeout, session deadline, byte cap), so that no sink can
 * connect anywhere the guard has not allowed.
 */
import net from 'node:net';
import type tls from 'node:tls';
import { openGuardedSocket } from '../core/bounded-socket.js';
import { messageOf } from '../core/errors.js';
import type { HostResolver } from '../scope/resolver.js';
import { type SinkGuard, formatHostPort } from './config.js';

export interface DeliveryContext {
  guard: SinkGuard;
  resolve: HostResolver;
  /** Milliseconds since the epoch (injectable for tests). */
  now: () => number;
  /** This machine's name, for the syslog HOSTNAME and the SMTP greeting. */
  hostname: string;
}

/**
 * A delivery failed. `scope: 'sink'` when the destination itself is unavailable (connection,
 * timeout, 5xx, 408, 429, SMTP 4xx): the sink's other deliveries wait for the next flush. `scope:
 * 'event'` when the destination answered and refused this one message (other 4xx, SMTP 5xx).
 */
export class DeliveryError extends Error {
  readonly scope: 'sink' | 'event';
  /** A Retry-After the destination asked for, in ms. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, scope: 'sink' | 'event', options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeliveryError';
    this.scope = scope;
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** Error text safe for the spool and logs: printable ASCII, bounded. */
export function errorText(err: unknown, max = 300): string {
  const s = messageOf(err).replace(/[^\x20-\x7e]/g, '?');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** The address to connect to for `host`: itself when an IP literal, else the resolver's first answer. Then the guard. */
export async function resolveGuarded(host: string, port: number, ctx: DeliveryContext): Promise<string> {
  let ip = host;
  if (net.isIP(host) === 0) {
    try {
      const found = await ctx.resolve(host);
      if (found.length === 0) throw new Error('no addresses');
      ip = found[0]!;
    } catch (err) {
      throw new DeliveryError(`cannot resolve ${host}: ${errorText(err)}`, 'sink', { cause: err });
    }
  }
  try {
    ctx.guard(ip, port);
  } catch (err) {
    throw new DeliveryError(`destination ${formatHostPort(ip, port)} refused by the scope guard: ${errorText(err)}`, 'sink', { cause: err });
  }
  return ip;
}

export interface SinkSocketOptions {
  host: string;
  port: number;
  timeoutMs: number;
  /** Bytes the peer may send before the socket is destroyed. */
  maxBytes: number;
  /** Verified TLS (certificate and host name checked, TLS 1.2 or later). */
  tls?: tls.ConnectionOptions;
}

/**
 * A connected, guarded socket to a sink's destination (returned paused: the caller reads it or
 * hands it to a library). `tls` options are laid over verifying defaults: core/bounded-socket
 * opens TLS leniently for observing targets, a delivery must not.
 */
export async function openSinkSocket(opts: SinkSocketOptions, ctx: DeliveryContext): Promise<net.Socket> {
  const ip = await resolveGuarded(opts.host, opts.port, ctx);
  const byName = net.isIP(opts.host) === 0;
  try {
    return await openGuardedSocket({
      ip,
      port: opts.port,
      guard: (addr) => ctx.guard(addr, opts.port),
      connectTimeoutMs: opts.timeoutMs,
      sessionTimeoutMs: opts.timeoutMs,
      maxBytes: opts.maxBytes,
      ...(opts.tls
        ? {
            tls: {
              rejectUnauthorized: true,
              minVersion: 'TLSv1.2',
              ciphers: undefined,
              ...(byName ? { servername: opts.host } : {}),
              ...opts.tls,
            },
          }
        : {}),
    });
  } catch (err) {
    throw new DeliveryError(`cannot connect to ${formatHostPort(ip, opts.port)}: ${errorText(err)}`, 'sink', { cause: err });
  }
}
