/**
 * `medsurface export --format csv|json|jsonl|sarif|defectdojo|nmap-xml`: the inventory's open
 * findings (or services, `--services`) for other tools, marked with a TLP 2.0 label (default
 * TLP:AMBER). `--query` selects services with the search language of `medsurface search`
 * (honeypots left out unless --include-honeypots or a `honeypot:` term). The export goes to
 * stdout, or with --out to a file written atomically (mode 0600). A bad format, TLP or query
 * exits 2 before anything is written.
 */
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import {
  DEFAULT_TLP,
  EXPORT_FORMATS,
  fileSink,
  parseExportFormat,
  parseTlp,
  runExport,
  SERVICE_ROW_FORMATS,
  streamSink,
  TLP_LEVELS,
} from '../../export/index.js';
import { openKyselyInventory } from '../../inventory/index.js';

interface ExportOpts {
  format?: string;
  query?: string;
  tlp: string;
  out?: string;
  db?: string;
  includeHoneypots?: boolean;
  services?: boolean;
}

const HELP = `
One row (SARIF result, DefectDojo finding) per open finding of the services --query selects (all
open findings of a selected service, whatever their severity); with --services one row per service
(csv, json, jsonl). nmap-xml lists services, their findings as script output. A finding is open when
the last scan observed it; triaged ones are included with their user state (SARIF: suppressed;
DefectDojo: false_p, risk_accepted or is_mitigated). Evidence is what the checks kept (never patient
values); a service's raw observation is never exported.

TLP (FIRST TLP 2.0) is in every format: CSV a first column "tlp" on every row; JSON a top-level
"tlp"; JSONL a first line {"type":"meta","tlp":...}; SARIF runs[0].properties.tlp and
runs[0].automationDetails; DefectDojo the description; nmap-xml an XML comment and <medsurface tlp=...>.
CSV cells that start with = + - @ tab CR or ' get a ' in front (spreadsheet formula defence).

Examples:
  medsurface export --format sarif --query 'severity>=high' --out findings.sarif
  medsurface export --format csv --tlp red --out exposure.csv
  medsurface export --format defectdojo --query 'country:NL' > dojo.json
  medsurface export --format jsonl --services --query 'devicetype:pacs'
`;

/** Where the command writes: the export (without --out) and the summary (with --out). */
export interface ExportIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export function registerExport(program: Command, io: ExportIo = { stdout: process.stdout, stderr: process.stderr }): void {
  program
    .command('export')
    .description('export open findings (or services) as CSV, JSON, JSONL, SARIF, DefectDojo or nmap-XML, TLP-marked')
    .option('--format <format>', `${EXPORT_FORMATS.join(', ')} (required)`)
    .option('--query <query>', 'select services with the search language (see medsurface search --help); default all')
    .option('--tlp <level>', `TLP 2.0 marking: ${TLP_LEVELS.join(', ')}`, DEFAULT_TLP)
    .option('--out <file>', 'write to this file (atomically, mode 0600) instead of stdout')
    .option('--services', `one row per service instead of per finding (${SERVICE_ROW_FORMATS.join(', ')})`)
    .option('--include-honeypots', 'keep hosts judged honeypots or decoys')
    .option('--db <path|url>', 'inventory location (default $MEDSURFACE_DB or the XDG data dir)')
    .addHelpText('after', HELP)
    .action(async (o: ExportOpts) => {
      if (o.format === undefined) throw new UsageError(`export needs --format (${EXPORT_FORMATS.join(', ')})`);
      const format = parseExportFormat(o.format);
      const tlp = parseTlp(o.tlp);
      if (o.out !== undefined && o.out.trim() === '') throw new UsageError('--out needs a file name');
      const inv = await openKyselyInventory(o.db);
      try {
        const summary = await runExport(
          inv,
          {
            format,
            tlp,
            query: o.query ?? '',
            includeHoneypots: o.includeHoneypots === true,
            services: o.services === true,
          },
          () => (o.out === undefined ? Promise.resolve(streamSink(io.stdout)) : fileSink(o.out)),
        );
        if (o.out !== undefined) {
          const unit = format === 'nmap-xml' || o.services ? 'service(s)' : 'finding(s)';
          const left = summary.honeypotsExcluded ? ', honeypots left out' : '';
          io.stderr.write(`medsurface: exported ${summary.count} ${unit} of ${summary.services} service(s) as ${format}, ${summary.tlp}${left}, to ${summary.where}\n`);
        }
      } finally {
        await inv.close();
      }
    });
}
