/**
 * The RDP probe's observation (`data.rdp`): what the server answers to X.224 Connection
 * Requests with RDP Negotiation Requests (MS-RDPBCGR §2.2.1.1, §2.2.1.2). Fingerprints match
 * `rdp.signature`; checks match `nlaRequired` and `rdpSecurityAccepted`.
 */
import { z } from 'zod';

export const RdpAttempt = z.object({
  /** requestedProtocols we sent (MS-RDPBCGR §2.2.1.1.1 bits). */
  requested: z.number().int(),
  requestedNames: z.array(z.string()),
  outcome: z.enum(['response', 'failure', 'no-negotiation', 'disconnect', 'error']),
  selectedProtocol: z.number().int().nullable(),
  failureCode: z.number().int().nullable(),
});

export const RdpObservation = z.object({
  /** The X.224 TPDU of the first answer: `cc` Connection Confirm, `dr` Disconnect Request, `er` Error. */
  x224: z.enum(['cc', 'dr', 'er', 'other']),
  /** What the first answer carried: RDP_NEG_RSP, RDP_NEG_FAILURE, or nothing (a pre-negotiation server). */
  negotiation: z.enum(['response', 'failure', 'none']),
  /** Protocol chosen for our first request (SSL | HYBRID | HYBRID_EX), and its name. */
  selectedProtocol: z.number().int().nullable(),
  selectedProtocolName: z.string().nullable(),
  /** RDP_NEG_RSP flags byte and names (§2.2.1.2.1). */
  responseFlags: z.number().int().nullable(),
  responseFlagNames: z.array(z.string()),
  /** RDP_NEG_FAILURE code to the first request, and its name (§2.2.1.2.2). */
  failureCode: z.number().int().nullable(),
  failureName: z.string().nullable(),
  /** The server offers TLS (PROTOCOL_SSL or CredSSP, which runs over TLS). */
  tlsSupported: z.boolean().nullable(),
  /** The server offers Network Level Authentication (CredSSP: PROTOCOL_HYBRID or HYBRID_EX). */
  nlaSupported: z.boolean().nullable(),
  /** The server refuses anything but CredSSP (HYBRID_REQUIRED_BY_SERVER to a TLS-only request). */
  nlaRequired: z.boolean().nullable(),
  /** The server accepts standard RDP security (no TLS, no NLA: the login screen is shown to anyone, RC4 only). */
  rdpSecurityAccepted: z.boolean().nullable(),
  /** One-line summary of the first answer, for fingerprints ("neg-rsp flags=0x1f selected=hybrid-ex"). */
  signature: z.string(),
  /** Every Connection Request sent and what it got (at most three). */
  attempts: z.array(RdpAttempt),
});
export type RdpObservation = z.infer<typeof RdpObservation>;
export type RdpAttempt = z.infer<typeof RdpAttempt>;
