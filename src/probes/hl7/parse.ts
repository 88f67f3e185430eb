/**
 * HL7 v2 over MLLP: pure functions, bytes in and typed values out, no socket (STYLE.md §2).
 *
 * Framing. The Minimal Lower Layer Protocol wraps each message as
 * `<SB> message <EB><CR>` with SB = 0x0B, EB = 0x1C, CR = 0x0D (HL7 v2.5 Appendix C
 * "Lower Layer Protocols", §C.4.2 MLLP block format). Nothing in the block says how long it is,
 * so a reader that waits for <EB> must bound what it buffers: `scanFrame` refuses a block larger
 * than HL7_LIMITS.frameBytes, and the probe bounds the wait in time.
 *
 * Message. Segments end with <CR> (HL7 v2.5 Ch. 2 §2.5.2). The MSH segment defines the message's
 * own delimiters: MSH-1 is the field separator (the character right after "MSH"), MSH-2 the
 * encoding characters, in order component, repetition, escape, sub-component (HL7 v2.5 Ch. 2
 * §2.15.9.1, §2.15.9.2; v2.7 adds a fifth, truncation). Every later field is split with those.
 *
 * What is kept (HL7 v2.5 Ch. 2 §2.15.9 MSH, §2.15.8 MSA, §2.15.5 ERR, §5.5.2 QAK): coded fields
 * only. MSH-3/4 (the server's sending application and facility: identity, bounded), MSH-5/6,
 * MSH-9 message type, MSH-10 control id, MSH-11 processing id, MSH-12 version; MSA-1 the
 * acknowledgment code (table 0008), MSA-2 the control id it answers, MSA-6.1; ERR-1 location and
 * code, ERR-2 location, ERR-3.1 HL7 error code (table 0357), ERR-4 severity (table 0516), ERR-5.1
 * application error code (error codes numeric, at most three digits); QAK-2 query response
 * status (table 0208). Never MSA-3, ERR-6/7/8 or
 * any other segment's content: replies echo data (ACKs echo MSH fields, some servers copy the
 * whole inbound message into ERR-7 or MSA-3), and free text may carry a patient's name.
 *
 * Hostile input: every length is bounded before it is used, every regex runs on a truncated
 * value, and anything malformed throws ProtocolError and nothing else.
 */
import { ProtocolError } from '../../core/errors.js';

/** MLLP block characters (HL7 v2.5 Appendix C §C.4.2). */
export const MLLP = { START: 0x0b, END: 0x1c, CR: 0x0d } as const;

/** Named caps for everything an HL7 peer controls. */
export const HL7_LIMITS = {
  /** Largest MLLP block (start block to end block) we read. A real ACK is well under 1 KiB. */
  frameBytes: 64 * 1024,
  /** Stray CR/LF bytes tolerated before the start block (left over from a previous exchange). */
  leadingWhitespace: 8,
  /** Segments looked at in one message; the rest are counted, not parsed. */
  segments: 256,
  /** ERR segments (and ERR-1 repetitions) kept. */
  errors: 8,
  /** Distinct segment ids kept. */
  segmentIds: 32,
  /** MSH-3/4/5/6 (HD namespace id, or universal id): identity, bounded. */
  identityChars: 64,
  /** MSH-10 / MSA-2 (ST, 20 in v2.5, 199 from v2.7). */
  controlIdChars: 64,
  /** Any other coded value (ID, IS, CWE identifier). */
  codeChars: 20,
} as const;

/** Acknowledgment codes, HL7 table 0008 (v2.5 Ch. 2 §2.15.8.1). */
export const ACK_CODES = ['AA', 'AE', 'AR', 'CA', 'CE', 'CR'] as const;
export type AckCode = (typeof ACK_CODES)[number];

// ---------------------------------------------------------------------------------------------
// framing

/** Wraps a message in an MLLP block. The payload must not contain SB or EB (they cannot be escaped). */
export function encodeFrame(payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  if (body.includes(MLLP.START) || body.includes(MLLP.END)) {
    throw new ProtocolError('an MLLP payload may not contain the start (0x0B) or end (0x1C) block character');
  }
  if (body.length + 3 > HL7_LIMITS.frameBytes) throw new ProtocolError(`MLLP payload of ${body.length} bytes exceeds the frame cap`);
  const out = Buffer.allocUnsafe(body.length + 3);
  out[0] = MLLP.START;
  body.copy(out, 1);
  out[body.length + 1] = MLLP.END;
  out[body.length + 2] = MLLP.CR;
  return out;
}

/** How a reply was framed. */
export type Framing = 'mllp' | 'mllp-no-cr' | 'unframed';

export type FrameScan =
  /** More bytes are needed. */
  | { state: 'incomplete' }
  /** The reply starts with "MSH" without a start block: HL7 over bare TCP; read until the peer stops. */
  | { state: 'unframed' }
  /**
   * A whole block. `payload` is the message between SB and EB; `end` is the offset just past the
   * block (EB, and CR when there is one). `mllp-no-cr`: EB was followed by something other than CR.
   */
  | { state: 'frame'; payload: Buffer; framing: 'mllp' | 'mllp-no-cr'; end: number };

const MSH = Buffer.from('MSH', 'latin1');

/**
 * Looks for one MLLP block at the start of `buf` (the bytes read so far). Throws ProtocolError
 * when the bytes cannot be an HL7 reply, or when the block grows past `cap` without an end block.
 */
export function scanFrame(buf: Buffer, cap: number = HL7_LIMITS.frameBytes): FrameScan {
  let at = 0;
  while (at < buf.length && at < HL7_LIMITS.leadingWhitespace && (buf[at] === 0x0d || buf[at] === 0x0a)) at++;
  if (at >= buf.length) {
    if (buf.length >= HL7_LIMITS.leadingWhitespace) throw new ProtocolError('only line ends where an MLLP start block was expected');
    return { state: 'incomplete' };
  }
  const first = buf[at]!;
  if (first !== MLLP.START) {
    const head = buf.subarray(at, at + 3);
    if (MSH.subarray(0, head.length).equals(head)) return head.length === 3 ? { state: 'unframed' } : { state: 'incomplete' };
    throw new ProtocolError(`not an MLLP reply: first byte 0x${first.toString(16).padStart(2, '0')} (expected start block 0x0b)`);
  }
  const endAt = buf.indexOf(MLLP.END, at + 1);
  if (endAt < 0) {
    // No room left for the end block inside the cap (the block, SB through EB, is at most `cap` bytes).
    if (buf.length - at >= cap) throw new ProtocolError(`MLLP block exceeds ${cap} bytes without an end block`);
    return { state: 'incomplete' };
  }
  if (endAt + 1 - at > cap) throw new ProtocolError(`MLLP block exceeds ${cap} bytes`);
  if (endAt + 1 >= buf.length) return { state: 'incomplete' };
  const payload = buf.subarray(at + 1, endAt);
  if (buf[endAt + 1] === MLLP.CR) return { state: 'frame', payload, framing: 'mllp', end: endAt + 2 };
  return { state: 'frame', payload, framing: 'mllp-no-cr', end: endAt + 1 };
}

/**
 * What the bytes are once the peer has stopped sending (closed, or went quiet): a block whose end
 * block is the last byte is accepted without its CR; an unframed reply is taken whole; anything
 * else is a truncated block.
 */
export function finishFrame(buf: Buffer, cap: number = HL7_LIMITS.frameBytes): { payload: Buffer; framing: Framing } {
  const s = scanFrame(buf, cap);
  if (s.state === 'frame') return { payload: s.payload, framing: s.framing };
  if (s.state === 'unframed') {
    if (buf.length > cap) throw new ProtocolError(`unframed HL7 reply exceeds ${cap} bytes`);
    let start = 0;
    while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
    return { payload: buf.subarray(start), framing: 'unframed' };
  }
  let start = 0;
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  if (buf[start] === MLLP.START && buf.length >= 2 && buf[buf.length - 1] === MLLP.END) {
    return { payload: buf.subarray(start + 1, buf.length - 1), framing: 'mllp-no-cr' };
  }
  throw new ProtocolError(buf.length === 0 ? 'no reply' : `truncated MLLP block (${buf.length} bytes, no end block)`);
}

/** Strict inverse of encodeFrame: exactly one whole block, nothing before or after. */
export function decodeFrame(buf: Buffer): Buffer {
  const s = scanFrame(buf, Math.max(HL7_LIMITS.frameBytes, 0));
  if (s.state !== 'frame' || s.framing !== 'mllp' || s.end !== buf.length || buf[0] !== MLLP.START) {
    throw new ProtocolError('not exactly one complete MLLP block');
  }
  return s.payload;
}

// ---------------------------------------------------------------------------------------------
// message

export interface Delimiters {
  field: string;
  component: string;
  repetition: string | null;
  escape: string | null;
  subcomponent: string | null;
}

export interface Hl7ErrorEntry {
  /** ERR-3.1 (v2.5 HL7 error code, table 0357), else ERR-1.4.1 (v2.1–2.4 "code identifying error"). */
  code: string | null;
  /** ERR-4 (table 0516: E, W, I, F). */
  severity: string | null;
  /** ERR-2 (ERL), else ERR-1.1–3, as `SEG-field[.component[.subcomponent]]` or `SEG`. */
  location: string | null;
  /** ERR-5.1 application error code. */
  applicationCode: string | null;
}

export interface Hl7Message {
  delimiters: Delimiters;
  /** MSH-1 and MSH-2 as sent (`|^~\&`). */
  delimiterText: string;
  msh: {
    sendingApplication: string | null;
    sendingFacility: string | null;
    receivingApplication: string | null;
    receivingFacility: string | null;
    /** MSH-9 components 1–3 joined by `^` (`ACK^A19^ACK`). */
    messageType: string | null;
    messageCode: string | null;
    triggerEvent: string | null;
    controlId: string | null;
    /** MSH-11.1 (table 0103: D, P, T). */
    processingId: string | null;
    /** MSH-12.1. */
    version: string | null;
  };
  msa: {
    ackCode: AckCode | null;
    /** MSA-1 was present but not a table 0008 value. */
    ackCodeUnknown: boolean;
    controlId: string | null;
    /** MSA-6.1 (error condition, kept for v2.1–2.4 peers that have no ERR-3). */
    errorCondition: string | null;
  } | null;
  errors: Hl7ErrorEntry[];
  /** QAK-2 query response status (table 0208: OK, NF, AE, AR). */
  queryStatus: string | null;
  /** Distinct segment ids in order of first appearance (bounded). */
  segmentIds: string[];
  segmentCount: number;
  /** PID segments: records that crossed (their content is never read). */
  pidSegments: number;
}

/** Printable ASCII only, trimmed, bounded; null when nothing is left. */
export function boundedText(value: string, max: number): string | null {
  const cut = value.length > max * 4 ? value.slice(0, max * 4) : value;
  const clean = cut.replace(/[^\x20-\x7e]/g, '?').trim();
  if (clean.length === 0) return null;
  return clean.length > max ? clean.slice(0, max) : clean;
}

const CODE = /^[A-Za-z0-9][A-Za-z0-9._:+-]*$/;

/** A coded value (ID, IS, CWE identifier): letters, digits and `._:+-`, bounded; anything else is dropped. */
export function codedValue(value: string, max: number = HL7_LIMITS.codeChars): string | null {
  const v = value.length > max + 8 ? value.slice(0, max + 8).trim() : value.trim();
  if (v.length === 0 || v.length > max || !CODE.test(v)) return null;
  return v;
}

const SEGMENT_ID = /^[A-Z][A-Z0-9]{2}$/;

/**
 * An error code: table 0357 (HL7 error codes: 0, 100-104, 198-207) and table 0533 (application
 * error codes) are numeric. At most three digits are kept: a locally defined "code" that is
 * longer could be an echoed identifier, and three digits identify no one.
 */
export function errorCode(value: string): string | null {
  const v = codedValue(value, 3);
  return v !== null && /^\d{1,3}$/.test(v) ? v : null;
}

function isDelimiterChar(c: string): boolean {
  const code = c.charCodeAt(0);
  return code >= 0x21 && code <= 0x7e && !/[A-Za-z0-9]/.test(c);
}

/** Reads MSH-1 and MSH-2 (HL7 v2.5 Ch. 2 §2.15.9.1–2). */
function delimitersOf(msh: string): { delimiters: Delimiters; text: string } {
  if (msh.length < 5 || !msh.startsWith('MSH')) throw new ProtocolError('the message does not start with an MSH segment');
  const field = msh[3]!;
  if (!isDelimiterChar(field)) throw new ProtocolError('MSH-1 (field separator) is not a printable delimiter');
  const next = msh.indexOf(field, 4);
  const enc = next < 0 ? msh.slice(4) : msh.slice(4, next);
  if (enc.length < 1 || enc.length > 5) throw new ProtocolError(`MSH-2 (encoding characters) has ${enc.length} characters (1 to 5 expected)`);
  const seen = new Set<string>([field]);
  for (const c of enc) {
    if (!isDelimiterChar(c) || seen.has(c)) throw new ProtocolError('MSH-2 (encoding characters) holds a repeated or non-delimiter character');
    seen.add(c);
  }
  return {
    delimiters: {
      field,
      component: enc[0]!,
      repetition: enc[1] ?? null,
      escape: enc[2] ?? null,
      subcomponent: enc[3] ?? null,
    },
    text: `${field}${enc}`,
  };
}

class Fields {
  constructor(
    private readonly parts: string[],
    private readonly d: Delimiters,
    /** MSH numbers fields from the separator itself: parts[1] is MSH-2. */
    private readonly offset: number,
  ) {}

  /** Field n, first repetition. */
  field(n: number): string {
    const raw = this.parts[n - this.offset] ?? '';
    return this.d.repetition ? (raw.split(this.d.repetition, 1)[0] ?? '') : raw;
  }

  /** All repetitions of field n (bounded). */
  repetitions(n: number, max: number): string[] {
    const raw = this.parts[n - this.offset] ?? '';
    if (raw === '') return [];
    return this.d.repetition ? raw.split(this.d.repetition, max) : [raw];
  }

  component(n: number, c: number): string {
    return componentOf(this.field(n), c, this.d);
  }
}

function componentOf(value: string, c: number, d: Delimiters): string {
  return value.split(d.component, c)[c - 1] ?? '';
}

function subcomponentOf(value: string, s: number, d: Delimiters): string {
  if (!d.subcomponent) return s === 1 ? value : '';
  return value.split(d.subcomponent, s)[s - 1] ?? '';
}

/** HD (hierarchic designator): the namespace id, or the universal id when there is none. */
function hd(value: string, d: Delimiters): string | null {
  const ns = subcomponentOf(componentOf(value, 1, d), 1, d);
  const text = boundedText(ns, HL7_LIMITS.identityChars);
  if (text) return text;
  return boundedText(subcomponentOf(componentOf(value, 2, d), 1, d), HL7_LIMITS.identityChars);
}

/** `SEG-field[.component[.subcomponent]]` from validated parts, or null. */
function location(seg: string, fieldNo: string, comp: string, sub: string): string | null {
  const s = seg.trim();
  if (!SEGMENT_ID.test(s.slice(0, 4))) return null;
  const num = (x: string) => {
    const t = x.trim();
    return /^\d{1,4}$/.test(t) ? String(Number(t)) : null;
  };
  const f = num(fieldNo);
  if (!f || f === '0') return s;
  const c = num(comp);
  const sc = c ? num(sub) : null;
  return `${s}-${f}${c && c !== '0' ? `.${c}${sc && sc !== '0' ? `.${sc}` : ''}` : ''}`;
}

function errEntries(seg: Fields, d: Delimiters): Hl7ErrorEntry[] {
  // ERR-2 (ERL): segment id ^ sequence ^ field ^ field repetition ^ component ^ sub-component.
  const erl = seg.field(2);
  const loc2 = erl ? location(componentOf(erl, 1, d), componentOf(erl, 3, d), componentOf(erl, 5, d), componentOf(erl, 6, d)) : null;
  const code3 = errorCode(subcomponentOf(seg.component(3, 1), 1, d));
  const severity = codedValue(seg.component(4, 1), 1);
  const app = errorCode(subcomponentOf(seg.component(5, 1), 1, d));
  // ERR-1 (ELD, v2.1–2.4; kept "for backward compatibility" in v2.5): segment ^ sequence ^ field ^ code (CE, sub-components).
  const eld = seg.repetitions(1, HL7_LIMITS.errors);
  const out: Hl7ErrorEntry[] = [];
  if (eld.length === 0) {
    if (code3 || severity || loc2 || app) out.push({ code: code3, severity: severity && /^[EWIF]$/.test(severity) ? severity : null, location: loc2, applicationCode: app });
    return out;
  }
  eld.forEach((rep, i) => {
    const loc1 = location(componentOf(rep, 1, d), componentOf(rep, 3, d), '', '');
    const code1 = errorCode(subcomponentOf(componentOf(rep, 4, d), 1, d));
    const first = i === 0;
    const entry: Hl7ErrorEntry = {
      code: (first ? code3 : null) ?? code1,
      severity: first && severity && /^[EWIF]$/.test(severity) ? severity : null,
      location: (first ? loc2 : null) ?? loc1,
      applicationCode: first ? app : null,
    };
    if (entry.code || entry.severity || entry.location || entry.applicationCode) out.push(entry);
  });
  return out;
}

/**
 * Parses an HL7 v2 message (the payload of an MLLP block, or an unframed reply). Segment
 * terminator <CR>; a <LF> or <CR><LF> is tolerated, as many peers send one.
 */
export function parseMessage(payload: Buffer): Hl7Message {
  if (payload.length > HL7_LIMITS.frameBytes) throw new ProtocolError(`HL7 message of ${payload.length} bytes exceeds the cap`);
  const text = payload.toString('latin1');
  let start = 0;
  while (start < text.length && (text[start] === '\r' || text[start] === '\n')) start++;
  const segments = text.slice(start).split(/\r\n|\r|\n/, HL7_LIMITS.segments + 1);
  const { delimiters: d, text: delimiterText } = delimitersOf(segments[0] ?? '');
  const mshParts = (segments[0] ?? '').split(d.field, 32);
  // parts[0] = "MSH", parts[1] = MSH-2: MSH-n is parts[n - 1].
  const msh = new Fields(mshParts, d, 1);
  const typeParts = [1, 2, 3].map((c) => codedValue(subcomponentOf(msh.component(9, c), 1, d), 7));
  while (typeParts.length > 0 && typeParts[typeParts.length - 1] === null) typeParts.pop();
  const messageType = typeParts.length > 0 && typeParts[0] ? typeParts.map((p) => p ?? '').join('^') : null;
  const processingId = codedValue(msh.component(11, 1), 1);

  const out: Hl7Message = {
    delimiters: d,
    delimiterText,
    msh: {
      sendingApplication: hd(msh.field(3), d),
      sendingFacility: hd(msh.field(4), d),
      receivingApplication: hd(msh.field(5), d),
      receivingFacility: hd(msh.field(6), d),
      messageType,
      messageCode: typeParts[0] ?? null,
      triggerEvent: typeParts[1] ?? null,
      controlId: boundedCode(msh.field(10), HL7_LIMITS.controlIdChars),
      processingId: processingId && /^[A-Z]$/.test(processingId) ? processingId : null,
      version: versionOf(msh.component(12, 1)),
    },
    msa: null,
    errors: [],
    queryStatus: null,
    segmentIds: [],
    segmentCount: 0,
    pidSegments: 0,
  };

  const ids = new Set<string>();
  const limit = Math.min(segments.length, HL7_LIMITS.segments);
  for (let i = 0; i < limit; i++) {
    const seg = segments[i]!;
    if (seg.length === 0) continue;
    out.segmentCount++;
    const id = seg.slice(0, 3);
    if (!SEGMENT_ID.test(id) || (seg.length > 3 && seg[3] !== d.field)) continue;
    if (ids.size < HL7_LIMITS.segmentIds) ids.add(id);
    if (id === 'PID') {
      out.pidSegments++;
      continue;
    }
    if (id !== 'MSA' && id !== 'ERR' && id !== 'QAK') continue;
    // Non-MSH segments number fields from the first separator: parts[1] is SEG-1.
    const f = new Fields(seg.split(d.field, 16), d, 0);
    if (id === 'MSA' && out.msa === null) {
      const raw = f.component(1, 1).trim();
      const ack = (ACK_CODES as readonly string[]).includes(raw) ? (raw as AckCode) : null;
      out.msa = {
        ackCode: ack,
        ackCodeUnknown: ack === null && raw.length > 0,
        controlId: boundedCode(f.field(2), HL7_LIMITS.controlIdChars),
        errorCondition: errorCode(subcomponentOf(f.component(6, 1), 1, d)),
      };
    } else if (id === 'ERR' && out.errors.length < HL7_LIMITS.errors) {
      for (const e of errEntries(f, d)) if (out.errors.length < HL7_LIMITS.errors) out.errors.push(e);
    } else if (id === 'QAK' && out.queryStatus === null) {
      const s = codedValue(f.component(2, 1), 2);
      out.queryStatus = s && /^[A-Z]{2}$/.test(s) ? s : null;
    }
  }
  if (segments.length > HL7_LIMITS.segments) out.segmentCount = HL7_LIMITS.segments + 1;
  out.segmentIds = [...ids];
  return out;
}

/** MSH-12.1 (VID version id, table 0104: `2.5`, `2.5.1`): digits and dots only. */
function versionOf(value: string): string | null {
  const v = codedValue(value, 16);
  return v !== null && /^\d{1,2}(\.\d{1,3}){0,3}$/.test(v) ? v : null;
}

/** A control id (ST): printable without spaces or delimiters, bounded; anything else is dropped. */
function boundedCode(value: string, max: number): string | null {
  const v = value.length > max + 8 ? value.slice(0, max + 8).trim() : value.trim();
  if (v.length === 0 || v.length > max || !/^[\x21-\x7e]+$/.test(v)) return null;
  return v;
}

// ---------------------------------------------------------------------------------------------
// what we send

export interface PatientQuery {
  /** MSH-3: who we are (honest identification). */
  sendingApplication: string;
  /** MSH-4. */
  sendingFacility: string;
  /** MSH-7 and QRD-1, `YYYYMMDDHHMMSS+0000`. */
  timestamp: string;
  /** MSH-10, random. */
  controlId: string;
  /** MSH-11: D (debugging) or T (training), never P (table 0103). */
  processingId: 'D' | 'T';
  /** MSH-12. */
  version: string;
  /** QRD-4 query id (ST, 10 characters in v2.5), random. */
  queryId: string;
  /** QRD-8 who subject filter: a random patient id that no system holds. */
  patientId: string;
}

/** Drops every HL7 delimiter and control character, so a value can never break the message. */
export function hl7Safe(value: string, max: number): string {
  return value.replace(/[^\x20-\x7e]|[|^~\\&#]/g, '').slice(0, max);
}

/** `YYYYMMDDHHMMSS+0000` (HL7 DTM, UTC). */
export function hl7Timestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}+0000`;
}

/**
 * The detection message: QRY^A19 "patient query" (HL7 v2.5 Ch. 3 §3.3.19, message structure
 * QRY_A19: MSH, QRD; the original-mode query of Ch. 5 §5.10.2, retained for backward
 * compatibility and understood by engines of every vintage). Why this message:
 * - a query asks and changes nothing; it is not an ADT/ORU/ORM write (DESIGN.md: never, in any
 *   profile), and the MSH-9 of a query names no state-changing trigger event;
 * - MSH-11 processing id `D` (debugging, table 0103): a production system that honours it
 *   rejects or ignores the message, and none applies it to production data (§2.15.9.11);
 * - QRD-8 is a random patient id that no system holds, and QRD-7 asks for at most one record:
 *   if the door is open the answer is "no data" (QAK-2 NF) and no record crosses;
 * - MSH-5/6 (receiving application/facility) are left empty on purpose: engines build their
 *   ACK's MSH-3/4 from our MSH-5/6 (HAPI `fillResponseHeader`, Mirth `ACKGenerator`), so an
 *   empty pair makes a reply's MSH-3/4 say what the server itself puts there, not an echo.
 * MSH-15/16 stay empty: original acknowledgment mode (§2.9.2), one reply, nothing to acknowledge back.
 */
export function buildPatientQuery(q: PatientQuery): string {
  const app = hl7Safe(q.sendingApplication, 20);
  const fac = hl7Safe(q.sendingFacility, 20);
  const id = hl7Safe(q.controlId, 20);
  const qid = hl7Safe(q.queryId, 10);
  const pid = hl7Safe(q.patientId, 40);
  const ver = hl7Safe(q.version, 8);
  const ts = hl7Safe(q.timestamp, 24);
  const msh = `MSH|^~\\&|${app}|${fac}|||${ts}||QRY^A19^QRY_A19|${id}|${q.processingId}|${ver}`;
  const qrd = `QRD|${ts}|R|I|${qid}|||1^RD|${pid}|DEM`;
  return `${msh}\r${qrd}\r`;
}
