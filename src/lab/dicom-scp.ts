/**
 * A configurable DICOM SCP for the lab: one Node net.Server (or tls.Server, DICOM PS3.15
 * Annex B.1) bound to one loopback address, speaking the upper layer (PS3.8 §9) with our
 * own codec, and answering C-ECHO (PS3.7 §9.1.5) and C-FIND (PS3.7 §9.1.2, PS3.4 Annex C)
 * from a synthetic record store.
 *
 * Built to be cheap per association, since the bench runs thousands of these in one process:
 * - the A-ASSOCIATE-AC is encoded once per request shape (the items after the fixed part of
 *   the RQ) and per profile, then copied with the two AE fields of the request patched in;
 * - A-ASSOCIATE-RJ, A-RELEASE-RP and A-ABORT are constant buffers;
 * - C-ECHO responses are cached per (presentation context id, message id).
 *
 * Every length from the client is checked against a cap before anything is buffered: the
 * A-ASSOCIATE-RQ against LIMITS.dicomAssocPdu, P-DATA-TF against the maximum PDU length we
 * announced (PS3.8 Annex D.1), command sets and identifiers against their own caps. Any PDU
 * the state machine does not expect is answered with A-ABORT (PS3.8 §9.2, state table).
 */
import net from 'node:net';
import tls from 'node:tls';
import { LIMITS } from '../core/limits.js';
import {
  type AcceptedContext,
  type Command,
  CommandField,
  type Element,
  NO_DATA_SET,
  PduType,
  type Pdv,
  encodeAbort,
  encodeAssociateAc,
  encodeAssociateRj,
  encodeCommand,
  encodeDataSet,
  encodePData,
  encodeReleaseRp,
  parseAssociateRq,
  parseCommand,
  parseDataSet,
  parsePData,
} from '../probes/dicom/parse.js';
import { UID } from '../probes/dicom/uids.js';
import type { CallingAePolicy } from './layout.js';
import { closeServer, listen } from './listen.js';
import { type LabRecord, type QueryLevel, ATTRIBUTES, findRecords } from './records.js';

/** Counters a node keeps; tests read them to check how a scanner behaved. */
export interface NodeStats {
  /** TCP connections accepted. */
  connections: number;
  /** Connections open right now. */
  open: number;
  /** A-ASSOCIATE-RQ received. */
  associations: number;
  accepted: number;
  rejected: number;
  echo: number;
  find: number;
  /** Pending (0xFF00) C-FIND responses sent, one per match. */
  findPending: number;
  /** C-FIND operations ended with 0xFE00 after a C-CANCEL. */
  findCancelled: number;
  /** C-CANCEL-RQ received. */
  cancels: number;
  /** The client ended the association with A-RELEASE-RQ. */
  released: number;
  /** The client sent A-ABORT. */
  aborted: number;
  /** The client closed the connection without A-RELEASE-RQ or A-ABORT (includes closing after our A-ASSOCIATE-RJ). */
  closed: number;
  /** A-ABORT sent by the node (protocol violations and the calling-AE policy). */
  abortsSent: number;
  /** Of abortsSent: sent because of the calling-AE policy (Orthanc-like). */
  policyAborts: number;
  /** Of abortsSent: sent because the client broke the protocol (unknown or unexpected PDU, oversized, malformed). */
  protocolErrors: number;
  /** Connections the node closed because the client stayed silent too long (it never sent, released or closed). */
  idleTimeouts: number;
  /** TLS handshakes that failed (TLS nodes only). */
  tlsErrors: number;
  /** Bytes received from clients. */
  bytesIn: number;
  /**
   * Longest time, in ms, between the node's last reply on a connection and the client's
   * release, abort or close. A scanner that releases or closes right after the reply keeps this small.
   */
  maxLingerMs: number;
}

export function newStats(): NodeStats {
  return {
    connections: 0,
    open: 0,
    associations: 0,
    accepted: 0,
    rejected: 0,
    echo: 0,
    find: 0,
    findPending: 0,
    findCancelled: 0,
    cancels: 0,
    released: 0,
    aborted: 0,
    closed: 0,
    abortsSent: 0,
    policyAborts: 0,
    protocolErrors: 0,
    idleTimeouts: 0,
    tlsErrors: 0,
    bytesIn: 0,
    maxLingerMs: 0,
  };
}

export const STATS_KEYS = Object.keys(newStats()) as readonly (keyof NodeStats)[];

/**
 * A NodeStats whose counters live in a Float64Array slot (a SharedArrayBuffer when the
 * bench lab runs in a worker thread): the worker counts, the main thread reads, no messages.
 */
export function sharedStats(cells: Float64Array, index: number): NodeStats {
  const base = index * STATS_KEYS.length;
  const out = {} as NodeStats;
  STATS_KEYS.forEach((k, j) => {
    Object.defineProperty(out, k, {
      enumerable: true,
      get: () => cells[base + j]!,
      set: (v: number) => {
        cells[base + j] = v;
      },
    });
  });
  return out;
}

/** Adds `b` into `a` (maxLingerMs takes the maximum). */
export function addStats(a: NodeStats, b: NodeStats): NodeStats {
  for (const k of Object.keys(a) as (keyof NodeStats)[]) {
    a[k] = k === 'maxLingerMs' ? Math.max(a[k], b[k]) : a[k] + b[k];
  }
  return a;
}

/** Writes each PDU in slices of `bytes` with `delayMs` between them (hostile `split` and `slow-drip`). */
export interface WriteShaping {
  bytes: number;
  delayMs: number;
}

export interface ScpConfig {
  /** The node's own AE title (RetrieveAETitle in C-FIND answers). */
  aeTitle: string;
  calledAes: readonly string[] | 'any';
  callingAes?: readonly string[] | 'any';
  /**
   * What happens to an unknown calling AE: `reject` (A-ASSOCIATE-RJ 1/1/3), `abort-at-command`
   * (accept, then A-ABORT at the first command), `abort-at-find` (accept, echo, A-ABORT at
   * the first other command: Orthanc with DicomAlwaysAllowEcho).
   */
  callingAePolicy?: CallingAePolicy;
  abstractSyntaxes: readonly string[];
  /** Null: the A-ASSOCIATE-AC carries none (it is mandatory; the dicompot honeypot omits it). */
  implementationClassUid: string | null;
  implementationVersionName?: string | null;
  /** Maximum P-DATA-TF variable field length we announce and enforce (PS3.8 Annex D.1); 0 is not allowed here. */
  maxPduLength: number;
  /** Announce this maximum length instead (dicompot announces 4 MiB); maxPduLength is still what is enforced. */
  announcedMaxPduLength?: number;
  records?: readonly LabRecord[];
  /** Delay between two pending C-FIND responses; 0 sends them as fast as the socket takes them. */
  pendingIntervalMs?: number;
  /** ARTIM: how long to wait for the A-ASSOCIATE-RQ, and for the close after A-ASSOCIATE-RJ or A-RELEASE-RP. */
  artimMs?: number;
  /** Idle time after which an established association is closed. */
  idleTimeoutMs?: number;
  writeShaping?: WriteShaping;
}

/** Caps for what a client sends (the lab trusts clients no more than the scanner trusts servers). */
const MAX_COMMAND_BYTES = 16 * 1024;
const MAX_IDENTIFIER_BYTES = 64 * 1024;
/** When the client announces 0 (no limit), our PDVs stay below this. */
const UNLIMITED_PEER_PDU = 64 * 1024;
const AC_CACHE_MAX = 512;
const ECHO_CACHE_MAX = 4096;
/** Pending C-FIND responses sent per event-loop turn before yielding (so a C-CANCEL is read in time). */
const FIND_BATCH = 16;

/** Fixed part of an A-ASSOCIATE-RQ/AC body: version (2), reserved (2), called AE (16), calling AE (16), reserved (32). PS3.8 §9.3.2. */
const ASSOC_FIXED = 68;

const FIND_SYNTAXES: ReadonlySet<string> = new Set([UID.PatientRootFind, UID.StudyRootFind]);

/** A-ASSOCIATE-RJ results, PS3.8 §9.3.4 table 9-21. */
const RJ_CALLED_AE = encodeAssociateRj({ result: 1, source: 1, reason: 7 });
const RJ_CALLING_AE = encodeAssociateRj({ result: 1, source: 1, reason: 3 });
const RJ_APP_CONTEXT = encodeAssociateRj({ result: 1, source: 1, reason: 2 });
const RJ_PROTOCOL_VERSION = encodeAssociateRj({ result: 1, source: 2, reason: 2 });
const RELEASE_RP = encodeReleaseRp();
/** A-ABORT by the service user, reason 0 (what DCMTK's ASC_abortAssociation sends; Orthanc uses it). */
const ABORT_USER = encodeAbort({ source: 0, reason: 0 });
/** A-ABORT by the service provider, PS3.8 §9.3.8 table 9-26. */
const ABORT_UNRECOGNIZED_PDU = encodeAbort({ source: 2, reason: 1 });
const ABORT_UNEXPECTED_PDU = encodeAbort({ source: 2, reason: 2 });
const ABORT_INVALID_PARAMETER = encodeAbort({ source: 2, reason: 6 });

interface NegotiatedContext {
  abstractSyntax: string;
  explicit: boolean;
}

/** What one request shape negotiates to: the AC bytes (AE fields still to patch) and the accepted contexts. */
interface Negotiated {
  template: Buffer;
  contexts: Map<number, NegotiatedContext>;
  /** Largest PDV fragment we may send: the client's maximum PDU length minus the PDV header (PS3.8 Annex D.1). */
  maxFragment: number;
}

type Decision = { kind: 'accept'; neg: Negotiated } | { kind: 'reject'; pdu: Buffer } | { kind: 'abort'; pdu: Buffer };

/**
 * The behaviour of a DICOM node: its policies plus the caches that make answering cheap.
 * One profile may serve many listeners (the bench shares one across thousands).
 */
export class ScpProfile {
  readonly config: Readonly<ScpConfig>;
  private readonly calledSet: ReadonlySet<string> | null;
  private readonly callingSet: ReadonlySet<string> | null;
  private readonly abstractSet: ReadonlySet<string>;
  private readonly acCache = new Map<string, Negotiated>();
  private readonly echoCache = new Map<number, Buffer>();
  readonly records: readonly LabRecord[];

  constructor(config: ScpConfig) {
    if (!Number.isInteger(config.maxPduLength) || config.maxPduLength < 1024 || config.maxPduLength > LIMITS.dicomDataPdu) {
      throw new RangeError(`maxPduLength ${config.maxPduLength} must be between 1024 and ${LIMITS.dicomDataPdu}`);
    }
    this.config = config;
    this.calledSet = config.calledAes === 'any' ? null : new Set(config.calledAes);
    this.callingSet = config.callingAes === undefined || config.callingAes === 'any' ? null : new Set(config.callingAes);
    this.abstractSet = new Set(config.abstractSyntaxes);
    this.records = config.records ?? [];
  }

  get callingAePolicy(): CallingAePolicy {
    return this.config.callingAePolicy ?? 'reject';
  }

  /** True when `ae` (trimmed) may call this node. */
  callingAllowed(ae: string): boolean {
    return this.callingSet === null || this.callingSet.has(ae);
  }

  /**
   * Decides about an A-ASSOCIATE-RQ body. AE checks first (cheap), then the request shape
   * is looked up in the cache; only an unseen shape is parsed and encoded.
   */
  decide(body: Buffer): Decision & { callingKnown: boolean } {
    // Protocol version: bit 0 must be set (PS3.8 §9.3.2 table 9-11).
    if ((body.readUInt16BE(0) & 1) === 0) return { kind: 'reject', pdu: RJ_PROTOCOL_VERSION, callingKnown: false };
    const called = aeAt(body, 4);
    if (this.calledSet !== null && !this.calledSet.has(called)) return { kind: 'reject', pdu: RJ_CALLED_AE, callingKnown: false };
    const callingKnown = this.callingAllowed(aeAt(body, 20));
    if (!callingKnown && this.callingAePolicy === 'reject') return { kind: 'reject', pdu: RJ_CALLING_AE, callingKnown };
    const key = body.toString('latin1', ASSOC_FIXED);
    let neg = this.acCache.get(key);
    if (neg === undefined) {
      const made = this.negotiate(body);
      if (made.kind !== 'accept') return { ...made, callingKnown };
      neg = made.neg;
      if (this.acCache.size >= AC_CACHE_MAX) this.acCache.clear();
      this.acCache.set(key, neg);
    }
    return { kind: 'accept', neg, callingKnown };
  }

  private negotiate(body: Buffer): Decision {
    let rq: ReturnType<typeof parseAssociateRq>;
    try {
      rq = parseAssociateRq(body);
    } catch {
      return { kind: 'abort', pdu: ABORT_INVALID_PARAMETER };
    }
    if (rq.applicationContext !== UID.ApplicationContext) return { kind: 'reject', pdu: RJ_APP_CONTEXT };
    const answers: AcceptedContext[] = [];
    const contexts = new Map<number, NegotiatedContext>();
    for (const c of rq.contexts) {
      if (!this.abstractSet.has(c.abstractSyntax)) {
        answers.push({ id: c.id, result: 3, transferSyntax: null });
        continue;
      }
      // Prefer Explicit VR Little Endian when offered, else Implicit (the default, PS3.5 §10.1).
      const ts = c.transferSyntaxes.includes(UID.ExplicitVRLittleEndian)
        ? UID.ExplicitVRLittleEndian
        : c.transferSyntaxes.includes(UID.ImplicitVRLittleEndian)
          ? UID.ImplicitVRLittleEndian
          : null;
      if (ts === null) {
        answers.push({ id: c.id, result: 4, transferSyntax: null });
        continue;
      }
      answers.push({ id: c.id, result: 0, transferSyntax: ts });
      contexts.set(c.id, { abstractSyntax: c.abstractSyntax, explicit: ts === UID.ExplicitVRLittleEndian });
    }
    let template: Buffer;
    try {
      template = encodeAssociateAc({
        calledAe: 'X',
        callingAe: 'X',
        contexts: answers,
        maxPduLength: this.config.announcedMaxPduLength ?? this.config.maxPduLength,
        implementationClassUid: this.config.implementationClassUid,
        implementationVersionName: this.config.implementationVersionName ?? null,
      });
    } catch {
      return { kind: 'abort', pdu: ABORT_INVALID_PARAMETER };
    }
    const peer = rq.maxPduLength === null || rq.maxPduLength === 0 ? UNLIMITED_PEER_PDU : Math.min(rq.maxPduLength, UNLIMITED_PEER_PDU);
    return { kind: 'accept', neg: { template, contexts, maxFragment: Math.max(16, peer - 6) } };
  }

  /** The whole P-DATA-TF answering a C-ECHO, cached per (context id, message id). */
  echoResponse(contextId: number, messageId: number, maxFragment: number): Buffer {
    const key = contextId * 0x10000 + messageId;
    const hit = maxFragment >= 256 ? this.echoCache.get(key) : undefined;
    if (hit) return hit;
    const cmd = encodeCommand({
      commandField: CommandField.CEchoRsp,
      affectedSopClass: UID.Verification,
      messageIdRespondedTo: messageId,
      dataSetType: NO_DATA_SET,
      status: 0x0000,
    });
    const pdu = messagePdus(contextId, cmd, null, maxFragment);
    if (maxFragment >= 256) {
      if (this.echoCache.size >= ECHO_CACHE_MAX) this.echoCache.clear();
      this.echoCache.set(key, pdu);
    }
    return pdu;
  }
}

/** AE title at `off` of an association body, trimmed (PS3.5 §6.2: leading and trailing spaces are not significant). */
function aeAt(body: Buffer, off: number): string {
  let s = off;
  let e = off + 16;
  while (s < e && body[s] === 0x20) s++;
  while (e > s && (body[e - 1] === 0x20 || body[e - 1] === 0x00)) e--;
  return body.toString('latin1', s, e);
}

/**
 * Encodes one DIMSE message as P-DATA-TF PDUs: the command, then the data set, each cut into
 * fragments of at most `maxFragment` bytes (PS3.8 Annex E). Small messages fit in one PDU.
 */
export function messagePdus(contextId: number, command: Buffer, dataSet: Buffer | null, maxFragment: number): Buffer {
  const pdvs: Pdv[] = [];
  const cut = (buf: Buffer, isCommand: boolean) => {
    if (buf.length === 0) {
      pdvs.push({ contextId, isCommand, isLast: true, data: buf });
      return;
    }
    for (let off = 0; off < buf.length; off += maxFragment) {
      const end = Math.min(buf.length, off + maxFragment);
      pdvs.push({ contextId, isCommand, isLast: end === buf.length, data: buf.subarray(off, end) });
    }
  };
  cut(command, true);
  if (dataSet !== null) cut(dataSet, false);
  // One PDV per PDU keeps every PDU within the client's limit (PDV header 6 + fragment).
  if (pdvs.length === 1) return encodePData(pdvs);
  return Buffer.concat(pdvs.map((p) => encodePData([p])));
}

type ConnState = 'await-rq' | 'associated' | 'rejected' | 'closing';
type Ending = 'released' | 'aborted' | 'lab-abort' | 'timeout' | 'lab-close';

interface FindRun {
  messageId: number;
  contextId: number;
  cancelled: boolean;
  next: number;
  matches: string[][];
  keys: { tag: number; vr: string }[];
  level: QueryLevel;
  explicit: boolean;
  pendingPrefix: Buffer;
  timer: NodeJS.Timeout | NodeJS.Immediate | null;
}

/** One client connection: the upper-layer state machine (PS3.8 §9.2) reduced to the acceptor's side. */
class ScpConnection {
  private state: ConnState = 'await-rq';
  private pending: Buffer | null = null;
  private neg: Negotiated | null = null;
  private callingKnown = true;
  private cmdParts: Buffer[] = [];
  private cmdBytes = 0;
  private cmd: Command | null = null;
  private cmdContext = -1;
  private dsParts: Buffer[] = [];
  private dsBytes = 0;
  private find: FindRun | null = null;
  private ending: Ending | null = null;
  private lastWriteAt = 0;
  private shaper: Shaper | null;
  private destroyed = false;

  constructor(
    private readonly sock: net.Socket,
    private readonly node: DicomScpNode,
  ) {
    const p = node.profile.config;
    this.shaper = p.writeShaping ? new Shaper(sock, p.writeShaping) : null;
    sock.setTimeout(p.artimMs ?? 10_000);
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('timeout', () => this.onTimeout());
    sock.on('error', () => {
      /* ECONNRESET and friends: 'close' follows and does the accounting. */
    });
    sock.on('close', () => this.onClose());
  }

  private get stats(): NodeStats {
    return this.node.stats;
  }

  private send(buf: Buffer): void {
    if (this.destroyed) return;
    this.lastWriteAt = performance.now();
    if (this.shaper) this.shaper.push(buf);
    else this.sock.write(buf);
  }

  /** Half-closes once everything queued has been written; the timeout destroys a client that never closes. */
  private endAfterFlush(): void {
    this.state = 'closing';
    this.sock.setTimeout(this.node.profile.config.artimMs ?? 10_000);
    if (this.shaper) this.shaper.end();
    else this.sock.end();
  }

  private noteLinger(): void {
    if (this.lastWriteAt > 0) {
      const d = performance.now() - this.lastWriteAt;
      if (d > this.stats.maxLingerMs) this.stats.maxLingerMs = Math.round(d * 10) / 10;
    }
  }

  private onTimeout(): void {
    if (this.ending === null) {
      this.ending = 'timeout';
      this.stats.idleTimeouts++;
    }
    this.sock.destroy();
  }

  private onClose(): void {
    this.destroyed = true;
    this.stats.open--;
    if (this.ending === null) {
      this.ending = 'lab-close';
      this.stats.closed++;
      this.noteLinger();
    }
    this.stopFind();
    this.shaper?.stop();
    this.node.forget(this.sock);
  }

  private abort(pdu: Buffer, why: 'protocol' | 'policy'): void {
    this.stopFind();
    this.ending = 'lab-abort';
    this.stats.abortsSent++;
    if (why === 'policy') this.stats.policyAborts++;
    else this.stats.protocolErrors++;
    this.send(pdu);
    this.endAfterFlush();
  }

  private onData(chunk: Buffer): void {
    this.stats.bytesIn += chunk.length;
    if (this.finished()) return;
    let buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    while (buf.length >= 6) {
      const type = buf[0]!;
      const length = buf.readUInt32BE(2);
      if (type < PduType.AssociateRq || type > PduType.Abort) {
        this.abort(ABORT_UNRECOGNIZED_PDU, 'protocol');
        return;
      }
      const cap = this.state === 'await-rq' ? LIMITS.dicomAssocPdu : this.node.profile.config.maxPduLength;
      if (length > cap) {
        this.abort(ABORT_INVALID_PARAMETER, 'protocol');
        return;
      }
      if (buf.length < 6 + length) break;
      const body = buf.subarray(6, 6 + length);
      buf = buf.subarray(6 + length);
      this.onPdu(type, body);
      if (this.finished()) return;
    }
    if (buf.length > 0) this.pending = buf;
  }

  /** No more PDUs are read once the association is rejected, released, aborted or the socket is gone. */
  private finished(): boolean {
    return this.state === 'closing' || this.state === 'rejected' || this.destroyed;
  }

  private onPdu(type: number, body: Buffer): void {
    if (type === PduType.Abort) {
      this.stopFind();
      this.ending = 'aborted';
      this.stats.aborted++;
      this.noteLinger();
      this.state = 'closing';
      this.sock.destroy();
      return;
    }
    if (this.state === 'await-rq') {
      if (type !== PduType.AssociateRq || body.length < ASSOC_FIXED) {
        this.abort(type === PduType.AssociateRq ? ABORT_INVALID_PARAMETER : ABORT_UNEXPECTED_PDU, 'protocol');
        return;
      }
      this.onAssociateRq(body);
      return;
    }
    switch (type) {
      case PduType.PData:
        this.onPData(body);
        return;
      case PduType.ReleaseRq:
        this.stopFind();
        this.ending = 'released';
        this.stats.released++;
        this.noteLinger();
        this.send(RELEASE_RP);
        this.endAfterFlush();
        return;
      default:
        this.abort(ABORT_UNEXPECTED_PDU, 'protocol');
    }
  }

  private onAssociateRq(body: Buffer): void {
    const profile = this.node.profile;
    this.stats.associations++;
    const d = profile.decide(body);
    if (d.kind === 'reject') {
      this.stats.rejected++;
      this.state = 'rejected';
      this.send(d.pdu);
      // The requestor closes after A-ASSOCIATE-RJ (PS3.8 §9.2, AE-3/AA-8); ARTIM closes it for a client that does not.
      this.sock.setTimeout(profile.config.artimMs ?? 10_000);
      return;
    }
    if (d.kind === 'abort') {
      this.abort(d.pdu, 'protocol');
      return;
    }
    this.stats.accepted++;
    this.neg = d.neg;
    this.callingKnown = d.callingKnown;
    const ac = Buffer.allocUnsafe(d.neg.template.length);
    d.neg.template.copy(ac);
    // Echo the called and calling AE fields exactly as received (PS3.8 §9.3.3 table 9-17).
    body.copy(ac, 6 + 4, 4, 36);
    this.state = 'associated';
    this.sock.setTimeout(profile.config.idleTimeoutMs ?? 30_000);
    this.send(ac);
  }

  private onPData(body: Buffer): void {
    const neg = this.neg!;
    let pdvs: Pdv[];
    try {
      pdvs = parsePData(body);
    } catch {
      this.abort(ABORT_INVALID_PARAMETER, 'protocol');
      return;
    }
    for (const p of pdvs) {
      if (this.state !== 'associated') return;
      if (!neg.contexts.has(p.contextId)) {
        this.abort(ABORT_INVALID_PARAMETER, 'protocol');
        return;
      }
      if (this.cmd === null) {
        if (!p.isCommand) {
          this.abort(ABORT_UNEXPECTED_PDU, 'protocol');
          return;
        }
        if (this.cmdParts.length > 0 && p.contextId !== this.cmdContext) {
          this.abort(ABORT_INVALID_PARAMETER, 'protocol');
          return;
        }
        this.cmdContext = p.contextId;
        this.cmdBytes += p.data.length;
        if (this.cmdBytes > MAX_COMMAND_BYTES) {
          this.abort(ABORT_INVALID_PARAMETER, 'protocol');
          return;
        }
        this.cmdParts.push(p.data);
        if (!p.isLast) continue;
        let cmd: Command;
        try {
          cmd = parseCommand(this.cmdParts.length === 1 ? this.cmdParts[0]! : Buffer.concat(this.cmdParts));
        } catch {
          this.abort(ABORT_INVALID_PARAMETER, 'protocol');
          return;
        }
        this.cmdParts = [];
        this.cmdBytes = 0;
        if (cmd.dataSetType === NO_DATA_SET) this.dispatch(cmd, p.contextId, null);
        else this.cmd = cmd;
      } else {
        if (p.isCommand || p.contextId !== this.cmdContext) {
          this.abort(ABORT_UNEXPECTED_PDU, 'protocol');
          return;
        }
        this.dsBytes += p.data.length;
        if (this.dsBytes > MAX_IDENTIFIER_BYTES) {
          this.abort(ABORT_INVALID_PARAMETER, 'protocol');
          return;
        }
        this.dsParts.push(p.data);
        if (!p.isLast) continue;
        const cmd = this.cmd;
        const ds = this.dsParts.length === 1 ? this.dsParts[0]! : Buffer.concat(this.dsParts);
        this.cmd = null;
        this.dsParts = [];
        this.dsBytes = 0;
        this.dispatch(cmd, p.contextId, ds);
      }
    }
  }

  private dispatch(cmd: Command, contextId: number, dataSet: Buffer | null): void {
    const neg = this.neg!;
    const ctx = neg.contexts.get(contextId)!;
    const profile = this.node.profile;
    if (!this.callingKnown && cmd.commandField !== CommandField.CCancelRq) {
      const policy = profile.callingAePolicy;
      if (policy === 'abort-at-command' || (policy === 'abort-at-find' && cmd.commandField !== CommandField.CEchoRq)) {
        this.abort(ABORT_USER, 'policy');
        return;
      }
    }
    switch (cmd.commandField) {
      case CommandField.CEchoRq:
        if (ctx.abstractSyntax !== UID.Verification || this.find !== null) break;
        this.stats.echo++;
        this.send(profile.echoResponse(contextId, cmd.messageId ?? 0, neg.maxFragment));
        return;
      case CommandField.CFindRq:
        if (!FIND_SYNTAXES.has(ctx.abstractSyntax) || this.find !== null || dataSet === null) break;
        this.stats.find++;
        this.startFind(cmd, contextId, ctx, dataSet);
        return;
      case CommandField.CCancelRq:
        this.stats.cancels++;
        if (this.find !== null && this.find.messageId === cmd.messageIdRespondedTo) this.find.cancelled = true;
        return;
    }
    // A command we do not serve on this context, or a second operation while one runs
    // (no asynchronous operations window was negotiated, PS3.7 Annex D.3.3.3).
    this.abort(ABORT_UNEXPECTED_PDU, 'protocol');
  }

  private startFind(cmd: Command, contextId: number, ctx: NegotiatedContext, dataSet: Buffer): void {
    const neg = this.neg!;
    const messageId = cmd.messageId ?? 0;
    const final = (status: number) =>
      this.send(
        messagePdus(
          contextId,
          encodeCommand({
            commandField: CommandField.CFindRsp,
            affectedSopClass: ctx.abstractSyntax,
            messageIdRespondedTo: messageId,
            dataSetType: NO_DATA_SET,
            status,
          }),
          null,
          neg.maxFragment,
        ),
      );
    let elements: Element[];
    try {
      elements = parseDataSet(dataSet, ctx.explicit);
    } catch {
      final(0xc000); // Unable to process (PS3.4 §C.4.1.1.4)
      return;
    }
    const levelEl = elements.find((e) => e.tag === 0x00080052);
    const level = levelEl?.value.trim() ?? '';
    const patientRoot = ctx.abstractSyntax === UID.PatientRootFind;
    if (level !== 'STUDY' && !(level === 'PATIENT' && patientRoot) && level !== 'SERIES' && level !== 'IMAGE') {
      final(0xa900); // Identifier does not match SOP Class (PS3.4 §C.4.1.1.4)
      return;
    }
    if (level === 'SERIES' || level === 'IMAGE') {
      // The store has no series or instances: a well-formed query that matches nothing.
      final(0x0000);
      return;
    }
    const keys = elements.filter((e) => e.tag !== 0x00080052 && (e.tag & 0xffff) !== 0 && e.tag !== 0x00080005);
    const matches = findRecords(this.node.profile.records, level as QueryLevel, keys);
    const pendingCmd = encodeCommand({
      commandField: CommandField.CFindRsp,
      affectedSopClass: ctx.abstractSyntax,
      messageIdRespondedTo: messageId,
      dataSetType: 0x0000,
      status: 0xff00,
    });
    this.find = {
      messageId,
      contextId,
      cancelled: false,
      next: 0,
      matches,
      keys: keys.map((k) => ({ tag: k.tag, vr: ATTRIBUTES.get(k.tag)?.vr ?? k.vr })),
      level: level as QueryLevel,
      explicit: ctx.explicit,
      pendingPrefix: pendingCmd,
      timer: null,
    };
    this.pumpFind(this.find, final);
  }

  private pumpFind(f: FindRun, final: (status: number) => void): void {
    if (this.find !== f || this.destroyed) return;
    f.timer = null;
    const interval = this.node.profile.config.pendingIntervalMs ?? 0;
    let sent = 0;
    while (f.next < f.matches.length && !f.cancelled) {
      const values = f.matches[f.next++]!;
      const els: Element[] = [{ tag: 0x00080052, vr: 'CS', value: f.level }];
      for (let i = 0; i < f.keys.length; i++) {
        const k = f.keys[i]!;
        let value = values[i] ?? '';
        if (k.tag === 0x00080054) value = this.node.profile.config.aeTitle; // RetrieveAETitle
        els.push({ tag: k.tag, vr: k.vr, value: k.vr === 'SQ' || k.vr === 'UN' ? '' : value });
      }
      let ds: Buffer;
      try {
        ds = encodeDataSet(els, f.explicit);
      } catch {
        ds = encodeDataSet([{ tag: 0x00080052, vr: 'CS', value: f.level }], f.explicit);
      }
      this.stats.findPending++;
      this.send(messagePdus(f.contextId, f.pendingPrefix, ds, this.neg!.maxFragment));
      sent++;
      if (interval > 0) {
        f.timer = setTimeout(() => this.pumpFind(f, final), interval);
        return;
      }
      if (this.sock.writableNeedDrain) {
        // The client reads slowly: wait for the socket to drain instead of buffering every match.
        this.sock.once('drain', () => this.pumpFind(f, final));
        return;
      }
      if (sent >= FIND_BATCH) {
        // Yield to the event loop so that a C-CANCEL-RQ can be read between responses.
        f.timer = setImmediate(() => this.pumpFind(f, final));
        return;
      }
    }
    this.find = null;
    if (f.cancelled) {
      this.stats.findCancelled++;
      final(0xfe00); // Cancel (PS3.4 §C.4.1.1.4)
    } else {
      final(0x0000);
    }
  }

  private stopFind(): void {
    const f = this.find;
    if (f === null) return;
    if (f.timer !== null) {
      clearTimeout(f.timer as NodeJS.Timeout);
      clearImmediate(f.timer as NodeJS.Immediate);
    }
    this.find = null;
  }
}

/** Writes bytes in small slices with delays, preserving order; ends the socket once drained when asked. */
export class Shaper {
  private readonly queue: Buffer[] = [];
  private timer: NodeJS.Timeout | null = null;
  private ending = false;
  private stopped = false;

  constructor(
    private readonly sock: net.Socket,
    private readonly shape: WriteShaping,
  ) {}

  push(buf: Buffer): void {
    if (this.stopped) return;
    this.queue.push(buf);
    if (this.timer === null) this.tick();
  }

  end(): void {
    this.ending = true;
    if (this.queue.length === 0 && this.timer === null) this.sock.end();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
  }

  private tick(): void {
    this.timer = null;
    if (this.stopped || this.sock.destroyed) return;
    const head = this.queue[0];
    if (head === undefined) {
      if (this.ending) this.sock.end();
      return;
    }
    const n = Math.min(this.shape.bytes, head.length);
    this.sock.write(head.subarray(0, n));
    if (n === head.length) this.queue.shift();
    else this.queue[0] = head.subarray(n);
    if (this.queue.length === 0 && this.ending) {
      this.sock.end();
      return;
    }
    if (this.queue.length > 0) this.timer = setTimeout(() => this.tick(), this.shape.delayMs);
  }
}

export interface DicomScpNodeOptions {
  name: string;
  ip: string;
  port: number;
  profile: ScpProfile;
  /** DICOM over TLS (PS3.15 Annex B.1): certificate, key and protocol limits. */
  tls?: tls.TlsOptions;
  /** Where to count (default: a fresh plain object). */
  stats?: NodeStats;
}

/** One listening DICOM node. */
export class DicomScpNode {
  readonly stats: NodeStats;
  readonly name: string;
  readonly ip: string;
  readonly port: number;
  readonly profile: ScpProfile;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(opts: DicomScpNodeOptions) {
    this.name = opts.name;
    this.ip = opts.ip;
    this.port = opts.port;
    this.profile = opts.profile;
    this.stats = opts.stats ?? newStats();
    if (opts.tls) {
      const server = tls.createServer({ handshakeTimeout: 10_000, ...opts.tls }, (s) => this.onConnection(s, true));
      server.on('connection', (raw: net.Socket) => {
        this.stats.connections++;
        this.track(raw);
      });
      server.on('tlsClientError', (_err, s) => {
        this.stats.tlsErrors++;
        s.destroy();
      });
      this.server = server;
    } else {
      this.server = net.createServer({ noDelay: true }, (s) => {
        this.track(s);
        this.onConnection(s);
      });
    }
    this.server.on('error', () => {
      /* listen errors are reported by listen(); later errors (EMFILE on accept) must not crash the lab */
    });
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  private onConnection(s: net.Socket, secure = false): void {
    if (!secure) this.stats.connections++;
    this.stats.open++;
    s.setNoDelay(true);
    new ScpConnection(s, this);
  }

  /** Called by a connection when it closes. */
  forget(s: net.Socket): void {
    this.sockets.delete(s);
  }

  start(backlog?: number): Promise<void> {
    return listen(this.server, this.name, this.ip, this.port, backlog);
  }

  stop(): Promise<void> {
    return closeServer(this.server, [...this.sockets]);
  }
}
