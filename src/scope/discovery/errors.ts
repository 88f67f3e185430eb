/**
 * The one error a discovery file raises: a UsageError (printed as one line, exit 2) that names
 * the file and the line, so a user can open the file at the place that was refused.
 */
import { UsageError } from '../../core/errors.js';

export class DiscoveryFormatError extends UsageError {
  /** The file as the user named it (`-` for stdin). */
  readonly source: string;
  /** 1-based line, or 0 when the error is about the file as a whole. */
  readonly line: number;

  constructor(source: string, line: number, message: string, options?: { cause?: unknown }) {
    super(`${line > 0 ? `${source}:${line}` : source}: ${message}`, options);
    this.name = 'DiscoveryFormatError';
    this.source = source;
    this.line = line;
  }
}

