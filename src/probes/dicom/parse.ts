/**
 * DICOM upper-layer codec: PDUs (PS3.8 §9.3), user-information sub-items (PS3.7 Annex D.3.3,
 * PS3.8 Annex D), DIMSE command sets (PS3.7 §9.3, Annex E) and the small part of the data-set
 * encoding (PS3.5 §7) that C-FIND identifiers need. Pure functions, bytes in and values out,
 * no sockets.
 *
 * Everything here reads bytes from servers we do not trust:
 * - every read is bounds-checked and a short buffer throws ProtocolError (never RangeError);
 * - an item's length must fit inside its parent; at most LIMITS.dicomItems items and
 *   sub-items per PDU, LIMITS.dicomElements data elements per command or data set;
 * - unknown items are skipped and kept raw for fingerprinting, at most
 *   LIMITS.dicomUnknownItems of them and LIMITS.dicomUnknownItemBytes bytes each;
 * - text taken from the wire (AE titles, UIDs, version names) is clipped to its maximum
 *   length (16 for AE titles and version names, 64 for UIDs) and every byte outside printable
 *   ASCII (0x20-0x7E) is REPLACED WITH '?' (one character per byte, so the clip holds). In AE
 *   titles the backslash, which the AE character set excludes (PS3.5 §6.2), also becomes '?',
 *   so a parsed AE title is always accepted back by padAe().
 *
 * All PDU fields are big endian (PS3.8 §9.3.1); command sets and identifiers are little
 * endian (PS3.5 §7.3).
 */
import { ProtocolError, UsageError } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import { MEDSURFACE_IMPLEMENTATION_CLASS_UID, UID, keywordOf, vrOf } from './uids.js';

// ---------------------------------------------------------------------------------------
// PDU header
// ---------------------------------------------------------------------------------------

/** PDU types, PS3.8 §9.3.1 table 9-1 ... §9.3.8. */
export const PduType = {
  AssociateRq: 1,
  AssociateAc: 2,
  AssociateRj: 3,
  PData: 4,
  ReleaseRq: 5,
  ReleaseRp: 6,
  Abort: 7,
} as const;

/** PDU type (1), reserved (1), PDU length (4, big endian): PS3.8 §9.3.1. */
export const PDU_HEADER_LENGTH = 6;

/** Reads the 6-byte PDU header. Throws ProtocolError on a short buffer or an unknown type. */
export function parsePduHeader(buf: Buffer): { type: number; length: number } {
  if (buf.length < PDU_HEADER_LENGTH) {
    throw new ProtocolError(`truncated PDU header: ${buf.length} of ${PDU_HEADER_LENGTH} bytes`);
  }
  const type = buf[0]!;
  if (type < PduType.AssociateRq || type > PduType.Abort) {
    throw new ProtocolError(`unknown PDU type 0x${hex2(type)}`);
  }
  return { type, length: buf.readUInt32BE(2) };
}

// ---------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------

export interface RequestedContext {
  id: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
}
export interface AcceptedContext {
  id: number;
  result: number;
  transferSyntax: string | null;
}
export interface RoleSelection {
  sopClass: string;
  scu: boolean;
  scp: boolean;
}
/** An item or sub-item we do not interpret, kept for fingerprinting. */
export interface UnknownItemRaw {
  type: number;
  /** The length the peer declared (the whole value, even when `hex` is clipped). */
  length: number;
  /** First LIMITS.dicomUnknownItemBytes bytes of the value, lower-case hex. */
  hex: string;
}
export interface UserIdentityRq {
  type: number;
  positiveResponseRequested: boolean;
  primary: Buffer;
  secondary: Buffer;
}
export interface AssociateRq {
  protocolVersion: number;
  calledAe: string;
  callingAe: string;
  applicationContext: string;
  contexts: RequestedContext[];
  maxPduLength: number | null;
  implementationClassUid: string | null;
  implementationVersionName: string | null;
  asyncOps: { invoked: number; performed: number } | null;
  roleSelections: RoleSelection[];
  userIdentity: UserIdentityRq | null;
  unknownItems: UnknownItemRaw[];
}
export interface AssociateAc {
  protocolVersion: number;
  calledAe: string;
  callingAe: string;
  applicationContext: string | null;
  contexts: AcceptedContext[];
  maxPduLength: number | null;
  implementationClassUid: string | null;
  implementationVersionName: string | null;
  asyncOps: { invoked: number; performed: number } | null;
  roleSelections: RoleSelection[];
  userIdentityResponse: Buffer | null;
  unknownItems: UnknownItemRaw[];
}
export interface AssociateRj {
  result: number;
  source: number;
  reason: number;
}
export interface Abort {
  source: number;
  reason: number;
}
/** One presentation data value (PS3.8 §9.3.5.1). `data` is a view into the parsed body, not a copy. */
export interface Pdv {
  contextId: number;
  isCommand: boolean;
  isLast: boolean;
  data: Buffer;
}

/** A whole PDU, as returned by parsePdu(). */
export type ParsedPdu =
  | { type: typeof PduType.AssociateRq; value: AssociateRq }
  | { type: typeof PduType.AssociateAc; value: AssociateAc }
  | { type: typeof PduType.AssociateRj; value: AssociateRj }
  | { type: typeof PduType.PData; value: Pdv[] }
  | { type: typeof PduType.ReleaseRq; value: null }
  | { type: typeof PduType.ReleaseRp; value: null }
  | { type: typeof PduType.Abort; value: Abort };

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

function need(buf: Buffer, offset: number, n: number, what: string): void {
  if (offset + n > buf.length) {
    throw new ProtocolError(`truncated ${what}: need ${n} bytes at offset ${offset}, have ${Math.max(0, buf.length - offset)}`);
  }
}

const AE_MAX = 16;
const UID_MAX = 64;
const VERSION_NAME_MAX = 16;
/** Nesting depth of sequences we follow when skipping undefined-length items. */
const MAX_SEQUENCE_DEPTH = 16;

/**
 * Decodes wire text: drops trailing NUL/space padding (and leading spaces when asked),
 * clips to `max` characters, and replaces bytes outside 0x20-0x7E (and the backslash when
 * `noBackslash`) with '?'. The all-printable case is one latin1 decode, no per-byte strings.
 */
function wireText(buf: Buffer, start: number, end: number, max: number, trimLeading: boolean, noBackslash: boolean): string {
  while (end > start && (buf[end - 1] === 0x20 || buf[end - 1] === 0x00)) end--;
  if (trimLeading) while (start < end && buf[start] === 0x20) start++;
  if (end - start > max) end = start + max;
  let clean = true;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b < 0x20 || b > 0x7e || (noBackslash && b === 0x5c)) {
      clean = false;
      break;
    }
  }
  if (clean) return buf.toString('latin1', start, end);
  const codes = new Array<number>(end - start);
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    codes[i - start] = b < 0x20 || b > 0x7e || (noBackslash && b === 0x5c) ? 0x3f : b;
  }
  return String.fromCharCode(...codes);
}

function aeText(buf: Buffer, start: number): string {
  return wireText(buf, start, start + 16, AE_MAX, true, true);
}
function uidText(buf: Buffer, start: number, end: number): string {
  return wireText(buf, start, end, UID_MAX, false, false);
}

/**
 * Validates and pads an AE title for the wire (PS3.5 §6.2, VR AE: 16 bytes maximum, default
 * character repertoire without the backslash and control characters; leading and trailing
 * spaces are not significant). Returns the title trimmed and space-padded to exactly 16
 * characters. Throws UsageError for an empty, too long or badly formed title.
 */
export function padAe(ae: string): string {
  for (let i = 0; i < ae.length; i++) {
    const c = ae.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x5c) {
      throw new UsageError(`AE title ${JSON.stringify(ae)}: only printable ASCII without backslash is allowed (PS3.5 §6.2)`);
    }
  }
  let s = 0;
  let e = ae.length;
  while (s < e && ae.charCodeAt(s) === 0x20) s++;
  while (e > s && ae.charCodeAt(e - 1) === 0x20) e--;
  const core = ae.slice(s, e);
  if (core.length < 1 || core.length > AE_MAX) {
    throw new UsageError(`AE title ${JSON.stringify(ae)}: must have 1 to 16 significant characters (PS3.5 §6.2)`);
  }
  return core.padEnd(AE_MAX, ' ');
}

// ---------------------------------------------------------------------------------------
// Association PDUs: parsing
// ---------------------------------------------------------------------------------------

/** Protocol version (2), reserved (2), called AE (16), calling AE (16), reserved (32): PS3.8 table 9-11. */
const ASSOC_FIXED = 68;

interface Budget {
  items: number;
}

/**
 * Walks the items (or sub-items) in [start, end): type (1), reserved (1), length (2, BE),
 * value (PS3.8 §9.3.2). Each item must fit in [start, end); all items of one PDU share
 * one budget of LIMITS.dicomItems.
 */
function forEachItem(
  buf: Buffer,
  start: number,
  end: number,
  budget: Budget,
  what: string,
  fn: (type: number, vs: number, ve: number) => void,
): void {
  let off = start;
  while (off < end) {
    if (off + 4 > end) throw new ProtocolError(`truncated ${what} header at offset ${off}`);
    const type = buf[off]!;
    const len = buf.readUInt16BE(off + 2);
    const vs = off + 4;
    const ve = vs + len;
    if (ve > end) {
      throw new ProtocolError(`${what} 0x${hex2(type)} at offset ${off}: length ${len} overruns its parent (${end - vs} bytes left)`);
    }
    if (++budget.items > LIMITS.dicomItems) {
      throw new ProtocolError(`more than ${LIMITS.dicomItems} items in one PDU`);
    }
    fn(type, vs, ve);
    off = ve;
  }
}

function keepUnknown(list: UnknownItemRaw[], buf: Buffer, type: number, vs: number, ve: number): void {
  if (list.length >= LIMITS.dicomUnknownItems) return;
  list.push({ type, length: ve - vs, hex: buf.toString('hex', vs, Math.min(ve, vs + LIMITS.dicomUnknownItemBytes)) });
}

interface UserInfo {
  maxPduLength: number | null;
  implementationClassUid: string | null;
  implementationVersionName: string | null;
  asyncOps: { invoked: number; performed: number } | null;
  roleSelections: RoleSelection[];
  userIdentity: UserIdentityRq | null;
  userIdentityResponse: Buffer | null;
}

/** User information sub-items, PS3.8 Annex D.1 and PS3.7 Annex D.3.3. */
function parseUserInfo(buf: Buffer, vs: number, ve: number, isRq: boolean, budget: Budget, unknown: UnknownItemRaw[], ui: UserInfo): void {
  forEachItem(buf, vs, ve, budget, 'user information sub-item', (type, s, e) => {
    const len = e - s;
    switch (type) {
      case 0x51: // Maximum length (PS3.8 D.1.1): 4 bytes.
        if (len < 4) throw new ProtocolError(`maximum-length sub-item of ${len} bytes, expected 4`);
        if (ui.maxPduLength === null) ui.maxPduLength = buf.readUInt32BE(s);
        return;
      case 0x52: // Implementation class UID (PS3.7 D.3.3.2.1).
        if (ui.implementationClassUid === null) ui.implementationClassUid = uidText(buf, s, e);
        return;
      case 0x53: // Asynchronous operations window (PS3.7 D.3.3.3.1): invoked (2), performed (2).
        if (len < 4) throw new ProtocolError(`asynchronous-operations sub-item of ${len} bytes, expected 4`);
        if (ui.asyncOps === null) ui.asyncOps = { invoked: buf.readUInt16BE(s), performed: buf.readUInt16BE(s + 2) };
        return;
      case 0x54: {
        // SCP/SCU role selection (PS3.7 D.3.3.4.1): UID length (2), UID, SCU role (1), SCP role (1).
        if (len < 2) throw new ProtocolError(`role-selection sub-item of ${len} bytes`);
        const uidLen = buf.readUInt16BE(s);
        if (2 + uidLen + 2 > len) throw new ProtocolError(`role-selection UID length ${uidLen} overruns its ${len}-byte sub-item`);
        ui.roleSelections.push({
          sopClass: uidText(buf, s + 2, s + 2 + uidLen),
          scu: buf[s + 2 + uidLen] !== 0,
          scp: buf[s + 3 + uidLen] !== 0,
        });
        return;
      }
      case 0x55: // Implementation version name (PS3.7 D.3.3.2.3): 1..16 characters.
        if (ui.implementationVersionName === null) {
          ui.implementationVersionName = wireText(buf, s, e, VERSION_NAME_MAX, false, false);
        }
        return;
      case 0x58: {
        if (!isRq) break;
        // User identity (PS3.7 D.3.3.7.1): type (1), positive response requested (1),
        // primary length (2), primary, secondary length (2), secondary.
        if (len < 4) throw new ProtocolError(`user-identity sub-item of ${len} bytes`);
        const pLen = buf.readUInt16BE(s + 2);
        if (4 + pLen + 2 > len) throw new ProtocolError(`user-identity primary field length ${pLen} overruns its sub-item`);
        const sLen = buf.readUInt16BE(s + 4 + pLen);
        if (4 + pLen + 2 + sLen > len) throw new ProtocolError(`user-identity secondary field length ${sLen} overruns its sub-item`);
        if (ui.userIdentity === null) {
          ui.userIdentity = {
            type: buf[s]!,
            positiveResponseRequested: buf[s + 1] === 1,
            primary: Buffer.from(buf.subarray(s + 4, s + 4 + pLen)),
            secondary: Buffer.from(buf.subarray(s + 6 + pLen, s + 6 + pLen + sLen)),
          };
        }
        return;
      }
      case 0x59: {
        if (isRq) break;
        // User identity server response (PS3.7 D.3.3.7.2): response length (2), response.
        if (len < 2) throw new ProtocolError(`user-identity response sub-item of ${len} bytes`);
        const rLen = buf.readUInt16BE(s);
        if (2 + rLen > len) throw new ProtocolError(`user-identity response length ${rLen} overruns its sub-item`);
        if (ui.userIdentityResponse === null) ui.userIdentityResponse = Buffer.from(buf.subarray(s + 2, s + 2 + rLen));
        return;
      }
    }
    keepUnknown(unknown, buf, type, s, e);
  });
}

interface AssocCommon extends UserInfo {
  protocolVersion: number;
  calledAe: string;
  callingAe: string;
  applicationContext: string | null;
  requested: RequestedContext[];
  accepted: AcceptedContext[];
  unknownItems: UnknownItemRaw[];
}

/** A-ASSOCIATE-RQ / -AC body: PS3.8 §9.3.2 (table 9-11) and §9.3.3 (table 9-17). */
function parseAssociate(body: Buffer, isRq: boolean): AssocCommon {
  const what = isRq ? 'A-ASSOCIATE-RQ' : 'A-ASSOCIATE-AC';
  need(body, 0, ASSOC_FIXED, what);
  const out: AssocCommon = {
    protocolVersion: body.readUInt16BE(0),
    calledAe: aeText(body, 4),
    callingAe: aeText(body, 20),
    applicationContext: null,
    requested: [],
    accepted: [],
    maxPduLength: null,
    implementationClassUid: null,
    implementationVersionName: null,
    asyncOps: null,
    roleSelections: [],
    userIdentity: null,
    userIdentityResponse: null,
    unknownItems: [],
  };
  const budget: Budget = { items: 0 };
  let sawUserInfo = false;
  forEachItem(body, ASSOC_FIXED, body.length, budget, `${what} item`, (type, vs, ve) => {
    if (type === 0x10 && out.applicationContext === null) {
      // Application context (PS3.8 §9.3.2.1).
      out.applicationContext = uidText(body, vs, ve);
      return;
    }
    if (type === 0x20 && isRq) {
      // Presentation context, request (PS3.8 §9.3.2.2): id (1), reserved (3), sub-items.
      if (ve - vs < 4) throw new ProtocolError(`presentation context item of ${ve - vs} bytes`);
      const ctx: RequestedContext = { id: body[vs]!, abstractSyntax: '', transferSyntaxes: [] };
      let sawAbstract = false;
      forEachItem(body, vs + 4, ve, budget, 'presentation context sub-item', (st, s, e) => {
        if (st === 0x30 && !sawAbstract) {
          sawAbstract = true;
          ctx.abstractSyntax = uidText(body, s, e);
        } else if (st === 0x40) {
          ctx.transferSyntaxes.push(uidText(body, s, e));
        }
      });
      if (!sawAbstract) throw new ProtocolError(`presentation context ${ctx.id} has no abstract syntax sub-item`);
      out.requested.push(ctx);
      return;
    }
    if (type === 0x21 && !isRq) {
      // Presentation context, answer (PS3.8 §9.3.3.2): id (1), reserved (1), result (1), reserved (1), sub-item.
      if (ve - vs < 4) throw new ProtocolError(`presentation context item of ${ve - vs} bytes`);
      const ctx: AcceptedContext = { id: body[vs]!, result: body[vs + 2]!, transferSyntax: null };
      let sawTransfer = false;
      forEachItem(body, vs + 4, ve, budget, 'presentation context sub-item', (st, s, e) => {
        if (st === 0x40 && !sawTransfer) {
          sawTransfer = true;
          const ts = uidText(body, s, e);
          ctx.transferSyntax = ts === '' ? null : ts;
        }
      });
      out.accepted.push(ctx);
      return;
    }
    if (type === 0x50 && !sawUserInfo) {
      sawUserInfo = true;
      parseUserInfo(body, vs, ve, isRq, budget, out.unknownItems, out);
      return;
    }
    keepUnknown(out.unknownItems, body, type, vs, ve);
  });
  return out;
}

/** Parses an A-ASSOCIATE-RQ body (the bytes after the 6-byte header), PS3.8 §9.3.2. */
export function parseAssociateRq(body: Buffer): AssociateRq {
  const c = parseAssociate(body, true);
  return {
    protocolVersion: c.protocolVersion,
    calledAe: c.calledAe,
    callingAe: c.callingAe,
    applicationContext: c.applicationContext ?? '',
    contexts: c.requested,
    maxPduLength: c.maxPduLength,
    implementationClassUid: c.implementationClassUid,
    implementationVersionName: c.implementationVersionName,
    asyncOps: c.asyncOps,
    roleSelections: c.roleSelections,
    userIdentity: c.userIdentity,
    unknownItems: c.unknownItems,
  };
}

/** Parses an A-ASSOCIATE-AC body, PS3.8 §9.3.3. The AE fields echo the request (not tested by the standard). */
export function parseAssociateAc(body: Buffer): AssociateAc {
  const c = parseAssociate(body, false);
  return {
    protocolVersion: c.protocolVersion,
    calledAe: c.calledAe,
    callingAe: c.callingAe,
    applicationContext: c.applicationContext,
    contexts: c.accepted,
    maxPduLength: c.maxPduLength,
    implementationClassUid: c.implementationClassUid,
    implementationVersionName: c.implementationVersionName,
    asyncOps: c.asyncOps,
    roleSelections: c.roleSelections,
    userIdentityResponse: c.userIdentityResponse,
    unknownItems: c.unknownItems,
  };
}

/** A-ASSOCIATE-RJ body, PS3.8 §9.3.4 table 9-21: reserved (1), result (1), source (1), reason (1). */
export function parseAssociateRj(body: Buffer): AssociateRj {
  need(body, 0, 4, 'A-ASSOCIATE-RJ');
  return { result: body[1]!, source: body[2]!, reason: body[3]! };
}

/** A-ABORT body, PS3.8 §9.3.8 table 9-26: reserved (2), source (1), reason (1). */
export function parseAbort(body: Buffer): Abort {
  need(body, 0, 4, 'A-ABORT');
  return { source: body[2]!, reason: body[3]! };
}

/**
 * P-DATA-TF body, PS3.8 §9.3.5: one or more PDV items, each item length (4, BE) covering
 * context id (1), message control header (1: bit 0 command, bit 1 last fragment) and the
 * fragment (PS3.8 Annex E.2). An item length below 2, an item that overruns the body, an
 * empty body, or more than LIMITS.dicomItems PDVs throw ProtocolError.
 */
export function parsePData(body: Buffer): Pdv[] {
  if (body.length === 0) throw new ProtocolError('P-DATA-TF without any PDV item');
  const out: Pdv[] = [];
  let off = 0;
  while (off < body.length) {
    need(body, off, 4, 'PDV item length');
    const len = body.readUInt32BE(off);
    if (len < 2) throw new ProtocolError(`PDV item length ${len} at offset ${off}: at least 2 expected`);
    need(body, off + 4, len, 'PDV item');
    if (out.length >= LIMITS.dicomItems) throw new ProtocolError(`more than ${LIMITS.dicomItems} PDV items in one P-DATA-TF`);
    const hdr = body[off + 5]!;
    out.push({
      contextId: body[off + 4]!,
      isCommand: (hdr & 0x01) !== 0,
      isLast: (hdr & 0x02) !== 0,
      data: body.subarray(off + 6, off + 4 + len),
    });
    off += 4 + len;
  }
  return out;
}

/**
 * Parses a whole PDU (header and body). The buffer must hold exactly one PDU: a length
 * field that disagrees with the buffer (a truncated PDU, or trailing bytes) throws ProtocolError.
 * Size caps (LIMITS.dicomAssocPdu, LIMITS.dicomDataPdu) are the reader's job, before it buffers.
 */
export function parsePdu(buf: Buffer): ParsedPdu {
  const { type, length } = parsePduHeader(buf);
  if (buf.length - PDU_HEADER_LENGTH !== length) {
    throw new ProtocolError(`PDU type 0x${hex2(type)} declares ${length} body bytes, buffer holds ${buf.length - PDU_HEADER_LENGTH}`);
  }
  const body = buf.subarray(PDU_HEADER_LENGTH);
  switch (type) {
    case PduType.AssociateRq:
      return { type, value: parseAssociateRq(body) };
    case PduType.AssociateAc:
      return { type, value: parseAssociateAc(body) };
    case PduType.AssociateRj:
      return { type, value: parseAssociateRj(body) };
    case PduType.PData:
      return { type, value: parsePData(body) };
    case PduType.ReleaseRq:
      need(body, 0, 4, 'A-RELEASE-RQ');
      return { type, value: null };
    case PduType.ReleaseRp:
      need(body, 0, 4, 'A-RELEASE-RP');
      return { type, value: null };
    default:
      return { type: PduType.Abort, value: parseAbort(body) };
  }
}

// ---------------------------------------------------------------------------------------
// Association PDUs: encoding
// ---------------------------------------------------------------------------------------

/** Default maximum P-DATA-TF length we announce (PS3.8 D.1.1); well inside LIMITS.dicomDataPdu. */
export const DEFAULT_MAX_PDU_LENGTH = 16384;

function pduHeader(type: number, bodyLength: number): Buffer {
  const b = Buffer.alloc(PDU_HEADER_LENGTH);
  b[0] = type;
  b.writeUInt32BE(bodyLength, 2);
  return b;
}

function item(type: number, value: Buffer): Buffer {
  if (value.length > 0xffff) throw new UsageError(`item 0x${hex2(type)} value of ${value.length} bytes exceeds 65535`);
  const b = Buffer.allocUnsafe(4 + value.length);
  b[0] = type;
  b[1] = 0;
  b.writeUInt16BE(value.length, 2);
  value.copy(b, 4);
  return b;
}

function textItem(type: number, text: string): Buffer {
  return item(type, Buffer.from(text, 'latin1'));
}

function u16(n: number, what: string): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new UsageError(`${what} ${n} is not a 16-bit unsigned integer`);
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(n, 0);
  return b;
}

function byte(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xff) throw new UsageError(`${what} ${n} is not a byte`);
  return n;
}

function fixedPart(protocolVersion: number, calledAe: string, callingAe: string): Buffer {
  const b = Buffer.alloc(ASSOC_FIXED);
  u16(protocolVersion, 'protocol version').copy(b, 0);
  b.write(padAe(calledAe), 4, 16, 'latin1');
  b.write(padAe(callingAe), 20, 16, 'latin1');
  return b;
}

function isUserInfoType(type: number): boolean {
  return type >= 0x50 && type <= 0x5f;
}

function unknownToItem(u: UnknownItemRaw): Buffer {
  return item(byte(u.type, 'unknown item type'), Buffer.from(u.hex, 'hex'));
}

interface UserInfoIn {
  maxPduLength: number | null;
  implementationClassUid: string | null;
  implementationVersionName: string | null;
  asyncOps: { invoked: number; performed: number } | null;
  roleSelections: RoleSelection[];
  unknownItems: UnknownItemRaw[];
  identity: Buffer | null;
}

/**
 * User information item (PS3.8 §9.3.2.3, Annex D): maximum length, implementation class UID,
 * asynchronous operations window, role selections, implementation version name, unknown
 * sub-items (0x50-0x5F, kept raw), then the user identity sub-item.
 */
function userInfoItem(u: UserInfoIn): Buffer {
  const subs: Buffer[] = [];
  if (u.maxPduLength !== null) {
    if (!Number.isInteger(u.maxPduLength) || u.maxPduLength < 0 || u.maxPduLength > 0xffffffff) {
      throw new UsageError(`maximum PDU length ${u.maxPduLength} is not a 32-bit unsigned integer`);
    }
    const v = Buffer.allocUnsafe(4);
    v.writeUInt32BE(u.maxPduLength, 0);
    subs.push(item(0x51, v));
  }
  if (u.implementationClassUid !== null) subs.push(textItem(0x52, u.implementationClassUid));
  if (u.asyncOps !== null) {
    subs.push(item(0x53, Buffer.concat([u16(u.asyncOps.invoked, 'async invoked'), u16(u.asyncOps.performed, 'async performed')])));
  }
  for (const r of u.roleSelections) {
    const uid = Buffer.from(r.sopClass, 'latin1');
    subs.push(item(0x54, Buffer.concat([u16(uid.length, 'role UID length'), uid, Buffer.from([r.scu ? 1 : 0, r.scp ? 1 : 0])])));
  }
  if (u.implementationVersionName !== null) subs.push(textItem(0x55, u.implementationVersionName));
  for (const x of u.unknownItems) if (isUserInfoType(x.type)) subs.push(unknownToItem(x));
  if (u.identity !== null) subs.push(u.identity);
  return item(0x50, Buffer.concat(subs));
}

function finishPdu(type: number, parts: Buffer[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  return Buffer.concat([pduHeader(type, len), ...parts], PDU_HEADER_LENGTH + len);
}

/**
 * Encodes a whole A-ASSOCIATE-RQ PDU (PS3.8 §9.3.2). Defaults: protocol version 1, the DICOM
 * application context, maximum PDU length DEFAULT_MAX_PDU_LENGTH, our implementation class
 * UID, no version name, no asynchronous window, no roles, no user identity. `null` leaves a
 * sub-item out. Unknown items are written back raw (types 0x50-0x5F inside the user
 * information item, others at top level). AE titles go through padAe (UsageError if invalid).
 */
export function encodeAssociateRq(rq: Partial<AssociateRq> & Pick<AssociateRq, 'calledAe' | 'callingAe' | 'contexts'>): Buffer {
  const parts: Buffer[] = [fixedPart(rq.protocolVersion ?? 1, rq.calledAe, rq.callingAe)];
  parts.push(textItem(0x10, rq.applicationContext ?? UID.ApplicationContext));
  for (const c of rq.contexts) {
    const subs: Buffer[] = [Buffer.from([byte(c.id, 'presentation context id'), 0, 0, 0]), textItem(0x30, c.abstractSyntax)];
    for (const ts of c.transferSyntaxes) subs.push(textItem(0x40, ts));
    parts.push(item(0x20, Buffer.concat(subs)));
  }
  const unknown = rq.unknownItems ?? [];
  for (const x of unknown) if (!isUserInfoType(x.type)) parts.push(unknownToItem(x));
  let identity: Buffer | null = null;
  const id = rq.userIdentity ?? null;
  if (id !== null) {
    identity = item(
      0x58,
      Buffer.concat([
        Buffer.from([byte(id.type, 'user identity type'), id.positiveResponseRequested ? 1 : 0]),
        u16(id.primary.length, 'user identity primary length'),
        id.primary,
        u16(id.secondary.length, 'user identity secondary length'),
        id.secondary,
      ]),
    );
  }
  parts.push(
    userInfoItem({
      maxPduLength: rq.maxPduLength === undefined ? DEFAULT_MAX_PDU_LENGTH : rq.maxPduLength,
      implementationClassUid: rq.implementationClassUid === undefined ? MEDSURFACE_IMPLEMENTATION_CLASS_UID : rq.implementationClassUid,
      implementationVersionName: rq.implementationVersionName ?? null,
      asyncOps: rq.asyncOps ?? null,
      roleSelections: rq.roleSelections ?? [],
      unknownItems: unknown,
      identity,
    }),
  );
  return finishPdu(PduType.AssociateRq, parts);
}

/**
 * Encodes a whole A-ASSOCIATE-AC PDU (PS3.8 §9.3.3); defaults as encodeAssociateRq. Each
 * context gets one transfer syntax sub-item; a null transfer syntax is written as an empty
 * one (its value "shall not be tested" when the context is not accepted, PS3.8 table 9-18).
 */
export function encodeAssociateAc(ac: Partial<AssociateAc> & Pick<AssociateAc, 'calledAe' | 'callingAe' | 'contexts'>): Buffer {
  const parts: Buffer[] = [fixedPart(ac.protocolVersion ?? 1, ac.calledAe, ac.callingAe)];
  const appCtx = ac.applicationContext === undefined ? UID.ApplicationContext : ac.applicationContext;
  if (appCtx !== null) parts.push(textItem(0x10, appCtx));
  for (const c of ac.contexts) {
    parts.push(
      item(
        0x21,
        Buffer.concat([
          Buffer.from([byte(c.id, 'presentation context id'), 0, byte(c.result, 'presentation context result'), 0]),
          textItem(0x40, c.transferSyntax ?? ''),
        ]),
      ),
    );
  }
  const unknown = ac.unknownItems ?? [];
  for (const x of unknown) if (!isUserInfoType(x.type)) parts.push(unknownToItem(x));
  const resp = ac.userIdentityResponse ?? null;
  parts.push(
    userInfoItem({
      maxPduLength: ac.maxPduLength === undefined ? DEFAULT_MAX_PDU_LENGTH : ac.maxPduLength,
      implementationClassUid: ac.implementationClassUid === undefined ? MEDSURFACE_IMPLEMENTATION_CLASS_UID : ac.implementationClassUid,
      implementationVersionName: ac.implementationVersionName ?? null,
      asyncOps: ac.asyncOps ?? null,
      roleSelections: ac.roleSelections ?? [],
      unknownItems: unknown,
      identity: resp === null ? null : item(0x59, Buffer.concat([u16(resp.length, 'user identity response length'), resp])),
    }),
  );
  return finishPdu(PduType.AssociateAc, parts);
}

function fourBytePdu(type: number, b0: number, b1: number, b2: number, b3: number): Buffer {
  const b = pduHeader(type, 4);
  return Buffer.concat([b, Buffer.from([b0, b1, b2, b3])], PDU_HEADER_LENGTH + 4);
}

/** A-ASSOCIATE-RJ, PS3.8 §9.3.4. */
export function encodeAssociateRj(rj: AssociateRj): Buffer {
  return fourBytePdu(PduType.AssociateRj, 0, byte(rj.result, 'result'), byte(rj.source, 'source'), byte(rj.reason, 'reason'));
}

/** A-ABORT, PS3.8 §9.3.8. */
export function encodeAbort(a: Abort): Buffer {
  return fourBytePdu(PduType.Abort, 0, 0, byte(a.source, 'source'), byte(a.reason, 'reason'));
}

/** A-RELEASE-RQ, PS3.8 §9.3.6: four reserved bytes. */
export function encodeReleaseRq(): Buffer {
  return fourBytePdu(PduType.ReleaseRq, 0, 0, 0, 0);
}

/** A-RELEASE-RP, PS3.8 §9.3.7: four reserved bytes. */
export function encodeReleaseRp(): Buffer {
  return fourBytePdu(PduType.ReleaseRp, 0, 0, 0, 0);
}

/** P-DATA-TF with the given PDVs (PS3.8 §9.3.5), one allocation. */
export function encodePData(pdvs: Pdv[]): Buffer {
  if (pdvs.length === 0) throw new UsageError('a P-DATA-TF needs at least one PDV (PS3.8 §9.3.5)');
  let bodyLen = 0;
  for (const p of pdvs) {
    byte(p.contextId, 'presentation context id');
    bodyLen += 6 + p.data.length;
  }
  if (bodyLen > 0xffffffff) throw new UsageError(`P-DATA-TF body of ${bodyLen} bytes is too long`);
  const out = Buffer.allocUnsafe(PDU_HEADER_LENGTH + bodyLen);
  out[0] = PduType.PData;
  out[1] = 0;
  out.writeUInt32BE(bodyLen, 2);
  let off = PDU_HEADER_LENGTH;
  for (const p of pdvs) {
    out.writeUInt32BE(2 + p.data.length, off);
    out[off + 4] = p.contextId;
    out[off + 5] = (p.isCommand ? 0x01 : 0) | (p.isLast ? 0x02 : 0);
    p.data.copy(out, off + 6);
    off += 6 + p.data.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// DIMSE command sets (PS3.7 §9.3, Annex E): group 0000, always Implicit VR Little Endian
// ---------------------------------------------------------------------------------------

export interface Command {
  commandField: number;
  affectedSopClass?: string;
  requestedSopClass?: string;
  messageId?: number;
  messageIdRespondedTo?: number;
  priority?: number;
  dataSetType: number;
  status?: number;
  affectedSopInstance?: string;
  errorComment?: string;
}

/** Command Field values, PS3.7 Annex E table E.1-1. */
export const CommandField = {
  CEchoRq: 0x0030,
  CEchoRsp: 0x8030,
  CFindRq: 0x0020,
  CFindRsp: 0x8020,
  CCancelRq: 0x0fff,
  CMoveRq: 0x0021,
  CMoveRsp: 0x8021,
  CGetRq: 0x0010,
  CGetRsp: 0x8010,
  CStoreRq: 0x0001,
  CStoreRsp: 0x8001,
} as const;

/** Command Data Set Type (0000,0800) value meaning "no data set" (PS3.7 Annex E). */
export const NO_DATA_SET = 0x0101;

/** Command elements we read and write: element number in group 0000 and its VR (PS3.7 table E.1-1). */
const CMD = {
  affectedSopClass: 0x0002, // UI
  requestedSopClass: 0x0003, // UI
  commandField: 0x0100, // US
  messageId: 0x0110, // US
  messageIdRespondedTo: 0x0120, // US
  priority: 0x0700, // US
  dataSetType: 0x0800, // US
  status: 0x0900, // US
  errorComment: 0x0902, // LO
  affectedSopInstance: 0x1000, // UI
} as const;

function cmdText(el: number, value: string, uid: boolean): Buffer {
  const raw = Buffer.from(value, 'latin1');
  const padded = raw.length % 2 === 1 ? Buffer.concat([raw, Buffer.from([uid ? 0x00 : 0x20])]) : raw;
  const b = Buffer.allocUnsafe(8 + padded.length);
  b.writeUInt16LE(0, 0);
  b.writeUInt16LE(el, 2);
  b.writeUInt32LE(padded.length, 4);
  padded.copy(b, 8);
  return b;
}

function cmdUs(el: number, value: number, what: string): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new UsageError(`${what} ${value} is not a 16-bit unsigned integer`);
  const b = Buffer.allocUnsafe(10);
  b.writeUInt16LE(0, 0);
  b.writeUInt16LE(el, 2);
  b.writeUInt32LE(2, 4);
  b.writeUInt16LE(value, 8);
  return b;
}

/**
 * Encodes a command set in Implicit VR Little Endian (PS3.7 §6.3.1), elements in ascending
 * tag order, UIDs padded with 0x00 and text with a space to even length (PS3.5 §6.2), and
 * Command Group Length (0000,0000) UL computed over the elements that follow it.
 */
export function encodeCommand(c: Command): Buffer {
  const els: Buffer[] = [];
  if (c.affectedSopClass !== undefined) els.push(cmdText(CMD.affectedSopClass, c.affectedSopClass, true));
  if (c.requestedSopClass !== undefined) els.push(cmdText(CMD.requestedSopClass, c.requestedSopClass, true));
  els.push(cmdUs(CMD.commandField, c.commandField, 'command field'));
  if (c.messageId !== undefined) els.push(cmdUs(CMD.messageId, c.messageId, 'message id'));
  if (c.messageIdRespondedTo !== undefined) els.push(cmdUs(CMD.messageIdRespondedTo, c.messageIdRespondedTo, 'message id responded to'));
  if (c.priority !== undefined) els.push(cmdUs(CMD.priority, c.priority, 'priority'));
  els.push(cmdUs(CMD.dataSetType, c.dataSetType, 'data set type'));
  if (c.status !== undefined) els.push(cmdUs(CMD.status, c.status, 'status'));
  if (c.errorComment !== undefined) els.push(cmdText(CMD.errorComment, c.errorComment, false));
  if (c.affectedSopInstance !== undefined) els.push(cmdText(CMD.affectedSopInstance, c.affectedSopInstance, true));
  let groupLen = 0;
  for (const e of els) groupLen += e.length;
  const head = Buffer.allocUnsafe(12);
  head.writeUInt16LE(0, 0);
  head.writeUInt16LE(0, 2);
  head.writeUInt32LE(4, 4);
  head.writeUInt32LE(groupLen, 8);
  return Buffer.concat([head, ...els], 12 + groupLen);
}

/**
 * Parses a (reassembled) command set, Implicit VR Little Endian. Elements we do not know, and
 * elements outside group 0000, are skipped; more than LIMITS.dicomElements elements, a value
 * that overruns the buffer, a US value shorter than 2 bytes, or a missing Command Field or
 * Command Data Set Type throw ProtocolError. Text values are cleaned like other wire text
 * (UIDs clipped to 64, the error comment to 64, the LO maximum).
 */
export function parseCommand(buf: Buffer): Command {
  let off = 0;
  let count = 0;
  let commandField: number | undefined;
  let dataSetType: number | undefined;
  const c: Partial<Command> = {};
  while (off < buf.length) {
    need(buf, off, 8, 'command element header');
    const group = buf.readUInt16LE(off);
    const el = buf.readUInt16LE(off + 2);
    const len = buf.readUInt32LE(off + 4);
    const vs = off + 8;
    need(buf, vs, len, `command element (${hex4(group)},${hex4(el)})`);
    if (++count > LIMITS.dicomElements) throw new ProtocolError(`more than ${LIMITS.dicomElements} elements in a command set`);
    const ve = vs + len;
    off = ve;
    if (group !== 0) continue;
    const us = (): number => {
      if (len < 2) throw new ProtocolError(`command element (0000,${hex4(el)}) US of ${len} bytes`);
      return buf.readUInt16LE(vs);
    };
    switch (el) {
      case CMD.affectedSopClass:
        c.affectedSopClass = uidText(buf, vs, ve);
        break;
      case CMD.requestedSopClass:
        c.requestedSopClass = uidText(buf, vs, ve);
        break;
      case CMD.commandField:
        commandField = us();
        break;
      case CMD.messageId:
        c.messageId = us();
        break;
      case CMD.messageIdRespondedTo:
        c.messageIdRespondedTo = us();
        break;
      case CMD.priority:
        c.priority = us();
        break;
      case CMD.dataSetType:
        dataSetType = us();
        break;
      case CMD.status:
        c.status = us();
        break;
      case CMD.errorComment:
        c.errorComment = wireText(buf, vs, ve, 64, false, false);
        break;
      case CMD.affectedSopInstance:
        c.affectedSopInstance = uidText(buf, vs, ve);
        break;
    }
  }
  if (commandField === undefined) throw new ProtocolError('command set without Command Field (0000,0100)');
  if (dataSetType === undefined) throw new ProtocolError('command set without Command Data Set Type (0000,0800)');
  return { ...c, commandField, dataSetType };
}

// ---------------------------------------------------------------------------------------
// Data sets (PS3.5 §7): C-FIND identifiers, Implicit or Explicit VR Little Endian
// ---------------------------------------------------------------------------------------

/**
 * A data element. `value` is text for string VRs; for binary numbers (US SS UL SL FL FD SV
 * UV) the decimal values joined by '\'; for AT 8 hex digits per tag ('00100010'), joined by
 * '\'; for bulk VRs (OB OD OF OL OV OW UN) lower-case hex; for SQ '' (contents are not read).
 */
export interface Element {
  tag: number /* (group<<16)|element */;
  vr: string;
  value: string;
}

/** VRs with a reserved (2) + 32-bit length in Explicit VR (PS3.5 §7.1.2 table 7.1-1). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const STRING_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);
const BULK_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
const NUMERIC_SIZE: Readonly<Record<string, number>> = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, SV: 8, UV: 8, AT: 4 };

function numericValue(vr: string, value: string, size: number): Buffer {
  if (value === '') return Buffer.alloc(0);
  const parts = value.split('\\');
  const b = Buffer.alloc(parts.length * size);
  parts.forEach((p, i) => {
    const o = i * size;
    try {
      switch (vr) {
        case 'US':
          b.writeUInt16LE(Number(p), o);
          break;
        case 'SS':
          b.writeInt16LE(Number(p), o);
          break;
        case 'UL':
          b.writeUInt32LE(Number(p), o);
          break;
        case 'SL':
          b.writeInt32LE(Number(p), o);
          break;
        case 'FL':
          b.writeFloatLE(Number(p), o);
          break;
        case 'FD':
          b.writeDoubleLE(Number(p), o);
          break;
        case 'SV':
          b.writeBigInt64LE(BigInt(p), o);
          break;
        case 'UV':
          b.writeBigUInt64LE(BigInt(p), o);
          break;
        default: {
          // AT: group (2, LE), element (2, LE).
          if (!/^[0-9a-fA-F]{8}$/.test(p)) throw new Error('AT wants 8 hex digits');
          const t = Number.parseInt(p, 16);
          b.writeUInt16LE(t >>> 16, o);
          b.writeUInt16LE(t & 0xffff, o + 2);
        }
      }
    } catch (err) {
      throw new UsageError(`value ${JSON.stringify(p)} is not a valid ${vr}`, { cause: err });
    }
  });
  return b;
}

function elementValue(e: Element): Buffer {
  if (STRING_VRS.has(e.vr)) {
    const raw = Buffer.from(e.value, 'utf8');
    if (raw.length % 2 === 0) return raw;
    return Buffer.concat([raw, Buffer.from([e.vr === 'UI' ? 0x00 : 0x20])]);
  }
  const size = NUMERIC_SIZE[e.vr];
  if (size !== undefined) return numericValue(e.vr, e.value, size);
  if (BULK_VRS.has(e.vr)) {
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(e.value)) throw new UsageError(`${e.vr} value must be hex`);
    const raw = Buffer.from(e.value, 'hex');
    return raw.length % 2 === 0 ? raw : Buffer.concat([raw, Buffer.alloc(1)]);
  }
  if (e.vr === 'SQ') {
    if (e.value !== '') throw new UsageError('SQ elements can only be encoded empty');
    return Buffer.alloc(0);
  }
  throw new UsageError(`unsupported VR ${JSON.stringify(e.vr)}`);
}

/**
 * Encodes a data set in Implicit (explicit=false) or Explicit VR Little Endian (PS3.5 §7.1),
 * elements sorted by tag (PS3.5 §7.1), values padded to even length (UI with 0x00, other
 * text with a space, bulk with 0x00: PS3.5 §6.2).
 */
export function encodeDataSet(elements: Element[], explicit: boolean): Buffer {
  const sorted = [...elements].sort((a, b) => (a.tag >>> 0) - (b.tag >>> 0));
  const parts: Buffer[] = [];
  for (const e of sorted) {
    const tag = e.tag >>> 0;
    const value = elementValue(e);
    let head: Buffer;
    if (!explicit) {
      head = Buffer.allocUnsafe(8);
      head.writeUInt32LE(value.length, 4);
    } else if (LONG_VRS.has(e.vr)) {
      head = Buffer.allocUnsafe(12);
      head.write(e.vr, 4, 2, 'latin1');
      head.writeUInt16LE(0, 6);
      head.writeUInt32LE(value.length, 8);
    } else {
      if (value.length > 0xffff) throw new UsageError(`${e.vr} value of ${value.length} bytes exceeds 65535`);
      head = Buffer.allocUnsafe(8);
      head.write(e.vr, 4, 2, 'latin1');
      head.writeUInt16LE(value.length, 6);
    }
    head.writeUInt16LE(tag >>> 16, 0);
    head.writeUInt16LE(tag & 0xffff, 2);
    parts.push(head, value);
  }
  return Buffer.concat(parts);
}

interface ElementHeader {
  tag: number;
  vr: string;
  /** Value length, or 0xFFFFFFFF for undefined length. */
  length: number;
  headerLength: number;
}

const UNDEFINED_LENGTH = 0xffffffff;

function isUpper(b: number | undefined): boolean {
  return b !== undefined && b >= 0x41 && b <= 0x5a;
}

/** Reads one element header at `off` (PS3.5 §7.1.2 explicit, §7.1.3 implicit). */
function readElementHeader(buf: Buffer, off: number, explicit: boolean): ElementHeader {
  need(buf, off, 8, 'data element header');
  const group = buf.readUInt16LE(off);
  const el = buf.readUInt16LE(off + 2);
  const tag = ((group << 16) | el) >>> 0;
  if (!explicit) {
    return { tag, vr: vrOf(tag), length: buf.readUInt32LE(off + 4), headerLength: 8 };
  }
  const v0 = buf[off + 4];
  const v1 = buf[off + 5];
  if (!isUpper(v0) || !isUpper(v1)) {
    throw new ProtocolError(`data element (${hex4(group)},${hex4(el)}) at offset ${off} has no valid VR`);
  }
  const vr = String.fromCharCode(v0!, v1!);
  // Known short VRs use a 16-bit length; known long VRs and VRs we do not know (future
  // ones are all long, PS3.5 §6.2) use reserved (2) + a 32-bit length.
  if (STRING_VRS.has(vr) && !LONG_VRS.has(vr)) return { tag, vr, length: buf.readUInt16LE(off + 6), headerLength: 8 };
  if (NUMERIC_SIZE[vr] !== undefined && !LONG_VRS.has(vr)) return { tag, vr, length: buf.readUInt16LE(off + 6), headerLength: 8 };
  need(buf, off, 12, 'data element header');
  return { tag, vr, length: buf.readUInt32LE(off + 8), headerLength: 12 };
}

interface WalkState {
  elements: number;
}

function countElement(state: WalkState): void {
  if (++state.elements > LIMITS.dicomElements) {
    throw new ProtocolError(`more than ${LIMITS.dicomElements} data elements`);
  }
}

/**
 * Skips the items of an undefined-length sequence starting at `off` (PS3.5 §7.5): items
 * (FFFE,E000) of defined length are jumped over, undefined-length items are walked element
 * by element up to their Item Delimitation (FFFE,E00D), nested sequences recursively up to
 * MAX_SEQUENCE_DEPTH. Returns the offset after the Sequence Delimitation (FFFE,E0DD).
 */
function skipSequence(buf: Buffer, off: number, explicit: boolean, depth: number, state: WalkState): number {
  if (depth > MAX_SEQUENCE_DEPTH) throw new ProtocolError(`sequences nested deeper than ${MAX_SEQUENCE_DEPTH}`);
  for (;;) {
    need(buf, off, 8, 'sequence item header');
    const group = buf.readUInt16LE(off);
    const el = buf.readUInt16LE(off + 2);
    const len = buf.readUInt32LE(off + 4);
    if (group !== 0xfffe) throw new ProtocolError(`expected an item tag at offset ${off}, got (${hex4(group)},${hex4(el)})`);
    off += 8;
    if (el === 0xe0dd) return off;
    if (el !== 0xe000) throw new ProtocolError(`unexpected (fffe,${hex4(el)}) in a sequence at offset ${off - 8}`);
    countElement(state);
    if (len !== UNDEFINED_LENGTH) {
      need(buf, off, len, 'sequence item');
      off += len;
      continue;
    }
    for (;;) {
      need(buf, off, 8, 'item element header');
      if (buf.readUInt16LE(off) === 0xfffe && buf.readUInt16LE(off + 2) === 0xe00d) {
        off += 8;
        break;
      }
      const h = readElementHeader(buf, off, explicit);
      countElement(state);
      off += h.headerLength;
      if (h.length === UNDEFINED_LENGTH) {
        off = skipSequence(buf, off, explicit && h.vr !== 'UN', depth + 1, state);
      } else {
        need(buf, off, h.length, 'data element value');
        off += h.length;
      }
    }
  }
}

/**
 * Walks the top-level elements of a data set and calls `fn` with each one's value range
 * (vs = ve = -1 for an undefined-length element, whose contents were skipped).
 */
function walkDataSet(buf: Buffer, explicit: boolean, fn: (h: ElementHeader, vs: number, ve: number) => void): void {
  const state: WalkState = { elements: 0 };
  let off = 0;
  while (off < buf.length) {
    const h = readElementHeader(buf, off, explicit);
    if (h.tag >>> 16 === 0xfffe) throw new ProtocolError(`item tag ${keywordOf(h.tag)} at top level, offset ${off}`);
    countElement(state);
    off += h.headerLength;
    if (h.length === UNDEFINED_LENGTH) {
      // Undefined length: a sequence (PS3.5 §7.5), or UN whose contents are Implicit VR (§6.2.2).
      off = skipSequence(buf, off, explicit && h.vr !== 'UN', 1, state);
      fn(explicit ? h : { ...h, vr: 'SQ' }, -1, -1);
    } else {
      need(buf, off, h.length, 'data element value');
      fn(h, off, off + h.length);
      off += h.length;
    }
  }
}

/**
 * Returns the keywords of the top-level attributes present in a received identifier
 * ('PatientName', unknown tags as '(gggg,eeee)'), deduplicated, in order; group lengths
 * (gggg,0000) are left out. Values are never decoded. Sequences of undefined length are
 * skipped (bounded depth); more than LIMITS.dicomElements elements, nested ones included,
 * throw ProtocolError.
 */
export function dataSetKeywords(buf: Buffer, explicit: boolean): string[] {
  const seen = new Set<string>();
  walkDataSet(buf, explicit, (h) => {
    if ((h.tag & 0xffff) === 0) return;
    seen.add(keywordOf(h.tag));
  });
  return [...seen];
}

function decodeNumeric(buf: Buffer, vs: number, ve: number, vr: string, size: number): string {
  if ((ve - vs) % size !== 0) throw new ProtocolError(`${vr} value of ${ve - vs} bytes is not a multiple of ${size}`);
  const out: string[] = [];
  for (let o = vs; o < ve; o += size) {
    switch (vr) {
      case 'US':
        out.push(String(buf.readUInt16LE(o)));
        break;
      case 'SS':
        out.push(String(buf.readInt16LE(o)));
        break;
      case 'UL':
        out.push(String(buf.readUInt32LE(o)));
        break;
      case 'SL':
        out.push(String(buf.readInt32LE(o)));
        break;
      case 'FL':
        out.push(String(buf.readFloatLE(o)));
        break;
      case 'FD':
        out.push(String(buf.readDoubleLE(o)));
        break;
      case 'SV':
        out.push(buf.readBigInt64LE(o).toString());
        break;
      case 'UV':
        out.push(buf.readBigUInt64LE(o).toString());
        break;
      default:
        out.push(hex4(buf.readUInt16LE(o)) + hex4(buf.readUInt16LE(o + 2)));
    }
  }
  return out.join('\\');
}

/**
 * Reads element values (see Element for the value forms). Text has its trailing NUL/space
 * padding removed. For the lab and tests, on OUR OWN requests only: the probe never decodes
 * values of server replies (DESIGN.md: patient data is never kept).
 */
export function parseDataSet(buf: Buffer, explicit: boolean): Element[] {
  const out: Element[] = [];
  walkDataSet(buf, explicit, (h, vs, ve) => {
    let value = '';
    if (vs >= 0 && h.vr !== 'SQ') {
      const size = NUMERIC_SIZE[h.vr];
      if (STRING_VRS.has(h.vr)) {
        let e = ve;
        while (e > vs && (buf[e - 1] === 0x20 || buf[e - 1] === 0x00)) e--;
        value = buf.toString('utf8', vs, e);
      } else if (size !== undefined) {
        value = decodeNumeric(buf, vs, ve, h.vr, size);
      } else {
        value = buf.toString('hex', vs, ve);
      }
    }
    out.push({ tag: h.tag, vr: h.vr, value });
  });
  return out;
}

// ---------------------------------------------------------------------------------------
// Human text
// ---------------------------------------------------------------------------------------

/** A-ASSOCIATE-RJ result, source and reason/diag, PS3.8 §9.3.4 table 9-21. */
export function rejectText(rj: AssociateRj): string {
  const result = rj.result === 1 ? 'rejected-permanent' : rj.result === 2 ? 'rejected-transient' : `result-${rj.result}`;
  let source: string;
  let reason: string | undefined;
  switch (rj.source) {
    case 1:
      source = 'service-user';
      reason = (
        {
          1: 'no-reason-given',
          2: 'application-context-name-not-supported',
          3: 'calling-AE-title-not-recognized',
          7: 'called-AE-title-not-recognized',
        } as Record<number, string>
      )[rj.reason];
      break;
    case 2:
      source = 'service-provider-acse';
      reason = ({ 1: 'no-reason-given', 2: 'protocol-version-not-supported' } as Record<number, string>)[rj.reason];
      break;
    case 3:
      source = 'service-provider-presentation';
      reason = ({ 1: 'temporary-congestion', 2: 'local-limit-exceeded' } as Record<number, string>)[rj.reason];
      break;
    default:
      source = `source-${rj.source}`;
  }
  return `${result}: ${source}: ${reason ?? `reason-${rj.reason}`}`;
}

/** A-ABORT source and reason/diag, PS3.8 §9.3.8 table 9-26 (the reason is significant only from the provider). */
export function abortText(a: Abort): string {
  if (a.source === 0) return a.reason === 0 ? 'service-user' : `service-user: reason-${a.reason}`;
  const source = a.source === 2 ? 'service-provider' : `source-${a.source}`;
  const reason = (
    {
      0: 'reason-not-specified',
      1: 'unrecognized-PDU',
      2: 'unexpected-PDU',
      4: 'unrecognized-PDU-parameter',
      5: 'unexpected-PDU-parameter',
      6: 'invalid-PDU-parameter-value',
    } as Record<number, string>
  )[a.reason];
  return `${source}: ${reason ?? `reason-${a.reason}`}`;
}

/** Presentation context result/reason, PS3.8 §9.3.3.2 table 9-18. */
export function contextResultText(result: number): string {
  switch (result) {
    case 0:
      return 'acceptance';
    case 1:
      return 'user-rejection';
    case 2:
      return 'no-reason';
    case 3:
      return 'abstract-syntax-not-supported';
    case 4:
      return 'transfer-syntaxes-not-supported';
    default:
      return `result-${result}`;
  }
}

const STATUS_EXACT: ReadonlyMap<number, string> = new Map([
  [0x0000, 'success'],
  [0xff00, 'pending'],
  [0xff01, 'pending: optional-keys-not-supported'],
  [0xfe00, 'cancel'],
  [0x0001, 'warning: requested-optional-attributes-not-supported'],
  [0x0107, 'warning: attribute-list-error'],
  [0x0116, 'warning: attribute-value-out-of-range'],
  [0xb000, 'warning: sub-operations-complete-one-or-more-failures'],
  [0xb006, 'warning: elements-discarded'],
  [0xb007, 'warning: data-set-does-not-match-sop-class'],
  [0x0105, 'failed: no-such-attribute'],
  [0x0106, 'failed: invalid-attribute-value'],
  [0x0110, 'failed: processing-failure'],
  [0x0111, 'failed: duplicate-sop-instance'],
  [0x0112, 'failed: no-such-sop-instance'],
  [0x0113, 'failed: no-such-event-type'],
  [0x0114, 'failed: no-such-argument'],
  [0x0115, 'failed: invalid-argument-value'],
  [0x0117, 'failed: invalid-object-instance'],
  [0x0118, 'failed: no-such-sop-class'],
  [0x0119, 'failed: class-instance-conflict'],
  [0x0120, 'failed: missing-attribute'],
  [0x0121, 'failed: missing-attribute-value'],
  [0x0122, 'refused: sop-class-not-supported'],
  [0x0123, 'failed: no-such-action'],
  [0x0124, 'refused: not-authorized'],
  [0x0210, 'failed: duplicate-invocation'],
  [0x0211, 'failed: unrecognized-operation'],
  [0x0212, 'failed: mistyped-argument'],
  [0x0213, 'failed: resource-limitation'],
  [0xa700, 'refused: out-of-resources'],
  [0xa701, 'refused: out-of-resources-unable-to-calculate-number-of-matches'],
  [0xa702, 'refused: out-of-resources-unable-to-perform-sub-operations'],
  [0xa801, 'refused: move-destination-unknown'],
  [0xa900, 'failed: identifier-does-not-match-sop-class'],
]);

/** DIMSE status (0000,0900), PS3.7 Annex C and the C-FIND/C-MOVE/C-GET/C-STORE status tables of PS3.4. */
export function statusText(status: number): string {
  const exact = STATUS_EXACT.get(status);
  if (exact !== undefined) return exact;
  const code = `0x${hex4(status & 0xffff)}`;
  if (status >= 0xa700 && status <= 0xa7ff) return `refused: out-of-resources (${code})`;
  if (status >= 0xa900 && status <= 0xa9ff) return `failed: data-set-does-not-match-sop-class (${code})`;
  if (status >= 0xc000 && status <= 0xcfff) return `failed: unable-to-process (${code})`;
  if (status >= 0xa000 && status <= 0xafff) return `failed (${code})`;
  if (status >= 0xb000 && status <= 0xbfff) return `warning (${code})`;
  return `unknown (${code})`;
}
