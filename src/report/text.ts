/**
 * Text helpers shared by the HTML, Markdown and chart renderers. Every string in a report that
 * came from the network (products, versions, banners, host names, evidence) or from the user
 * (organisations, tags, the title) passes through `clean`: control characters out, length
 * bounded. HTML escaping itself is Eta's (autoEscape) and ECharts'; Markdown's is `md`.
 */

/** Longest identity or evidence text printed; the inventory keeps it whole. */
export const TEXT_MAX = 160;

/** Text without control characters (C0, DEL, C1), whitespace collapsed, cut to `max` characters. */
export function clean(value: unknown, max: number = TEXT_MAX): string {
  if (value === null || value === undefined) return '';
  const s = String(value)
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/**
 * Markdown text with every character that could start emphasis, code, a link or an image, raw
 * HTML or an entity, or end a table cell escaped (CommonMark backslash escapes). Parentheses
 * need none: a link needs a `[` first, and every `[` is escaped.
 */
export function md(value: unknown, max: number = TEXT_MAX): string {
  return clean(value, max).replace(/[\\`*_[\]<>|#!~&]/g, (c) => `\\${c}`);
}

/** A Markdown table cell: `md`, or '-' when empty. */
export function mdCell(value: unknown, max: number = TEXT_MAX): string {
  const t = md(value, max);
  return t === '' ? '-' : t;
}

/** `1,234,567` (the same in every locale the report is read in). */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-GB');
}

/** `42.9%` of `part / whole`; '-' when the whole is 0. */
export function pct(part: number, whole: number): string {
  if (whole <= 0) return '-';
  return `${((100 * part) / whole).toFixed(1)}%`;
}

/** `2026-03-01 10:00 UTC` from an ISO-8601 instant; '' for null, the text itself when it is no date. */
export function when(iso: string | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return clean(iso, 40);
  return `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** `2026-03-01` from an ISO-8601 instant. */
export function day(iso: string | null | undefined): string {
  return when(iso).slice(0, 10);
}

/** `ip:port`, IPv6 in brackets. */
export function endpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** A fragment id for an address (`asset-127-77-10-10`): letters, digits and dashes only. */
export function assetAnchor(ip: string): string {
  return `asset-${ip.replace(/[^0-9A-Za-z]+/g, '-')}`;
}
