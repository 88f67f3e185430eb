/**
 * The HTML report: one self-contained file (inline CSS and SVG, no script, no external
 * address; a Content-Security-Policy that forbids loading anything), readable on screen and in
 * print, marked with its TLP level in the <title>, a `<meta name="tlp">`, a banner at the top
 * and at the bottom. The PDF is this same page printed by Chromium (pdf.ts).
 *
 * Eta escapes every interpolation (autoEscape); the view below only pre-computes the sentences
 * and passes the formatting helpers the templates call.
 */
import { Eta } from 'eta';
import { EVENT_KINDS } from '../core/events.js';
import { PROFILES } from '../core/types.js';
import { type Chart, reportCharts } from './charts.js';
import { CVE_GROUP_REMEDIATION, isCveId, NEVER_SENT, PROFILE_TEXT } from './methodology.js';
import { REPORT_CSS, TEMPLATES } from './templates.js';
import { assetAnchor, clean, int, pct, when } from './text.js';
import { tlpMarking } from './tlp.js';
import type { FindingDetail, ReportData } from './types.js';
import {
  attributionText,
  COUNTING_RULES,
  evidenceValue,
  type FirstFinding,
  findingState,
  firstFindings,
  honeypotText,
  identity,
  narrative,
  otherEvidence,
  SOURCE_TEXT,
  scopeText,
  shortState,
  TREND_LABELS,
  tlsText,
  trendText,
} from './wording.js';

const eta = new Eta({ autoEscape: true, autoTrim: false, cache: true, useWith: false });
for (const [name, tpl] of Object.entries(TEMPLATES)) eta.loadTemplate(name, tpl);

/** What the templates receive. */
function view(data: ReportData, charts: Chart[]) {
  const tlp = tlpMarking(data.meta.tlp);
  const first = firstFindings(data);
  const firstOf = (f: FindingDetail): FirstFinding | null => {
    const hit = first.get(f.checkId);
    return hit === undefined || hit.id === f.id ? null : hit;
  };
  return {
    ...data,
    tlp,
    css: REPORT_CSS,
    charts,
    scopeText: scopeText(data),
    honeypotText: honeypotText(data),
    narrative: narrative(data),
    trendText: trendText(data),
    trendRows: data.trend === null ? [] : EVENT_KINDS.map((kind) => ({ kind, label: TREND_LABELS[kind], count: data.trend!.counts[kind] })),
    countingRules: COUNTING_RULES,
    profileRows: PROFILES.map((p) => ({ name: p, text: PROFILE_TEXT[p] })),
    neverSent: NEVER_SENT,
    sourceText: SOURCE_TEXT,
    cveRemediation: CVE_GROUP_REMEDIATION,
    f: {
      int,
      pct,
      when,
      clean,
      anchor: assetAnchor,
      identity,
      tls: tlsText,
      findingState,
      attribution: attributionText,
      isCve: isCveId,
      evidence: evidenceValue,
      otherEvidence,
      shortState,
      firstOf,
    },
  };
}

/** The report as one HTML document. */
export function renderHtml(data: ReportData): string {
  return eta.render('@page', view(data, reportCharts(data)));
}

/** The PDF's running header and footer (TLP label on every page, title, page numbers). */
export function pdfHeaderFooter(data: ReportData): { header: string; footer: string } {
  const v = { tlp: tlpMarking(data.meta.tlp), title: clean(data.meta.title, 90), generated: `medsurface, ${when(data.meta.generatedAt)}` };
  return { header: eta.render('@pdf-header', v), footer: eta.render('@pdf-footer', v) };
}
