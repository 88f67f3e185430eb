/**
 * The report's errors: a wrong option is the user's (a UsageError, printed as one line, exit 2);
 * a PDF that Chromium could not produce is the environment's (missing browser, timeout).
 */
import { UsageError } from '../core/errors.js';

/** A report option the user got wrong (`--format`, `--tlp`, `--max-assets`, a PDF without `--out`). */
export class ReportOptionError extends UsageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReportOptionError';
  }
}

/**
 * Chromium is missing, did not start, or did not print the report in time. A UsageError so the
 * command line prints it as one line (exit 2): the fix is the user's (install chromium, point
 * MEDSURFACE_CHROMIUM at it, or choose another format).
 */
export class PdfRenderError extends UsageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PdfRenderError';
  }
}
