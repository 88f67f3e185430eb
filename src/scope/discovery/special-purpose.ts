/**
 * The address blocks an internet-wide scan leaves out by default (`--internet`): the IANA
 * special-purpose registries' blocks that are not globally reachable, plus multicast, which
 * no TCP handshake can reach. The same list ZMap ships as conf/blocklist.conf ("From IANA
 * IPv4 Special-Purpose Address Registry"), brought up to date, and its IPv6 counterpart.
 *
 * Sources, each entry's RFC as the registry names it:
 *   https://www.iana.org/assignments/iana-ipv4-special-registry/ (RFC 6890)
 *   https://www.iana.org/assignments/iana-ipv6-special-registry/ (RFC 6890)
 *   https://www.iana.org/assignments/multicast-addresses/ (RFC 5771), RFC 4291 §2.7
 *
 * Left out on purpose: the IPv4-mapped block ::ffff:0:0/96 (RFC 4291 §2.5.5.2): the scope
 * module reads a mapped address as the IPv4 host it names (ipset.ts), so that block *is* the
 * whole IPv4 space there, and blocking it would block everything. Blocks the registries mark
 * globally reachable (AS112, AMT, 64:ff9b::/96, the anycast /32s inside 192.0.0.0/24 aside)
 * are not listed. ZMap's copy had a typo, 192.18.0.0/15 for benchmarking: RFC 2544's block
 * is 198.18.0.0/15.
 */
import { IpSet } from '../ipset.js';

export interface SpecialBlock {
  cidr: string;
  name: string;
  rfc: string;
}

export const SPECIAL_PURPOSE_V4: readonly SpecialBlock[] = [
  { cidr: '0.0.0.0/8', name: '"This network"', rfc: 'RFC 791 §3.2' },
  { cidr: '10.0.0.0/8', name: 'Private-Use', rfc: 'RFC 1918' },
  { cidr: '100.64.0.0/10', name: 'Shared Address Space', rfc: 'RFC 6598' },
  { cidr: '127.0.0.0/8', name: 'Loopback', rfc: 'RFC 1122 §3.2.1.3' },
  { cidr: '169.254.0.0/16', name: 'Link Local', rfc: 'RFC 3927' },
  { cidr: '172.16.0.0/12', name: 'Private-Use', rfc: 'RFC 1918' },
  { cidr: '192.0.0.0/24', name: 'IETF Protocol Assignments', rfc: 'RFC 6890 §2.1' },
  { cidr: '192.0.2.0/24', name: 'Documentation (TEST-NET-1)', rfc: 'RFC 5737' },
  { cidr: '192.88.99.0/24', name: 'Deprecated (6to4 Relay Anycast)', rfc: 'RFC 7526' },
  { cidr: '192.168.0.0/16', name: 'Private-Use', rfc: 'RFC 1918' },
  { cidr: '198.18.0.0/15', name: 'Benchmarking', rfc: 'RFC 2544' },
  { cidr: '198.51.100.0/24', name: 'Documentation (TEST-NET-2)', rfc: 'RFC 5737' },
  { cidr: '203.0.113.0/24', name: 'Documentation (TEST-NET-3)', rfc: 'RFC 5737' },
  { cidr: '224.0.0.0/4', name: 'Multicast', rfc: 'RFC 5771' },
  { cidr: '240.0.0.0/4', name: 'Reserved', rfc: 'RFC 1112 §4' },
  { cidr: '255.255.255.255/32', name: 'Limited Broadcast', rfc: 'RFC 8190, RFC 919 §7' },
];

export const SPECIAL_PURPOSE_V6: readonly SpecialBlock[] = [
  { cidr: '::/128', name: 'Unspecified Address', rfc: 'RFC 4291' },
  { cidr: '::1/128', name: 'Loopback Address', rfc: 'RFC 4291' },
  { cidr: '64:ff9b:1::/48', name: 'IPv4-IPv6 Translation (local use)', rfc: 'RFC 8215' },
  { cidr: '100::/64', name: 'Discard-Only Address Block', rfc: 'RFC 6666' },
  { cidr: '2001:2::/48', name: 'Benchmarking', rfc: 'RFC 5180' },
  { cidr: '2001:db8::/32', name: 'Documentation', rfc: 'RFC 3849' },
  { cidr: '3fff::/20', name: 'Documentation', rfc: 'RFC 9637' },
  { cidr: '5f00::/16', name: 'Segment Routing (SRv6) SIDs', rfc: 'RFC 9602' },
  { cidr: 'fc00::/7', name: 'Unique-Local', rfc: 'RFC 4193' },
  { cidr: 'fe80::/10', name: 'Link-Local Unicast', rfc: 'RFC 4291' },
  { cidr: 'ff00::/8', name: 'Multicast', rfc: 'RFC 4291 §2.7' },
];

let cached: IpSet | null = null;

/** Every block above as one set (IPv4 and IPv6). */
export function specialPurposeSet(): IpSet {
  cached ??= IpSet.parse(
    [...SPECIAL_PURPOSE_V4, ...SPECIAL_PURPOSE_V6].map((b) => b.cidr),
    'special-purpose blocks',
  );
  return cached;
}
