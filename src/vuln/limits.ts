/**
 * Named caps for everything the vulnerability database reads from files it did not write:
 * NVD feeds, the KEV catalogue, CSAF advisories and the shards it keeps under the data dir.
 * Every size is checked before the bytes are kept (STYLE.md §3): a feed is streamed record by
 * record, so memory is bounded by `nvdRecordBytes`, not by the size of the feed.
 */
export const VULN_LIMITS = {
  /** Bytes of one input file on disk (compressed or not). The yearly NVD 2.0 feeds are < 100 MiB gzipped. */
  inputFileBytes: 512 * 1024 * 1024,
  /**
   * Bytes produced by gunzip for one file. The largest yearly NVD 2.0 feed is a few hundred MiB
   * of JSON; a gzip that inflates past this is cut (a gzip bomb, or not a feed).
   */
  decompressedBytes: 1024 * 1024 * 1024,
  /** Bytes of one CVE item in a feed. Kernel CVEs with thousands of cpeMatch entries stay below 2 MiB. */
  nvdRecordBytes: 4 * 1024 * 1024,
  /** CVE items in one feed file (the largest yearly feed has about 40,000). */
  nvdRecordsPerFile: 500_000,
  /** Bytes of a KEV catalogue (the whole catalogue is about 1.5 MiB). */
  kevBytes: 32 * 1024 * 1024,
  /** Entries in a KEV catalogue. */
  kevEntries: 200_000,
  /** Bytes of one CSAF advisory. */
  csafBytes: 32 * 1024 * 1024,
  /** Depth of the CSAF product_tree branches (CSAF 2.0 §3.1.3 nests vendor, family, name, version). */
  csafBranchDepth: 32,
  /** Product tree nodes and vulnerabilities walked in one CSAF advisory. */
  csafNodes: 100_000,
  /** Characters of a CPE formatted string (NVD criteria are < 300). */
  cpeChars: 1024,
  /** Characters of a version string. */
  versionChars: 256,
  /** Tokens of a parsed version (numbers and words). */
  versionTokens: 64,
  /** Configurations, nodes per configuration and cpeMatch entries per node in one CVE. */
  nvdConfigurations: 512,
  nvdNodes: 512,
  nvdCpeMatches: 20_000,
  /** Characters kept of an English description, and of a finding title made from it. */
  descriptionChars: 4096,
  titleChars: 160,
  /** References kept per CVE. */
  referencesKept: 32,
  /** Bytes of one line of a vendor shard under the data dir. */
  shardLineBytes: 4 * 1024 * 1024,
  /** Bytes of one vendor shard file under the data dir. */
  shardFileBytes: 256 * 1024 * 1024,
  /** Files of one kind (CSAF advisories) loaded from the data dir. */
  storedFiles: 20_000,
} as const;

export type VulnLimits = { -readonly [K in keyof typeof VULN_LIMITS]: number };
