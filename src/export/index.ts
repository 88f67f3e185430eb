/**
 * Machine-readable exports of the inventory (`medsurface export`): CSV, JSON, JSONL, SARIF 2.1.0,
 * DefectDojo's generic findings JSON and an nmap-XML-like file, each marked with a TLP 2.0
 * label. One row (result, finding) per open finding of the services a search-language query
 * selects, or one per service (`--services`, CSV/JSON/JSONL; nmap-XML is always per service).
 *
 * runExport reads the inventory a page at a time (source.ts) and hands each page to the format
 * writer, which writes to the sink as it goes: memory holds one page, whatever the inventory's
 * size. The query is parsed, and the options checked, before the sink is opened, so a mistake
 * leaves no file behind; a failure midway removes the half-written file (sink.ts).
 */
import type { CheckDef } from '../checks/index.js';
import { UsageError } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import type { SearchTarget } from '../inventory/search/index.js';
import { csvWriter } from './csv.js';
import { defectDojoWriter } from './defectdojo.js';
import { jsonlWriter, jsonWriter } from './json.js';
import { nmapXmlWriter } from './nmap-xml.js';
import { sarifWriter } from './sarif.js';
import type { ExportSink } from './sink.js';
import { EXPORT_PAGE_SIZE, readExportItems, selectServices } from './source.js';
import { DEFAULT_TLP, type TlpLevel, tlpMarking } from './tlp.js';
import { EXPORT_FORMATS, type ExportFormat, type ExportMeta, type FormatWriter, SERVICE_ROW_FORMATS } from './types.js';

export { CSV_LIST_SEPARATOR, CSV_TLP_COLUMN, csvCell, csvText } from './csv.js';
export { DEFECTDOJO_SEVERITY, endpointScheme } from './defectdojo.js';
export { SARIF_FINGERPRINT_KEY, SARIF_SCHEMA_URI, sarifLevel, securitySeverity } from './sarif.js';
export { type ExportSink, fileSink, streamSink } from './sink.js';
export { EXPORT_PAGE_SIZE } from './source.js';
export { DEFAULT_TLP, parseTlp, TLP_LEVELS, type TlpLevel, type TlpMarking, tlpMarking } from './tlp.js';
export {
  EXPORT_FORMATS,
  type ExportFinding,
  type ExportFormat,
  type ExportItem,
  type ExportMeta,
  type ExportService,
  FINDING_COLUMNS,
  type FindingExportRow,
  SERVICE_COLUMNS,
  SERVICE_ROW_FORMATS,
  type ServiceExportRow,
} from './types.js';

export interface ExportOptions {
  format: ExportFormat;
  /** Search-language query selecting the services ('' or undefined: all). */
  query?: string;
  tlp?: TlpLevel;
  /** Keep honeypot hosts although the query has no `honeypot:` term. */
  includeHoneypots?: boolean;
  /** One row per service instead of per finding (CSV, JSON, JSONL). */
  services?: boolean;
  /** Clock (ms since the epoch) for relative times in the query and the export's time stamp. */
  now?: number;
  pageSize?: number;
  /** Check definitions for rule texts (default: the shipped ones). */
  checks?: CheckDef[];
}

export interface ExportSummary {
  format: ExportFormat;
  tlp: string;
  /** Rows, results or findings written (services for nmap-xml). */
  count: number;
  /** Services read. */
  services: number;
  honeypotsExcluded: boolean;
  where: string;
}

/** Reads a `--format` value. */
export function parseExportFormat(raw: string): ExportFormat {
  const v = raw.trim().toLowerCase();
  if (!(EXPORT_FORMATS as readonly string[]).includes(v)) {
    throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, not ${JSON.stringify(raw.slice(0, 40))}`);
  }
  return v as ExportFormat;
}

function writerFor(format: ExportFormat, sink: ExportSink, checks: CheckDef[] | undefined): FormatWriter {
  switch (format) {
    case 'csv':
      return csvWriter(sink);
    case 'json':
      return jsonWriter(sink);
    case 'jsonl':
      return jsonlWriter(sink);
    case 'sarif':
      return sarifWriter(sink, checks);
    case 'defectdojo':
      return defectDojoWriter(sink, checks);
    case 'nmap-xml':
      return nmapXmlWriter(sink);
  }
}

/**
 * Writes one export. `openSink` is called once the options and the query are known to be good;
 * the sink is committed at the end, or aborted when anything fails.
 */
export async function runExport(target: SearchTarget, opts: ExportOptions, openSink: () => Promise<ExportSink>): Promise<ExportSummary> {
  if (opts.services === true && !SERVICE_ROW_FORMATS.includes(opts.format)) {
    throw new UsageError(`--services is for ${SERVICE_ROW_FORMATS.join(', ')}; ${opts.format} lists findings${opts.format === 'nmap-xml' ? ' by service already' : ''}`);
  }
  const now = opts.now ?? Date.now();
  const query = opts.query ?? '';
  const selection = await selectServices(target, query, opts.includeHoneypots === true, now);
  const meta: ExportMeta = {
    tlp: tlpMarking(opts.tlp ?? DEFAULT_TLP),
    generatedAt: new Date(now).toISOString(),
    query,
    honeypotsExcluded: selection.honeypotsExcluded,
    toolVersion: VERSION,
    rows: opts.services === true || opts.format === 'nmap-xml' ? 'services' : 'findings',
  };
  const sink = await openSink();
  let services = 0;
  try {
    const writer = writerFor(opts.format, sink, opts.checks);
    await writer.begin(meta);
    for await (const page of readExportItems(target, selection, opts.pageSize ?? EXPORT_PAGE_SIZE)) {
      for (const item of page) {
        await writer.item(item);
        services++;
      }
    }
    await writer.end();
    await sink.commit();
    return {
      format: opts.format,
      tlp: meta.tlp.label,
      count: writer.count,
      services,
      honeypotsExcluded: meta.honeypotsExcluded,
      where: sink.where,
    };
  } catch (err) {
    await sink.abort();
    throw err;
  }
}
