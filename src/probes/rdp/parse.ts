/**
 * RDP connection-initiation codec: the X.224 Connection Request with an RDP Negotiation Request
 * (MS-RDPBCGR §2.2.1.1, §2.2.1.1.1) and the Connection Confirm with an RDP Negotiation Response or
 * Failure (§2.2.1.2, §2.2.1.2.1, §2.2.1.2.2), framed in TPKT (RFC 1006 §6: version 3, reserved 0,
 * 16-bit big-endian length of the whole packet). X.224 TPDU codes from ITU-T X.224 §13.
 *
 * Only the first message of each side: the client never sends an MCS Connect Initial, so no
 * credentials and no session ever exist.
 */
import { ProtocolError } from '../../core/errors.js';

export const RDP_LIMITS = {
  /** Largest TPKT we accept in reply to a Connection Request (a Connection Confirm is 11 or 19 bytes). */
  tpktBytes: 512,
  /** Bytes one RDP session may read. */
  sessionBytes: 2048,
} as const;

/** requestedProtocols / selectedProtocol bits (MS-RDPBCGR §2.2.1.1.1). */
export const PROTOCOL = {
  RDP: 0x00000000,
  SSL: 0x00000001,
  HYBRID: 0x00000002,
  RDSTLS: 0x00000004,
  HYBRID_EX: 0x00000008,
  RDSAAD: 0x00000010,
} as const;

/** RDP_NEG_RSP flags (MS-RDPBCGR §2.2.1.2.1). */
const RESPONSE_FLAGS: readonly [number, string][] = [
  [0x01, 'extended-client-data'],
  [0x02, 'dynvc-gfx'],
  [0x04, 'reserved'],
  [0x08, 'restricted-admin'],
  [0x10, 'redirected-authentication'],
];

/** RDP_NEG_FAILURE failureCode values (MS-RDPBCGR §2.2.1.2.2). */
const FAILURE_NAMES: Readonly<Record<number, string>> = {
  1: 'ssl-required-by-server',
  2: 'ssl-not-allowed-by-server',
  3: 'ssl-cert-not-on-server',
  4: 'inconsistent-flags',
  5: 'hybrid-required-by-server',
  6: 'ssl-with-user-auth-required-by-server',
};

export function protocolName(p: number): string {
  switch (p) {
    case PROTOCOL.RDP:
      return 'rdp';
    case PROTOCOL.SSL:
      return 'ssl';
    case PROTOCOL.HYBRID:
      return 'hybrid';
    case PROTOCOL.RDSTLS:
      return 'rdstls';
    case PROTOCOL.HYBRID_EX:
      return 'hybrid-ex';
    case PROTOCOL.RDSAAD:
      return 'rdsaad';
    default:
      return `unknown-0x${p.toString(16)}`;
  }
}

export function failureName(code: number): string {
  return FAILURE_NAMES[code] ?? `unknown-${code}`;
}

export function responseFlagNames(flags: number): string[] {
  return RESPONSE_FLAGS.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
}

/** X.224 TPDU codes (high nibble of the second header byte; ITU-T X.224 §13.1 table 8). */
const TPDU = { CR: 0xe0, CC: 0xd0, DR: 0x80, DC: 0xc0, ER: 0x70, DT: 0xf0 } as const;

/**
 * TPKT + X.224 Connection Request TPDU (class 0, DST-REF 0, SRC-REF 0) + RDP_NEG_REQ
 * (type 0x01, flags 0, length 8, requestedProtocols little-endian). MS-RDPBCGR §2.2.1.1.
 */
export function encodeConnectionRequest(requestedProtocols: number): Buffer {
  const neg = Buffer.alloc(8);
  neg.writeUInt8(0x01, 0);
  neg.writeUInt8(0x00, 1);
  neg.writeUInt16LE(8, 2);
  neg.writeUInt32LE(requestedProtocols >>> 0, 4);
  const x224 = Buffer.from([6 + neg.length, TPDU.CR, 0, 0, 0, 0, 0]);
  return tpkt(Buffer.concat([x224, neg]));
}

function tpkt(payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt8(3, 0);
  head.writeUInt8(0, 1);
  head.writeUInt16BE(4 + payload.length, 2);
  return Buffer.concat([head, payload]);
}

/** The TPKT length from its 4-byte header (RFC 1006 §6), checked against the cap. */
export function tpktLength(head: Buffer): number {
  if (head.length < 4) throw new ProtocolError('TPKT header is 4 bytes');
  if (head[0] !== 3) throw new ProtocolError(`not a TPKT (version ${head[0]})`);
  const len = head.readUInt16BE(2);
  if (len < 7) throw new ProtocolError(`TPKT length ${len} too short for an X.224 TPDU`);
  if (len > RDP_LIMITS.tpktBytes) throw new ProtocolError(`TPKT length ${len} exceeds the cap of ${RDP_LIMITS.tpktBytes}`);
  return len;
}

export type Negotiation =
  | { kind: 'response'; flags: number; selectedProtocol: number }
  | { kind: 'failure'; failureCode: number }
  | { kind: 'none' };

export interface ConnectionConfirm {
  /** The TPDU the server answered with: a Connection Confirm, or a Disconnect Request / Error. */
  tpdu: 'cc' | 'dr' | 'er' | 'other';
  negotiation: Negotiation;
}

/**
 * Parses a whole TPKT carrying the server's reply to our Connection Request. A CC without
 * negotiation data is a server that predates RDP 5.2 negotiation (standard RDP security only).
 */
export function parseConnectionConfirm(pkt: Buffer): ConnectionConfirm {
  const len = tpktLength(pkt);
  if (pkt.length < len) throw new ProtocolError(`TPKT truncated: ${pkt.length} of ${len} bytes`);
  const li = pkt[4]!;
  // LI counts the TPDU header after itself; it must fit in the packet.
  if (li < 2 || 5 + li > len) throw new ProtocolError(`X.224 length indicator ${li} does not fit a TPKT of ${len}`);
  const code = pkt[5]! & 0xf0;
  const tpdu = code === TPDU.CC ? 'cc' : code === TPDU.DR ? 'dr' : code === TPDU.ER ? 'er' : 'other';
  if (tpdu !== 'cc') return { tpdu, negotiation: { kind: 'none' } };
  if (li < 6) throw new ProtocolError(`X.224 Connection Confirm header of ${li} bytes (needs 6)`);
  // Variable part of the CC: the RDP negotiation structure, 8 bytes, right after the fixed header.
  const at = 11; // TPKT header (4) + LI (1) + fixed CC header (6)
  if (len - at < 8 || li < 6 + 8) return { tpdu, negotiation: { kind: 'none' } };
  const type = pkt[at]!;
  const flags = pkt[at + 1]!;
  const length = pkt.readUInt16LE(at + 2);
  if (length !== 8) throw new ProtocolError(`RDP negotiation structure length ${length} (must be 8)`);
  const value = pkt.readUInt32LE(at + 4);
  if (type === 0x02) return { tpdu, negotiation: { kind: 'response', flags, selectedProtocol: value } };
  if (type === 0x03) return { tpdu, negotiation: { kind: 'failure', failureCode: value } };
  throw new ProtocolError(`unknown RDP negotiation type 0x${type.toString(16)}`);
}

/**
 * A server's Connection Confirm (for the lab and the tests): with an RDP_NEG_RSP, an
 * RDP_NEG_FAILURE, or no negotiation data at all (a pre-negotiation server).
 */
export function encodeConnectionConfirm(neg: Negotiation): Buffer {
  let body = Buffer.alloc(0);
  if (neg.kind !== 'none') {
    body = Buffer.alloc(8);
    body.writeUInt8(neg.kind === 'response' ? 0x02 : 0x03, 0);
    body.writeUInt8(neg.kind === 'response' ? neg.flags : 0, 1);
    body.writeUInt16LE(8, 2);
    body.writeUInt32LE((neg.kind === 'response' ? neg.selectedProtocol : neg.failureCode) >>> 0, 4);
  }
  const x224 = Buffer.from([6 + body.length, TPDU.CC, 0, 0, 0x12, 0x34, 0]);
  return tpkt(Buffer.concat([x224, body]));
}

/** Parses a client's Connection Request (the lab's side): the requested protocols, or null without RDP_NEG_REQ. */
export function parseConnectionRequest(pkt: Buffer): { requestedProtocols: number | null } {
  const len = tpktLength(pkt);
  if (pkt.length < len) throw new ProtocolError('TPKT truncated');
  const li = pkt[4]!;
  if ((pkt[5]! & 0xf0) !== TPDU.CR || 5 + li > len || li < 6) throw new ProtocolError('not an X.224 Connection Request');
  // The RDP_NEG_REQ is the last 8 bytes of the TPDU when present (after an optional cookie line).
  if (li >= 6 + 8) {
    const at = len - 8;
    if (pkt[at] === 0x01 && pkt.readUInt16LE(at + 2) === 8) return { requestedProtocols: pkt.readUInt32LE(at + 4) };
  }
  return { requestedProtocols: null };
}

/**
 * A one-line summary of a server's first answer, for fingerprints (`rdp.signature`): which
 * structure came, with its flags byte and the chosen protocol or failure code. Deterministic for a
 * given server configuration, because our Connection Request is always the same.
 */
export function signatureOf(cc: ConnectionConfirm): string {
  if (cc.tpdu !== 'cc') return `x224-${cc.tpdu}`;
  const n = cc.negotiation;
  if (n.kind === 'response') return `neg-rsp flags=0x${n.flags.toString(16).padStart(2, '0')} selected=${protocolName(n.selectedProtocol)}`;
  if (n.kind === 'failure') return `neg-failure code=${n.failureCode}`;
  return 'no-neg';
}
