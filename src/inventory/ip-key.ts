/**
 * A sortable text form of an address, stored beside `ip` so that "everything in 10.0.0.0/8"
 * is one index range scan on both SQLite and PostgreSQL (text comparison of fixed-width hex),
 * without dialect-specific types such as PostgreSQL's inet.
 *
 * IPv4: `4:` + 8 hex digits; IPv6: `6:` + 32 hex digits. Every IPv4 key sorts before every IPv6 key.
 */
import ipaddr from 'ipaddr.js';
import { UsageError } from '../core/errors.js';

function hex(bytes: number[]): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

function parseStrict(ip: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  // Four-part decimal only: ipaddr.parse also takes "127.1" and octal/hex forms, which a
  // stored address never has.
  if (ipaddr.IPv4.isValidFourPartDecimal(ip)) return ipaddr.IPv4.parse(ip);
  if (ipaddr.IPv6.isValid(ip)) return ipaddr.IPv6.parse(ip);
  return null;
}

/** Two hex digits of each byte value. */
const HEX2 = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/**
 * The key of a four-part decimal IPv4 address without a parser object (recordServices computes
 * one per record); null for anything else, which parseStrict then decides. It accepts exactly
 * what ipaddr.IPv4.isValidFourPartDecimal accepts: four parts of 0-255, no leading zeros.
 */
function ipv4Key(ip: string): string | null {
  let key = '4:';
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || ++parts > 4) return null;
      key += HEX2[part];
      part = 0;
      digits = 0;
      continue;
    }
    if (c < 48 || c > 57 || (digits > 0 && part === 0)) return null;
    part = part * 10 + (c - 48);
    if (++digits > 3 || part > 255) return null;
  }
  return parts === 4 ? key : null;
}

/** Key of one address; a value that is not an address gets a key that sorts after all addresses. */
export function ipKey(ip: string): string {
  const v4 = ipv4Key(ip);
  if (v4 !== null) return v4;
  const addr = parseStrict(ip);
  if (addr === null) return `x:${ip}`;
  return `${addr.kind() === 'ipv4' ? '4' : '6'}:${hex(addr.toByteArray())}`;
}

/** Inclusive key range [lo, hi] of an exact address or a CIDR prefix; throws UsageError when neither. */
export function ipKeyRange(spec: string): { lo: string; hi: string } {
  const slash = spec.indexOf('/');
  if (slash < 0) {
    const addr = parseStrict(spec);
    if (addr === null) throw new UsageError(`not an IP address or CIDR prefix: ${JSON.stringify(spec)}`);
    const k = ipKey(spec);
    return { lo: k, hi: k };
  }
  const base = parseStrict(spec.slice(0, slash));
  const bitsText = spec.slice(slash + 1);
  const width = base?.kind() === 'ipv4' ? 32 : 128;
  if (base === null || !/^\d{1,3}$/.test(bitsText) || Number(bitsText) > width) {
    throw new UsageError(`not an IP address or CIDR prefix: ${JSON.stringify(spec)}`);
  }
  const bits = Number(bitsText);
  const bytes = base.toByteArray();
  const lo: number[] = [];
  const hi: number[] = [];
  bytes.forEach((b, i) => {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    const mask = (0xff << (8 - keep)) & 0xff;
    lo.push(b & mask);
    hi.push((b & mask) | (~mask & 0xff));
  });
  const tag = base.kind() === 'ipv4' ? '4' : '6';
  return { lo: `${tag}:${hex(lo)}`, hi: `${tag}:${hex(hi)}` };
}
