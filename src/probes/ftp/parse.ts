/**
 * FTP control-connection codec: replies (RFC 959 §4.2), FEAT (RFC 2389 §3) and the few commands
 * a scanner sends. Pure functions with bounded input: a reply is at most FTP_LIMITS.replyLines
 * lines of at most FTP_LIMITS.lineBytes bytes each.
 *
 * RFC 959 §4.2: a reply is a three-digit code and text on one line ("220 Service ready"), or
 * several lines, the first "xyz-text" and the last "xyz text" with the same code; lines between
 * may hold anything, including lines that begin with digits.
 */
import { ProtocolError } from '../../core/errors.js';

export const FTP_LIMITS = {
  /** Longest reply line we accept (real servers stay under 512; RFC 959 sets no limit). */
  lineBytes: 1024,
  /** Lines in one reply (a FEAT list or a long multi-line greeting stays far below). */
  replyLines: 64,
  /** Characters of a reply kept in the observation (the greeting). */
  bannerChars: 512,
  /** Feature lines kept from FEAT, and characters per feature. */
  features: 64,
  featureChars: 64,
  /** Characters of the SYST reply kept. */
  systChars: 128,
  /** Bytes one FTP session may read in all. */
  sessionBytes: 64 * 1024,
} as const;

export interface FtpReply {
  code: number;
  /** Each line without its line end, as sent (code included), latin1-decoded. */
  lines: string[];
  /** Bytes the reply took (line ends included). */
  bytes: number;
}

/**
 * Finds one line in `buf` from `start`: CRLF or a bare LF ends it (servers differ). Returns the
 * line and the index after its end, or null when no line end came yet. A line longer than the
 * cap throws: there is no point waiting for its end.
 */
function lineAt(buf: Buffer, start: number): { line: string; next: number } | null {
  const lf = buf.indexOf(0x0a, start);
  const end = lf === -1 ? buf.length : lf;
  // +1: the CR before the LF is not part of the line.
  if (end - start > FTP_LIMITS.lineBytes + 1) throw new ProtocolError(`FTP reply line longer than ${FTP_LIMITS.lineBytes} bytes`);
  if (lf === -1) return null;
  const endText = lf > start && buf[lf - 1] === 0x0d ? lf - 1 : lf;
  return { line: buf.toString('latin1', start, endText), next: lf + 1 };
}

const CODE = /^([1-5]\d\d)([ -]|$)/;

/**
 * Parses one complete reply at the start of `buf`. Returns null when more bytes are needed,
 * throws a ProtocolError when the bytes cannot be an FTP reply (no code, too many lines).
 */
export function parseReply(buf: Buffer): FtpReply | null {
  const first = lineAt(buf, 0);
  if (!first) return null;
  const m = CODE.exec(first.line);
  if (!m) throw new ProtocolError('not an FTP reply: the line does not start with a reply code');
  const code = Number(m[1]);
  const lines = [first.line];
  if (m[2] !== '-') return { code, lines, bytes: first.next };
  const last = `${m[1]} `;
  let at = first.next;
  for (;;) {
    const l = lineAt(buf, at);
    if (!l) return null;
    lines.push(l.line);
    at = l.next;
    // RFC 959 §4.2: the last line starts with the same code followed by a space. Some servers end
    // with the bare code (no text): accept that too.
    if (l.line.startsWith(last) || l.line === m[1]) return { code, lines, bytes: at };
    if (lines.length >= FTP_LIMITS.replyLines) {
      throw new ProtocolError(`FTP multi-line reply longer than ${FTP_LIMITS.replyLines} lines`);
    }
  }
}

/** Printable ASCII only, other characters dropped, bounded. */
export function printable(s: string, max: number): string {
  const out = s.replace(/[^\x20-\x7e]/g, '');
  return out.length > max ? out.slice(0, max) : out;
}

/** A reply as kept: its lines, printable, joined with newlines, bounded (codes included, as nmap matches them). */
export function replyText(r: FtpReply, max: number = FTP_LIMITS.bannerChars): string {
  return r.lines
    .map((l) => printable(l, max))
    .join('\n')
    .slice(0, max);
}

/** The text of a reply without its code ("UNIX Type: L8"), single line, bounded. */
export function replyMessage(r: FtpReply, max: number): string {
  const text = r.lines.map((l, i) => (i === 0 || i === r.lines.length - 1 ? l.replace(/^\d{3}[ -]?/, '') : l)).join(' ');
  return printable(text, max * 2)
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, max);
}

/**
 * Features from a FEAT reply (RFC 2389 §3.2): "211-..." then one feature per line, each line
 * starting with a space, then "211 End". Returned trimmed, as sent (case kept), bounded.
 */
export function parseFeatures(r: FtpReply): string[] {
  if (r.code !== 211) return [];
  const out: string[] = [];
  for (const line of r.lines.slice(1, -1)) {
    const f = printable(line, FTP_LIMITS.featureChars * 2).trim();
    if (!f) continue;
    out.push(f.slice(0, FTP_LIMITS.featureChars));
    if (out.length >= FTP_LIMITS.features) break;
  }
  return out;
}

/**
 * Does the FEAT list offer AUTH TLS (RFC 4217 §6: the server lists "AUTH" followed by the
 * mechanisms it supports, e.g. "AUTH TLS" or IIS's "AUTH TLS;TLS-C;SSL;TLS-P;")?
 */
export function featuresOfferTls(features: readonly string[]): boolean {
  return features.some((f) => /^AUTH\s+(?:.*[\s;,])?(?:TLS|TLS-C|SSL)(?:[\s;,]|$)/i.test(f));
}

/** One command line (RFC 959 §4.1: "the command codes ... followed by <CRLF>"). Refuses line breaks in arguments. */
export function encodeCommand(verb: string, arg?: string): Buffer {
  if (!/^[A-Z]{3,4}$/.test(verb)) throw new ProtocolError(`bad FTP command ${verb}`);
  if (arg !== undefined && /[\r\n\0]/.test(arg)) throw new ProtocolError('FTP argument with a line break');
  return Buffer.from(arg === undefined ? `${verb}\r\n` : `${verb} ${arg}\r\n`, 'latin1');
}

/** A reply as a server writes it (for the lab and the tests): single or multi-line. */
export function encodeReply(code: number, lines: readonly string[]): Buffer {
  if (code < 100 || code > 599 || lines.length === 0) throw new ProtocolError('bad FTP reply');
  if (lines.length === 1) return Buffer.from(`${code} ${lines[0]}\r\n`, 'latin1');
  const body = lines.slice(1, -1).map((l) => `${l}\r\n`);
  return Buffer.from(`${code}-${lines[0]}\r\n${body.join('')}${code} ${lines[lines.length - 1]}\r\n`, 'latin1');
}
