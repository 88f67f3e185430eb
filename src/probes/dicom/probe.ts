/**
 * The DICOM probe: one association (or a few, by the AE policy of the profile) per service,
 * C-ECHO, the C-FIND door test, then A-RELEASE. Our own upper-layer codec (parse.ts):
 * DICOM PS3.8 §9 for the PDUs, PS3.7 §9.1 and Annex E for the DIMSE commands.
 *
 * Never throws for network reasons: every failure becomes a status word, and partial
 * results (the AE attempts made so far) are kept.
 */
import { randomBytes } from 'node:crypto';
import type { BoundedSocket } from '../../core/bounded-socket.js';
import { ScanError, ScopeError, messageOf, statusOf } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import type { Probe, ProbeContext, ProbeResult } from '../../core/probe.js';
import type { Status } from '../../core/status.js';
import type { TlsInfo } from '../../core/types.js';
import { GUESS_AE_TITLES, defaultCalledAes } from './ae-titles.js';
import { DimseReader, type DimseEvent, readPdu } from './dimse.js';
import {
  type AssociateAc,
  CommandField,
  NO_DATA_SET,
  PduType,
  type RequestedContext,

  contextResultText,
  dataSetKeywords,
  encodeAbort,
  encodeAssociateRq,
  encodeCommand,
  encodeDataSet,
  encodePData,
  encodeReleaseRq,
  padAe,
  parseAbort,
  parseAssociateAc,
  parseAssociateRj,
  rejectText,
  statusText,
} from './parse.js';
import {
  type AeAttempt,
  type AssociationInfo,
  DicomObservation,
  type DicomServices,
  type FindProbe,
} from './schema.js';
import { MEDSURFACE_IMPLEMENTATION_CLASS_UID, UID, implementationVersionName, randomUid, sopName } from './uids.js';
import { VERSION } from '../../core/version.js';

export const DEFAULT_CALLING_AE = 'MEDSURFACE';

/**
 * The abstract syntaxes we propose: Verification plus the service classes whose acceptance
 * tells what the node offers. Storage classes are proposed so the AC says whether the node is
 * a storage SCP; we never send a C-STORE (DESIGN.md: never, in any profile).
 */
const PROPOSED: readonly string[] = [
  UID.Verification,
  UID.PatientRootFind,
  UID.StudyRootFind,
  UID.PatientRootMove,
  UID.StudyRootMove,
  UID.PatientRootGet,
  UID.StudyRootGet,
  UID.ModalityWorklistFind,
  UID.CTImageStorage,
  UID.MRImageStorage,
  UID.CRImageStorage,
  UID.SecondaryCaptureImageStorage,
];

const TRANSFER_SYNTAXES = [UID.ExplicitVRLittleEndian, UID.ImplicitVRLittleEndian];

const REQUESTED_CONTEXTS: RequestedContext[] = PROPOSED.map((abstractSyntax, i) => ({
  id: 2 * i + 1,
  abstractSyntax,
  transferSyntaxes: [...TRANSFER_SYNTAXES],
}));

/** Session bytes for an intrusive count query: up to LIMITS.dicomFindCap identifiers. */
const COUNT_SESSION_BYTES = 16 * 1024 * 1024;
/** Wait for A-RELEASE-RP at most this long: a peer that never answers is simply closed. */
const RELEASE_WAIT_MS = 2000;

export interface DicomOptions {
  callingAe?: string;
  /** Speak DICOM over TLS on every port (`--dicom-tls`); 2762 always is. */
  tls?: boolean;
}

type Outcome =
  | { kind: 'accepted'; sock: BoundedSocket; ac: AssociateAc; tls: TlsInfo | null }
  | { kind: 'done'; attempt: AeAttempt; tls: TlsInfo | null };

/** Random bytes drawn in blocks: one syscall per 512 titles instead of one per title. */
let pool = Buffer.alloc(0);
let poolAt = 0;
function randomCalledAe(): string {
  if (poolAt + 7 > pool.length) {
    pool = randomBytes(7 * 512);
    poolAt = 0;
  }
  const hex = pool.toString('hex', poolAt, poolAt + 7).toUpperCase();
  poolAt += 7;
  // 16 characters max (PS3.5 §6.2 AE VR); upper-case hex never collides with a configured title.
  return `MS${hex}`;
}

async function associate(
  ctx: ProbeContext,
  calledAeOf: () => string,
  callingAe: string,
  kind: AeAttempt['kind'],
  maxBytes?: number,
): Promise<Outcome> {
  const sock = await ctx.connect({ tls: ctx.tls, ...(maxBytes ? { maxBytes } : {}) });
  const tls = sock.tlsInfo;
  // Chosen only once the port answered: a closed port costs no random title.
  const calledAe = calledAeOf();
  try {
    const rq = encodeAssociateRq({
      calledAe,
      callingAe,
      contexts: REQUESTED_CONTEXTS,
      maxPduLength: 65536,
      implementationClassUid: MEDSURFACE_IMPLEMENTATION_CLASS_UID,
      implementationVersionName: implementationVersionName(VERSION),
    });
    sock.write(rq, `A-ASSOCIATE-RQ called=${calledAe} calling=${callingAe}`);
    const pdu = await readPdu(sock, LIMITS.dicomAssocPdu);
    switch (pdu.type) {
      case PduType.AssociateAc:
        return { kind: 'accepted', sock, ac: parseAssociateAc(pdu.body), tls };
      case PduType.AssociateRj: {
        const rj = parseAssociateRj(pdu.body);
        sock.destroy();
        return { kind: 'done', tls, attempt: { calledAe, kind, outcome: 'rejected', reject: { ...rj, text: rejectText(rj) } } };
      }
      case PduType.Abort: {
        const ab = parseAbort(pdu.body);
        sock.destroy();
        return { kind: 'done', tls, attempt: { calledAe, kind, outcome: 'aborted', abort: ab } };
      }
      default:
        throw new ScanError('protocol-error', `unexpected PDU type ${pdu.type} in reply to A-ASSOCIATE-RQ`);
    }
  } catch (err) {
    sock.destroy();
    throw err;
  }
}

function associationInfo(ac: AssociateAc): AssociationInfo {
  const byId = new Map(REQUESTED_CONTEXTS.map((c) => [c.id, c.abstractSyntax]));
  return {
    protocolVersion: ac.protocolVersion,
    calledAeEcho: ac.calledAe,
    callingAeEcho: ac.callingAe,
    applicationContext: ac.applicationContext,
    maxPduLength: ac.maxPduLength,
    implementationClassUid: ac.implementationClassUid,
    implementationVersionName: ac.implementationVersionName,
    asyncOpsWindow: ac.asyncOps,
    roleSelections: ac.roleSelections,
    userIdentityResponse: ac.userIdentityResponse !== null,
    contexts: ac.contexts.map((c) => {
      const abstractSyntax = byId.get(c.id) ?? 'unknown';
      return {
        id: c.id,
        abstractSyntax,
        name: sopName(abstractSyntax),
        result: c.result,
        resultText: contextResultText(c.result),
        transferSyntax: c.result === 0 ? c.transferSyntax : null,
      };
    }),
    unknownItems: ac.unknownItems,
  };
}

function servicesOf(info: AssociationInfo): DicomServices {
  const ok = (uid: string) => info.contexts.some((c) => c.abstractSyntax === uid && c.result === 0);
  const storageUids = new Set<string>([UID.CTImageStorage, UID.MRImageStorage, UID.CRImageStorage, UID.SecondaryCaptureImageStorage]);
  return {
    verification: ok(UID.Verification),
    patientRootFind: ok(UID.PatientRootFind),
    studyRootFind: ok(UID.StudyRootFind),
    patientRootMove: ok(UID.PatientRootMove),
    studyRootMove: ok(UID.StudyRootMove),
    patientRootGet: ok(UID.PatientRootGet),
    studyRootGet: ok(UID.StudyRootGet),
    worklistFind: ok(UID.ModalityWorklistFind),
    storage: info.contexts.filter((c) => c.result === 0 && storageUids.has(c.abstractSyntax)).map((c) => c.name),
  };
}

function acceptedContext(info: AssociationInfo, uid: string): { id: number; explicit: boolean } | null {
  const c = info.contexts.find((x) => x.abstractSyntax === uid && x.result === 0);
  if (!c) return null;
  return { id: c.id, explicit: c.transferSyntax === UID.ExplicitVRLittleEndian };
}

/** Waits for the next DIMSE message; peer aborts and closes are events, not exceptions. */
async function nextEvent(reader: DimseReader): Promise<DimseEvent | { kind: 'closed'; error: string } | { kind: 'timeout' }> {
  try {
    return await reader.next();
  } catch (err) {
    const status = statusOf(err);
    if (status === 'io-timeout') return { kind: 'timeout' };
    if (status === 'protocol-error') throw err;
    return { kind: 'closed', error: messageOf(err) };
  }
}

async function cEcho(sock: BoundedSocket, reader: DimseReader, contextId: number): Promise<{ status: number | null; ok: boolean; event: string }> {
  const cmd = encodeCommand({
    commandField: CommandField.CEchoRq,
    affectedSopClass: UID.Verification,
    messageId: 1,
    dataSetType: NO_DATA_SET,
  });
  sock.write(encodePData([{ contextId, isCommand: true, isLast: true, data: cmd }]), 'C-ECHO-RQ');
  const ev = await nextEvent(reader);
  if (ev.kind === 'message') {
    const status = ev.command.status ?? null;
    return { status, ok: status === 0, event: 'answered' };
  }
  return { status: null, ok: false, event: ev.kind };
}

interface FindSpec {
  kind: FindProbe['kind'];
  level: FindProbe['level'];
  model: FindProbe['model'];
  contextId: number;
  explicit: boolean;
  /** Stop at the first pending response (safe profile: no record should cross; if one does, stop at once). */
  stopAtFirst: boolean;
}

function findIdentifier(spec: FindSpec): Buffer {
  // Tags: (0008,0052) QueryRetrieveLevel, (0020,000D) StudyInstanceUID, (0010,0020) PatientID (PS3.4 C.6).
  const els: { tag: number; vr: string; value: string }[] = [{ tag: 0x00080052, vr: 'CS', value: spec.level }];
  if (spec.kind === 'random-uid') {
    if (spec.level === 'STUDY') els.push({ tag: 0x0020000d, vr: 'UI', value: randomUid() });
    else els.push({ tag: 0x00100020, vr: 'LO', value: `MS${randomBytes(12).toString('hex').toUpperCase()}` });
  } else if (spec.level === 'STUDY') {
    els.push({ tag: 0x0020000d, vr: 'UI', value: '' });
  } else {
    els.push({ tag: 0x00100020, vr: 'LO', value: '' });
  }
  return encodeDataSet(els, spec.explicit);
}

/**
 * One C-FIND. Pending responses are counted; identifiers are reduced to attribute keywords
 * the moment they arrive (values are never kept, not even in memory beyond the parse).
 */
async function cFind(sock: BoundedSocket, reader: DimseReader, spec: FindSpec, messageId: number): Promise<FindProbe> {
  const sopClass = spec.model === 'study-root' ? UID.StudyRootFind : UID.PatientRootFind;
  const cmd = encodeCommand({
    commandField: CommandField.CFindRq,
    affectedSopClass: sopClass,
    messageId,
    priority: 0,
    dataSetType: 0x0000,
  });
  sock.write(
    encodePData([
      { contextId: spec.contextId, isCommand: true, isLast: true, data: cmd },
      { contextId: spec.contextId, isCommand: false, isLast: true, data: findIdentifier(spec) },
    ]),
    `C-FIND-RQ ${spec.model} level=${spec.level} kind=${spec.kind}`,
  );
  const out: FindProbe = {
    kind: spec.kind,
    level: spec.level,
    model: spec.model,
    status: null,
    statusText: 'no final response',
    matches: 0,
    capped: false,
    attributes: [],
    outcome: 'answered',
  };
  const attributes = new Set<string>();
  const hardStop = LIMITS.dicomFindCap + 100;
  for (;;) {
    const ev = await nextEvent(reader);
    if (ev.kind !== 'message') {
      out.outcome = ev.kind === 'abort' ? 'aborted' : ev.kind === 'timeout' ? 'timeout' : 'closed';
      break;
    }
    const status = ev.command.status ?? -1;
    if (status === 0xff00 || status === 0xff01) {
      out.matches += 1;
      if (!spec.stopAtFirst && ev.dataSet) {
        for (const k of dataSetKeywords(ev.dataSet, spec.explicit)) attributes.add(k);
      }
      if (spec.stopAtFirst) {
        // A record matched a random key: the server ignores matching. Stop now, keep nothing.
        sock.write(encodeAbort({ source: 0, reason: 0 }), 'A-ABORT (stop after unexpected match)');
        out.capped = true;
        out.statusText = 'stopped at first match';
        break;
      }
      if (out.matches === LIMITS.dicomFindCap) {
        out.capped = true;
        sock.write(
          encodePData([
            {
              contextId: spec.contextId,
              isCommand: true,
              isLast: true,
              data: encodeCommand({ commandField: CommandField.CCancelRq, messageIdRespondedTo: messageId, dataSetType: NO_DATA_SET }),
            },
          ]),
          'C-CANCEL-RQ',
        );
      }
      if (out.matches >= hardStop) {
        sock.write(encodeAbort({ source: 0, reason: 0 }), 'A-ABORT (C-CANCEL ignored)');
        out.statusText = 'aborted: C-CANCEL ignored';
        break;
      }
      continue;
    }
    out.status = status;
    out.statusText = statusText(status);
    break;
  }
  out.attributes = [...attributes].sort();
  return out;
}

async function release(sock: BoundedSocket): Promise<DicomObservation['release']> {
  try {
    sock.write(encodeReleaseRq(), 'A-RELEASE-RQ');
    const pdu = await readPdu(sock, LIMITS.dicomAssocPdu, RELEASE_WAIT_MS);
    if (pdu.type === PduType.ReleaseRp) return 'released';
    if (pdu.type === PduType.Abort) return 'aborted-by-peer';
    return 'closed';
  } catch {
    return 'closed';
  } finally {
    sock.destroy();
  }
}

export async function runDicom(ctx: ProbeContext): Promise<ProbeResult<DicomObservation>> {
  const opts = (ctx.options.dicom ?? {}) as DicomOptions;
  const callingAe = padAe(opts.callingAe ?? DEFAULT_CALLING_AE).trimEnd();
  const obs: DicomObservation = {
    callingAe,
    anyAeAccepted: null,
    acceptedCalledAe: null,
    callingAeChecked: null,
    attempts: [],
    association: null,
    services: null,
    echo: null,
    find: null,
    patientFind: null,
    release: 'none',
    tls: ctx.tls,
  };
  let tls: TlsInfo | null = null;
  const done = (status: Status, error?: string): ProbeResult<DicomObservation> => ({
    status,
    result: obs,
    ...(error ? { error } : {}),
    ...(tls ? { tls } : {}),
  });

  // 1. The AE policy: random title first; documented defaults only after a rejection; guesses only when intrusive.
  const plan: { ae: string | null; kind: AeAttempt['kind'] }[] = [{ ae: null, kind: 'random' }];
  let accepted: Extract<Outcome, { kind: 'accepted' }> | null = null;
  const intrusive = ctx.profile === 'intrusive';
  const countQuery = intrusive && !ctx.host.fragile;
  for (let i = 0; i < plan.length; i++) {
    const step = plan[i]!;
    let outcome: Outcome;
    let calledAe = step.ae;
    try {
      outcome = await associate(ctx, () => (calledAe ??= randomCalledAe()), callingAe, step.kind, countQuery ? COUNT_SESSION_BYTES : undefined);
    } catch (err) {
      // Out of scope is not a network outcome: the engine must see it.
      if (err instanceof ScopeError) throw err;
      const status = statusOf(err);
      if (i === 0) return { status, result: obs, error: messageOf(err) };
      obs.attempts.push({ calledAe: calledAe ?? '', kind: step.kind, outcome: status === 'connection-closed' ? 'closed' : 'error' });
      break;
    }
    step.ae = calledAe;
    tls = outcome.tls ?? tls;
    if (outcome.kind === 'accepted') {
      accepted = outcome;
      obs.attempts.push({ calledAe: step.ae!, kind: step.kind, outcome: 'accepted' });
      obs.acceptedCalledAe = step.ae;
      if (step.kind === 'random') obs.anyAeAccepted = true;
      break;
    }
    obs.attempts.push(outcome.attempt);
    const rj = outcome.attempt.reject;
    if (step.kind === 'random') {
      if (rj) obs.anyAeAccepted = false;
      if (rj?.source === 1 && rj.reason === 3) obs.callingAeChecked = true;
      // Defaults are worth trying only when the called AE was the reason (or no reason was given).
      const calledAeReason = rj && rj.source === 1 && (rj.reason === 7 || rj.reason === 1);
      if (calledAeReason && !ctx.host.fragile) {
        for (const ae of defaultCalledAes(ctx.port)) plan.push({ ae, kind: 'default' });
        if (intrusive) {
          for (const ae of GUESS_AE_TITLES) {
            if (plan.some((p) => p.ae === ae)) continue;
            if (ctx.host.guessBudget <= 0) break;
            ctx.host.guessBudget -= 1;
            plan.push({ ae, kind: 'guess' });
          }
        }
      }
    }
  }
  if (!accepted) return done('success');

  // 2. What the association says.
  const { sock, ac } = accepted;
  const info = associationInfo(ac);
  obs.association = info;
  obs.services = servicesOf(info);
  const reader = new DimseReader(sock, LIMITS.dicomDataPdu);
  try {
    // 3. C-ECHO (PS3.7 §9.1.5).
    const verification = acceptedContext(info, UID.Verification);
    if (verification) {
      const echo = await cEcho(sock, reader, verification.id);
      obs.echo = { status: echo.status, ok: echo.ok };
      if (echo.event === 'abort') {
        obs.release = 'aborted-by-peer';
        if (obs.callingAeChecked === null) obs.callingAeChecked = true;
        sock.destroy();
        return done('success');
      }
      if (echo.event !== 'answered') {
        obs.release = 'closed';
        sock.destroy();
        return done('success');
      }
    }
    // 4. The query door: a random key in `safe`, a count in `intrusive`; nothing for fragile devices.
    if (!ctx.host.fragile) {
      const study = acceptedContext(info, UID.StudyRootFind);
      const patient = acceptedContext(info, UID.PatientRootFind);
      const kind: FindProbe['kind'] = countQuery ? 'count' : 'random-uid';
      let messageId = 2;
      if (study) {
        obs.find = await cFind(sock, reader, { kind, level: 'STUDY', model: 'study-root', contextId: study.id, explicit: study.explicit, stopAtFirst: !countQuery }, messageId++);
      } else if (patient) {
        obs.find = await cFind(sock, reader, { kind, level: 'PATIENT', model: 'patient-root', contextId: patient.id, explicit: patient.explicit, stopAtFirst: !countQuery }, messageId++);
      }
      if (countQuery && study && patient && obs.find?.outcome === 'answered' && obs.find.statusText !== 'stopped at first match') {
        obs.patientFind = await cFind(sock, reader, { kind, level: 'PATIENT', model: 'patient-root', contextId: patient.id, explicit: patient.explicit, stopAtFirst: false }, messageId++);
      }
      const last = obs.patientFind ?? obs.find;
      if (last && last.outcome !== 'answered') {
        if (last.outcome === 'aborted') {
          if (obs.echo?.ok && obs.callingAeChecked === null) obs.callingAeChecked = true;
          obs.release = 'aborted-by-peer';
        } else obs.release = 'closed';
        sock.destroy();
        return done('success');
      }
      if (obs.find?.outcome === 'answered' && obs.find.status !== null && obs.callingAeChecked === null) obs.callingAeChecked = false;
      if (obs.find?.statusText === 'stopped at first match') {
        obs.release = 'aborted-by-us';
        sock.destroy();
        return done('success');
      }
    }
    if (obs.echo?.ok && obs.callingAeChecked === null && obs.find === null && !ctx.host.fragile) {
      // Echo answered for an unknown caller; with no query service we cannot tell more.
      obs.callingAeChecked = null;
    }
    // 5. Polite close (PS3.8 §7.2).
    obs.release = await release(sock);
    return done('success');
  } catch (err) {
    sock.destroy();
    if (obs.release === 'none') obs.release = 'closed';
    return done(statusOf(err) === 'unknown-error' ? 'protocol-error' : statusOf(err), messageOf(err));
  }
}

export const dicomProbe: Probe<DicomObservation> = {
  id: 'dicom',
  title: 'DICOM upper layer (association, C-ECHO, C-FIND door test)',
  defaultPorts: [104, 2761, 2762, 4242, 11112],
  tlsPorts: [2762],
  safety: {
    associateRandomAe: 'safe',
    associateDocumentedDefaults: 'safe',
    cEcho: 'safe',
    cFindRandomKey: 'safe',
    associateGuessList: 'intrusive',
    cFindCount: 'intrusive',
  },
  resultSchema: DicomObservation,
  run: runDicom,
};

