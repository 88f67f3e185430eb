/**
 * The scope guard and the pre-scan scope check (DESIGN.md "Scope": scans reach only addresses
 * inside the authorised scope, when one is given, and outside the exclusion list, checked at
 * connect time for every connection, redirects included).
 *
 * Two gates, on purpose: assertInScope refuses a run whose targets leave the scope before a
 * single packet is sent; the guard, called by core/bounded-socket for every connect, catches
 * what the target list cannot show (HTTP redirects, links followed by a probe).
 */
import { ScopeError, UsageError } from '../core/errors.js';
import type { ScopeGuard } from '../core/bounded-socket.js';
import { parseIPv4, parseIPv6 } from './ip.js';
import type { IpSet } from './ipset.js';
import type { TargetSet } from './targets.js';

/** Offending ranges listed by assertInScope before "and N more". */
const LISTED_RANGES = 5;

/**
 * Returns a guard that throws ScopeError when `ip` is outside `scope` (if given) or inside
 * `exclude`. Each call is one parse and two binary searches over merged ranges. IPv4-mapped
 * IPv6 addresses (::ffff:a.b.c.d) are judged as the IPv4 host they name: a mapped address
 * is in scope when either spelling is, and excluded when either spelling is.
 */
export function makeScopeGuard(opts: { scope?: IpSet; exclude?: IpSet }): ScopeGuard {
  const { scope, exclude } = opts;
  return (ip: string) => {
    const v4 = parseIPv4(ip);
    let inScope: boolean;
    let excluded: boolean;
    if (v4 !== null) {
      inScope = scope === undefined || scope.hasV4(v4);
      excluded = exclude?.hasV4(v4) === true;
    } else {
      const v6 = typeof ip === 'string' ? parseIPv6(ip) : null;
      if (v6 === null) throw new ScopeError(`refused ${JSON.stringify(String(ip).slice(0, 64))}: not an IP address`);
      inScope = scope === undefined || scope.hasV6(v6);
      excluded = exclude?.hasV6(v6) === true;
    }
    if (!inScope) throw new ScopeError(`refused ${ip}: outside the authorised scope`);
    if (excluded) throw new ScopeError(`refused ${ip}: in the exclusion list`);
  };
}

/**
 * Throws UsageError when any target lies outside `scope`, listing up to five offending
 * ranges. Works on the merged ranges (containment, then a range subtraction), never on
 * single addresses, so a /8 is checked as fast as one host.
 */
export function assertInScope(targets: TargetSet, scope: IpSet): void {
  const set = targets.addresses();
  if (scope.containsAll(set)) return;
  const outside = set.subtract(scope);
  const texts = outside.rangeTexts();
  const listed = texts.slice(0, LISTED_RANGES).join(', ');
  const more = texts.length > LISTED_RANGES ? ` and ${texts.length - LISTED_RANGES} more range(s)` : '';
  throw new UsageError(
    `${outside.size} target address(es) are outside the authorised scope (--scope): ${listed}${more}; nothing was scanned`,
  );
}
