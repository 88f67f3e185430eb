/**
 * attribution: country, ASN and owning organisation of an address (issue 5 "Attribution"),
 * from MaxMind-format mmdb files and the user's orgs.yaml, which takes precedence.
 * docs/attribution.md is the user's guide; the API:
 *
 *   const attributor = await Attributor.open({ geoip, asn, orgs });   // files checked here
 *   const a = attributor.lookup('192.0.2.10');                        // pure, synchronous
 *   // { country, asn, asOrg, org, orgSource: 'orgs' | 'asn' | null, orgNetwork?, contact?, cert?, tags? }
 *
 * Errors are AttributionError (a UsageError: the CLI prints the message alone).
 * mmdb-writer.ts is for tests only and is not exported here.
 */
export { Attributor } from './attributor.js';
export type { AttributorOptions } from './attributor.js';
export { AttributionError } from './errors.js';
export { Attribution, OrgCert, OrgContact, OrgSource, ORG_SOURCES } from './types.js';
export type { AttributionSource } from './types.js';
export { OrgTable, ORGS_LIMITS } from './orgs.js';
export type { Organisation } from './orgs.js';
export { MmdbDatabase, MMDB_LIMITS, extractFields, describeLayout } from './mmdb.js';
export type { MmdbFields, MmdbInfo, MmdbLayout, MmdbRole } from './mmdb.js';
export { parseIp, parseCidr, isSpecialRange } from './address.js';
export type { Cidr, ParsedIp } from './address.js';
