/**
 * Errors of the disclosure workflow. Everything here is about what the user asked for (a case
 * that does not exist, a state change the workflow does not allow, a bad CERT directory or RDAP
 * file, a template that does not render), so each is a UsageError: the CLI prints the message
 * alone and exits with status 2.
 */
import { UsageError } from '../core/errors.js';

export class DisclosureError extends UsageError {
  /** The file the problem is in, when there is one. */
  readonly file: string | undefined;
  constructor(message: string, options?: { cause?: unknown; file?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DisclosureError';
    this.file = options?.file;
  }
}

/** A state change the case workflow does not allow (states.ts), with the allowed ones named. */
export class CaseStateError extends DisclosureError {
  constructor(message: string) {
    super(message);
    this.name = 'CaseStateError';
  }
}

/** A case number that names no case. */
export class NoSuchCaseError extends DisclosureError {
  constructor(id: string | number) {
    super(`no disclosure case ${JSON.stringify(String(id))} (medsurface disclose status lists them)`);
    this.name = 'NoSuchCaseError';
  }
}
