/**
 * ZMap output (zmap/zmap, src/output_modules/module_csv.c and module_json.c), read line by line.
 *
 * CSV, the default module: one row per response, the fields of `--output-fields` (`-f`) in
 * order. The header row naming them has varied: ZMap 1.x wrote it with ", " separators
 * (issue #73: `saddr, daddr, sport, dport`); 2.x wrote it only with more than one field
 * (issue #445: the default `saddr` output has none); later versions write it unless
 * `--no-header-row`. Values are separated by "," (", " in 1.x), strings holding a comma are
 * double-quoted. All of these are read: a first row naming `saddr` is the header.
 *
 * Which rows are open ports (module_tcp_synscan.c): `classification` is `synack` for a SYN-ACK
 * and `rst` for a reset, `success` is 1 for a SYN-ACK; in multi-port scans, ICMP rows have
 * an empty `sport` (zmap PR #969). `sport` is the port that answered, i.e. the port scanned.
 * With the default output (`saddr` only) the file holds no port: the user gives the port(s)
 * ZMap scanned (its `-p`), and every address is paired with each of them.
 *
 * JSON (`-O json`): one object a line with the same field names.
 */
import { parseAddress } from '../ip.js';
import type { ParseContext } from './context.js';
import { type TextSource, forEachLine } from './text-source.js';

/** Splits one CSV row (RFC 4180 quoting, `""` inside quotes); null when a quote is not closed. */
export function splitCsvRow(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q === -1) return null;
        field += line.slice(i, q);
        if (line[q + 1] === '"') {
          field += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (i < line.length && line[i] !== ',') return null;
    } else {
      const comma = line.indexOf(',', i);
      const end = comma === -1 ? line.length : comma;
      field = line.slice(i, end).trim();
      i = end;
    }
    out.push(field);
    if (i >= line.length) return out;
    i++;
  }
}

type Field = (name: string) => string | undefined;

/** Short, safe key for a skipped-record counter. */
function reason(prefix: string, value: string): string {
  return /^[a-z0-9_-]{1,24}$/i.test(value) ? value : `${prefix}-other`;
}

/** One response row, whichever encoding it came in. */
function row(ctx: ParseContext, get: Field, line: number): void {
  ctx.stats.records++;
  const classification = get('classification');
  if (classification !== undefined && classification !== 'synack') {
    ctx.skip(reason('classification', classification === '' ? 'no-classification' : classification));
    return;
  }
  const success = get('success');
  if (success !== undefined && success !== '1' && success !== 'true') {
    ctx.skip('not-success');
    return;
  }
  const sport = get('sport');
  const saddr = get('saddr');
  if (sport === undefined) {
    for (const port of ctx.defaultPorts) ctx.open(saddr, port, line);
    return;
  }
  if (sport === '') {
    ctx.skip('no-port');
    return;
  }
  ctx.open(saddr, ctx.port(sport, line), line);
}

function needPorts(ctx: ParseContext, line: number): void {
  if (ctx.defaultPorts.length === 0) {
    throw ctx.error(
      line,
      'the ZMap output has no "sport" field, so it does not say which port answered: give the port(s) ZMap scanned (its -p) with --ports, or run ZMap with -f saddr,sport,classification,success',
    );
  }
}

async function parseCsv(src: TextSource, ctx: ParseContext): Promise<void> {
  let header: Map<string, number> | null = null;
  let columns = 0;
  let started = false;
  ctx.stats.format = 'zmap-csv';
  ctx.stats.lines = await forEachLine(src, (text, line) => {
    if (text.trim() === '') return;
    const fields = splitCsvRow(text);
    if (fields === null) throw ctx.error(line, 'unterminated quoted field');
    if (!started) {
      started = true;
      if (fields.includes('saddr') && parseAddress(fields[0]!) === null) {
        header = new Map();
        /* `blank` columns (zmap PR #969) and repeats: the first column of a name wins. */
        fields.forEach((name, i) => {
          if (!header!.has(name)) header!.set(name, i);
        });
        columns = fields.length;
        if (!header.has('sport')) needPorts(ctx, line);
        return;
      }
      if (fields.length !== 1) {
        throw ctx.error(
          line,
          'ZMap CSV without a header row: cannot tell which column is which (run ZMap without --no-header-row, or with -f saddr alone)',
        );
      }
      needPorts(ctx, line);
      columns = 1;
    }
    if (fields.length !== columns) throw ctx.error(line, `${fields.length} fields where the first row has ${columns}`);
    const h: Map<string, number> | null = header;
    if (h === null) {
      row(ctx, (name) => (name === 'saddr' ? fields[0] : undefined), line);
    } else {
      row(ctx, (name) => {
        const i = h.get(name);
        return i === undefined ? undefined : fields[i];
      }, line);
    }
  });
}

function text(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? '1' : '0';
  return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
}

async function parseJsonLines(src: TextSource, ctx: ParseContext): Promise<void> {
  ctx.stats.format = 'zmap-json';
  let checked = false;
  ctx.stats.lines = await forEachLine(src, (t, line) => {
    if (t.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(t);
    } catch {
      throw ctx.error(line, 'not a ZMap JSON record: invalid JSON (ZMap writes one object a line)');
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw ctx.error(line, 'not a ZMap JSON record: expected an object');
    const o = obj as Record<string, unknown>;
    if (!('saddr' in o)) throw ctx.error(line, 'ZMap JSON record without "saddr"');
    if (!checked) {
      checked = true;
      if (!('sport' in o)) needPorts(ctx, line);
    }
    row(ctx, (name) => text(o[name]), line);
  });
}

/** Reads ZMap CSV or JSON-lines output (told apart by the first character) into the collector. */
export async function parseZmap(src: TextSource, ctx: ParseContext, firstLine: string): Promise<void> {
  return firstLine.trimStart().startsWith('{') ? parseJsonLines(src, ctx) : parseCsv(src, ctx);
}
