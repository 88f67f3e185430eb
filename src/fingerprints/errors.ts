/**
 * The fingerprint module's error: a db file, the index or a user pack is malformed. A user error
 * (UsageError) so the CLI prints its message on one line, naming the file, instead of a stack.
 */
import { UsageError } from '../core/errors.js';

export class FingerprintDbError extends UsageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FingerprintDbError';
  }
}
