/**
 * scope: what may be scanned, and in which order (DESIGN.md "Data flow": targets -> scope
 * guard -> engine). Target parsing (addresses, CIDRs, ranges, host names, @file, stdin), a
 * constant-memory pseudo-random order with sharding and resume, the exclusion list, the
 * authorised scope, and the guard core/bounded-socket calls on every connect.
 */
export { IpSet } from './ipset.js';
export { TargetSet, MAX_TARGETS } from './targets.js';
export type { TargetEntry, TargetSpecOptions, IterateOptions } from './targets.js';
export { loadIpSetSpecs, MAX_LIST_BYTES } from './lists.js';
export type { ReadFileFn } from './lists.js';
export { makeScopeGuard, assertInScope } from './guard.js';
export { createHostResolver, parseResolverSpec } from './resolver.js';
export type { HostResolver } from './resolver.js';
export {
  MAX_CONTACT_CHARS,
  checkInternetContact,
  combineExclusions,
  describeExclusions,
  exclusionCounts,
  internetExclusion,
  parseAllowSpecial,
} from './internet.js';
export type { ExclusionCounts, InternetMode, RunExclusions } from './internet.js';
