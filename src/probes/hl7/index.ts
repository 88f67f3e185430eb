/** The hl7 probe's public face: HL7 v2 over MLLP (plain and TLS). */
export { DEFAULT_SENDING_APPLICATION, QUERY_VERSION, type Hl7Options, hl7Probe, runHl7 } from './probe.js';
export { Hl7ErrorInfo, Hl7Framing, Hl7Observation } from './schema.js';
export {
  ACK_CODES,
  type AckCode,
  HL7_LIMITS,
  type Hl7Message,
  MLLP,
  buildPatientQuery,
  decodeFrame,
  encodeFrame,
  finishFrame,
  parseMessage,
  scanFrame,
} from './parse.js';
