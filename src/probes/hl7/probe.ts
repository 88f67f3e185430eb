/**
 * The HL7 v2 probe: one query message over MLLP (plain TCP, or TLS), one reply read with a
 * bounded frame reader, the reply reduced to coded fields (parse.ts).
 *
 * What it sends, in every profile: one QRY^A19 patient query with processing id D (debugging)
 * and a random patient id that no system holds (parse.ts `buildPatientQuery` says why this
 * message). Never a write-type message (ADT, ORU, ORM, ...: DESIGN.md "Never, in any profile").
 * An interface that answers an unknown, unauthenticated sender at all is worth knowing (a
 * finding for the checks), and what it answers with names the engine behind it.
 *
 * TLS: MLLP over TLS when the port is a TLS port, or `--hl7-tls` (options.hl7.tls). A TLS-only
 * listener drops a plain-text message without a byte (Node's TLS server, like most, closes on
 * a non-handshake record) or answers with a TLS alert: then the probe tries once more over TLS.
 *
 * Never throws for network reasons: every failure becomes a status word, with the partial
 * observation kept.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { BoundedSocket } from '../../core/bounded-socket.js';
import { ProtocolError, ScopeError, messageOf, statusOf } from '../../core/errors.js';
import type { Probe, ProbeContext, ProbeResult } from '../../core/probe.js';
import type { Status } from '../../core/status.js';
import type { TlsInfo } from '../../core/types.js';
import {
  type Framing,
  HL7_LIMITS,
  type Hl7Message,
  MLLP,
  buildPatientQuery,
  encodeFrame,
  finishFrame,
  hl7Safe,
  hl7Timestamp,
  parseMessage,
  scanFrame,
} from './parse.js';
import { type Hl7ErrorInfo, Hl7Observation } from './schema.js';

export const DEFAULT_SENDING_APPLICATION = 'MEDSURFACE';
/** The HL7 version we claim in MSH-12: QRY^A19 and the ERR fields we read are all defined in 2.5. */
export const QUERY_VERSION = '2.5';
/** How long an unframed reply may pause before we take it as complete, ms. */
const UNFRAMED_IDLE_MS = 300;
/** Session byte cap: a little above the frame cap, so the frame reader's own check fires first. */
const SESSION_BYTES = HL7_LIMITS.frameBytes + 1024;

export interface Hl7Options {
  /** MSH-3 we send (default MEDSURFACE). */
  sendingApplication?: string;
  /** MSH-4 we send (default empty). */
  sendingFacility?: string;
  /** MSH-11 we send: D (default) or T. Never P. */
  processingId?: 'D' | 'T';
  /** Speak MLLP over TLS on every port. */
  tls?: boolean;
  /** Retry once over TLS when a plain attempt looks like a TLS listener (default true). */
  tlsFallback?: boolean;
}

interface ReadOutcome {
  /** The bytes read, bounded by the frame cap. */
  bytes: Buffer;
  /** How the read ended; `invalid`: the bytes cannot be HL7, or exceed the cap (`error` says which). */
  end: 'frame' | 'closed' | 'timeout' | 'idle' | 'error' | 'invalid';
  /** `frame`: the block, its framing, and where it ends. */
  frame?: { payload: Buffer; framing: Framing; end: number };
  /** `error`, `invalid`: what happened (byte cap, abort, not MLLP, ...). */
  error?: unknown;
  /** ms from the end of our write to the end of the read. */
  elapsedMs: number;
}

/**
 * Reads one reply: until a whole MLLP block, the peer closing, the frame deadline (one read
 * timeout for the whole reply, so a slow drip cannot stretch it), for an unframed reply a pause,
 * or bytes that cannot be HL7 or exceed the cap (`invalid`). Never keeps more than the cap.
 */
async function readReply(sock: BoundedSocket, frameMs: number): Promise<ReadOutcome> {
  const cap = HL7_LIMITS.frameBytes;
  const buf = Buffer.allocUnsafe(cap + 16);
  let len = 0;
  let unframed = false;
  const started = Date.now();
  const deadline = started + frameMs;
  const out = (end: ReadOutcome['end'], extra: Partial<ReadOutcome> = {}): ReadOutcome => ({
    bytes: buf.subarray(0, len),
    end,
    elapsedMs: Date.now() - started,
    ...extra,
  });
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return out(unframed ? 'idle' : 'timeout');
    let chunk: Buffer;
    try {
      chunk = await sock.readSome(buf.length - len, unframed ? Math.min(left, UNFRAMED_IDLE_MS) : left);
    } catch (err) {
      const status = statusOf(err);
      if (status === 'io-timeout') return out(unframed ? 'idle' : 'timeout');
      if (status === 'connection-closed') return out('closed');
      return out('error', { error: err });
    }
    const before = len;
    chunk.copy(buf, len);
    len += chunk.length;
    // Scan only when the decision can change: the first bytes, an end block arrived, or the cap.
    if (!unframed && (before < 16 || chunk.includes(MLLP.END) || len > cap)) {
      let s: ReturnType<typeof scanFrame>;
      try {
        s = scanFrame(buf.subarray(0, len), cap);
      } catch (err) {
        return out('invalid', { error: err });
      }
      if (s.state === 'frame') return out('frame', { frame: { payload: s.payload, framing: s.framing, end: s.end } });
      if (s.state === 'unframed') unframed = true;
    }
    if (len > cap) return out('invalid', { error: new ProtocolError(`HL7 reply exceeds ${cap} bytes`) });
  }
}

/** True when the first bytes are a TLS record header (handshake 0x16 or alert 0x15, version 3.x). */
function looksLikeTls(b: Buffer): boolean {
  return b.length >= 2 && (b[0] === 0x15 || b[0] === 0x16) && b[1] === 0x03;
}

/** The bytes began like an HL7 reply (a start block, or "MSH"), after optional line ends. */
function startsAsHl7(b: Buffer): boolean {
  let i = 0;
  while (i < b.length && (b[i] === 0x0d || b[i] === 0x0a)) i++;
  return b[i] === MLLP.START || b.subarray(i, i + 3).toString('latin1') === 'MSH';
}

function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex').toUpperCase();
}

function emptyObservation(tls: boolean, processingId: 'D' | 'T'): Hl7Observation {
  return {
    tls,
    sent: { messageType: 'QRY^A19^QRY_A19', processingId, version: QUERY_VERSION },
    replied: false,
    framing: 'none',
    framingOk: false,
    replyBytes: 0,
    replySha256: null,
    latencyMs: null,
    repliedToDebugMessage: false,
    ackCode: null,
    ackControlIdMatches: null,
    sendingApplication: null,
    sendingFacility: null,
    identityEchoed: false,
    delimiters: null,
    messageType: null,
    controlId: null,
    processingId: null,
    version: null,
    errors: [],
    queryStatus: null,
    segmentIds: [],
    segmentCount: 0,
    pidSegments: 0,
  };
}

/** Copies the coded fields of a parsed reply into the observation (nothing else crosses). */
function fillFromMessage(
  obs: Hl7Observation,
  msg: Hl7Message,
  sent: { controlId: string; sendingApplication: string; sendingFacility: string },
): void {
  const app = msg.msh.sendingApplication;
  const fac = msg.msh.sendingFacility;
  const echoApp = app !== null && app === sent.sendingApplication;
  const echoFac = fac !== null && sent.sendingFacility !== '' && fac === sent.sendingFacility;
  obs.identityEchoed = echoApp || echoFac;
  obs.sendingApplication = echoApp ? null : app;
  obs.sendingFacility = echoFac ? null : fac;
  obs.delimiters = msg.delimiterText;
  obs.messageType = msg.msh.messageType;
  obs.controlId = msg.msh.controlId;
  obs.processingId = msg.msh.processingId;
  obs.version = msg.msh.version;
  obs.ackCode = msg.msa?.ackCode ?? null;
  obs.ackControlIdMatches = msg.msa ? msg.msa.controlId === sent.controlId : null;
  const errors: Hl7ErrorInfo[] = msg.errors.map((e) => ({ ...e }));
  const condition = msg.msa?.errorCondition ?? null;
  if (condition && !errors.some((e) => e.code === condition)) {
    errors.push({ code: condition, severity: null, location: null, applicationCode: null });
  }
  obs.errors = errors;
  obs.queryStatus = msg.queryStatus;
  obs.segmentIds = msg.segmentIds;
  obs.segmentCount = msg.segmentCount;
  obs.pidSegments = msg.pidSegments;
}

interface Attempt {
  result: ProbeResult<Hl7Observation>;
  /** The peer closed without a byte, or answered with a TLS record: worth one try over TLS. */
  tlsHint: boolean;
}

async function attempt(ctx: ProbeContext, useTls: boolean, opts: Hl7Options): Promise<Attempt> {
  const processingId = opts.processingId === 'T' ? 'T' : 'D';
  const obs = emptyObservation(useTls, processingId);
  let tls: TlsInfo | null = null;
  const done = (status: Status, error?: string, tlsHint = false): Attempt => ({
    result: { status, result: obs, ...(error ? { error } : {}), ...(tls ? { tls } : {}) },
    tlsHint,
  });

  let sock: BoundedSocket;
  try {
    sock = await ctx.connect({ tls: useTls, maxBytes: SESSION_BYTES });
  } catch (err) {
    // Out of scope is not a network outcome: the engine must see it (scan-service runProbe).
    if (err instanceof ScopeError) throw err;
    return done(statusOf(err), messageOf(err));
  }
  tls = sock.tlsInfo;
  const sent = {
    controlId: `MS${randomHex(8)}`,
    sendingApplication: hl7Safe(opts.sendingApplication ?? DEFAULT_SENDING_APPLICATION, 20),
    sendingFacility: hl7Safe(opts.sendingFacility ?? '', 20),
  };
  try {
    const message = buildPatientQuery({
      ...sent,
      timestamp: hl7Timestamp(new Date()),
      processingId,
      version: QUERY_VERSION,
      queryId: `MS${randomHex(4)}`,
      patientId: `MS${randomHex(12)}`,
    });
    sock.write(encodeFrame(message), `HL7 QRY^A19 query (processing id ${processingId}, random patient id)`);
    const read = await readReply(sock, ctx.timeouts.readMs);
    const bytes = read.frame ? read.bytes.subarray(0, read.frame.end) : read.bytes;
    obs.replied = read.bytes.length > 0;
    obs.replyBytes = read.bytes.length;
    obs.replySha256 = obs.replied ? createHash('sha256').update(bytes).digest('hex') : null;
    if (read.end === 'invalid') {
      // Not HL7, or past the cap: the bytes are hashed and counted, never kept.
      obs.framing = startsAsHl7(read.bytes) ? 'incomplete' : 'not-hl7';
      if (looksLikeTls(read.bytes)) return done('protocol-error', 'a TLS record where an MLLP reply was expected', !useTls);
      return done('protocol-error', messageOf(read.error));
    }

    let frame: { payload: Buffer; framing: Framing } | null = read.frame ?? null;
    if (!frame && obs.replied && read.end !== 'error') {
      try {
        frame = finishFrame(read.bytes);
      } catch {
        frame = null;
      }
    }
    if (!frame) {
      if (!obs.replied) {
        if (read.end === 'closed') return done('connection-closed', 'the peer closed the connection without a reply', !useTls);
        if (read.end === 'error') return done(statusOf(read.error), messageOf(read.error));
        return done('io-timeout', `no reply within ${ctx.timeouts.readMs} ms`);
      }
      obs.framing = 'incomplete';
      if (read.end === 'timeout') return done('io-timeout', `incomplete MLLP block after ${ctx.timeouts.readMs} ms (${read.bytes.length} bytes)`);
      if (read.end === 'error') return done(statusOf(read.error), messageOf(read.error));
      return done('protocol-error', `truncated MLLP block (${read.bytes.length} bytes)`);
    }
    obs.framing = frame.framing;
    obs.latencyMs = read.elapsedMs;
    let msg: Hl7Message;
    try {
      msg = parseMessage(frame.payload);
    } catch (err) {
      obs.framing = frame.framing === 'unframed' ? 'not-hl7' : frame.framing;
      return done('protocol-error', `reply is not an HL7 message: ${messageOf(err)}`);
    }
    obs.framingOk = frame.framing === 'mllp';
    fillFromMessage(obs, msg, sent);
    obs.repliedToDebugMessage = processingId === 'D';
    return done('success');
  } catch (err) {
    const status = statusOf(err);
    return done(status === 'unknown-error' ? 'protocol-error' : status, messageOf(err));
  } finally {
    // Original acknowledgment mode: an ACK is not acknowledged (HL7 v2.5 Ch. 2 §2.9.2); close now.
    sock.destroy();
  }
}

export async function runHl7(ctx: ProbeContext): Promise<ProbeResult<Hl7Observation>> {
  const opts = (ctx.options.hl7 ?? {}) as Hl7Options;
  const useTls = ctx.tls || opts.tls === true;
  const first = await attempt(ctx, useTls, opts);
  // A fragile host (an imaging modality, a bedside device) gets one connection, no retry.
  if (useTls || !first.tlsHint || opts.tlsFallback === false || ctx.host.fragile || ctx.signal.aborted) return first.result;
  const second = await attempt(ctx, true, opts);
  return second.result.status === 'success' ? second.result : first.result;
}

export const hl7Probe: Probe<Hl7Observation> = {
  id: 'hl7',
  title: 'HL7 v2 over MLLP (one QRY^A19 query, processing id D, random patient id)',
  defaultPorts: [2575, 2100, 6661, 6665, 7777],
  safety: {
    patientQueryRandomId: 'safe',
    tlsRetryAfterSilentClose: 'safe',
  },
  resultSchema: Hl7Observation,
  run: runHl7,
};
