/**
 * Test support shared by unit tests (not used by the product): a ProbeContext over real guarded
 * sockets to a loopback test server, as the engine builds one, without the engine's pacing.
 */
import { openGuardedSocket } from './bounded-socket.js';
import { ScopeError } from './errors.js';
import type { ProbeContext } from './probe.js';

export function testProbeContext(ip: string, port: number, over: Partial<ProbeContext> & { blocked?: string[] } = {}): ProbeContext {
  const { blocked: blockedList, ...rest } = over;
  const blocked = new Set(blockedList ?? []);
  const guard = (addr: string) => {
    if (!addr.startsWith('127.') || blocked.has(addr)) throw new ScopeError(`refused ${addr}: outside the authorised scope`);
  };
  const timeouts = over.timeouts ?? { connectMs: 1000, readMs: 2000, sessionMs: 5000 };
  const signal = over.signal ?? new AbortController().signal;
  return {
    ip,
    port,
    profile: 'safe',
    tls: false,
    host: { fragile: false, guessBudget: 0, credentialBudget: 6 },
    signal,
    options: {},
    timeouts,
    connect: () => Promise.reject(new Error('not used')),
    openRaw: (o) =>
      openGuardedSocket({
        ip: o?.ip ?? ip,
        port: o?.port ?? port,
        guard,
        connectTimeoutMs: timeouts.connectMs,
        sessionTimeoutMs: timeouts.sessionMs,
        ...(o?.tls !== undefined ? { tls: o.tls } : {}),
        ...(o?.maxBytes ? { maxBytes: o.maxBytes } : {}),
        signal,
      }),
    ...rest,
  };
}

/**
 * Runs `fn` with the text written to stdout and stderr captured. Only text is captured: under
 * `node --test` a test file's stdout also carries the runner's own binary reports to its parent,
 * which may be written while `fn` runs and must pass through untouched.
 */
export async function captureOutput<T>(fn: () => Promise<T>): Promise<{ result: T; out: string; err: string }> {
  let out = '';
  let err = '';
  const w1 = process.stdout.write;
  const w2 = process.stderr.write;
  const tap = (stream: NodeJS.WriteStream, original: typeof process.stdout.write, add: (s: string) => void) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (typeof chunk !== 'string') return (original as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
      add(chunk);
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = tap(process.stdout, w1, (s) => {
    out += s;
  });
  process.stderr.write = tap(process.stderr, w2, (s) => {
    err += s;
  });
  try {
    const result = await fn();
    return { result, out, err };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
  }
}
