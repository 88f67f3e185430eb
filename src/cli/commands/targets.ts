/**
 * `medsurface targets export --format zmap|masscan`: the L4 handoff in the other direction.
 * From the same target, scope and exclusion specs a scan takes, it writes the target
 * (allow-list) and blocklist files ZMap or masscan read, so the stateless sweep covers exactly
 * what medsurface may probe afterwards (`scan --from-zmap/--from-masscan` reads the results).
 *
 * Targets are addresses, CIDRs, ranges and @files (no host names: an L4 scanner's list is
 * addresses, and what it may reach must not change with DNS). Without targets, the scope is
 * the target set; with `--internet` and neither, the whole IPv4 space. `--internet` adds the
 * IANA special-purpose blocks to the blocklist (src/scope/discovery/special-purpose.ts).
 * Targets outside `--scope` are refused, as `scan` refuses them.
 */
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { defaultPortsOf, selectProbes } from '../../probes/index.js';
import { IpSet, loadIpSetSpecs } from '../../scope/index.js';
import { EXPORT_FORMATS, type ExportFormat, type TargetExport, specialPurposeSet, writeTargetExport } from '../../scope/discovery/index.js';
import { listOption, parsePorts } from '../options.js';
import type { CommandIo } from './inventory.js';

export interface TargetsExportOptions {
  format: string;
  /** `--targets` values (repeatable, comma-separated), added to the positional targets. */
  targets: string[];
  exclude: string[];
  excludeFile: string[];
  scope?: string;
  internet?: boolean;
  out: string;
  /** Ports for the printed scanner command (default: the default ports of every probe). */
  ports?: string;
  json?: boolean;
}

/** Offending ranges listed when targets leave the scope. */
const LISTED_RANGES = 5;
/** Longest target/exclusion text copied into a file's header comment. */
const NOTE_CHARS = 200;

const processIo: Pick<CommandIo, 'out' | 'err'> = { out: process.stdout, err: process.stderr };

function note(label: string, values: string[]): string[] {
  if (values.length === 0) return [];
  const text = values.join(', ');
  return [`${label}: ${text.length > NOTE_CHARS ? `${text.slice(0, NOTE_CHARS)}...` : text}`];
}

/** The command line to run the sweep with the files written, then the import. */
function sweepCommand(r: TargetExport, ports: number[]): string[] {
  const p = ports.join(',');
  if (r.format === 'zmap') {
    return [
      `zmap -p ${p} --allowlist-file=${r.targetsFile} --blocklist-file=${r.blocklistFile} --output-fields=saddr,sport,classification,success --output-filter="success = 1 && repeat = 0" -o zmap.csv`,
      'medsurface scan --from-zmap zmap.csv',
      ...(ports.length > 1 ? ['(ZMap 2.x scans one port a run: run it once per port and import each file)'] : []),
    ];
  }
  return [`masscan -p${p} --includefile ${r.targetsFile} --excludefile ${r.blocklistFile} -oL masscan.txt`, 'medsurface scan --from-masscan masscan.txt'];
}

export async function executeTargetsExport(
  positional: string[],
  o: TargetsExportOptions,
  io: Pick<CommandIo, 'out' | 'err'> = processIo,
): Promise<TargetExport> {
  if (!EXPORT_FORMATS.includes(o.format as ExportFormat)) {
    throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')} (got ${JSON.stringify(o.format)})`);
  }
  const format = o.format as ExportFormat;
  if (!o.out) throw new UsageError('--out <dir> is required: the folder the two files are written to');
  const ports = o.ports ? parsePorts(o.ports) : defaultPortsOf(selectProbes());
  const specs = [...positional, ...o.targets];
  const targets = specs.length > 0 ? await loadIpSetSpecs(specs, [], undefined, 'targets') : null;
  const exclude = await loadIpSetSpecs(o.exclude, o.excludeFile, undefined, 'exclusion list');
  const scope = o.scope ? await loadIpSetSpecs([o.scope], [], undefined, 'scope') : null;

  let allow: IpSet;
  if (targets !== null) {
    allow = targets;
    if (scope !== null && !scope.containsAll(targets)) {
      const outside = targets.subtract(scope);
      const texts = outside.rangeTexts(LISTED_RANGES + 1);
      const more = outside.rangeCount > LISTED_RANGES ? ` and ${outside.rangeCount - LISTED_RANGES} more range(s)` : '';
      throw new UsageError(
        `${outside.size} target address(es) are outside the authorised scope (--scope): ${texts.slice(0, LISTED_RANGES).join(', ')}${more}; nothing was written`,
      );
    }
  } else if (scope !== null) {
    allow = scope;
  } else if (o.internet) {
    allow = IpSet.parse(['0.0.0.0/0']);
  } else {
    throw new UsageError('no targets: give addresses, CIDRs, ranges or @file, or --scope, or --internet for the whole IPv4 space');
  }
  const block = o.internet ? exclude.union(specialPurposeSet()) : exclude;
  if (allow.subtract(block).isEmpty) throw new UsageError('nothing left to scan: every target is in the exclusion list');

  const result = await writeTargetExport({
    format,
    dir: o.out,
    allow,
    block,
    note: [
      `written ${new Date().toISOString()}`,
      ...note('targets', specs),
      ...note('scope', o.scope ? [o.scope] : []),
      ...note('exclude', [...o.exclude, ...o.excludeFile.map((f) => `@${f}`)]),
      ...(o.internet ? ['--internet: IANA special-purpose blocks excluded (RFC 6890 registries), and multicast'] : []),
    ],
  });

  if (o.json) {
    io.out.write(
      `${JSON.stringify(
        { ...result, targetAddresses: result.targetAddresses.toString(), droppedIpv6Targets: { ranges: result.droppedIpv6Targets.ranges, addresses: result.droppedIpv6Targets.addresses.toString() } },
        null,
        2,
      )}\n`,
    );
  }
  const err = (s: string) => io.err.write(`medsurface: ${s}\n`);
  err(`${format} targets: ${result.targetLines} line(s), ${result.targetAddresses} address(es) -> ${result.targetsFile}`);
  err(`${format} blocklist: ${result.blocklistLines} line(s) -> ${result.blocklistFile}`);
  if (result.droppedIpv6Targets.ranges > 0) {
    err(`ZMap scans IPv4 only: ${result.droppedIpv6Targets.ranges} IPv6 target range(s) (${result.droppedIpv6Targets.addresses} addresses) were not written; use --format masscan for them`);
  }
  if (format === 'zmap' && !o.internet) {
    err('note: --blocklist-file replaces ZMap\'s default blocklist (/etc/zmap/blocklist.conf); add --internet for an internet-wide sweep');
  }
  for (const l of sweepCommand(result, ports)) err(`  ${l}`);
  return result;
}

export function registerTargets(program: Command, io: Pick<CommandIo, 'out' | 'err'> = processIo): void {
  const targets = program.command('targets').description('target lists for other tools (the ZMap / masscan handoff)');
  targets
    .command('export')
    .description('write target (allow-list) and blocklist files for ZMap or masscan from the scan\'s target, scope and exclusion specs')
    .argument('[targets...]', 'addresses, CIDRs, ranges (127.0.0.1-127.0.3.255), @file')
    .requiredOption('--format <tool>', `${EXPORT_FORMATS.join(' or ')}`)
    .requiredOption('-o, --out <dir>', 'folder for the two files (created if missing)')
    .option('--targets <cidrs>', 'more targets (repeatable, comma-separated)', (v: string, prev: string[]) => [...prev, ...listOption(v)], [])
    .option('--exclude <cidrs>', 'exclude these (repeatable, comma-separated)', (v: string, prev: string[]) => [...prev, ...listOption(v)], [])
    .option('--exclude-file <file>', 'exclusion list file (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .option('--scope <file|cidrs>', 'authorised scope: targets outside it are refused; without targets, the scope is swept')
    .option('--internet', 'internet-wide: also block the IANA special-purpose ranges; without targets or scope, sweep all of IPv4')
    .option('-p, --ports <list>', 'ports for the printed scanner command (default: the default ports of every probe)')
    .option('--json', 'print a JSON summary on stdout')
    .addHelpText(
      'after',
      `
Examples:
  medsurface targets export --format zmap --internet --exclude-file optout.txt --out sweep/
  medsurface targets export --format masscan 10.20.0.0/16 --scope 10.0.0.0/8 --exclude 10.20.9.0/24 --out sweep/`,
    )
    .action(async (positional: string[], o: TargetsExportOptions) => {
      await executeTargetsExport(positional, o, io);
    });
}
