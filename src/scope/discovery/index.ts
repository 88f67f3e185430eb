/**
 * scope/discovery: the handoff with L4 scanners at internet scale (DESIGN.md "distributed": L4
 * discovery handed to ZMap or masscan). Imports their output (masscan -oJ/-oD/-oL/-oG/-oX,
 * ZMap CSV/JSON, nmap -oX, ip:port lists) as open endpoints, so the application probes run
 * only where a port answered (the ZMap → ZGrab2 pattern); exports target and blocklist files
 * in their syntax from the scan's own target, scope and exclusion specs.
 */
export { DiscoveryFormatError } from './errors.js';
export type { DiscoveryFormat, DiscoveryStats, ParseOptions } from './context.js';
export { DiscoveredEndpoints, EndpointCollector, MAX_DISCOVERED_ENDPOINTS, TooManyEndpointsError } from './endpoints.js';
export type { EndpointCount } from './endpoints.js';
export { DISCOVERY_KINDS, describeDiscovery, loadDiscovered, parseDiscovered } from './load.js';
export type { DiscoveryKind, DiscoveryReport, DiscoveryResult, LoadDiscoveredOptions } from './load.js';
export { MAX_LINE_CHARS, openTextSource, textSource } from './text-source.js';
export type { TextSource } from './text-source.js';
export { MAX_HOST_ELEMENT_CHARS } from './nmap-xml.js';
export { SPECIAL_PURPOSE_V4, SPECIAL_PURPOSE_V6, specialPurposeSet } from './special-purpose.js';
export type { SpecialBlock } from './special-purpose.js';
export { EXPORT_FILES, EXPORT_FORMATS, cidrCover, masscanLines, writeTargetExport, zmapLines } from './export.js';
export type { ExportFormat, TargetExport } from './export.js';
