/**
 * Host-name resolution for targets, through the configured resolver (DESIGN.md "Scope"):
 * `--resolver IP[:PORT]` queries that server directly (node:dns Resolver with setServers,
 * A and AAAA, RFC 1035 / RFC 3596); without it, the system resolver (getaddrinfo through
 * dns.promises.lookup). Names are resolved once, before the scan, so that the scope check
 * sees the addresses that will be connected to; nothing resolves at connect time.
 *
 * A DNS answer is bounded by the protocol itself (a message is at most 65,535 bytes, so a
 * name yields a few thousand addresses at most) and c-ares enforces the timeout below.
 */
import dns from 'node:dns';
import { UsageError, messageOf } from '../core/errors.js';
import { formatAddress, parseAddress, parseIPv4, parseIPv6 } from './ip.js';
import { quoteToken } from './ipset.js';

/** Per-query timeout and tries for `--resolver` (c-ares doubles the timeout on each retry). */
export const RESOLVER_TIMEOUT_MS = 2000;
export const RESOLVER_TRIES = 2;
/** Names resolved at the same time: enough for a list of sites, gentle on a resolver. */
export const RESOLVE_CONCURRENCY = 8;

export type HostResolver = (name: string) => Promise<string[]>;

/**
 * Checks a `--resolver` value (`IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6) and returns
 * it in the form `Resolver.setServers` accepts.
 */
export function parseResolverSpec(spec: string): string {
  const bad = (why: string) => new UsageError(`--resolver ${quoteToken(spec)}: ${why} (expected IP, IP:PORT or [IPv6]:PORT)`);
  let host: string;
  let port: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(spec);
  if (bracket) {
    host = bracket[1]!;
    port = bracket[2];
    if (parseIPv6(host) === null) throw bad('not an IPv6 address in brackets');
  } else if (parseIPv6(spec) !== null) {
    host = spec;
  } else {
    const m = /^([^:]+)(?::(\d+))?$/.exec(spec);
    if (!m || parseIPv4(m[1]!) === null) throw bad('not an IP address (host names cannot name the resolver)');
    host = m[1]!;
    port = m[2];
  }
  if (port !== undefined) {
    const p = Number(port);
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw bad('port must be 1-65535');
    return host.includes(':') ? `[${host}]:${p}` : `${host}:${p}`;
  }
  return host;
}

/** Canonical, deduplicated address texts, in the order they came. */
function canonical(addresses: string[]): string[] {
  const out = new Set<string>();
  for (const a of addresses) {
    const parsed = parseAddress(a);
    if (parsed !== null) out.add(formatAddress(parsed));
  }
  return [...out];
}

const NO_ANSWER = new Set(['ENODATA', 'ENOTFOUND', 'NOTFOUND', 'NODATA', 'EAI_NONAME', 'EAI_NODATA']);

/** Returns a function resolving a name to its addresses; throws UsageError naming the name. */
export function createHostResolver(resolverSpec?: string): HostResolver {
  if (resolverSpec === undefined) {
    return async (name) => {
      let found: dns.LookupAddress[];
      try {
        found = await dns.promises.lookup(name, { all: true, verbatim: true });
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        const why = NO_ANSWER.has(code) ? 'no such name' : messageOf(err);
        throw new UsageError(`host name ${quoteToken(name)} did not resolve (system resolver): ${why}`, { cause: err });
      }
      const addresses = canonical(found.map((f) => f.address));
      if (addresses.length === 0) throw new UsageError(`host name ${quoteToken(name)} has no addresses (system resolver)`);
      return addresses;
    };
  }
  const server = parseResolverSpec(resolverSpec);
  const resolver = new dns.promises.Resolver({ timeout: RESOLVER_TIMEOUT_MS, tries: RESOLVER_TRIES });
  resolver.setServers([server]);
  return async (name) => {
    const [a, aaaa] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
    const found: string[] = [];
    const failures: unknown[] = [];
    for (const r of [a, aaaa]) {
      if (r.status === 'fulfilled') found.push(...r.value);
      else if (!NO_ANSWER.has((r.reason as { code?: string }).code ?? '')) failures.push(r.reason);
    }
    const addresses = canonical(found);
    if (addresses.length > 0) return addresses;
    if (failures.length > 0) {
      throw new UsageError(`host name ${quoteToken(name)} did not resolve via ${server}: ${messageOf(failures[0])}`, {
        cause: failures[0],
      });
    }
    throw new UsageError(`host name ${quoteToken(name)} did not resolve via ${server}: no A or AAAA records`);
  };
}

/** Resolves many names with bounded concurrency; the map keeps the input order. */
export async function resolveAll(names: string[], resolve: HostResolver): Promise<Map<string, string[]>> {
  const results = new Map<string, string[]>();
  const answers: string[][] = new Array(names.length);
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const i = next++;
      try {
        answers[i] = await resolve(names[i]!);
      } catch (err) {
        next = names.length; /* the run will not start: stop querying */
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(RESOLVE_CONCURRENCY, names.length) }, worker));
  for (let i = 0; i < names.length; i++) results.set(names[i]!, answers[i]!);
  return results;
}
