/**
 * The RDP probe: up to three X.224 Connection Requests, each on its own connection, each closed
 * right after the Connection Confirm (MS-RDPBCGR §1.3.1.1, connection initiation, steps 1-2 only):
 *
 * 1. requestedProtocols = SSL | HYBRID | HYBRID_EX: what the server prefers (NLA offered or not).
 * 2. requestedProtocols = RDP (0): is standard RDP security still accepted, or does the server
 *    answer SSL_REQUIRED_BY_SERVER / HYBRID_REQUIRED_BY_SERVER (the latter proves NLA is required)?
 * 3. only when (1) chose CredSSP and (2) did not settle it: SSL alone; HYBRID_REQUIRED_BY_SERVER
 *    means NLA is required, a TLS selection means it is not.
 *
 * On a host already known as fragile (an imaging modality), only request (1) is sent. No MCS
 * Connect Initial, no TLS handshake, no CredSSP: nothing that reaches a login.
 */
import { messageOf, statusOf } from '../../core/errors.js';
import type { Probe, ProbeContext, ProbeResult } from '../../core/probe.js';
import {
  type ConnectionConfirm,
  PROTOCOL,
  RDP_LIMITS,
  encodeConnectionRequest,
  failureName,
  parseConnectionConfirm,
  protocolName,
  responseFlagNames,
  signatureOf,
  tpktLength,
} from './parse.js';
import { type RdpAttempt, RdpObservation } from './schema.js';

const FIRST_REQUEST = PROTOCOL.SSL | PROTOCOL.HYBRID | PROTOCOL.HYBRID_EX;
/** Failure codes (MS-RDPBCGR §2.2.1.2.2). */
const SSL_REQUIRED_BY_SERVER = 1;
const SSL_NOT_ALLOWED_BY_SERVER = 2;
const HYBRID_REQUIRED_BY_SERVER = 5;

function requestedNames(p: number): string[] {
  if (p === PROTOCOL.RDP) return ['rdp'];
  return [PROTOCOL.SSL, PROTOCOL.HYBRID, PROTOCOL.RDSTLS, PROTOCOL.HYBRID_EX, PROTOCOL.RDSAAD].filter((b) => (p & b) !== 0).map(protocolName);
}

/** One connection: Connection Request out, one TPKT in, close. Throws for network reasons. */
async function negotiate(ctx: ProbeContext, requested: number): Promise<ConnectionConfirm> {
  const sock = await ctx.connect({ maxBytes: RDP_LIMITS.sessionBytes });
  try {
    sock.write(encodeConnectionRequest(requested), `X.224 Connection Request, RDP_NEG_REQ protocols=0x${requested.toString(16)}`);
    const head = await sock.read(4);
    const len = tpktLength(head);
    const rest = await sock.read(len - 4);
    return parseConnectionConfirm(Buffer.concat([head, rest]));
  } finally {
    sock.destroy();
  }
}

function attemptOf(requested: number, cc: ConnectionConfirm): RdpAttempt {
  const n = cc.negotiation;
  return {
    requested,
    requestedNames: requestedNames(requested),
    outcome: cc.tpdu !== 'cc' ? 'disconnect' : n.kind === 'response' ? 'response' : n.kind === 'failure' ? 'failure' : 'no-negotiation',
    selectedProtocol: n.kind === 'response' ? n.selectedProtocol : null,
    failureCode: n.kind === 'failure' ? n.failureCode : null,
  };
}

const isCredSsp = (p: number | null) => p === PROTOCOL.HYBRID || p === PROTOCOL.HYBRID_EX;

export async function runRdp(ctx: ProbeContext): Promise<ProbeResult<RdpObservation>> {
  let first: ConnectionConfirm;
  try {
    first = await negotiate(ctx, FIRST_REQUEST);
  } catch (err) {
    const status = statusOf(err);
    return { status: status === 'unknown-error' ? 'protocol-error' : status, error: messageOf(err) };
  }
  const n = first.negotiation;
  const obs: RdpObservation = {
    x224: first.tpdu,
    negotiation: n.kind,
    selectedProtocol: n.kind === 'response' ? n.selectedProtocol : null,
    selectedProtocolName: n.kind === 'response' ? protocolName(n.selectedProtocol) : null,
    responseFlags: n.kind === 'response' ? n.flags : null,
    responseFlagNames: n.kind === 'response' ? responseFlagNames(n.flags) : [],
    failureCode: n.kind === 'failure' ? n.failureCode : null,
    failureName: n.kind === 'failure' ? failureName(n.failureCode) : null,
    tlsSupported: null,
    nlaSupported: null,
    nlaRequired: null,
    rdpSecurityAccepted: null,
    signature: signatureOf(first),
    attempts: [attemptOf(FIRST_REQUEST, first)],
  };
  if (first.tpdu !== 'cc') return { status: 'success', result: obs };

  // What the first answer settles by itself.
  if (n.kind === 'none') {
    // A server from before negotiation (RDP 5.1 and older): standard RDP security only.
    Object.assign(obs, { tlsSupported: false, nlaSupported: false, nlaRequired: false, rdpSecurityAccepted: true });
  } else if (n.kind === 'response') {
    obs.nlaSupported = isCredSsp(n.selectedProtocol);
    obs.tlsSupported = n.selectedProtocol !== PROTOCOL.RDP;
    if (!obs.nlaSupported) obs.nlaRequired = false;
    // Offered TLS and NLA, and the server still chose standard RDP security.
    if (n.selectedProtocol === PROTOCOL.RDP) obs.rdpSecurityAccepted = true;
  } else if (n.failureCode === SSL_NOT_ALLOWED_BY_SERVER) {
    Object.assign(obs, { tlsSupported: false, nlaSupported: false, nlaRequired: false });
  }

  let error: string | undefined;
  const more = async (requested: number): Promise<ConnectionConfirm | null> => {
    try {
      const cc = await negotiate(ctx, requested);
      obs.attempts.push(attemptOf(requested, cc));
      return cc;
    } catch (err) {
      obs.attempts.push({ requested, requestedNames: requestedNames(requested), outcome: 'error', selectedProtocol: null, failureCode: null });
      error = `request 0x${requested.toString(16)}: ${messageOf(err)}`;
      return null;
    }
  };

  if (!ctx.host.fragile && obs.rdpSecurityAccepted === null) {
    const cc = await more(PROTOCOL.RDP);
    const m = cc?.negotiation;
    if (cc?.tpdu === 'cc' && m) {
      if (m.kind === 'none' || (m.kind === 'response' && m.selectedProtocol === PROTOCOL.RDP)) obs.rdpSecurityAccepted = true;
      else if (m.kind === 'failure') {
        obs.rdpSecurityAccepted = false;
        if (m.failureCode === HYBRID_REQUIRED_BY_SERVER) obs.nlaRequired = true;
        if (m.failureCode === SSL_REQUIRED_BY_SERVER && obs.tlsSupported === null) obs.tlsSupported = true;
      }
    } else if (cc) obs.rdpSecurityAccepted = false;
  }
  if (!ctx.host.fragile && obs.nlaSupported && obs.nlaRequired === null) {
    const cc = await more(PROTOCOL.SSL);
    const m = cc?.negotiation;
    if (cc?.tpdu === 'cc' && m?.kind === 'failure' && m.failureCode === HYBRID_REQUIRED_BY_SERVER) obs.nlaRequired = true;
    else if (cc?.tpdu === 'cc' && m?.kind === 'response' && m.selectedProtocol === PROTOCOL.SSL) obs.nlaRequired = false;
  }
  return { status: 'success', result: obs, ...(error ? { error } : {}) };
}

export const rdpProbe: Probe<RdpObservation> = {
  id: 'rdp',
  title: 'RDP negotiation (X.224 Connection Request: TLS, NLA, standard RDP security)',
  defaultPorts: [3389],
  safety: {
    connectionRequest: 'safe',
  },
  resultSchema: RdpObservation,
  run: runRdp,
};
