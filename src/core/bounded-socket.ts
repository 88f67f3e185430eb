/**
 * The one socket factory (DESIGN.md `core/bounded-socket`). Every outbound connection is
 * made here so that the scope guard, the byte cap, the per-read timeout and the session
 * deadline apply to all of them (zgrab2 `conn.go`: SessionTimeout, ReadTimeout,
 * BytesReadLimit). Sockets are destroyed, never merely ended, on every exit path.
 */
import net from 'node:net';
import tls from 'node:tls';
import { type ScanError, messageOf, scanError, statusOf } from './errors.js';
import { LIMITS } from './limits.js';
import type { TlsInfo } from './types.js';
import { tlsInfoOf } from './tls-info.js';

/** Throws (a ScopeError) when a connection to `ip` is not allowed. Called at connect time. */
export type ScopeGuard = (ip: string) => void;

/** Receives one line per thing sent, for the per-run device-safety log. */
export type SendLog = (entry: { ip: string; port: number; what: string }) => void;

export interface BoundedSocketOptions {
  ip: string;
  port: number;
  guard: ScopeGuard;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  /** Deadline for the whole session, from the start of connect. */
  sessionTimeoutMs: number;
  maxBytes?: number;
  tls?: boolean | tls.ConnectionOptions;
  signal?: AbortSignal;
  sendLog?: SendLog;
}

export class BoundedSocket {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private total = 0;
  private ended = false;
  private failure: ScanError | (() => ScanError) | null = null;
  private waiter: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null =
    null;
  private readonly deadline: NodeJS.Timeout;
  private closed = false;
  readonly tlsInfo: TlsInfo | null;

  private constructor(
    private readonly socket: net.Socket,
    private readonly opts: BoundedSocketOptions,
    deadline: NodeJS.Timeout,
  ) {
    this.deadline = deadline;
    this.tlsInfo = socket instanceof tls.TLSSocket ? tlsInfoOf(socket) : null;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // Errors are built only when a reader is there to receive them (most sockets close unobserved).
    socket.on('end', () => {
      this.ended = true;
      this.fail(() => scanError('connection-closed', 'connection closed by peer'));
    });
    socket.on('error', (err) =>
      this.fail(() => scanError(statusOf(err) === 'unknown-error' ? 'connection-closed' : statusOf(err), messageOf(err), err)),
    );
    socket.on('close', () => {
      this.ended = true;
      this.fail(() => scanError('connection-closed', 'connection closed'));
    });
  }

  /** Opens a connection after the scope guard has allowed the address. Never resolves host names. */
  static open(opts: BoundedSocketOptions): Promise<BoundedSocket> {
    if (net.isIP(opts.ip) === 0) {
      return Promise.reject(scanError('unknown-error', `not an IP address: ${opts.ip} (names are resolved before connect)`));
    }
    try {
      opts.guard(opts.ip);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      let socket: net.Socket;
      const started = Date.now();
      const finish = (err: Error | null, bs?: BoundedSocket) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (err) {
          socket.destroy();
          clearTimeout(deadline);
          reject(err);
        } else if (bs) resolve(bs);
      };
      const deadline = setTimeout(() => {
        if (!settled) finish(scanError('connection-timeout', 'session deadline during connect'));
        else bsRef?.expire();
      }, opts.sessionTimeoutMs);
      deadline.unref?.();
      let bsRef: BoundedSocket | undefined;
      const connectTimer = setTimeout(
        () => finish(scanError('connection-timeout', `connect timeout after ${opts.connectTimeoutMs} ms`)),
        opts.connectTimeoutMs,
      );
      const onAbort = () => finish(scanError('unknown-error', 'aborted'));
      if (opts.signal?.aborted) {
        clearTimeout(connectTimer);
        clearTimeout(deadline);
        reject(scanError('unknown-error', 'aborted'));
        return;
      }
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const useTls = opts.tls !== undefined && opts.tls !== false;
      if (useTls) {
        const tlsOpts: tls.ConnectionOptions = {
          host: opts.ip,
          port: opts.port,
          rejectUnauthorized: false,
          // Observe old servers too: medical devices often still speak TLS 1.0/1.1.
          minVersion: 'TLSv1',
          ciphers: 'DEFAULT:@SECLEVEL=0',
          ...(typeof opts.tls === 'object' ? opts.tls : {}),
        };
        socket = tls.connect(tlsOpts);
        socket.once('secureConnect', () => {
          bsRef = new BoundedSocket(socket, opts, deadline);
          finish(null, bsRef);
        });
      } else {
        socket = net.connect({ host: opts.ip, port: opts.port });
        socket.once('connect', () => {
          bsRef = new BoundedSocket(socket, opts, deadline);
          finish(null, bsRef);
        });
      }
      socket.setNoDelay(true);
      socket.once('error', (err) => {
        let status = statusOf(err);
        if (useTls && status === 'unknown-error') status = 'tls-error';
        if (useTls && status === 'connection-closed' && Date.now() - started >= 0) status = 'tls-error';
        finish(scanError(status, messageOf(err), err));
      });
      socket.once('close', () => finish(scanError(useTls ? 'tls-error' : 'connection-closed', 'closed during connect')));
    });
  }

  get bytesRead(): number {
    return this.total;
  }

  get remoteClosed(): boolean {
    return this.ended;
  }

  private onData(chunk: Buffer): void {
    this.total += chunk.length;
    const cap = this.opts.maxBytes ?? LIMITS.sessionBytes;
    if (this.total > cap) {
      this.fail(scanError('protocol-error', `byte cap exceeded: more than ${cap} bytes from peer`));
      this.destroy();
      return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.serve();
  }

  private serve(): void {
    const w = this.waiter;
    if (!w) return;
    if (this.buffered < w.n) {
      // Progress restarts the idle timer (zgrab2's ReadTimeout is per read); the session deadline bounds a slow drip.
      w.timer.refresh();
      return;
    }
    this.waiter = null;
    clearTimeout(w.timer);
    w.resolve(this.take(w.n));
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const all = Buffer.concat(this.chunks, this.buffered);
    this.chunks.length = 0;
    const out = all.subarray(0, n);
    if (all.length > n) this.chunks.push(all.subarray(n));
    this.buffered -= n;
    return out;
  }

  private fail(err: ScanError | (() => ScanError)): void {
    if (!this.failure) this.failure = err;
    const w = this.waiter;
    if (w && this.buffered < w.n) {
      this.waiter = null;
      clearTimeout(w.timer);
      w.reject(this.failureError()!);
    }
  }

  private failureError(): ScanError | null {
    if (typeof this.failure === 'function') this.failure = this.failure();
    return this.failure;
  }

  private expire(): void {
    this.fail(scanError('io-timeout', `session deadline of ${this.opts.sessionTimeoutMs} ms reached`));
    this.destroy();
  }

  /**
   * Reads exactly `n` bytes, however the peer splits them. `n` must already have been
   * checked against a cap by the caller; it is also checked against the session cap here.
   */
  read(n: number, timeoutMs = this.opts.readTimeoutMs): Promise<Buffer> {
    const cap = this.opts.maxBytes ?? LIMITS.sessionBytes;
    if (n > cap) return Promise.reject(scanError('protocol-error', `refusing to read ${n} bytes (cap ${cap})`));
    if (this.buffered >= n) return Promise.resolve(this.take(n));
    if (this.failure) return Promise.reject(this.failureError());
    if (this.waiter) return Promise.reject(scanError('unknown-error', 'concurrent reads on one socket'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(scanError('io-timeout', `no data for ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = { n, resolve, reject, timer };
    });
  }

  /** Whatever is buffered now, up to `max` bytes, waiting at most `timeoutMs` for the first byte. */
  async readSome(max: number, timeoutMs = this.opts.readTimeoutMs): Promise<Buffer> {
    if (this.buffered === 0) await this.read(1, timeoutMs).then((b) => this.unshift(b));
    return this.take(Math.min(max, this.buffered));
  }

  private unshift(b: Buffer): void {
    this.chunks.unshift(b);
    this.buffered += b.length;
  }

  write(data: Buffer, what: string): void {
    if (this.closed) throw scanError('connection-closed', 'write after close');
    this.opts.sendLog?.({ ip: this.opts.ip, port: this.opts.port, what });
    this.socket.write(data);
  }

  /** Destroys the socket and clears every timer. Safe to call more than once. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.deadline);
    if (this.waiter) {
      clearTimeout(this.waiter.timer);
      this.waiter.reject(this.failureError() ?? scanError('connection-closed', 'socket destroyed'));
      this.waiter = null;
    }
    this.socket.destroy();
  }
}

/** Options of openGuardedSocket: BoundedSocket's, without the per-read timeout (the caller's parser has its own). */
export interface GuardedSocketOptions {
  ip: string;
  port: number;
  guard: ScopeGuard;
  connectTimeoutMs: number;
  /** Deadline for the whole connection, from the start of connect: the socket is destroyed when it passes. */
  sessionTimeoutMs: number;
  /** Bytes the peer may send on this connection before it is destroyed (default LIMITS.sessionBytes). */
  maxBytes?: number;
  tls?: boolean | tls.ConnectionOptions;
  signal?: AbortSignal;
}

/** Why the guard destroyed a socket (byte cap, session deadline, abort), for libraries that report only "socket closed". */
const guardFailures = new WeakMap<net.Socket, ScanError>();

/** The ScanError with which openGuardedSocket's guard destroyed `socket`, if it did. */
export function guardFailureOf(socket: net.Socket): ScanError | undefined {
  return guardFailures.get(socket);
}

/**
 * A raw, connected socket under the same rules as BoundedSocket (DESIGN.md "core/bounded-socket":
 * "HTTP through undici with a custom connect"), for protocol libraries that read the socket
 * themselves: the scope guard before connect, a connect timeout, a session deadline that destroys
 * the socket, and a byte counter that destroys it once the peer has sent more than `maxBytes`.
 *
 * The counter listens to 'data' with the socket paused: a library that reads through 'readable'
 * and read() (undici) still sees every byte, and each byte is counted as it is read. The socket
 * keeps a no-op 'error' listener so that an error after the library let go never crashes the
 * process. Callers must destroy the socket when done (the deadline does it otherwise).
 */
export function openGuardedSocket(opts: GuardedSocketOptions): Promise<net.Socket | tls.TLSSocket> {
  if (net.isIP(opts.ip) === 0) {
    return Promise.reject(scanError('unknown-error', `not an IP address: ${opts.ip} (names are resolved before connect)`));
  }
  try {
    opts.guard(opts.ip);
  } catch (err) {
    return Promise.reject(err);
  }
  if (opts.signal?.aborted) return Promise.reject(scanError('unknown-error', 'aborted'));
  const cap = opts.maxBytes ?? LIMITS.sessionBytes;
  const useTls = opts.tls !== undefined && opts.tls !== false;
  return new Promise((resolve, reject) => {
    let settled = false;
    let socket: net.Socket;
    const kill = (err: ScanError) => {
      if (!guardFailures.has(socket)) guardFailures.set(socket, err);
      socket.destroy(err);
    };
    const deadline = setTimeout(() => {
      if (!settled) finish(scanError('connection-timeout', 'session deadline during connect'));
      else kill(scanError('io-timeout', `session deadline of ${opts.sessionTimeoutMs} ms reached`));
    }, opts.sessionTimeoutMs);
    deadline.unref?.();
    const connectTimer = setTimeout(
      () => finish(scanError('connection-timeout', `connect timeout after ${opts.connectTimeoutMs} ms`)),
      opts.connectTimeoutMs,
    );
    const onAbort = () => {
      if (!settled) finish(scanError('unknown-error', 'aborted'));
      else kill(scanError('unknown-error', 'aborted'));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      if (err) {
        clearTimeout(deadline);
        opts.signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(err);
        return;
      }
      let total = 0;
      socket.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > cap) kill(scanError('protocol-error', `byte cap exceeded: more than ${cap} bytes from peer`));
      });
      socket.pause();
      socket.on('error', () => {});
      socket.once('close', () => {
        clearTimeout(deadline);
        opts.signal?.removeEventListener('abort', onAbort);
      });
      resolve(socket);
    };
    if (useTls) {
      socket = tls.connect({
        host: opts.ip,
        port: opts.port,
        rejectUnauthorized: false,
        // Observe old servers too: medical devices often still speak TLS 1.0/1.1.
        minVersion: 'TLSv1',
        ciphers: 'DEFAULT:@SECLEVEL=0',
        ...(typeof opts.tls === 'object' ? opts.tls : {}),
      });
      socket.once('secureConnect', () => finish(null));
    } else {
      socket = net.connect({ host: opts.ip, port: opts.port });
      socket.once('connect', () => finish(null));
    }
    socket.setNoDelay(true);
    socket.once('error', (err) => {
      let status = statusOf(err);
      if (useTls && (status === 'unknown-error' || status === 'connection-closed')) status = 'tls-error';
      finish(scanError(status, messageOf(err), err));
    });
    socket.once('close', () => finish(scanError(useTls ? 'tls-error' : 'connection-closed', 'closed during connect')));
  });
}
