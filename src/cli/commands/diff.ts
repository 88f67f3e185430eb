/**
 * `medsurface diff RUN_A RUN_B`, `medsurface diff --since 7d`, `medsurface diff --last`: what
 * changed between two scan runs (src/inventory/diff.ts computes it; the monitor's alerts are
 * the same events). Text for a terminal, JSON ({from, since, to, summary, events}) for tools,
 * Markdown for tickets and reports.
 *
 * Product, version and title strings come from the network or from fingerprints of what it
 * sent: control characters are stripped before they reach a terminal, and Markdown
 * metacharacters are escaped so a crafted banner cannot break a table or inject a link.
 * Events carry no evidence, so nothing printed here can hold a patient value.
 */
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { EVENT_KINDS, type EventKind, type ExposureEvent } from '../../core/events.js';
import { type DiffResult, type DiffRun, diffRuns, diffSince, lastTwoCompletedRuns } from '../../inventory/diff.js';
import { openKyselyInventory } from '../../inventory/index.js';
import { parseDuration, TimeSyntaxError } from '../../monitor/time.js';

export const DIFF_FORMATS = ['text', 'json', 'md'] as const;
export type DiffFormat = (typeof DIFF_FORMATS)[number];

interface DiffOpts {
  db?: string;
  since?: string;
  last?: boolean;
  format: string;
  includeHoneypots?: boolean;
}

/** Longest identity or title text printed (a banner can be long; the inventory keeps it whole). */
const FIELD_MAX_CHARS = 120;

const SECTIONS: Record<EventKind, { title: string; label: string }> = {
  'service-new': { title: 'New services', label: '+ NEW' },
  'service-gone': { title: 'Gone services', label: '- GONE' },
  'service-changed': { title: 'Changed services', label: '~ CHANGED' },
  'finding-opened': { title: 'Opened findings', label: '! OPEN' },
  'finding-reopened': { title: 'Reopened findings', label: '! REOPEN' },
  'finding-changed': { title: 'Changed findings', label: '~ CHANGED' },
  'finding-resolved': { title: 'Resolved findings', label: '- RESOLVED' },
  'finding-unverified': { title: 'Unverified findings', label: '? UNVERIFIED' },
};

/** Text without control characters (C0, DEL, C1: terminal escapes), cut to a bounded length. */
function clean(s: string | null | undefined): string {
  if (s === null || s === undefined) return '';
  const t = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  return t.length > FIELD_MAX_CHARS ? `${t.slice(0, FIELD_MAX_CHARS)}...` : t;
}

/** Markdown text with the characters that could end a table cell or start markup escaped. */
function mdEscape(s: string): string {
  return s.replace(/[\\`*_[\]<>|#!~]/g, (c) => `\\${c}`);
}

/** A Markdown table cell: cleaned and escaped; '-' when empty. */
function cell(s: string | null | undefined): string {
  const t = clean(s);
  return t === '' ? '-' : mdEscape(t);
}

const address = (e: ExposureEvent): string => (e.port === null ? e.ip : e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);

function changesText(changes: ExposureEvent['changes']): string {
  if (changes === null) return '';
  return Object.entries(changes)
    .map(([field, [from, to]]) => `${field} ${clean(from) || '(none)'} → ${clean(to) || '(none)'}`)
    .join('; ');
}

const countsText = (r: DiffResult): string => {
  const c = r.summary.counts;
  const parts = [
    `${c['service-new']} new, ${c['service-gone']} gone, ${c['service-changed']} changed service(s)`,
    `${c['finding-opened']} opened, ${c['finding-reopened']} reopened, ${c['finding-changed']} changed, ${c['finding-resolved']} resolved, ${c['finding-unverified']} unverified finding(s)`,
  ];
  const { honeypot, falsePositive } = r.summary.excluded;
  if (honeypot > 0) parts.push(`${honeypot} honeypot event(s) left out (--include-honeypots shows them)`);
  if (falsePositive > 0) parts.push(`${falsePositive} event(s) of findings marked false-positive left out`);
  return parts.join('; ');
};

const runText = (r: DiffRun): string => `${r.id} (${r.state}, started ${r.startedAt})`;

function headline(r: DiffResult): string {
  const from = r.from === null ? 'baseline (no earlier run)' : runText(r.from);
  const window = r.since === null ? '' : `since ${r.since}: `;
  return `medsurface diff: ${window}${from} → ${runText(r.to)}`;
}

/** Why some kinds cannot appear: said once, so an empty section is not mistaken for "nothing changed". */
function caveat(r: DiffResult): string | null {
  if (r.summary.complete) return null;
  return `${r.to.id} did not complete (${r.to.state}): no service counts as gone and it resolved nothing.`;
}

function eventText(e: ExposureEvent): string {
  const { label } = SECTIONS[e.kind];
  const lead = label.length >= 8 ? `${label} ` : label.padEnd(8);
  const what = [e.protocol, clean(e.product), clean(e.version), e.deviceType].filter((s) => s !== null && s !== '').join(' ');
  const parts: string[] = [];
  if (e.checkId !== null) parts.push(`${e.severity ?? '-'} ${e.checkId}`);
  parts.push(address(e));
  if (what !== '') parts.push(what);
  if (e.tags.length > 0) parts.push(`[${e.tags.map(clean).join(', ')}]`);
  const where = [e.country, clean(e.org)].filter((s) => s !== null && s !== '');
  if (where.length > 0) parts.push(`(${where.join(', ')})`);
  let line = lead + parts.join(' ');
  if (e.title !== null) line += `  "${clean(e.title)}"`;
  if (e.changes !== null) line += `  ${changesText(e.changes)}`;
  return line;
}

function grouped(events: ExposureEvent[]): [EventKind, ExposureEvent[]][] {
  return EVENT_KINDS.map((k) => [k, events.filter((e) => e.kind === k)] as [EventKind, ExposureEvent[]]).filter(([, list]) => list.length > 0);
}

export function formatText(r: DiffResult): string {
  const lines = [headline(r), countsText(r)];
  const note = caveat(r);
  if (note !== null) lines.push(note);
  if (r.events.length === 0) lines.push('', 'No changes.');
  for (const [kind, list] of grouped(r.events)) {
    lines.push('', `${SECTIONS[kind].title} (${list.length})`);
    for (const e of list) lines.push(eventText(e));
  }
  return `${lines.join('\n')}\n`;
}

export function formatMarkdown(r: DiffResult): string {
  const out = ['# medsurface diff', ''];
  out.push('| | run | state | started | finished |', '| --- | --- | --- | --- | --- |');
  const row = (name: string, run: DiffRun | null) =>
    run === null ? `| ${name} | baseline | - | - | - |` : `| ${name} | ${cell(run.id)} | ${run.state} | ${run.startedAt} | ${run.finishedAt ?? '-'} |`;
  out.push(row('from', r.from), row('to', r.to), '');
  if (r.since !== null) out.push(`Window: since ${r.since}.`, '');
  out.push(`**Summary:** ${mdEscape(countsText(r))}.`);
  const note = caveat(r);
  if (note !== null) out.push('', `> ${mdEscape(note)}`);
  if (r.events.length === 0) out.push('', 'No changes.');
  for (const [kind, list] of grouped(r.events)) {
    out.push('', `## ${SECTIONS[kind].title} (${list.length})`, '');
    const finding = kind.startsWith('finding-');
    const changes = kind.endsWith('-changed');
    const head = [
      ...(finding ? ['severity', 'check', 'title'] : []),
      'address',
      'protocol',
      'product',
      'version',
      'device type',
      ...(finding ? [] : ['worst open finding']),
      'tags',
      'country',
      'organisation',
      ...(changes ? ['changes'] : []),
    ];
    out.push(`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`);
    for (const e of list) {
      const cells = [
        ...(finding ? [cell(e.severity), cell(e.checkId), cell(e.title)] : []),
        cell(address(e)),
        cell(e.protocol),
        cell(e.product),
        cell(e.version),
        cell(e.deviceType),
        ...(finding ? [] : [cell(e.severity)]),
        cell(e.tags.join(', ')),
        cell(e.country),
        cell(e.org),
        ...(changes ? [cell(changesText(e.changes))] : []),
      ];
      out.push(`| ${cells.join(' | ')} |`);
    }
  }
  return `${out.join('\n')}\n`;
}

export function formatJson(r: DiffResult): string {
  return `${JSON.stringify({ from: r.from, since: r.since, to: r.to, summary: r.summary, events: r.events }, null, 2)}\n`;
}

/**
 * `--since` as an ISO instant: an age (`7d`, `12h`, `1h30m`, as monitor.yaml writes durations)
 * before `now`, or a date / date-time (UTC unless it carries an offset).
 */
export function sinceInstant(text: string, now: number): string {
  const s = text.trim();
  if (/^\d{4}-\d{2}-\d{2}/.test(s)) {
    const zoned = /^\d{4}-\d{2}-\d{2}$/.test(s) || /(Z|[+-]\d{2}:?\d{2})$/i.test(s) ? s : `${s}Z`;
    const t = Date.parse(zoned);
    if (Number.isNaN(t)) throw new UsageError(`--since: "${clean(text)}" is not a date (write 2026-11-01 or 2026-11-01T08:30:00Z)`);
    return new Date(t).toISOString();
  }
  try {
    return new Date(now - parseDuration(s)).toISOString();
  } catch (err) {
    if (err instanceof TimeSyntaxError) {
      throw new UsageError(`--since: "${clean(text)}" is neither an age (30m, 12h, 7d, 1h30m) nor a date (2026-11-01)`, { cause: err });
    }
    throw err;
  }
}

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('what changed between two scan runs: new, gone and changed services; opened, reopened, changed, resolved and unverified findings')
    .argument('[runs...]', 'two run ids, older first (medsurface inventory runs lists them)')
    .option('--since <age|date>', 'the changes of a window: 7d, 12h, or a date; from the last completed run before it to the latest completed run')
    .option('--last', 'the two latest completed runs')
    .option('--format <format>', `output: ${DIFF_FORMATS.join(', ')}`, 'text')
    .option('--include-honeypots', 'also report assets flagged as honeypots')
    .option('--db <path|url>', 'inventory location (default $MEDSURFACE_DB or the XDG data dir)')
    .addHelpText(
      'after',
      `
Examples:
  medsurface diff r-0mb2x3k1a-1f2e3d4c r-0mb9q7z2b-5a6b7c8d
  medsurface diff --last --format md > changes.md
  medsurface diff --since 7d --format json

A service is "gone" only when a completed run that covered it got no answer; an interrupted
run makes nothing gone and resolves nothing. Each event's "key" names the exposure and its
state (the alert de-duplication relies on it).`,
    )
    .action(async (runs: string[], o: DiffOpts) => {
      if (!(DIFF_FORMATS as readonly string[]).includes(o.format)) {
        throw new UsageError(`--format must be one of ${DIFF_FORMATS.join(', ')} (got "${clean(o.format)}")`);
      }
      const modes = [runs.length > 0, o.since !== undefined, o.last === true].filter(Boolean).length;
      if (modes !== 1 || (runs.length > 0 && runs.length !== 2)) {
        throw new UsageError('give two run ids (older first), or --since AGE, or --last (run medsurface inventory runs to list the runs)');
      }
      const since = o.since === undefined ? undefined : sinceInstant(o.since, Date.now());
      const inv = await openKyselyInventory(o.db);
      try {
        const opts = { includeHoneypots: o.includeHoneypots === true };
        let result: DiffResult;
        if (since !== undefined) result = await diffSince(inv.db, since, opts);
        else {
          const [a, b] = o.last === true ? await lastTwoCompletedRuns(inv.db) : [runs[0]!, runs[1]!];
          result = await diffRuns(inv.db, a, b, opts);
        }
        const format = o.format as DiffFormat;
        process.stdout.write(format === 'json' ? formatJson(result) : format === 'md' ? formatMarkdown(result) : formatText(result));
      } finally {
        await inv.close();
      }
    });
}
