/**
 * masscan output files (robertdavidgraham/masscan, src/out-*.c), read line by line. masscan
 * writes one record per line in every text format, so memory is one line whatever the file size.
 *
 * -oJ (out-json.c) has had three shapes, all accepted:
 *   1.3.x: `[`, then records each on its own line, `,` on a line of its own *before* every
 *          record but the first ("we prepend it -- but not before first record"), then `]`:
 *          `{   "ip": "10.0.0.5",   "timestamp": "1690000000", "ports": [ {"port": 104,
 *          "proto": "tcp", "status": "open", "reason": "syn-ack", "ttl": 64} ] }`
 *   1.0.4-1.0.6: the same records ending with `},`, the last one too (the trailing comma of
 *          masscan issues #314 and #493, PR #288), between `[` and `]`;
 *   1.0.3 and older: no brackets, unquoted keys (`{   ip: "10.0.2.15",   ports: [ {port: 514,
 *          ...} ] },`), closed by a `{finished: 1}` line (issue #124, PR #147).
 *   Banner records carry `"service": {"name", "banner"}` instead of a status and are skipped.
 * -oD (out-ndjson.c): one object a line, `{"ip":..,"timestamp":..,"port":104,"proto":"tcp",
 *   "rec_type":"status","data":{"status":"open","reason":"syn-ack","ttl":64}}`.
 * -oL (out-text.c): `#masscan`, then `open tcp 104 10.0.0.5 1690000000` (status, protocol,
 *   port, address, time), `banner tcp ...` lines, and `# end`.
 * -oG (out-grepable.c): `# Masscan <version> scan initiated ...` and `# Ports scanned: ...`,
 *   records `Timestamp: 1690000000\tHost: 10.0.0.5 ()\tPorts: 104/open/tcp//dicom//`, banner
 *   lines `Host: ... ()\tPort: 80\tService: ...`, and `# Masscan done at ...`.
 * -oX (out-xml.c) is nmap's XML shape and is read by nmap-xml.ts.
 */
import type { ParseContext } from './context.js';
import { type TextSource, forEachLine } from './text-source.js';

export type MasscanTextFormat = 'masscan-json' | 'masscan-list' | 'masscan-grepable';

/** Status words of masscan-status.h that mean a port accepted a connection. */
const OPEN = 'open';

/** Which text format a file's first line says it is; null when it is none of them. */
export function masscanFormatOf(firstLine: string): MasscanTextFormat | null {
  const t = firstLine.trim();
  if (t.startsWith('[') || t.startsWith('{')) return 'masscan-json';
  if (t === '#masscan' || /^(open|closed|banner)\s+[a-z]+\s+[0-9]+\s+\S+/.test(t)) return 'masscan-list';
  if (t.startsWith('# Masscan') || /^(Timestamp|Host):\s/.test(t)) return 'masscan-grepable';
  return null;
}

interface PortRecord {
  port?: unknown;
  proto?: unknown;
  status?: unknown;
  service?: unknown;
}

/** One port record, whichever format it came from. */
function record(ctx: ParseContext, ip: unknown, r: PortRecord, line: number): void {
  ctx.stats.records++;
  if (r.proto !== 'tcp') {
    ctx.skip(typeof r.proto === 'string' && /^[a-z0-9-]{1,16}$/.test(r.proto) ? r.proto : 'unknown-protocol');
    return;
  }
  if (r.status === undefined && r.service !== undefined) {
    ctx.skip('banner');
    return;
  }
  if (r.status !== OPEN) {
    ctx.skip(typeof r.status === 'string' && /^[a-z-]{1,16}$/.test(r.status) ? r.status : 'unknown-status');
    return;
  }
  ctx.open(ip, ctx.port(r.port, line), line);
}

/**
 * Quotes the bare keys of masscan 1.0.3's JavaScript-style objects (`{ip: "..."}`), leaving
 * string contents alone (masscan escapes `"` and `\` inside them as \u00XX: out-json.c
 * normalize_json_string), so JSON.parse can read them.
 */
export function quoteBareKeys(t: string): string {
  let out = '';
  let i = 0;
  while (i < t.length) {
    const c = t[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < t.length && t[j] !== '"') j += t[j] === '\\' ? 2 : 1;
      out += t.slice(i, j + 1);
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < t.length && /[A-Za-z0-9_]/.test(t[j]!)) j++;
      let k = j;
      while (t[k] === ' ' || t[k] === '\t') k++;
      const word = t.slice(i, j);
      out += t[k] === ':' ? `"${word}"` : word;
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function parseObject(ctx: ParseContext, t: string, line: number): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    try {
      v = JSON.parse(quoteBareKeys(t));
    } catch {
      /* JSON.parse's message quotes the text, which may hold a banner: not echoed. */
      throw ctx.error(line, 'not a masscan JSON record: invalid JSON (masscan writes one record a line)');
    }
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw ctx.error(line, 'not a masscan JSON record: expected an object');
  return v as Record<string, unknown>;
}

async function parseJson(src: TextSource, ctx: ParseContext): Promise<void> {
  let opened = false;
  let closed = false;
  let ndjson = false;
  let records = 0;
  ctx.stats.lines = await forEachLine(src, (text, line) => {
    let t = text.trim();
    if (t === '' || t === ',') return;
    if (closed) throw ctx.error(line, 'content after the end of the masscan JSON list');
    if (t === '[' && !opened && records === 0) {
      opened = true;
      return;
    }
    if (t === ']') {
      if (!opened) throw ctx.error(line, '"]" without the "[" that opens a masscan JSON list');
      closed = true;
      return;
    }
    if (t.startsWith(',')) t = t.slice(1).trimStart();
    if (t.endsWith(',')) t = t.slice(0, -1).trimEnd();
    if (/^\{\s*"?finished"?\s*:\s*1\s*\}$/.test(t)) {
      closed = true;
      return;
    }
    if (!t.startsWith('{')) throw ctx.error(line, 'expected a masscan JSON record ({ "ip": ..., "ports": [...] })');
    const obj = parseObject(ctx, t, line);
    records++;
    if (Array.isArray(obj.ports)) {
      for (const p of obj.ports) {
        if (p === null || typeof p !== 'object') throw ctx.error(line, 'bad masscan record: "ports" holds a non-object');
        record(ctx, obj.ip, p as PortRecord, line);
      }
    } else if ('rec_type' in obj) {
      ndjson = true;
      const data = (obj.data ?? {}) as Record<string, unknown>;
      if (obj.rec_type === 'status') record(ctx, obj.ip, { port: obj.port, proto: obj.proto, status: data.status }, line);
      else record(ctx, obj.ip, { port: obj.port, proto: obj.proto, service: obj.rec_type }, line);
    } else {
      throw ctx.error(line, 'bad masscan record: neither "ports" (-oJ) nor "rec_type" (-oD)');
    }
  });
  if (ndjson && !opened) {
    ctx.stats.format = 'masscan-ndjson';
    ctx.stats.complete = true;
  } else {
    ctx.stats.format = 'masscan-json';
    ctx.stats.complete = closed;
  }
  if (opened && !closed && records === 0) throw ctx.error(0, 'the masscan JSON list is empty and never closed');
}

async function parseList(src: TextSource, ctx: ParseContext): Promise<void> {
  let ended = false;
  ctx.stats.format = 'masscan-list';
  ctx.stats.lines = await forEachLine(src, (text, line) => {
    const t = text.trim();
    if (t === '') return;
    if (t.startsWith('#')) {
      if (t === '# end') ended = true;
      return;
    }
    if (ended) throw ctx.error(line, 'content after "# end"');
    const f = t.split(/\s+/);
    if (f.length < 4) throw ctx.error(line, 'expected "<status> <protocol> <port> <address> <time>" (masscan -oL)');
    if (f[0] === 'banner') record(ctx, f[3], { proto: f[1], port: f[2], service: f[5] ?? '' }, line);
    else record(ctx, f[3], { status: f[0], proto: f[1], port: f[2] }, line);
  });
  ctx.stats.complete = ended;
}

async function parseGrepable(src: TextSource, ctx: ParseContext): Promise<void> {
  let ended = false;
  ctx.stats.format = 'masscan-grepable';
  ctx.stats.lines = await forEachLine(src, (text, line) => {
    const t = text.trim();
    if (t === '') return;
    if (t.startsWith('#')) {
      if (t.startsWith('# Masscan done')) ended = true;
      return;
    }
    if (ended) throw ctx.error(line, 'content after "# Masscan done"');
    const fields = new Map<string, string>();
    for (const part of t.split('\t')) {
      const colon = part.indexOf(': ');
      if (colon > 0) fields.set(part.slice(0, colon), part.slice(colon + 2));
    }
    const host = fields.get('Host');
    if (host === undefined) throw ctx.error(line, 'expected "Host: <address> ()" (masscan -oG)');
    const ip = host.split(' ')[0];
    const ports = fields.get('Ports');
    if (ports === undefined) {
      if (fields.has('Port') && fields.has('Service')) record(ctx, ip, { proto: 'tcp', port: fields.get('Port'), service: fields.get('Service') }, line);
      else throw ctx.error(line, 'expected "Ports: <port>/<state>/<protocol>/..." (masscan -oG)');
      return;
    }
    /* nmap's -oG lists several ports separated by ", "; masscan writes one. */
    for (const entry of ports.split(/,\s*/)) {
      const [port, status, proto] = entry.trim().split('/');
      record(ctx, ip, { port, status, proto }, line);
    }
  });
  ctx.stats.complete = ended;
}

/** Reads a masscan text file of the given format into the context's collector. */
export async function parseMasscanText(src: TextSource, ctx: ParseContext, format: MasscanTextFormat): Promise<void> {
  if (format === 'masscan-json') return parseJson(src, ctx);
  if (format === 'masscan-list') return parseList(src, ctx);
  return parseGrepable(src, ctx);
}
