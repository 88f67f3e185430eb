/** Malformed or oversized vulnerability data (feed, catalogue, advisory, CPE, stored shard). */
export class VulnDataError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VulnDataError';
  }
}

/** A CPE formatted string that does not follow NISTIR 7695 §6.2. */
export class CpeError extends VulnDataError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CpeError';
  }
}
