import type { Status } from './status.js';

/** Base class for errors that carry a scan status word. */
export class ScanError extends Error {
  readonly status: Status;
  constructor(status: Status, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ScanError';
    this.status = status;
  }
}

/**
 * A ScanError without a stack trace. Network outcomes (refused, timed out, closed) are data,
 * not bugs: a /16 sweep creates hundreds of thousands of them, and capturing a stack for each
 * one costs more than the connect itself.
 */
export function scanError(status: Status, message: string, cause?: unknown): ScanError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new ScanError(status, message, cause === undefined ? undefined : { cause });
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** A connection was refused by the scope guard or the exclusion list: never sent. */
export class ScopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScopeError';
  }
}

/** Malformed or hostile bytes: a parser refuses them. */
export class ProtocolError extends ScanError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('protocol-error', message, options);
    this.name = 'ProtocolError';
  }
}

/** Input the user gave us (flag, file, target) is wrong. Printed without a stack trace. */
export class UsageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageError';
  }
}

/** Maps any thrown value to a status word; network errno codes follow zgrab2's mapping. */
export function statusOf(err: unknown): Status {
  if (err instanceof ScanError) return err.status;
  const code = (err as { code?: string } | null)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection-refused';
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'connection-timeout';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ERR_STREAM_DESTROYED':
      return 'connection-closed';
    default:
      if (typeof code === 'string' && (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS'))) return 'tls-error';
      return 'unknown-error';
  }
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
