/**
 * CSV export (RFC 4180, UTF-8 without a byte-order mark, CRLF line ends): a header row, then one
 * row per open finding (FINDING_COLUMNS) or per service (SERVICE_COLUMNS, `--services`).
 *
 * TLP marking: CSV has no comments, and a leading `# TLP:...` line breaks most CSV readers, so
 * the marking is a column: the first column, `tlp`, holds the label (`TLP:AMBER`) on every row.
 * It survives sorting, filtering and copying rows into another sheet, where a header line would
 * be lost.
 *
 * Cells: an empty cell is null (an empty string is written as one too); numbers and booleans as text; lists (tags, finding ids) joined
 * with `;` (neither can contain one); evidence as a JSON object. A cell with a comma, quote,
 * CR or LF is quoted, quotes doubled.
 *
 * Formula injection (OWASP "CSV Injection"): a spreadsheet runs a cell that starts with `=`,
 * `+`, `-`, `@`, tab or CR as a formula, and titles, products and evidence come from the
 * scanned hosts. Such a cell gets a single quote in front (`'=cmd|...`), which spreadsheets
 * show as text; a cell that itself starts with a quote gets one more, so the rule is
 * reversible: a reader removes exactly one leading `'` from any cell that has one.
 */
import { findingRows, serviceRow } from './rows.js';
import type { ExportSink } from './sink.js';
import { type ExportItem, type ExportMeta, FINDING_COLUMNS, type FormatWriter, SERVICE_COLUMNS } from './types.js';

/** Characters that make a spreadsheet read a cell as a formula, plus the quote that marks the defence itself. */
const FORMULA_LEADS = new Set(['=', '+', '-', '@', '\t', '\r', "'"]);

export const CSV_TLP_COLUMN = 'tlp';
export const CSV_LIST_SEPARATOR = ';';

/** The text of one value before quoting (see the header of this file). */
export function csvText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(String).join(CSV_LIST_SEPARATOR);
  return JSON.stringify(value);
}

/** One cell: formula defence, then RFC 4180 quoting. */
export function csvCell(value: unknown): string {
  let s = csvText(value);
  if (s.length > 0 && FORMULA_LEADS.has(s[0]!)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(cells: readonly unknown[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

export function csvWriter(sink: ExportSink): FormatWriter {
  let label = '';
  let services = false;
  const w = {
    count: 0,
    async begin(meta: ExportMeta) {
      label = meta.tlp.label;
      services = meta.rows === 'services';
      await sink.write(csvLine([CSV_TLP_COLUMN, ...(services ? SERVICE_COLUMNS : FINDING_COLUMNS)]));
    },
    async item(item: ExportItem) {
      if (services) {
        const row = serviceRow(item);
        await sink.write(csvLine([label, ...SERVICE_COLUMNS.map((c) => row[c])]));
        w.count++;
        return;
      }
      for (const row of findingRows(item)) {
        await sink.write(csvLine([label, ...FINDING_COLUMNS.map((c) => row[c])]));
        w.count++;
      }
    },
    async end() {},
  };
  return w;
}
