/**
 * Address codecs used by the scope module: IPv4 as an unsigned 32-bit number, IPv6 as a
 * 128-bit bigint. Written by hand (rather than through ipaddr.js) because the scope guard
 * parses one address per connection and the iterator formats millions of them: both paths
 * stay allocation-light.
 *
 * Parsing is deliberately strict. Dotted quads with leading zeros (`010.0.0.1`) are refused:
 * inet_aton(3) reads them as octal, so the same string names different hosts in different
 * tools, and a scanner must not guess. IPv6 text follows RFC 4291 §2.2 (with the embedded
 * IPv4 tail); output follows the canonical form of RFC 5952 §4.
 */

export const V4_MAX = 0xffffffff;
export const V6_MAX = (1n << 128n) - 1n;
/** ::ffff:0:0/96, the IPv4-mapped block (RFC 4291 §2.5.5.2). */
export const V4_MAPPED_START = 0xffffn << 32n;
export const V4_MAPPED_END = V4_MAPPED_START | 0xffffffffn;

export type Address = { family: 4; value: number } | { family: 6; value: bigint };

/** Parses a strict dotted-quad IPv4 address; `null` when `s` is not one. */
export function parseIPv4(s: string): number | null {
  const n = s.length;
  if (n < 7 || n > 15) return null;
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : 46; /* '.' terminates the last part */
    if (c === 46) {
      if (digits === 0 || part > 255) return null;
      value = value * 256 + part;
      parts++;
      part = 0;
      digits = 0;
      if (parts > 4) return null;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return null; /* leading zero: octal in inet_aton, refuse */
      part = part * 10 + (c - 48);
      digits++;
      if (digits > 3) return null;
    } else {
      return null;
    }
  }
  return parts === 4 ? value : null;
}

export function formatIPv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** Parses an IPv6 address (RFC 4291 §2.2, all three text forms); no zone id, no brackets. */
export function parseIPv6(s: string): bigint | null {
  if (s.length < 2 || s.length > 45) return null;
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return null;
  const head = dbl === -1 ? s : s.slice(0, dbl);
  const tail = dbl === -1 ? '' : s.slice(dbl + 2);
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const groups: number[] = [];
  const readGroups = (list: string[], isLast: boolean): number[] | null => {
    const out: number[] = [];
    for (let i = 0; i < list.length; i++) {
      const g = list[i]!;
      if (isLast && i === list.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
        continue;
      }
      if (g.length < 1 || g.length > 4 || !/^[0-9a-fA-F]+$/.test(g)) return null;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  if (dbl === -1) {
    const g = readGroups(headGroups, true);
    if (g === null || g.length !== 8) return null;
    groups.push(...g);
  } else {
    const h = readGroups(headGroups, false);
    const t = readGroups(tailGroups, true);
    if (h === null || t === null) return null;
    const fill = 8 - h.length - t.length;
    if (fill < 1) return null; /* '::' stands for at least one group (RFC 4291 §2.2 item 2) */
    groups.push(...h);
    for (let i = 0; i < fill; i++) groups.push(0);
    groups.push(...t);
  }
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

/** Canonical text of an IPv6 address (RFC 5952 §4; IPv4-mapped addresses as `::ffff:a.b.c.d`, §5). */
export function formatIPv6(v: bigint): string {
  return formatIPv6Words(
    Number(v >> 96n),
    Number((v >> 64n) & 0xffffffffn),
    Number((v >> 32n) & 0xffffffffn),
    Number(v & 0xffffffffn),
  );
}

/**
 * Same as formatIPv6, from the address as four unsigned 32-bit words (most significant first):
 * the iterator formats millions of addresses and bigint arithmetic per group would dominate.
 */
export function formatIPv6Words(w0: number, w1: number, w2: number, w3: number): string {
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return `::ffff:${formatIPv4(w3)}`;
  const groups = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff];
  /* Longest run of two or more zero groups, the first one on a tie (RFC 5952 §4.2.3). */
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (out !== '' && !out.endsWith(':')) out += ':';
    out += groups[i]!.toString(16);
  }
  return out;
}

/** Parses either family; `null` when `s` is not an address. */
export function parseAddress(s: string): Address | null {
  if (s.includes(':')) {
    const v = parseIPv6(s);
    return v === null ? null : { family: 6, value: v };
  }
  const v = parseIPv4(s);
  return v === null ? null : { family: 4, value: v };
}

export function formatAddress(a: Address): string {
  return a.family === 4 ? formatIPv4(a.value) : formatIPv6(a.value);
}
