/**
 * The one writer of results: JSON lines on stdout or a file, or a human table when stdout is a
 * terminal and --json was not given. Nothing but results goes to stdout.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import Table from 'cli-table3';
import pc from 'picocolors';
import { isOpen } from '../core/status.js';
import { severityRank, type ServiceRecord, type Severity } from '../core/types.js';

export interface ResultWriter {
  write(rec: ServiceRecord): void;
  close(): Promise<void>;
  count: number;
}

/** JSON lines, written in chunks of about 64 KiB (one syscall per chunk, not per line), flushed on close. */
export function jsonlWriter(out: NodeJS.WritableStream | WriteStream): ResultWriter {
  let buf: string[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (buf.length === 0) return;
    out.write(buf.join(''));
    buf = [];
    size = 0;
  };
  const w: ResultWriter = {
    count: 0,
    write(rec) {
      w.count++;
      const line = `${JSON.stringify(rec)}\n`;
      buf.push(line);
      size += line.length;
      if (size >= 64 * 1024) flush();
      // A slow scan still shows its results promptly.
      else timer ??= setTimeout(flush, 200);
    },
    close: () =>
      new Promise((resolve) => {
        flush();
        if (out === process.stdout) return resolve();
        (out as WriteStream).end(() => resolve());
      }),
  };
  return w;
}

export function fileWriter(file: string): ResultWriter {
  return jsonlWriter(createWriteStream(file, { mode: 0o600 }));
}

const sevColor: Record<Severity, (s: string) => string> = {
  info: pc.dim,
  low: pc.cyan,
  medium: pc.yellow,
  high: pc.red,
  critical: (s) => pc.bold(pc.red(s)),
};

export function findingsText(rec: ServiceRecord, color = true): string {
  return [...rec.findings]
    .sort((a, b) => severityRank(b.severity) - severityRank(a.severity))
    .map((f) => (color ? sevColor[f.severity](`${f.id}(${f.severity})`) : `${f.id}(${f.severity})`))
    .join(' ');
}

/** "vendor product version" for people: the vendor is left out when the product repeats it (dcm4che dcm4che). */
export function identityText(vendor?: string | null, product?: string | null, version?: string | null): string {
  const v = vendor && product?.toLowerCase().startsWith(vendor.toLowerCase()) ? null : vendor;
  return [v, product, version].filter(Boolean).join(' ');
}

/** A terminal table stays readable: past this many rows, point to the inventory and --json. */
const TABLE_ROWS = 200;

/** A cli-table3 table, coloured only on a terminal. */
export function makeTable(head: string[], out: NodeJS.WritableStream = process.stdout, colWidths?: (number | null)[]): Table.Table {
  const plain = !(out as NodeJS.WriteStream).isTTY;
  return new Table({
    head,
    ...(plain ? { style: { head: [], border: [] } } : {}),
    ...(colWidths ? { colWidths: colWidths as number[], wordWrap: true } : {}),
  });
}

/** Width of a table's last, free-text column (findings): long lists wrap instead of widening every row. */
const FINDINGS_COLUMN_WIDTH = 64;

/** Collects records and prints one table at the end (for a terminal). */
export function tableWriter(out: NodeJS.WritableStream = process.stdout): ResultWriter {
  const rows: ServiceRecord[] = [];
  const w: ResultWriter = {
    count: 0,
    write(rec) {
      w.count++;
      rows.push(rec);
    },
    close: async () => {
      if (rows.length === 0) {
        out.write('No open services found.\n');
        return;
      }
      const plain = !(out as NodeJS.WriteStream).isTTY;
      const t = makeTable(['address', 'port', 'status', 'protocol', 'identified as', 'device', 'findings'], out, [
        null,
        null,
        null,
        null,
        null,
        null,
        FINDINGS_COLUMN_WIDTH,
      ]);
      rows.sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1));
      for (const r of rows.slice(0, TABLE_ROWS)) {
        const ident = identityText(r.vendor, r.product, r.version) || '-';
        t.push([
          r.hostname ? `${r.ip} (${r.hostname})` : r.ip,
          String(r.port),
          isOpen(r.status) && r.status !== 'success' && !plain ? pc.yellow(r.status) : r.status,
          r.protocol ?? '-',
          ident,
          r.asset?.deviceType ?? r.deviceType ?? '-',
          findingsText(r, !plain) || '-',
        ]);
      }
      out.write(`${t.toString()}\n`);
      if (rows.length > TABLE_ROWS) {
        out.write(`... and ${rows.length - TABLE_ROWS} more services: all of them are in the inventory (medsurface inventory list), or use --json / --out.\n`);
      }
    },
  };
  return w;
}
