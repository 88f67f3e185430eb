/**
 * The report's charts as inline SVG, rendered by ECharts on the server (no browser, no script
 * in the report): device types, severity, countries, products, remediation over time.
 *
 * Labels are inventory text (products from banners, organisation names): they are cleaned and
 * shortened first, ECharts escapes SVG text itself, and every chart is checked before it is
 * returned: no script, no foreign object, no event handler, no link, no external reference, so
 * the one raw insertion in the HTML template cannot carry markup. Each chart instance is
 * disposed (a live one keeps Node from exiting).
 */
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';
import { SEVERITIES, type Severity } from '../core/types.js';
import { clean, day } from './text.js';
import { type Bucket, REPORT_LIMITS, type RemediationPoint, type ReportData } from './types.js';

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, SVGRenderer]);

export interface Chart {
  id: string;
  title: string;
  /** Inline SVG, or null when there is nothing to draw (the template says so). */
  svg: string | null;
}

export const SEVERITY_COLOURS: Record<Severity, string> = {
  critical: '#7f1d1d',
  high: '#dc2626',
  medium: '#f59e0b',
  low: '#2563eb',
  info: '#6b7280',
};

const WIDTH = 680;
const BAR_COLOUR = '#1f4e79';
const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

/** The chart SVG held something other than drawing: never inserted. */
export class UnsafeChartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeChartError';
  }
}

const FORBIDDEN: [RegExp, string][] = [
  [/<\s*script/i, 'a script element'],
  [/<\s*foreignObject/i, 'a foreignObject element'],
  [/<\s*(a|image|use|iframe|embed|object)[\s>/]/i, 'a linking element'],
  [/\son[a-z]+\s*=/i, 'an event handler attribute'],
  [/\s(xlink:)?href\s*=/i, 'a link attribute'],
  [/url\s*\(\s*['"]?(?!#)/i, 'a url() reference other than a fragment'],
  [/@import/i, 'an @import'],
  [/javascript:/i, 'a javascript: reference'],
];

/**
 * The SVG made fit for inline use: the namespace declarations dropped (an inline SVG in HTML
 * needs none, and the report then names no external address), a role and label added, and
 * checked against everything that is not drawing.
 */
export function inlineSvg(svg: string, label: string): string {
  const out = svg
    .replace(/\s+xmlns(:xlink)?="[^"]*"/g, '')
    .replace(/^<svg\b/, `<svg role="img" aria-label="${escapeAttr(label)}"`);
  for (const [re, what] of FORBIDDEN) {
    if (re.test(out)) throw new UnsafeChartError(`chart "${label}" contains ${what}`);
  }
  if (/https?:\/\//i.test(out)) throw new UnsafeChartError(`chart "${label}" names an external address`);
  return out;
}

function escapeAttr(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

type Option = Parameters<echarts.ECharts['setOption']>[0];

function render(option: Option, height: number, label: string): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: WIDTH, height });
  try {
    chart.setOption({ animation: false, textStyle: { fontFamily: FONT }, ...option });
    return inlineSvg(chart.renderToSVGString(), label);
  } finally {
    chart.dispose();
  }
}

/** Buckets cut to the bars a chart shows, the rest summed as "other", labels cleaned. */
function bars(rows: Bucket[]): Bucket[] {
  const max = REPORT_LIMITS.chartBars;
  const list = rows.map((r) => ({ key: clean(r.key, 40) || '(none)', count: r.count }));
  if (list.length <= max) return list;
  const rest = list.slice(max - 1).reduce((n, b) => n + b.count, 0);
  return [...list.slice(0, max - 1), { key: 'other', count: rest }];
}

/** Horizontal bars, largest on top. */
function horizontalBars(rows: Bucket[], label: string): string | null {
  const data = bars(rows).filter((b) => b.count > 0);
  if (data.length === 0) return null;
  const reversed = [...data].reverse();
  return render(
    {
      grid: { left: 200, right: 50, top: 10, bottom: 30 },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: {
        type: 'category',
        data: reversed.map((b) => b.key),
        axisLabel: { interval: 0, width: 150, overflow: 'truncate' },
      },
      series: [
        {
          type: 'bar',
          data: reversed.map((b) => b.count),
          itemStyle: { color: BAR_COLOUR },
          label: { show: true, position: 'right' },
          barMaxWidth: 22,
        },
      ],
    },
    Math.max(120, 40 + 26 * reversed.length),
    label,
  );
}

function severityChart(bySeverity: Record<Severity, number>, label: string): string | null {
  const order = [...SEVERITIES].reverse();
  if (order.every((s) => bySeverity[s] === 0)) return null;
  return render(
    {
      grid: { left: 60, right: 30, top: 20, bottom: 40 },
      xAxis: { type: 'category', data: order, axisLabel: { interval: 0 } },
      yAxis: { type: 'value', minInterval: 1 },
      series: [
        {
          type: 'bar',
          data: order.map((s) => ({ value: bySeverity[s], itemStyle: { color: SEVERITY_COLOURS[s] } })),
          label: { show: true, position: 'top' },
          barMaxWidth: 60,
        },
      ],
    },
    260,
    label,
  );
}

function remediationChart(points: RemediationPoint[], label: string): string | null {
  if (points.length === 0) return null;
  const names = points.map((p) => `${day(p.finishedAt)}\n${clean(p.runId, 14)}`);
  const series = (name: string, key: 'open' | 'resolved' | 'unverified', color: string) => ({
    name,
    type: 'bar' as const,
    stack: 'findings',
    data: points.map((p) => p[key]),
    itemStyle: { color },
    barMaxWidth: 48,
  });
  return render(
    {
      legend: { top: 0, data: ['open', 'resolved', 'unverified'] },
      grid: { left: 60, right: 30, top: 40, bottom: 60 },
      xAxis: { type: 'category', data: names, axisLabel: { interval: 0, fontSize: 10 } },
      yAxis: { type: 'value', minInterval: 1 },
      series: [series('open', 'open', '#dc2626'), series('resolved', 'resolved', '#16a34a'), series('unverified', 'unverified', '#9ca3af')],
    },
    300,
    label,
  );
}

/** The five charts of a report, in the order the HTML shows them. */
export function reportCharts(data: ReportData): Chart[] {
  const c = (id: string, title: string, svg: () => string | null): Chart => ({ id, title, svg: svg() });
  return [
    c('chart-device-types', 'Exposed systems by device type', () => horizontalBars(data.stats.byDeviceType, 'Exposed systems by device type')),
    c('chart-severity', 'Open findings by severity', () => severityChart(data.summary.bySeverity, 'Open findings by severity')),
    c('chart-countries', 'Exposed systems by country', () => horizontalBars(data.stats.byCountry, 'Exposed systems by country')),
    c('chart-products', 'Exposed systems by product', () => horizontalBars(data.stats.byProduct, 'Exposed systems by product')),
    c('chart-remediation', 'Remediation over time (findings at the end of each run)', () =>
      remediationChart(data.remediation, 'Remediation over time'),
    ),
  ];
}
