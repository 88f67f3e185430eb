/**
 * `medsurface disclose report`: how many exposures were fixed, by party and over time, as the
 * published studies report their re-measurements ("60 days after notification, N of M devices
 * were no longer exposed"). Per case: its findings, how many are fixed (resolved by a rescan,
 * or marked a false positive), still exposed, unverified, and how many were fixed within 7, 30,
 * 60 and 90 days of the first notification; over time: findings of notified cases fixed per day
 * and the running total. Markdown or JSON, both TLP-marked. Counts only: no address appears.
 */
import { VERSION } from '../core/version.js';
import { caseFindings, listCases } from './cases.js';
import type { DisclosureDb } from './tables.js';
import { type Tlp, tlpLabel, tlpMeaning } from './tlp.js';

export const FIXED_WITHIN_DAYS = [7, 30, 60, 90] as const;
const DAY_MS = 86_400_000;

export interface PartyRemediation {
  caseId: number;
  party: string;
  kind: string;
  country: string | null;
  state: string;
  notifiedAt: string | null;
  closedAt: string | null;
  findings: number;
  fixed: number;
  stillExposed: number;
  unverified: number;
  /** Findings fixed within N days of the first notification (keys: FIXED_WITHIN_DAYS). */
  fixedWithinDays: Record<string, number>;
  /** Median days from notification to fix over the fixed findings, null when none. */
  medianDaysToFix: number | null;
}

export interface RemediationReport {
  tlp: string;
  generatedAt: string;
  generator: string;
  totals: { cases: number; notified: number; resolvedCases: number; findings: number; fixed: number; stillExposed: number; unverified: number };
  parties: PartyRemediation[];
  /** Per UTC day with fixes (of notified cases): fixed that day, fixed so far, still exposed after it. */
  timeline: { date: string; fixed: number; cumulativeFixed: number; stillExposed: number }[];
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const v = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return Math.round(v * 10) / 10;
}

export async function remediationReport(db: DisclosureDb, opts: { tlp: Tlp; now?: () => string }): Promise<RemediationReport> {
  const parties: PartyRemediation[] = [];
  const fixDays = new Map<string, number>();
  let notifiedFindings = 0;
  for (const c of await listCases(db)) {
    const all = await caseFindings(db, c.id);
    const isFixed = (f: (typeof all)[number]) => f.state === 'resolved' || f.userState === 'false-positive';
    const fixedRows = all.filter(isFixed);
    const unverified = all.filter((f) => !isFixed(f) && f.state === 'unverified').length;
    const within: Record<string, number> = Object.fromEntries(FIXED_WITHIN_DAYS.map((d) => [String(d), 0]));
    const days: number[] = [];
    if (c.notifiedAt !== null) {
      notifiedFindings += all.length;
      const t0 = Date.parse(c.notifiedAt);
      for (const f of fixedRows) {
        if (f.resolvedAt === null) continue;
        const d = Math.max(0, (Date.parse(f.resolvedAt) - t0) / DAY_MS);
        days.push(d);
        for (const n of FIXED_WITHIN_DAYS) if (d <= n) within[String(n)]!++;
        const date = f.resolvedAt.slice(0, 10);
        fixDays.set(date, (fixDays.get(date) ?? 0) + 1);
      }
    }
    parties.push({
      caseId: c.id,
      party: c.partyName,
      kind: c.partyKind,
      country: c.country,
      state: c.state,
      notifiedAt: c.notifiedAt,
      closedAt: c.closedAt,
      findings: all.length,
      fixed: fixedRows.length,
      stillExposed: all.length - fixedRows.length - unverified,
      unverified,
      fixedWithinDays: within,
      medianDaysToFix: median(days),
    });
  }
  let cumulative = 0;
  const timeline = [...fixDays.entries()]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([date, fixed]) => {
      cumulative += fixed;
      return { date, fixed, cumulativeFixed: cumulative, stillExposed: notifiedFindings - cumulative };
    });
  const sum = (k: 'findings' | 'fixed' | 'stillExposed' | 'unverified') => parties.reduce((n, p) => n + p[k], 0);
  return {
    tlp: tlpLabel(opts.tlp),
    generatedAt: (opts.now ?? (() => new Date().toISOString()))(),
    generator: `medsurface ${VERSION}`,
    totals: {
      cases: parties.length,
      notified: parties.filter((p) => p.notifiedAt !== null).length,
      resolvedCases: parties.filter((p) => p.state === 'resolved').length,
      findings: sum('findings'),
      fixed: sum('fixed'),
      stillExposed: sum('stillExposed'),
      unverified: sum('unverified'),
    },
    parties,
    timeline,
  };
}

/** Markdown table cell: no pipe, no line break, no HTML. */
function md(s: string | number | null): string {
  return s === null ? '-' : String(s).replace(/[\r\n]+/g, ' ').replace(/[|\\`*_<>[\]]/g, (c) => `\\${c}`);
}

export function reportMarkdown(r: RemediationReport, tlp: Tlp): string {
  const t = r.totals;
  const pct = (a: number, b: number) => (b === 0 ? '-' : `${Math.round((a / b) * 100)}%`);
  const lines = [
    `**${r.tlp}**: ${tlpMeaning(tlp)}`,
    '',
    '# Disclosure: remediation report',
    '',
    `Generated ${r.generatedAt} by ${r.generator}.`,
    '',
    `${t.cases} cases, ${t.notified} notified, ${t.resolvedCases} resolved. ${t.findings} findings: ${t.fixed} fixed (${pct(t.fixed, t.findings)}), ${t.stillExposed} still exposed, ${t.unverified} unverified (host did not answer).`,
    '',
    '## By party',
    '',
    `| case | party | state | notified | findings | fixed | still exposed | unverified | ${FIXED_WITHIN_DAYS.map((d) => `fixed ≤${d}d`).join(' | ')} | median days to fix |`,
    `|---|---|---|---|---|---|---|---|${FIXED_WITHIN_DAYS.map(() => '---').join('|')}|---|`,
    ...r.parties.map(
      (p) =>
        `| ${p.caseId} | ${md(p.party)} | ${p.state} | ${md(p.notifiedAt?.slice(0, 10) ?? null)} | ${p.findings} | ${p.fixed} | ${p.stillExposed} | ${p.unverified} | ${FIXED_WITHIN_DAYS.map((d) => p.fixedWithinDays[String(d)]).join(' | ')} | ${md(p.medianDaysToFix)} |`,
    ),
    '',
    '## Over time',
    '',
    ...(r.timeline.length === 0
      ? ['No finding of a notified case has been fixed yet.']
      : ['| date | fixed | fixed so far | still exposed |', '|---|---|---|---|', ...r.timeline.map((d) => `| ${d.date} | ${d.fixed} | ${d.cumulativeFixed} | ${d.stillExposed} |`)]),
    '',
    `**${r.tlp}**`,
    '',
  ];
  return lines.join('\n');
}
