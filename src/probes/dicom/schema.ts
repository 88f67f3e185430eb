/**
 * The DICOM probe's observation (the value of `data.dicom` in the output). Field names
 * here are also the paths that fingerprints (`dicom.implementationClassUid`) and checks
 * match on. No field ever holds a value taken from a patient record: C-FIND results are
 * kept as counts and attribute keywords only.
 */
import { z } from 'zod';

export const RejectInfo = z.object({
  result: z.number().int(),
  source: z.number().int(),
  reason: z.number().int(),
  /** Human reading of the triple per PS3.8 §9.3.4 table 9-21. */
  text: z.string(),
});

export const AeAttempt = z.object({
  calledAe: z.string(),
  /** `random`: a random title nobody configures; `default`: a documented product default; `guess`: intrusive list. */
  kind: z.enum(['random', 'default', 'guess']),
  outcome: z.enum(['accepted', 'rejected', 'aborted', 'closed', 'error']),
  reject: RejectInfo.optional(),
  abort: z.object({ source: z.number().int(), reason: z.number().int() }).optional(),
});

export const PresentationContextResult = z.object({
  id: z.number().int(),
  abstractSyntax: z.string(),
  /** Short name of the abstract syntax (`verification`, `study-root-find`, ...). */
  name: z.string(),
  result: z.number().int(),
  resultText: z.string(),
  transferSyntax: z.string().nullable(),
});

export const UnknownItem = z.object({
  type: z.number().int(),
  length: z.number().int(),
  /** First bytes of the value, hex, bounded by LIMITS.dicomUnknownItemBytes. */
  hex: z.string(),
});

export const AssociationInfo = z.object({
  protocolVersion: z.number().int(),
  calledAeEcho: z.string(),
  callingAeEcho: z.string(),
  applicationContext: z.string().nullable(),
  maxPduLength: z.number().int().nullable(),
  implementationClassUid: z.string().nullable(),
  implementationVersionName: z.string().nullable(),
  asyncOpsWindow: z.object({ invoked: z.number().int(), performed: z.number().int() }).nullable(),
  roleSelections: z.array(z.object({ sopClass: z.string(), scu: z.boolean(), scp: z.boolean() })),
  /** The server answered a user-identity request (0x59 sub-item present). */
  userIdentityResponse: z.boolean(),
  contexts: z.array(PresentationContextResult),
  unknownItems: z.array(UnknownItem),
});

export const DicomServices = z.object({
  verification: z.boolean(),
  patientRootFind: z.boolean(),
  studyRootFind: z.boolean(),
  patientRootMove: z.boolean(),
  studyRootMove: z.boolean(),
  patientRootGet: z.boolean(),
  studyRootGet: z.boolean(),
  worklistFind: z.boolean(),
  /** Names of the accepted storage SOP classes (`ct-image-storage`, ...). */
  storage: z.array(z.string()),
});

export const FindProbe = z.object({
  /** `random-uid`: safe door test, no record can match; `count`: intrusive count-only query. */
  kind: z.enum(['random-uid', 'count']),
  level: z.enum(['PATIENT', 'STUDY']),
  model: z.enum(['patient-root', 'study-root']),
  /** Final C-FIND status (0x0000 success, 0xFE00 cancelled, ...), null when no final response came. */
  status: z.number().int().nullable(),
  statusText: z.string(),
  /** Pending responses seen (each is one matching record). Values were never kept. */
  matches: z.number().int(),
  /** True when we sent C-CANCEL at the cap. */
  capped: z.boolean(),
  /** Attribute keywords present in the identifiers returned (never their values). */
  attributes: z.array(z.string()),
  /** Outcome when the association did not carry the query through. */
  outcome: z.enum(['answered', 'aborted', 'closed', 'timeout', 'refused']),
});

export const DicomObservation = z.object({
  callingAe: z.string(),
  /** True: a random called AE title was accepted. False: it was rejected. Null: unknown. */
  anyAeAccepted: z.boolean().nullable(),
  acceptedCalledAe: z.string().nullable(),
  /** True when the server seems to check the calling AE (reject reason 3, or abort at first command). */
  callingAeChecked: z.boolean().nullable(),
  attempts: z.array(AeAttempt),
  association: AssociationInfo.nullable(),
  services: DicomServices.nullable(),
  echo: z.object({ status: z.number().int().nullable(), ok: z.boolean() }).nullable(),
  /** Safe profile: the random-UID door test. Intrusive profile: the count-only STUDY-level query. */
  find: FindProbe.nullable(),
  /** Intrusive profile only: a count-only PATIENT-level query when Patient Root FIND is offered. */
  patientFind: FindProbe.nullable(),
  /** How the last association ended. */
  release: z.enum(['released', 'aborted-by-us', 'aborted-by-peer', 'closed', 'none']),
  tls: z.boolean(),
});
export type DicomObservation = z.infer<typeof DicomObservation>;
export type AssociationInfo = z.infer<typeof AssociationInfo>;
export type AeAttempt = z.infer<typeof AeAttempt>;
export type FindProbe = z.infer<typeof FindProbe>;
export type DicomServices = z.infer<typeof DicomServices>;
