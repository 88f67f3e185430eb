/**
 * ECharts, tree-shaken (core + the two chart types, grid and tooltip, the SVG renderer). Under
 * the server's CSP (`style-src 'self'`) the SVG renderer works: it styles its nodes through
 * CSSOM (`el.style.cssText`), which CSP allows, and adds no <style> element in the browser.
 * The tooltip uses `renderMode: 'richText'` (drawn by zrender) because the HTML tooltip
 * writes `style="..."` attributes through innerHTML, which the CSP blocks.
 *
 * Every chart is a figure with its numbers in a table beside it: the chart is decoration for
 * the eyes; the table is the text alternative, readable without colour or sight.
 */
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, TooltipComponent } from 'echarts/components';
import { type EChartsCoreOption, init, use } from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';
import { type ReactNode, useEffect, useRef } from 'react';
import { Link } from '../router';
import { type Theme, useResolvedTheme } from '../theme';
import { fmt } from './common';

use([BarChart, LineChart, GridComponent, TooltipComponent, SVGRenderer]);

/** Colours of the current theme, read from the CSS custom properties in styles.css. */
export function palette(_theme: Theme): Record<string, string> {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string) => css.getPropertyValue(name).trim();
  return {
    fg: v('--fg'),
    muted: v('--muted'),
    border: v('--border'),
    bg: v('--surface'),
    accent: v('--chart'),
    info: v('--sev-info'),
    low: v('--sev-low'),
    medium: v('--sev-medium'),
    high: v('--sev-high'),
    critical: v('--sev-critical'),
  };
}

/** One chart; it is drawn again when `dataKey` (the data, serialised) or the theme changes. */
function EChart({ build, dataKey, height, label }: { build(p: Record<string, string>): EChartsCoreOption; dataKey: string; height: number; label: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const buildRef = useRef(build);
  buildRef.current = build;
  const theme = useResolvedTheme();
  useEffect(() => {
    void dataKey;
    const el = ref.current;
    if (!el) return;
    const chart = init(el, undefined, { renderer: 'svg' });
    chart.setOption(buildRef.current(palette(theme)));
    const ro = new ResizeObserver(() => chart.resize());
    ro.observe(el);
    return () => {
      ro.disconnect();
      chart.dispose();
    };
  }, [dataKey, theme]);
  return <div ref={ref} className="chart" role="img" aria-label={label} style={{ height }} />;
}

const axisText = (p: Record<string, string>) => ({ color: p.fg, fontSize: 12 });

export interface BarDatum {
  label: string;
  value: number;
  /** A colour key of the palette (severity names), else the chart colour. */
  color?: string;
  /** Where the row of the table links (an inventory search). */
  to?: string;
}

/** Horizontal bars, largest first, with the numbers in a table beside them. */
export function BarFigure({
  id,
  title,
  data,
  unit,
  note,
  total: totalLabel,
  empty = 'No data.',
}: {
  id: string;
  title: string;
  data: BarDatum[];
  unit: string;
  note?: ReactNode;
  /** A footer row with the sum (only where the bars add up to a whole). */
  total?: string;
  empty?: string;
}) {
  const total = data.reduce((s, d) => s + d.value, 0);
  const build = (p: Record<string, string>): EChartsCoreOption => ({
    animation: false,
    grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
    tooltip: { renderMode: 'richText', trigger: 'item', backgroundColor: p.bg, borderColor: p.border, textStyle: { color: p.fg } },
    xAxis: { type: 'value', minInterval: 1, axisLabel: axisText(p), splitLine: { lineStyle: { color: p.border } } },
    yAxis: {
      type: 'category',
      inverse: true,
      data: data.map((d) => d.label),
      axisLabel: { ...axisText(p), width: 140, overflow: 'truncate' },
      axisLine: { lineStyle: { color: p.muted } },
    },
    series: [
      {
        type: 'bar',
        name: unit,
        data: data.map((d) => ({ value: d.value, itemStyle: { color: (d.color && p[d.color]) || p.accent } })),
        barMaxWidth: 22,
        label: { show: true, position: 'right', color: p.fg, formatter: (x: { value: number }) => fmt(x.value) },
      },
    ],
  });
  const height = Math.max(120, data.length * 30 + 30);
  const summary = data.length === 0 ? 'no data' : data.map((d) => `${d.label} ${fmt(d.value)}`).join(', ');
  return (
    <figure className="figure" aria-labelledby={`${id}-cap`}>
      <figcaption id={`${id}-cap`}>
        <h3>{title}</h3>
        {note ? <p className="note">{note}</p> : null}
      </figcaption>
      <div className="figure-body">
        {data.length === 0 ? <p className="empty">{empty}</p> : <EChart build={build} dataKey={JSON.stringify(data)} height={height} label={`Bar chart of ${title}: ${summary}.`} />}
        {data.length === 0 ? null : (
        <table className="numbers">
          <caption className="visually-hidden">{title}: numbers</caption>
          <thead>
            <tr>
              <th scope="col">Value</th>
              <th scope="col" className="num">
                {unit}
              </th>
            </tr>
          </thead>
          <tbody>
            {data.map((d) => (
              <tr key={d.label}>
                <th scope="row">
                  {d.color ? <span className={`swatch sev-${d.color}`} aria-hidden="true" /> : null}
                  {d.to ? <Link to={d.to}>{d.label}</Link> : d.label}
                </th>
                <td className="num">{fmt(d.value)}</td>
              </tr>
            ))}
          </tbody>
          {totalLabel ? (
            <tfoot>
              <tr>
                <th scope="row">{totalLabel}</th>
                <td className="num">{fmt(total)}</td>
              </tr>
            </tfoot>
          ) : null}
        </table>
        )}
      </div>
    </figure>
  );
}

/** A line over days, with the first, lowest, highest and last values as text. */
export function TrendFigure({ id, title, points }: { id: string; title: string; points: Array<{ date: string; open: number }> }) {
  const build = (p: Record<string, string>): EChartsCoreOption => ({
    animation: false,
    grid: { left: 8, right: 24, top: 16, bottom: 8, containLabel: true },
    tooltip: { renderMode: 'richText', trigger: 'axis', backgroundColor: p.bg, borderColor: p.border, textStyle: { color: p.fg } },
    xAxis: { type: 'category', data: points.map((x) => x.date), axisLabel: axisText(p), axisLine: { lineStyle: { color: p.muted } } },
    yAxis: { type: 'value', minInterval: 1, axisLabel: axisText(p), splitLine: { lineStyle: { color: p.border } } },
    series: [{ type: 'line', name: 'open findings', data: points.map((x) => x.open), showSymbol: points.length < 40, lineStyle: { color: p.accent, width: 2 }, itemStyle: { color: p.accent } }],
  });
  const first = points[0];
  const last = points[points.length - 1];
  const values = points.map((x) => x.open);
  const min = values.length ? Math.min(...values) : 0;
  const max = values.length ? Math.max(...values) : 0;
  const text = first && last ? `From ${fmt(first.open)} on ${first.date} to ${fmt(last.open)} on ${last.date}; lowest ${fmt(min)}, highest ${fmt(max)}.` : 'No history yet.';
  return (
    <figure className="figure" aria-labelledby={`${id}-cap`}>
      <figcaption id={`${id}-cap`}>
        <h3>{title}</h3>
      </figcaption>
      <div className="figure-body stacked">
        {points.length === 0 ? <p className="empty">No history yet.</p> : <EChart build={build} dataKey={JSON.stringify(points)} height={220} label={`Line chart of ${title}. ${text}`} />}
        <div className="numbers">
          <p>{text}</p>
          {points.length > 0 ? (
            <details>
              <summary>All {points.length} days</summary>
              <table>
                <caption className="visually-hidden">{title} per day</caption>
                <thead>
                  <tr>
                    <th scope="col">Day</th>
                    <th scope="col" className="num">
                      Open findings
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {points.map((x) => (
                    <tr key={x.date}>
                      <th scope="row">{x.date}</th>
                      <td className="num">{fmt(x.open)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </details>
          ) : null}
        </div>
      </div>
    </figure>
  );
}
