/**
 * The medsurface command line. Usage errors print one clear line and exit 2; nothing but
 * results is written to stdout.
 */
import { Command, CommanderError } from 'commander';
import { ScopeError, UsageError } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import { registerAttribute } from './commands/attribute.js';
import { registerCatalog } from './commands/catalog.js';
import { registerDemo } from './commands/demo.js';
import { registerDiff } from './commands/diff.js';
import { registerDisclose } from './commands/disclose.js';
import { registerExport } from './commands/export.js';
import { registerInventory } from './commands/inventory.js';
import { registerLab } from './commands/lab.js';
import { registerMonitor, registerStop } from './commands/monitor.js';
import { registerReport } from './commands/report.js';
import { registerRescore } from './commands/rescore.js';
import { registerScan } from './commands/scan.js';
import { registerSchema } from './commands/schema.js';
import { registerSearch } from './commands/search.js';
import { registerTargets } from './commands/targets.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('medsurface')
    .description('Find, identify and assess internet-exposed healthcare systems (DICOM PACS, modalities, ...).\nOnly scan networks you are authorised to assess.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerScan(program);
  registerInventory(program);
  registerLab(program);
  registerDemo(program);
  registerSchema(program);
  registerCatalog(program);
  registerSearch(program);
  registerRescore(program);
  registerAttribute(program);
  registerDiff(program);
  registerExport(program);
  registerReport(program);
  registerDisclose(program);
  registerTargets(program);
  registerMonitor(program);
  registerStop(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UsageError || err instanceof ScopeError) {
      process.stderr.write(`medsurface: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
