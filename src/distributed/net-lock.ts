/**
 * Per-destination-network politeness across workers: no two workers scan hosts of one /24
 * (IPv6: one /64) at the same time. The shards cannot promise it by construction (each shard
 * walks the whole permutation, so it spreads over every network, which is what keeps the load
 * on any one network low), so a lock in Redis does: key `<prefix>:dist:net:<network>`, value the
 * worker's id, set with a TTL and renewed while held.
 *
 * The lock belongs to a worker, not to a host scan: the hosts of one network that a worker has
 * in flight share it (reference-counted here), exactly as the single-machine engine may run
 * several hosts of one network at once; other workers wait until the count drops to zero.
 * A worker that dies (SIGKILL) leaves its locks to expire after `ttlMs`. A waiting host holds
 * no lock, so waits cannot form a cycle.
 */
import type { Redis } from 'ioredis';
import { sleep } from '../engine/rate-limiter.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../scope/ip.js';
import { LuaScript, keys } from './redis.js';

/** Take the lock if it is free or already ours; (re)arm its TTL. */
const ACQUIRE = new LuaScript(`
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`);

/** Delete the lock only if it is still ours. */
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

/** Renew the locks we hold; one lost in a Redis restart is taken again if nobody else has it. Returns how many are ours. */
const RENEW = new LuaScript(`
local n = 0
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v == false or v == ARGV[1] then
    redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
    n = n + 1
  end
end
return n`);

/** Keys renewed per script call. */
const RENEW_CHUNK = 500;

export interface NetPrefixes {
  v4: number;
  v6: number;
}

export const DEFAULT_NET_PREFIXES: NetPrefixes = { v4: 24, v6: 64 };

/** The network (`a.b.c.0/24`, `2001:db8::/64`) an address belongs to for politeness, or null when the lock is off for its family. */
export function networkOf(ip: string, prefixes: NetPrefixes): string | null {
  const v4 = parseIPv4(ip);
  if (v4 !== null) {
    if (prefixes.v4 === 0) return null;
    const mask = prefixes.v4 === 32 ? 0xffffffff : ~(0xffffffff >>> prefixes.v4) >>> 0;
    return `${formatIPv4((v4 & mask) >>> 0)}/${prefixes.v4}`;
  }
  const v6 = parseIPv6(ip);
  if (v6 === null || prefixes.v6 === 0) return null;
  const shift = BigInt(128 - prefixes.v6);
  return `${formatIPv6((v6 >> shift) << shift)}/${prefixes.v6}`;
}

export interface NetLockStats {
  /** Host scans that had to wait for another worker's lock. */
  waits: number;
  waitedMs: number;
}

export class NetLocks {
  /** Networks this worker holds, with the number of its host scans inside each. */
  private readonly held = new Map<string, number>();
  private readonly acquiring = new Map<string, Promise<void>>();
  private readonly timer: NodeJS.Timeout;
  readonly stats: NetLockStats = { waits: 0, waitedMs: 0 };

  constructor(
    private readonly client: Redis,
    private readonly opts: { prefix: string; owner: string; prefixes: NetPrefixes; ttlMs: number; pollMs?: number },
  ) {
    this.timer = setInterval(() => void this.renew().catch(() => {}), Math.max(100, Math.floor(opts.ttlMs / 3)));
    this.timer.unref();
  }

  /**
   * Runs `fn` while this worker holds the network of `ip`; null (and `fn` not run) when
   * `signal` aborts while waiting.
   */
  async hold<T>(ip: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T | null> {
    const net = networkOf(ip, this.opts.prefixes);
    if (net === null) return fn();
    if (!(await this.acquire(net, signal))) return null;
    try {
      return await fn();
    } finally {
      this.release(net);
    }
  }

  private async acquire(net: string, signal: AbortSignal): Promise<boolean> {
    for (;;) {
      const count = this.held.get(net);
      if (count !== undefined) {
        this.held.set(net, count + 1);
        return true;
      }
      if (signal.aborted) return false;
      const pending = this.acquiring.get(net);
      if (pending) {
        await pending;
        continue;
      }
      const p = this.lockRemote(net, signal).finally(() => this.acquiring.delete(net));
      this.acquiring.set(net, p);
      await p;
    }
  }

  /** Waits until the network's lock is ours (then marks it held with count 0) or `signal` aborts. */
  private async lockRemote(net: string, signal: AbortSignal): Promise<void> {
    const key = keys.net(this.opts.prefix, net);
    const poll = this.opts.pollMs ?? 50;
    const started = Date.now();
    let waited = false;
    while (!signal.aborted) {
      const ok = await ACQUIRE.run(this.client, [key], [this.opts.owner, this.opts.ttlMs]);
      if (ok === 1) {
        this.held.set(net, 0);
        break;
      }
      waited = true;
      // Jitter, so waiting workers do not poll in step.
      await sleep(poll * (0.5 + Math.random()), signal);
    }
    if (waited) {
      this.stats.waits++;
      this.stats.waitedMs += Date.now() - started;
    }
  }

  private release(net: string): void {
    const count = (this.held.get(net) ?? 1) - 1;
    if (count > 0) {
      this.held.set(net, count);
      return;
    }
    this.held.delete(net);
    // Same connection as the next acquire, so Redis sees them in order.
    void RELEASE.run(this.client, [keys.net(this.opts.prefix, net)], [this.opts.owner]).catch(() => {});
  }

  private async renew(): Promise<void> {
    const nets = [...this.held.keys()];
    for (let i = 0; i < nets.length; i += RENEW_CHUNK) {
      const part = nets.slice(i, i + RENEW_CHUNK).map((n) => keys.net(this.opts.prefix, n));
      await RENEW.run(this.client, part, [this.opts.owner, this.opts.ttlMs]);
    }
  }

  /** Networks currently held (for tests and logs). */
  heldNetworks(): string[] {
    return [...this.held.keys()];
  }

  close(): void {
    clearInterval(this.timer);
  }
}
