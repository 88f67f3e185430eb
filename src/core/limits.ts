/**
 * Named caps for everything a server controls. Every length field read from the network
 * is checked against one of these before anything is allocated (STYLE.md §3).
 */
export const LIMITS = {
  /** Bytes one session may read from one service, all PDUs together. */
  sessionBytes: 256 * 1024,
  /** Largest association-phase PDU (A-ASSOCIATE-AC/RJ, A-ABORT) we accept. Real ACs are < 2 KiB. */
  dicomAssocPdu: 64 * 1024,
  /** Largest P-DATA-TF PDU we accept while reading responses. */
  dicomDataPdu: 128 * 1024,
  /** Items and sub-items per association PDU. */
  dicomItems: 512,
  /** Raw bytes kept of an unknown item, for fingerprinting. */
  dicomUnknownItemBytes: 64,
  /** Unknown items kept per association. */
  dicomUnknownItems: 16,
  /** C-FIND pending responses counted before C-CANCEL (intrusive profile). */
  dicomFindCap: 1000,
  /** Data elements parsed from one C-FIND identifier. */
  dicomElements: 256,
  /** Banner bytes on which fingerprint regexes run. */
  bannerBytes: 1024,
  /** HTTP: all response header bytes of one response (undici maxHeaderSize). */
  httpHeaderBytes: 16 * 1024,
  /** HTTP: body bytes kept by default, and the hard cap a caller may ask for. */
  httpBodyBytes: 64 * 1024,
  httpMaxBodyBytes: 1024 * 1024,
  /** HTTP: redirects followed at most (a loop is stopped earlier, at the first repeated URL). */
  httpRedirects: 5,
  /** HTTP: characters kept of one header value, and header names kept per response. */
  httpHeaderValueChars: 1024,
  httpHeaderNames: 64,
} as const;

export const DEFAULT_TIMEOUTS = {
  connectMs: 3000,
  readMs: 5000,
  sessionMs: 20000,
} as const;
