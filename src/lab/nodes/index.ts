/**
 * The lab's non-DICOM services, one file per protocol family, each exporting NODES
 * (LabNodeSpec with kind 'service' and a factory). Host offsets by family:
 * hl7 3.x, web 4.x, clinical (FHIR, DICOMweb, EHR/LIS web) 5.x, remote access 6.x, credential and
 * honeypot decoys 9.x.
 */
import type { LabNodeSpec } from '../layout.js';
import { NODES as CLINICAL } from './clinical.js';
import { NODES as DECOYS } from './decoys.js';
import { NODES as HL7 } from './hl7.js';
import { NODES as REMOTE } from './remote.js';
import { NODES as WEB } from './web.js';

export const SERVICE_NODES: readonly LabNodeSpec[] = [...HL7, ...WEB, ...CLINICAL, ...REMOTE, ...DECOYS];
