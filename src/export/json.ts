/**
 * JSON and JSON Lines exports, written as the rows arrive (never held whole in memory).
 *
 * JSON: one object, its metadata first (`tlp` is the TLP 2.0 label, `tlpDescription` what a
 * recipient may do with it, `kind` says `findings` or `services`), then `rows` (one compact row
 * per line), then `count`.
 *
 * JSONL: a first line `{"type":"meta","tlp":"TLP:AMBER",...}` with the same metadata, then one
 * line per row, `{"type":"finding",...}` or `{"type":"service",...}`, so a reader tells the
 * marking from the data without counting lines.
 */
import { findingRows, serviceRow } from './rows.js';
import type { ExportSink } from './sink.js';
import type { ExportItem, ExportMeta, FindingExportRow, FormatWriter, ServiceExportRow } from './types.js';

/** The metadata both formats carry, in the order they write it. */
export function metaObject(meta: ExportMeta): Record<string, unknown> {
  return {
    tlp: meta.tlp.label,
    tlpDescription: meta.tlp.description,
    generator: { name: 'medsurface', version: meta.toolVersion },
    generatedAt: meta.generatedAt,
    query: meta.query,
    honeypotsExcluded: meta.honeypotsExcluded,
    kind: meta.rows,
  };
}

function rowsOf(item: ExportItem, services: boolean): (FindingExportRow | ServiceExportRow)[] {
  return services ? [serviceRow(item)] : findingRows(item);
}

export function jsonWriter(sink: ExportSink): FormatWriter {
  let services = false;
  const w = {
    count: 0,
    async begin(meta: ExportMeta) {
      services = meta.rows === 'services';
      const head = JSON.stringify(metaObject(meta), null, 2);
      // The metadata object without its closing brace, then the rows array.
      await sink.write(`${head.slice(0, head.lastIndexOf('}')).trimEnd()},\n  "rows": [`);
    },
    async item(item: ExportItem) {
      for (const row of rowsOf(item, services)) {
        await sink.write(`${w.count === 0 ? '\n' : ',\n'}    ${JSON.stringify(row)}`);
        w.count++;
      }
    },
    async end() {
      await sink.write(`${w.count === 0 ? '' : '\n  '}],\n  "count": ${w.count}\n}\n`);
    },
  };
  return w;
}

export function jsonlWriter(sink: ExportSink): FormatWriter {
  let services = false;
  const w = {
    count: 0,
    async begin(meta: ExportMeta) {
      services = meta.rows === 'services';
      await sink.write(`${JSON.stringify({ type: 'meta', ...metaObject(meta) })}\n`);
    },
    async item(item: ExportItem) {
      const type = services ? 'service' : 'finding';
      for (const row of rowsOf(item, services)) {
        await sink.write(`${JSON.stringify({ type, ...row })}\n`);
        w.count++;
      }
    },
    async end() {},
  };
  return w;
}
