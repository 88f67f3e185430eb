/**
 * RFB (VNC) handshake codec: just the messages a scanner needs to learn the protocol version
 * and the security types without ever authenticating (RFC 6143 §7.1.1, §7.1.2).
 *
 * Pure functions, bytes in and typed values out. Every length the server controls (the
 * failure-reason string, the number of security types) is checked against a named cap before
 * anything is read or allocated.
 */
import { ProtocolError } from '../../core/errors.js';

/** Named caps for what an RFB server controls. */
export const VNC_LIMITS = {
  /** ProtocolVersion is exactly 12 bytes: "RFB xxx.yyy\n" (RFC 6143 §7.1.1). */
  versionBytes: 12,
  /** Largest failure-reason string we read (§7.1.2 length is a U32: a server could claim 4 GiB). */
  reasonBytes: 1024,
  /** Characters of the failure reason kept in the observation. */
  reasonChars: 256,
  /** Bytes one VNC session may read: version + type list + reason, with room to spare. */
  sessionBytes: 4096,
} as const;

/** The versions a client may answer with (RFC 6143 §7.1.1: 3.3, 3.7 and 3.8 are the published ones). */
export type RfbVersion = '3.3' | '3.7' | '3.8';

export interface ServerVersion {
  /** The 11 printable characters the server sent ("RFB 003.008"), for fingerprints. */
  text: string;
  major: number;
  minor: number;
}

/** Printable ASCII only (other bytes become '?'), so a hostile byte never reaches a log or a regex raw. */
export function printable(buf: Buffer | string, max: number): string {
  const s = typeof buf === 'string' ? buf : buf.toString('latin1');
  let out = '';
  for (let i = 0; i < s.length && out.length < max; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x20 && c < 0x7f ? s[i] : '?';
  }
  return out;
}

/**
 * Parses the server's ProtocolVersion message: "RFB " + three digits + "." + three digits + LF
 * (RFC 6143 §7.1.1). Anything else is not RFB, or not an RFB we can continue with.
 */
export function parseServerVersion(buf: Buffer): ServerVersion {
  if (buf.length !== VNC_LIMITS.versionBytes) {
    throw new ProtocolError(`RFB ProtocolVersion is ${VNC_LIMITS.versionBytes} bytes, got ${buf.length}`);
  }
  const s = buf.toString('latin1');
  const m = /^RFB (\d{3})\.(\d{3})\n$/.exec(s);
  if (!m) throw new ProtocolError(`not an RFB ProtocolVersion: "${printable(buf, 12)}"`);
  return { text: s.slice(0, 11), major: Number(m[1]), minor: Number(m[2]) };
}

/**
 * The version we answer with: the highest of 3.3, 3.7 and 3.8 not above the server's. RFC 6143
 * §7.1.1: "other version numbers ... should be interpreted as 3.3 since they do not implement the
 * different handshake in 3.7 or 3.8". Two exceptions seen in the field and handled as libvncclient
 * does: Apple Remote Desktop announces 3.889 and speaks 3.8, and RealVNC 4.x/5.x announce 004.xxx /
 * 005.xxx and accept a 3.8 client.
 */
export function chooseVersion(server: { major: number; minor: number }): RfbVersion {
  if (server.major > 3) return '3.8';
  if (server.major < 3) return '3.3';
  if (server.minor >= 8) return '3.8';
  if (server.minor === 7) return '3.7';
  return '3.3';
}

/** Our ProtocolVersion message for the chosen version ("RFB 003.008\n"). */
export function encodeClientVersion(v: RfbVersion): Buffer {
  const minor = v === '3.8' ? '008' : v === '3.7' ? '007' : '003';
  return Buffer.from(`RFB 003.${minor}\n`, 'latin1');
}

/**
 * RFB security type names: RFC 6143 §7.1.2 (0, 1, 2), the IANA "RFB Security Types" registry
 * (3-15 and 128-255 RealVNC, 16-22 historic assignments, 30-35 Apple) and RFC 7869 (23, 24).
 * Types the registry lists only as a vendor range keep the vendor's name and the number.
 */
const SECURITY_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'invalid',
  1: 'none',
  2: 'vnc-auth',
  5: 'ra2',
  6: 'ra2ne',
  16: 'tight',
  17: 'ultra',
  18: 'tls',
  19: 'vencrypt',
  20: 'sasl',
  21: 'md5',
  22: 'xvp',
  23: 'secure-tunnel',
  24: 'integrated-ssh',
  30: 'apple-30',
  31: 'apple-31',
  32: 'apple-32',
  33: 'apple-33',
  34: 'apple-34',
  35: 'apple-35',
};

export function securityTypeName(t: number): string {
  const known = SECURITY_TYPE_NAMES[t];
  if (known) return known;
  if ((t >= 3 && t <= 4) || (t >= 7 && t <= 15) || (t >= 128 && t <= 255)) return `realvnc-${t}`;
  return `type-${t}`;
}

/**
 * What follows the version exchange, as the reader needs it: the number of bytes to read next,
 * and how to interpret them. A tiny state machine so the probe and the tests share one parser.
 */
export type SecurityStep =
  | { kind: 'need'; bytes: number }
  | { kind: 'types'; types: number[] }
  | { kind: 'failure'; reason: string };

/**
 * RFB 3.7/3.8 security handshake (RFC 6143 §7.1.2): U8 number-of-security-types, then that many
 * U8 types; zero types means failure, followed by a U32 reason-length and the reason string.
 * Returns how many more bytes are needed when `buf` is short; throws a ProtocolError when the
 * declared reason length is over the cap.
 */
export function parseSecurityTypes(buf: Buffer): SecurityStep {
  if (buf.length < 1) return { kind: 'need', bytes: 1 };
  const n = buf[0]!;
  if (n > 0) {
    if (buf.length < 1 + n) return { kind: 'need', bytes: 1 + n };
    return { kind: 'types', types: [...buf.subarray(1, 1 + n)] };
  }
  return parseFailureReason(buf, 1);
}

/**
 * RFB 3.3 security handshake (RFC 6143 §7.1.2, "Version 3.3"): the server decides, a U32 security
 * type: 0 invalid (followed by a reason), 1 None, 2 VNC Authentication.
 */
export function parseSecurityType33(buf: Buffer): SecurityStep {
  if (buf.length < 4) return { kind: 'need', bytes: 4 };
  const t = buf.readUInt32BE(0);
  if (t === 0) return parseFailureReason(buf, 4);
  // Any other value: the one type the server chose. A U32 above 255 is not a registered type.
  if (t > 0xff) throw new ProtocolError(`RFB 3.3 security type ${t} out of range`);
  return { kind: 'types', types: [t] };
}

function parseFailureReason(buf: Buffer, at: number): SecurityStep {
  if (buf.length < at + 4) return { kind: 'need', bytes: at + 4 };
  const len = buf.readUInt32BE(at);
  if (len > VNC_LIMITS.reasonBytes) {
    throw new ProtocolError(`RFB failure reason of ${len} bytes exceeds the cap of ${VNC_LIMITS.reasonBytes}`);
  }
  if (buf.length < at + 4 + len) return { kind: 'need', bytes: at + 4 + len };
  return { kind: 'failure', reason: reasonText(buf.subarray(at + 4, at + 4 + len)) };
}

/** The failure reason as kept: printable, whitespace runs folded to one space, bounded. */
export function reasonText(raw: Buffer): string {
  const s = raw
    .toString('latin1')
    .replace(/[\r\n\t]+/g, ' ')
    .trim();
  return printable(s, VNC_LIMITS.reasonChars);
}

/** Encoders used by the lab and the tests (a server's side of §7.1.1 and §7.1.2). */
export function encodeServerVersion(text: string): Buffer {
  if (!/^RFB \d{3}\.\d{3}$/.test(text)) throw new ProtocolError(`bad RFB version text ${text}`);
  return Buffer.from(`${text}\n`, 'latin1');
}

export function encodeSecurityTypes(types: readonly number[]): Buffer {
  if (types.length === 0 || types.length > 255) throw new ProtocolError('1..255 security types');
  return Buffer.from([types.length, ...types]);
}

export function encodeFailure(reason: string, version: RfbVersion): Buffer {
  const r = Buffer.from(reason, 'latin1');
  const head = version === '3.3' ? Buffer.alloc(4) : Buffer.alloc(1);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(r.length);
  return Buffer.concat([head, len, r]);
}

export function encodeSecurityType33(t: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(t);
  return b;
}
