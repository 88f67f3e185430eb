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
