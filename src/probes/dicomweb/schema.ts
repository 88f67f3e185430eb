/**
 * The DICOMweb probe's observation (the value of `data.dicomweb` in the output). Field names are
 * the paths checks (`dicomweb.access`) and fingerprints (`dicomweb.server`, `dicomweb.authRealm`)
 * match on.
 *
 * A QIDO-RS reply carries patient data (names, ids, birth dates, UIDs): it is reduced to counts,
 * HTTP statuses and attribute keywords. No value of a matched study is ever kept, and no
 * instance is ever retrieved (no WADO-RS).
 */
import { z } from 'zod';

/**
 * One QIDO-RS study search (PS3.18 §10.6). `random-uid`: StudyInstanceUID = a fresh 2.25 UID that
 * no study has (safe); `count`: `limit=<cap>&includefield=none`, objects counted (intrusive).
 */
export const QidoSearch = z.object({
  kind: z.enum(['random-uid', 'count']),
  /** HTTP status, null when no answer came. */
  status: z.number().int().nullable(),
  /** Content-Type of the reply, bounded (`application/dicom+json`). */
  contentType: z.string().nullable(),
  /**
   * `open`: an unknown caller got a DICOM JSON array (or 204); `protected`: 401/403;
   * `not-dicomweb`: anything else; `error`: no usable answer.
   */
  outcome: z.enum(['open', 'protected', 'not-dicomweb', 'error']),
  /** Study objects returned: counted while skipped, values never decoded. */
  matches: z.number().int(),
  /** Counting stopped at the cap. */
  capped: z.boolean(),
  /** The body was cut at the byte cap (the count may be low). */
  truncated: z.boolean(),
  /** Keywords of the attributes present in the returned objects (never their values). */
  attributes: z.array(z.string()),
  error: z.string().nullable(),
});
export type QidoSearch = z.infer<typeof QidoSearch>;

export const DicomwebObservation = z.object({
  /** The root that answered as DICOMweb (`/dicom-web`), null when none did. */
  root: z.string().nullable(),
  /** Roots asked, in order (our own strings). */
  rootsTried: z.array(z.string()),
  /** Summary: `open` when an unknown caller can search studies, `protected` when refused, `unknown` otherwise. */
  access: z.enum(['open', 'protected', 'unknown']),
  /** Safe profile: the random-UID search. */
  search: QidoSearch.nullable(),
  /** Intrusive profile: the count. */
  count: QidoSearch.nullable(),
  /** Intrusive only: the number of studies counted (at most the cap). */
  studyCount: z.number().int().nullable(),
  /** Scheme of the 401 challenge (`Basic`, `Bearer`). */
  authScheme: z.string().nullable(),
  /** Realm of the 401 challenge, bounded (`Orthanc Secure Area`): a server's name for its protection space. */
  authRealm: z.string().nullable(),
  /**
   * Whether a path that is not DICOMweb got the same refusal (the whole server asks for
   * credentials, so the refusal alone does not prove DICOMweb); null when not asked.
   */
  authEverywhere: z.boolean().nullable(),
  /** HTTP Server header, bounded. */
  server: z.string().nullable(),
  tls: z.boolean(),
});
export type DicomwebObservation = z.infer<typeof DicomwebObservation>;
