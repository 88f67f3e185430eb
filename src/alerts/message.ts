/**
 * The human text of an alert: a one-line summary ("NEW critical finding dicom-any-ae on
 * 127.77.0.10:104 (Orthanc 1.12.3, pacs)") used by Slack, email and syslog/CEF, and the
 * labelled detail lines of Slack and email bodies.
 *
 * Built only from the event's identity fields (events carry no evidence: src/core/events.ts).
 * Product names, versions and titles came from the network at some point, so every value is
 * cleaned here: control characters (CR/LF included: no header or log-line injection downstream)
 * become spaces, and each value and the whole line are cut to a bounded length.
 */
import net from 'node:net';
import type { EventKind, ExposureEvent } from '../core/events.js';

/** Longest summary line, in characters. */
export const SUMMARY_MAX_CHARS = 300;
const VALUE_MAX_CHARS = 120;

/** One line of printable text: control characters (C0, DEL, C1, line/paragraph separators) become spaces, runs collapse, cut to `max`. */
export function oneLine(s: string, max = VALUE_MAX_CHARS): string {
  const t = s
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** ip:port, with IPv6 in brackets; the bare address when there is no port. */
export function addressOf(e: Pick<ExposureEvent, 'ip' | 'port'>): string {
  if (e.port === null) return e.ip;
  return net.isIPv6(e.ip) ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

const VERB: Record<EventKind, string> = {
  'service-new': 'NEW',
  'service-gone': 'GONE',
  'service-changed': 'CHANGED',
  'finding-opened': 'NEW',
  'finding-reopened': 'REOPENED',
  'finding-changed': 'CHANGED',
  'finding-resolved': 'RESOLVED',
  'finding-unverified': 'UNVERIFIED',
};

/** "(Orthanc 1.12.3, pacs)", or '' when nothing is known. */
function identity(e: ExposureEvent): string {
  const product = [e.product, e.version].filter((v): v is string => v !== null && v !== '').join(' ');
  const parts = [product, e.deviceType ?? ''].map((p) => oneLine(p)).filter((p) => p !== '');
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** "version 1.12.2 → 1.12.3, product A → B" (at most 4 fields). */
export function changesText(e: ExposureEvent): string {
  if (!e.changes) return '';
  const entries = Object.entries(e.changes);
  const shown = entries.slice(0, 4).map(([field, [from, to]]) => `${oneLine(field, 32)} ${oneLine(from ?? '-', 60)} → ${oneLine(to ?? '-', 60)}`);
  if (entries.length > 4) shown.push(`+${entries.length - 4} more`);
  return shown.join(', ');
}

/** The one-line summary of an event. */
export function summarize(e: ExposureEvent): string {
  const verb = VERB[e.kind];
  const where = `${addressOf(e)}${identity(e)}`;
  let line: string;
  if (e.kind.startsWith('finding-')) {
    const sev = e.severity ? `${e.severity} ` : '';
    const what = oneLine(e.checkId ?? e.title ?? 'unknown');
    line = `${verb} ${sev}finding ${what} on ${where}`;
    if (e.kind === 'finding-changed' && e.changes) line += `: ${changesText(e)}`;
    if (e.kind === 'finding-unverified') line += ': host did not answer';
  } else {
    const proto = e.protocol ? `${oneLine(e.protocol, 32)} ` : '';
    line = `${verb} ${proto}service on ${where}`;
    if (e.kind === 'service-changed' && e.changes) line += `: ${changesText(e)}`;
    if (e.kind === 'service-new' && e.severity) line += `, highest open severity ${e.severity}`;
  }
  return oneLine(line, SUMMARY_MAX_CHARS);
}

/** Labelled detail lines for message bodies (Slack, email): only the fields that are set. */
export function detailLines(e: ExposureEvent): [string, string][] {
  const rows: [string, string | null][] = [
    ['Event', e.kind],
    ['Severity', e.severity],
    ['Address', addressOf(e)],
    ['Protocol', e.protocol],
    ['Product', e.product],
    ['Version', e.version],
    ['Device type', e.deviceType],
    ['Check', e.checkId],
    ['Title', e.title],
    ['Changes', changesText(e) || null],
    ['Tags', e.tags.length ? e.tags.join(', ') : null],
    ['Organisation', e.org],
    ['Country', e.country],
    ['Observed', e.at],
    ['Run', e.runId],
  ];
  return rows.filter((r): r is [string, string] => r[1] !== null && r[1] !== '').map(([k, v]) => [k, oneLine(v, 300)]);
}
