export { TELNET_PORTS, runTelnet, telnetProbe } from './probe.js';
export { TelnetObservation } from './schema.js';
export { TELNET_LIMITS, TelnetDecoder, bannerOf, cleanBanner, detectPrompt, formatNegotiation } from './parse.js';
