/**
 * Pure functions of the DICOMweb probe. A QIDO-RS reply (DICOM PS3.18 §10.6.3.3.1) in the DICOM
 * JSON Model (PS3.18 Annex F.2) is an array of objects, one per matching study, each keyed by
 * attribute tags (`"0020000D"`) whose values carry `vr` and `Value`. The values are patient data
 * (PatientName, PatientID, dates, UIDs), so dicomJsonSummary only COUNTS the objects and collects
 * the attribute tags, as keywords: it walks tokens and never decodes a value.
 */
import { ProtocolError } from '../../core/errors.js';
import { JSON_LIMITS, type JsonLimits, JsonScanner } from '../fhir/bounded-json.js';
import { keywordOf } from '../dicom/uids.js';

export const DICOMWEB_CAPS = {
  /** Study objects counted by the intrusive count (the same cap as the DICOM C-FIND count). */
  countCap: 1000,
  /** Distinct attribute keywords kept. */
  attributes: 256,
} as const;

export interface DicomJsonSummary {
  /** Objects (matches) counted, at most the cap. */
  objects: number;
  /** Array elements that were not objects (not DICOM JSON). */
  nonObjects: number;
  /** Keywords (or `(gggg,eeee)`) of the attribute tags seen, sorted, bounded. */
  attributes: string[];
  /** Keys that are not 8-hex-digit tags (not DICOM JSON). */
  badKeys: number;
  /** Counting stopped at the cap. */
  capped: boolean;
  /** The body was cut at the byte cap. */
  truncated: boolean;
}

const TAG = /^[0-9A-Fa-f]{8}$/;

/**
 * Counts the objects of a DICOM JSON array and collects their top-level attribute tags, never
 * decoding a value. An empty body counts as an empty array (QIDO-RS may answer 204 No Content,
 * PS3.18 §10.6.3.2). Throws ProtocolError when the body is not a JSON array.
 */
export function dicomJsonSummary(body: Buffer, opts: { cap?: number; limits?: Partial<JsonLimits> } = {}): DicomJsonSummary {
  const cap = opts.cap ?? DICOMWEB_CAPS.countCap;
  const out: DicomJsonSummary = { objects: 0, nonObjects: 0, attributes: [], badKeys: 0, capped: false, truncated: false };
  if (body.length === 0 || body.every((b) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09)) return out;
  const sc = new JsonScanner(body, {
    maxBytes: opts.limits?.maxBytes ?? JSON_LIMITS.maxBytes,
    maxDepth: opts.limits?.maxDepth ?? JSON_LIMITS.maxDepth,
    partial: opts.limits?.partial ?? true,
  });
  const first = sc.next();
  if (!first) throw new ProtocolError('empty DICOM JSON body');
  if (first.type !== 'begin-array') throw new ProtocolError('DICOM JSON reply is not an array');
  const attributes = new Set<string>();
  for (let t = sc.next(); t !== null; t = sc.next()) {
    if (t.type === 'begin-object' && t.depth === 2) {
      if (out.objects >= cap) {
        out.capped = true;
        break;
      }
      out.objects++;
    } else if (t.depth === 1 && t.type !== 'end-object' && t.type !== 'end-array' && t.type !== 'key') {
      // A scalar directly inside the array, or a nested array opening to depth 2.
      out.nonObjects++;
    } else if (t.type === 'begin-array' && t.depth === 2) {
      out.nonObjects++;
    } else if (t.type === 'key' && t.depth === 2) {
      // Keys are tags: decoded only when short enough to be one.
      const tag = JsonScanner.rawLength(t) === 8 ? sc.text(t) : '';
      if (TAG.test(tag)) {
        if (attributes.size < DICOMWEB_CAPS.attributes) attributes.add(keywordOf(Number.parseInt(tag, 16)));
      } else out.badKeys++;
    }
  }
  out.truncated = sc.truncated;
  out.attributes = [...attributes].sort();
  return out;
}

/** True when a Content-Type names DICOM JSON or JSON (`application/dicom+json`, PS3.18 §8.7.3.5.2). */
export function isJsonContentType(ct: string | undefined): boolean {
  if (!ct) return false;
  const base = ct.split(';')[0]!.trim().toLowerCase();
  return base === 'application/dicom+json' || base === 'application/json' || base.endsWith('+json');
}
