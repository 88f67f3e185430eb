/**
 * The HL7 probe's observation (the value of `data.hl7` in the output). Field names are the paths
 * that fingerprints (`hl7.sendingApplication`) and checks match on.
 *
 * No field can hold a patient value. An HL7 reply may echo what it received (ACKs copy MSH
 * fields; some servers copy the whole inbound message into ERR-7 or MSA-3; a query answer
 * carries PID segments): only coded MSH/MSA/ERR/QAK fields are kept (parse.ts), the server's own
 * sending application and facility are kept as identity (bounded to 64 characters), PID segments
 * are counted and never read, and the raw reply is reduced to its length and SHA-256.
 */
import { z } from 'zod';
import { ACK_CODES, HL7_LIMITS } from './parse.js';

export const AckCode = z.enum(ACK_CODES);

export const Hl7ErrorInfo = z.object({
  /**
   * ERR-3.1 HL7 error code (table 0357: 100 segment sequence error ... 207 application error), or
   * ERR-1.4.1 / MSA-6.1 from older peers. Numeric, at most three digits (anything else is dropped).
   */
  code: z.string().max(HL7_LIMITS.codeChars).nullable(),
  /** ERR-4 severity (table 0516: E, W, I, F). */
  severity: z.string().max(1).nullable(),
  /** Where the error is (`MSH-11`, `QRD-8.1`), from ERR-2 or ERR-1. */
  location: z.string().max(24).nullable(),
  /** ERR-5.1 application error code (table 0533), numeric, at most three digits. */
  applicationCode: z.string().max(HL7_LIMITS.codeChars).nullable(),
});
export type Hl7ErrorInfo = z.infer<typeof Hl7ErrorInfo>;

export const Hl7Framing = z.enum([
  /** `<SB> message <EB><CR>` (MLLP, HL7 v2.5 Appendix C §C.4.2). */
  'mllp',
  /** An MLLP block whose end block was not followed by <CR>. */
  'mllp-no-cr',
  /** HL7 text without MLLP framing. */
  'unframed',
  /** Bytes that are not HL7 at all. */
  'not-hl7',
  /** The peer stopped (or the time ran out) inside a block. */
  'incomplete',
  /** No reply byte. */
  'none',
]);

export const Hl7Observation = z.object({
  /** MLLP over TLS. */
  tls: z.boolean(),
  /** What we sent: always one query (never a write-type message), and its processing id. */
  sent: z.object({
    messageType: z.string(),
    processingId: z.enum(['D', 'T']),
    version: z.string(),
  }),
  /** Any byte came back. */
  replied: z.boolean(),
  framing: Hl7Framing,
  /** A complete MLLP block holding a parsable HL7 message. */
  framingOk: z.boolean(),
  /** Bytes read (the reply itself is never kept). */
  replyBytes: z.number().int(),
  /** SHA-256 of the reply bytes as received (the MLLP block, or all bytes read), hex. */
  replySha256: z.string().nullable(),
  /** From the end of our write to the complete reply, ms. */
  latencyMs: z.number().int().nullable(),
  /** An HL7 reply came for a message marked processing id D (debugging): the interface answers non-production traffic. */
  repliedToDebugMessage: z.boolean(),
  /** MSA-1 (table 0008). */
  ackCode: AckCode.nullable(),
  /** MSA-2 names our message's control id. */
  ackControlIdMatches: z.boolean().nullable(),
  /** MSH-3 of the reply: the server's sending application (its identity), unless it merely echoed ours. */
  sendingApplication: z.string().max(HL7_LIMITS.identityChars).nullable(),
  /** MSH-4 of the reply: the server's sending facility, unless it merely echoed ours. */
  sendingFacility: z.string().max(HL7_LIMITS.identityChars).nullable(),
  /** The reply's MSH-3/4 only repeated our own MSH-3/4 (so they say nothing about the server). */
  identityEchoed: z.boolean(),
  /** MSH-1 and MSH-2 of the reply (`|^~\&`). */
  delimiters: z.string().max(6).nullable(),
  /** MSH-9 of the reply (`ACK^A19^ACK`). */
  messageType: z.string().max(32).nullable(),
  /** MSH-10 of the reply: the control id the server generated (its format tells implementations apart). */
  controlId: z.string().max(HL7_LIMITS.controlIdChars).nullable(),
  /** MSH-11.1 of the reply. */
  processingId: z.string().max(1).nullable(),
  /** MSH-12.1 of the reply. */
  version: z.string().max(16).nullable(),
  /** ERR segments (and MSA-6): codes and locations only, never their text. */
  errors: z.array(Hl7ErrorInfo).max(HL7_LIMITS.errors + 1),
  /** QAK-2 (table 0208: OK, NF, AE, AR) when the server answered the query itself. */
  queryStatus: z.string().max(2).nullable(),
  /** Segment ids of the reply, in order of first appearance. */
  segmentIds: z.array(z.string().max(3)).max(HL7_LIMITS.segmentIds),
  segmentCount: z.number().int(),
  /** PID segments in the reply (records that crossed for a random patient id; never read). */
  pidSegments: z.number().int(),
});
export type Hl7Observation = z.infer<typeof Hl7Observation>;
