export { rdpProbe, runRdp } from './probe.js';
export { RdpAttempt, RdpObservation } from './schema.js';
export {
  PROTOCOL,
  RDP_LIMITS,
  encodeConnectionRequest,
  failureName,
  parseConnectionConfirm,
  protocolName,
  responseFlagNames,
  signatureOf,
} from './parse.js';
