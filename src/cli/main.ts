/**
 * The medsurface command line. Usage errors print one clear line and exit 2; nothing but
 * results is written to stdout.
 */
import { Command, CommanderError } from 'commander';
import { ScopeError, UsageError } from '../core/errors.js';
import { VERSION } from '../core/version.js';
type Register = (program: Command) => void;

/**
 * Each command's module and its register functions, loaded on demand: a command pulls in only
 * what it needs (the report's Chromium driver and ECharts, the disclosure's OpenPGP and mailer
 * cost seconds of start-up that `medsurface scan` must not pay, and that a Ctrl-C during start-up
 * would otherwise meet before the scan's own handler is installed). `--help` loads them all.
 */
const COMMANDS: Record<string, () => Promise<Register[]>> = {
  scan: async () => [(await import('./commands/scan.js')).registerScan],
  inventory: async () => [(await import('./commands/inventory.js')).registerInventory],
  lab: async () => [(await import('./commands/lab.js')).registerLab],
  demo: async () => [(await import('./commands/demo.js')).registerDemo],
  schema: async () => [(await import('./commands/schema.js')).registerSchema],
  checks: async () => [(await import('./commands/catalog.js')).registerCatalog],
  search: async () => [(await import('./commands/search.js')).registerSearch],
  rescore: async () => [(await import('./commands/rescore.js')).registerRescore],
  attribute: async () => [(await import('./commands/attribute.js')).registerAttribute],
  diff: async () => [(await import('./commands/diff.js')).registerDiff],
  export: async () => [(await import('./commands/export.js')).registerExport],
  report: async () => [(await import('./commands/report.js')).registerReport],
  disclose: async () => [(await import('./commands/disclose.js')).registerDisclose],
  targets: async () => [(await import('./commands/targets.js')).registerTargets],
  monitor: async () => [(await import('./commands/monitor.js')).registerMonitor],
  stop: async () => [(await import('./commands/monitor.js')).registerStop],
  worker: async () => [(await import('./commands/worker.js')).registerWorker],
  serve: async () => [(await import('./commands/serve.js')).registerServe],
  users: async () => [(await import('./commands/users.js')).registerUsers],
  optout: async () => [(await import('./commands/optout.js')).registerOptOut],
};
/** Commands registered by another command's module. */
const ALIASES: Record<string, string> = { fingerprints: 'checks', vulndb: 'checks' };

/** The command word of argv (node, script, then options and arguments), or null. */
function commandOf(argv: string[]): string | null {
  for (const a of argv.slice(2)) {
    if (a.startsWith('-')) return null;
    return a;
  }
  return null;
}

/** The program with the commands `only` names (all when null or unknown, for help and errors). */
export async function buildProgram(only: string | null = null): Promise<Command> {
  const program = new Command();
  program
    .name('medsurface')
    .description('Find, identify and assess internet-exposed healthcare systems (DICOM PACS, modalities, ...).\nOnly scan networks you are authorised to assess.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const key = only === null ? null : (ALIASES[only] ?? only);
  const loaders = key !== null && COMMANDS[key] ? [COMMANDS[key]] : Object.values(COMMANDS);
  const seen = new Set<Register>();
  for (const load of loaders) {
    for (const register of await load()) {
      if (seen.has(register)) continue;
      seen.add(register);
      register(program);
    }
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(commandOf(argv));
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
