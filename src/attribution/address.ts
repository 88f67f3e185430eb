/**
 * Addresses and CIDR blocks for attribution, parsed with ipaddr.js into numbers the range
 * table can compare: IPv4 as an unsigned 32-bit number, IPv6 as a 128-bit bigint.
 *
 * Strict on purpose, as the scope module is: IPv4 only in four-part decimal without leading
 * zeros (`127.1` and `010.0.0.1` mean different hosts to different tools), IPv6 without a zone
 * id. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, RFC 4291 §2.5.5.2) is the IPv4 host, so
 * it is attributed as such. A CIDR block must have its host bits clear: `192.0.2.7/24` in an
 * orgs.yaml is more likely a typo than a request for `192.0.2.0/24`, and ownership is not a
 * thing to guess.
 */
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

/** One parsed address. `text` is the canonical form handed to the mmdb reader. */
export type ParsedIp =
  | { family: 4; value: number; text: string; range: string }
  | { family: 6; value: bigint; text: string; range: string };

/** One CIDR block of one family, as an inclusive range (IPv4 values below 2^32). */
export interface Cidr {
  family: Family;
  start: bigint;
  end: bigint;
  prefix: number;
  /** Canonical text, e.g. `192.0.2.0/24`, `2001:db8::/32`. */
  text: string;
}

/**
 * Ranges (ipaddr.js `range()` names) that no public geolocation or ASN database describes:
 * loopback, private (RFC 1918), unique-local, link-local, carrier-grade NAT, documentation and
 * other reserved blocks, multicast, broadcast, unspecified, benchmarking.
 */
const SPECIAL_RANGES: ReadonlySet<string> = new Set([
  'unspecified',
  'broadcast',
  'multicast',
  'linkLocal',
  'loopback',
  'carrierGradeNat',
  'private',
  'reserved',
  'benchmarking',
  'uniqueLocal',
  'deprecatedSiteLocal',
  'discard',
]);

/** True for an address no mmdb file has data about (see SPECIAL_RANGES). */
export function isSpecialRange(range: string): boolean {
  return SPECIAL_RANGES.has(range);
}

function v4Number(a: ipaddr.IPv4): number {
  const [o0, o1, o2, o3] = a.octets as [number, number, number, number];
  return o0 * 0x1000000 + o1 * 0x10000 + o2 * 0x100 + o3;
}

function v6Number(a: ipaddr.IPv6): bigint {
  let v = 0n;
  for (const p of a.parts) v = (v << 16n) | BigInt(p);
  return v;
}

/** Parses one address strictly; `null` when `text` is not one. */
export function parseIp(text: string): ParsedIp | null {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    const a = ipaddr.IPv4.parse(text);
    return { family: 4, value: v4Number(a), text: a.toString(), range: a.range() };
  }
  if (text.includes('%') || !ipaddr.IPv6.isValid(text)) return null;
  const a = ipaddr.IPv6.parse(text);
  if (a.isIPv4MappedAddress()) {
    const v4 = a.toIPv4Address();
    return { family: 4, value: v4Number(v4), text: v4.toString(), range: v4.range() };
  }
  return { family: 6, value: v6Number(a), text: a.toString(), range: a.range() };
}

/** IPv4 text of an unsigned 32-bit number. */
export function formatV4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** IPv6 text (RFC 5952 through ipaddr.js) of a 128-bit number. */
export function formatV6(v: bigint): string {
  const parts: number[] = [];
  for (let i = 7; i >= 0; i--) parts.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  return new ipaddr.IPv6(parts).toRFC5952String();
}

/**
 * Parses a CIDR block (or a single address, as a /32 or /128). Returns the reason when `text`
 * is not one, for the caller to put in context (file, entry).
 */
export function parseCidr(text: string): Cidr | { error: string } {
  const slash = text.indexOf('/');
  const addrText = slash === -1 ? text : text.slice(0, slash);
  const addr = parseIp(addrText);
  if (addr === null) {
    if (addrText.includes('%')) return { error: 'IPv6 zone ids are not accepted' };
    if (/^[0-9.]+$/.test(addrText) && /(^|\.)0[0-9]/.test(addrText)) {
      return { error: 'leading zeros are ambiguous (octal in some tools); write plain decimal octets' };
    }
    return { error: addrText.includes(':') ? 'not a valid IPv6 address' : 'not a valid IPv4 address (four decimal octets 0-255)' };
  }
  /* An IPv4-mapped block (::ffff:192.0.2.0/120) is the IPv4 block: parseIp already mapped the
     address, so the prefix loses the 96 bits of the mapped prefix. */
  const mapped = addr.family === 4 && addrText.includes(':');
  const bits = addr.family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    const width = mapped ? 128 : bits;
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > width) return { error: `bad prefix length (0-${width} for this address)` };
    prefix = Number(p) - (mapped ? 96 : 0);
    if (prefix < 0) return { error: 'an IPv4-mapped block needs a prefix length of at least 96' };
  }
  const value = BigInt(addr.value);
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  if ((value & hostMask) !== 0n) {
    const net = value & ~hostMask;
    const netText = addr.family === 4 ? formatV4(Number(net)) : formatV6(net);
    return { error: `host bits are set; the block is ${netText}/${prefix}` };
  }
  const baseText = addr.family === 4 ? formatV4(addr.value) : formatV6(value);
  return { family: addr.family, start: value, end: value | hostMask, prefix, text: `${baseText}/${prefix}` };
}
