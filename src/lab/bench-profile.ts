/**
 * The bench endpoints' behaviour: permissive (any called and calling AE), Verification and
 * both Q/R FIND models, the standard synthetic record store, announcing dcm4che's
 * implementation class UID and version name (as the permissive lab PACS does).
 */
import { UID } from '../probes/dicom/uids.js';
import { ScpProfile } from './dicom-scp.js';
import { recordSet } from './records.js';

export function benchProfile(): ScpProfile {
  return new ScpProfile({
    aeTitle: 'BENCH',
    calledAes: 'any',
    abstractSyntaxes: [UID.Verification, UID.PatientRootFind, UID.StudyRootFind],
    implementationClassUid: '1.2.40.0.13.1.3',
    implementationVersionName: 'dcm4che-5.31.0',
    maxPduLength: 16384,
    records: recordSet('standard'),
    idleTimeoutMs: 15_000,
    artimMs: 5_000,
  });
}
