/**
 * Every synthetic patient value the lab seeds into its channels (web pages, clinical systems,
 * HL7 messages, certificates, the DICOM archives' records): what the patient-data tests look for
 * on the wire, in the inventory, in API answers and on pages. Values shorter than 6 characters
 * are left out (they would match by chance).
 */
import { CLINICAL_LAB_CANARIES } from './nodes/clinical.js';
import { HL7_LAB_CANARIES } from './nodes/hl7.js';
import { CERT_LAB_CANARIES, WEB_LAB_CANARIES } from './nodes/web.js';
import type { RecordSet } from './layout.js';
import { recordSet } from './records.js';

export function labPatientCanaries(sets: readonly RecordSet[] = ['standard']): string[] {
  const values = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v === 'string' && v.length >= 6) values.add(v);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) add(x);
  };
  add(WEB_LAB_CANARIES);
  add(CLINICAL_LAB_CANARIES);
  add(HL7_LAB_CANARIES);
  add(CERT_LAB_CANARIES);
  // The DICOM archives' records: every name, patient id and study UID a C-FIND can return.
  for (const set of sets) {
    for (const r of recordSet(set)) {
      add(r.patientName);
      add(r.patientId);
      add(r.studyInstanceUid);
    }
  }
  return [...values];
}
