export { runVnc, vncProbe } from './probe.js';
export { VncObservation } from './schema.js';
export { VNC_LIMITS, chooseVersion, parseSecurityType33, parseSecurityTypes, parseServerVersion, securityTypeName } from './parse.js';
