/**
 * The one error type of the attribution library. Everything that goes wrong here is about a
 * file the user named (`--geoip`, `--asn`, `--orgs`) or an address handed to `lookup`, so it
 * is a UsageError: the CLI prints the message without a stack trace and exits with status 2.
 */
import { UsageError } from '../core/errors.js';

export class AttributionError extends UsageError {
  /** The file the problem is in, when there is one. */
  readonly file: string | undefined;

  constructor(message: string, options?: { cause?: unknown; file?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AttributionError';
    this.file = options?.file;
  }
}
