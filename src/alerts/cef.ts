/**
 * ArcSight Common Event Format (CEF:0) for the syslog sink's message payload:
 * `CEF:0|medsurface|medsurface|<version>|<signature id>|<name>|<severity>|<extensions>`.
 *
 * Escaping follows the CEF Implementation Standard ("Character encoding"): in header fields `\`
 * becomes `\\` and `|` becomes `\|` (a line break or other control character, not allowed there, becomes a space); in
 * extension values `\` becomes `\\`, `=` becomes `\=`, and CR/LF become the two characters
 * `\r` / `\n` (other control characters become spaces). Every text value is cut to a bounded length first, so a message stays small.
 *
 * Signature id: the check id for finding events, the event kind for service events. Name: the
 * summary line. Severity (0-10): info 1, low 3, medium 5, high 8, critical 10, none 0.
 */
import net from 'node:net';
import type { ExposureEvent } from '../core/events.js';
import type { Severity } from '../core/types.js';
import { VERSION } from '../core/version.js';
import { summarize } from './message.js';

const FIELD_MAX_CHARS = 256;

const CEF_SEVERITY: Record<Severity, number> = { info: 1, low: 3, medium: 5, high: 8, critical: 10 };

function cut(s: string): string {
  return s.length > FIELD_MAX_CHARS ? s.slice(0, FIELD_MAX_CHARS) : s;
}

export function cefHeaderEscape(s: string): string {
  return cut(s)
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/[\u0000-\u001f\u007f]+/g, ' ');
}

export function cefExtensionEscape(s: string): string {
  return cut(s)
    .replace(/\\/g, '\\\\')
    .replace(/=/g, '\\=')
    .replace(/\r\n|\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, ' ');
}

export function cefSeverity(s: Severity | null): number {
  return s === null ? 0 : CEF_SEVERITY[s];
}

/** The CEF record of an event. */
export function formatCef(e: ExposureEvent): string {
  const signatureId = e.kind.startsWith('finding-') && e.checkId ? e.checkId : e.kind;
  const header = ['CEF:0', 'medsurface', 'medsurface', VERSION, signatureId, summarize(e), String(cefSeverity(e.severity))].map((f, i) =>
    i === 0 ? f : cefHeaderEscape(f),
  );
  const ext: [string, string | number | null][] = [
    ['rt', Number.isFinite(Date.parse(e.at)) ? Date.parse(e.at) : null],
    ['cat', e.kind],
    net.isIPv4(e.ip) ? ['dst', e.ip] : ['c6a3', e.ip],
    ['c6a3Label', net.isIPv4(e.ip) ? null : 'Destination IPv6 Address'],
    ['dpt', e.port],
    ['app', e.protocol],
    ['msg', e.title],
    ['cs1Label', e.deviceType === null ? null : 'deviceType'],
    ['cs1', e.deviceType],
    ['cs2Label', e.product === null ? null : 'product'],
    ['cs2', e.product],
    ['cs3Label', e.version === null ? null : 'version'],
    ['cs3', e.version],
    ['cs4Label', e.tags.length ? 'tags' : null],
    ['cs4', e.tags.length ? e.tags.join(',') : null],
    ['cs5Label', e.org === null ? null : 'organisation'],
    ['cs5', e.org],
    ['cs6Label', e.runId === null ? null : 'runId'],
    ['cs6', e.runId],
    ['flexString1Label', e.country === null ? null : 'country'],
    ['flexString1', e.country],
    ['externalId', e.key],
  ];
  const extensions = ext
    .filter((x): x is [string, string | number] => x[1] !== null)
    .map(([k, v]) => `${k}=${cefExtensionEscape(String(v))}`)
    .join(' ');
  return `${header.join('|')}|${extensions}`;
}
