/**
 * Runs `medsurface worker` from source: `node --import tsx src/distributed/worker-entry.ts
 * worker --queue ... --db ...`. The tests and bench/distributed.ts start worker processes with
 * it (the packaged CLI runs from dist/, which tests do not build); its options are exactly the
 * CLI's, from registerWorker.
 */
import { Command, CommanderError } from 'commander';
import { registerWorker } from '../cli/commands/worker.js';
import { ScopeError, UsageError, messageOf } from '../core/errors.js';

const program = new Command().name('medsurface').exitOverride();
registerWorker(program);
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
