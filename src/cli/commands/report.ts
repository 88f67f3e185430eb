/**
 * `medsurface report --format html|pdf|md`: the assessment report of the inventory, or of the
 * systems a search-language query (`--query`) or an organisation (`--org`) selects, marked with
 * a TLP level (`--tlp`, default amber). src/report/ gathers and renders; this command checks
 * the options before anything is opened, and writes the file 0600 (a report says which
 * hospital systems are open and how), or HTML and Markdown to stdout.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { messageOf } from '../../core/errors.js';
import { openKyselyInventory } from '../../inventory/index.js';
import {
  gatherReport,
  parseTlp,
  REPORT_FORMATS,
  REPORT_LIMITS,
  type ReportFormat,
  ReportOptionError,
  renderHtml,
  renderMarkdown,
  renderPdf,
  TLP_LEVELS,
  tlpMarking,
} from '../../report/index.js';
import { sinceInstant } from './diff.js';

interface ReportOpts {
  format: string;
  query?: string;
  org?: string;
  tlp: string;
  out?: string;
  title?: string;
  since?: string;
  maxAssets?: string;
  includeHoneypots?: boolean;
  db?: string;
}

/** Where the command writes: the process's streams (tests pass their own). */
export interface ReportIo {
  out(chunk: string | Buffer): void;
  err(text: string): void;
  /** stdout is a terminal (a PDF is not written to one). */
  isTTY: boolean;
}

const PROCESS_IO: ReportIo = {
  out: (chunk) => void process.stdout.write(chunk),
  err: (text) => void process.stderr.write(text),
  get isTTY() {
    return process.stdout.isTTY === true;
  },
};

function shown(s: string): string {
  const t = s.replace(/[^\x20-\x7e]/g, '?');
  return t.length > 40 ? `${t.slice(0, 40)}...` : t;
}

export function parseFormat(text: string): ReportFormat {
  const f = text.trim().toLowerCase();
  if ((REPORT_FORMATS as readonly string[]).includes(f)) return f as ReportFormat;
  throw new ReportOptionError(`--format must be one of ${REPORT_FORMATS.join(', ')} (got "${shown(text)}")`);
}

function parseMaxAssets(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d{1,6}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isInteger(n) || n > REPORT_LIMITS.detailAssetsMax) {
    throw new ReportOptionError(`--max-assets must be an integer from 0 to ${REPORT_LIMITS.detailAssetsMax} (got "${shown(text)}")`);
  }
  return n;
}

/** Writes the report readable by its owner only (also when the file existed with a wider mode). */
function writePrivate(file: string, content: string | Buffer): void {
  try {
    writeFileSync(file, content, { mode: 0o600 });
    chmodSync(file, 0o600);
  } catch (err) {
    throw new ReportOptionError(`--out: cannot write ${file}: ${messageOf(err)}`, { cause: err });
  }
}

export function registerReport(program: Command, io: ReportIo = PROCESS_IO): void {
  program
    .command('report')
    .description('assessment report of the systems in the inventory (or those a query selects): HTML, PDF or Markdown, TLP-marked')
    .option('--format <format>', `output: ${REPORT_FORMATS.join(', ')}`, 'html')
    .option('--query <query>', 'only the services this search-language query selects (the medsurface search syntax)')
    .option('--org <name>', 'only hosts of this organisation (case-insensitive)')
    .option('--tlp <level>', `TLP marking: ${TLP_LEVELS.join(', ')}`, 'amber')
    .option('--out <file>', 'write the report to FILE (mode 0600); html and md go to stdout without it')
    .option('--title <text>', 'report title')
    .option('--since <age|date>', 'trend window start: 30d, 2026-03-01 (default: since the previous completed run)')
    .option('--max-assets <n>', `systems detailed, riskiest first (default ${REPORT_LIMITS.detailAssets})`)
    .option('--include-honeypots', 'count hosts judged honeypots too (left out by default)')
    .option('--db <path|url>', 'inventory location (default $MEDSURFACE_DB or the XDG data dir)')
    .addHelpText(
      'after',
      `
Examples:
  medsurface report --format html --out assessment.html
  medsurface report --format pdf --org "Example Hospital" --tlp amber+strict --out example.pdf
  medsurface report --format md --query "devicetype:pacs country:NL" > pacs-nl.md

The PDF is printed by Chromium (/usr/bin/chromium, or MEDSURFACE_CHROMIUM). A report holds no
patient data: identities, findings with their evidence facts, and record counts only.`,
    )
    .action(async (o: ReportOpts) => {
      const format = parseFormat(o.format);
      const tlp = parseTlp(o.tlp);
      const maxAssets = parseMaxAssets(o.maxAssets);
      const since = o.since === undefined ? undefined : sinceInstant(o.since, Date.now());
      if (format === 'pdf' && o.out === undefined && io.isTTY) {
        throw new ReportOptionError('--format pdf writes a binary file: give --out FILE (or redirect stdout)');
      }
      const inv = await openKyselyInventory(o.db);
      let data: Awaited<ReturnType<typeof gatherReport>>;
      try {
        data = await gatherReport(inv, {
          tlp,
          includeHoneypots: o.includeHoneypots === true,
          ...(o.query !== undefined ? { query: o.query } : {}),
          ...(o.org !== undefined ? { org: o.org } : {}),
          ...(o.title !== undefined ? { title: o.title } : {}),
          ...(since !== undefined ? { since } : {}),
          ...(maxAssets !== undefined ? { maxAssets } : {}),
        });
      } finally {
        await inv.close();
      }
      const label = tlpMarking(tlp).label;
      if (format === 'pdf') {
        const r = await renderPdf(data);
        if (o.out === undefined) io.out(r.pdf);
        else {
          writePrivate(o.out, r.pdf);
          io.err(`medsurface: wrote ${o.out} (PDF, ${r.pages} page(s), ${label})\n`);
        }
        return;
      }
      const text = format === 'md' ? renderMarkdown(data) : renderHtml(data);
      if (o.out === undefined) io.out(text);
      else {
        writePrivate(o.out, text);
        io.err(`medsurface: wrote ${o.out} (${format === 'md' ? 'Markdown' : 'HTML'}, ${label})\n`);
      }
    });
}
