/**
 * Runs `medsurface scan` from source: `node --import tsx src/server/scan-entry.ts scan ...`.
 * Tests give it to buildServer as the scan command (the packaged CLI runs from dist/, which
 * tests do not build); its options are exactly the CLI's, from registerScan, and SIGINT ends
 * the scan as the CLI's does (recorded interrupted).
 */
import { Command, CommanderError } from 'commander';
import { registerScan } from '../cli/commands/scan.js';
import { ScopeError, UsageError, messageOf } from '../core/errors.js';

const program = new Command().name('medsurface').exitOverride();
registerScan(program);
program.parseAsync(process.argv).then(
  () => {
    process.exitCode ??= 0;
  },
  (err: unknown) => {
    if (err instanceof CommanderError) process.exitCode = err.exitCode === 0 ? 0 : 2;
    else {
      process.stderr.write(`medsurface: ${messageOf(err)}\n`);
      process.exitCode = err instanceof UsageError || err instanceof ScopeError ? 2 : 1;
    }
  },
);
