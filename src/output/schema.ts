/**
 * The full output record schema: the shared ServiceRecord with `data` typed per probe.
 * The JSON Schema in schema/service-record.schema.json is generated from this
 * (`npm run schema`) and a test validates real scan output against it.
 */
import { z } from 'zod';
import { ServiceRecord } from '../core/types.js';
import { CredentialsObservation } from '../credentials/schema.js';
import { DicomObservation } from '../probes/dicom/schema.js';
import { DicomwebObservation } from '../probes/dicomweb/schema.js';
import { FhirObservation } from '../probes/fhir/schema.js';
import { FtpObservation } from '../probes/ftp/schema.js';
import { Hl7Observation } from '../probes/hl7/schema.js';
import { HttpObservation } from '../probes/http/schema.js';
import { RdpObservation } from '../probes/rdp/schema.js';
import { TelnetObservation } from '../probes/telnet/schema.js';
import { VncObservation } from '../probes/vnc/schema.js';

export const ProbeData = z
  .object({
    dicom: DicomObservation.optional(),
    hl7: Hl7Observation.optional(),
    http: HttpObservation.optional(),
    fhir: FhirObservation.optional(),
    dicomweb: DicomwebObservation.optional(),
    vnc: VncObservation.optional(),
    telnet: TelnetObservation.optional(),
    ftp: FtpObservation.optional(),
    rdp: RdpObservation.optional(),
    /** Intrusive profile: default-credential attempts (src/credentials/). */
    credentials: CredentialsObservation.optional(),
  })
  .catchall(z.unknown());

export const OutputRecord = ServiceRecord.extend({ data: ProbeData });
export type OutputRecord = z.infer<typeof OutputRecord>;

export function outputJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(OutputRecord, { target: 'draft-2020-12', io: 'output' }) as Record<string, unknown>;
  return {
    $id: 'https://medsurface.invalid/schema/service-record.schema.json',
    title: 'medsurface service record (one JSON line per service)',
    ...schema,
  };
}
