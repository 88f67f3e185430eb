/**
 * Exposure at a glance: headline numbers, exposed services by severity, device type, country
 * and product, records reachable without credentials, the trend of open findings and the
 * riskiest assets. Every chart has its numbers beside it; every row links to the inventory
 * search that lists it.
 */
import { BarFigure, type BarDatum, TrendFigure } from '../components/charts';
import { countPairs, ErrorMessage, fmt, Loading, SeverityBadge } from '../components/common';
import { useGet, usePageTitle } from '../hooks';
import { Link, withParams } from '../router';
import { term } from '../search';
import { SEVERITIES, type Summary, type TopAsset, type TrendPoint } from '../types';

const TREND_DAYS = 90;
const TOP_ASSETS = 10;
/** Bars per chart; the rest is summed as "other". */
const BARS = 10;

const search = (q: string) => withParams('/inventory', { q });

function bars(pairs: Array<[string, number]>, field: string | null): BarDatum[] {
  const head = pairs.slice(0, BARS).map(([label, value]) => ({ label, value, to: field && label !== 'unknown' ? search(term(field, label)) : undefined }));
  const rest = pairs.slice(BARS).reduce((s, [, v]) => s + v, 0);
  return rest > 0 ? [...head, { label: 'other', value: rest }] : head;
}

/** Findings that say records answer without credentials (src/checks/defs). */
const RECORDS_QUERY = 'finding:dicom-records-reachable OR finding:dicom-query-open OR finding:dicomweb-open OR finding:fhir-open';

function Stat({ label, value, to, note }: { label: string; value: number; to?: string; note?: string }) {
  return (
    <div className="stat">
      <dt>{label}</dt>
      <dd>
        <span className="stat-value">{to ? <Link to={to}>{fmt(value)}</Link> : fmt(value)}</span>
        {note ? <span className="stat-note">{note}</span> : null}
      </dd>
    </div>
  );
}

export function OverviewPage() {
  const h1 = usePageTitle('Overview');
  const summary = useGet<Summary>('/summary');
  const trend = useGet<{ points: TrendPoint[] }>(`/trend?days=${TREND_DAYS}`);
  const top = useGet<TopAsset[] | { rows?: TopAsset[]; assets?: TopAsset[] }>(`/assets/top?limit=${TOP_ASSETS}`);
  const s = summary.data;
  const topRows = Array.isArray(top.data) ? top.data : (top.data?.rows ?? top.data?.assets ?? []);

  const severity: BarDatum[] = s
    ? [...SEVERITIES]
        .reverse()
        .map((sev) => ({ label: sev, value: countPairs(s.bySeverity).find(([k]) => k === sev)?.[1] ?? 0, color: sev, to: search(term('severity', sev)) }))
    : [];

  return (
    <>
      <h1 ref={h1} tabIndex={-1}>
        Overview
      </h1>
      <ErrorMessage error={summary.error} title="Summary" />
      {summary.loading && !s ? <Loading what="Loading the summary" /> : null}
      {s ? (
        <>
          <section aria-labelledby="headline">
            <h2 id="headline" className="visually-hidden">
              Headline numbers
            </h2>
            <dl className="stats">
              <Stat label="Exposed assets" value={s.assets} to="/inventory?view=assets" />
              <Stat label="Exposed services" value={s.services} to="/inventory" />
              <Stat label="Open findings" value={s.openFindings} to="/findings" />
              <Stat
                label="Records reachable without credentials"
                value={s.recordsReachable}
                to={search(RECORDS_QUERY)}
                note={s.servicesWithRecords !== undefined ? `on ${fmt(s.servicesWithRecords)} service${s.servicesWithRecords === 1 ? '' : 's'}` : undefined}
              />
              <Stat label="Scan runs" value={s.runs} to="/scans" />
              {s.honeypots > 0 ? <Stat label="Likely honeypots (left out)" value={s.honeypots} to={search('honeypot:true')} /> : null}
            </dl>
          </section>
          <section aria-labelledby="exposure" className="figures">
            <h2 id="exposure">Exposed services</h2>
            <BarFigure
              id="fig-severity"
              title="Open findings by severity"
              unit="Findings"
              data={severity}
              total="All open findings"
              note="Counted per finding; each row opens the services whose highest open finding has that severity."
            />
            <BarFigure
              id="fig-device"
              title="By device type"
              unit="Services"
              data={bars(countPairs(s.byDeviceType), 'devicetype')}
              note="The ten most frequent; services without an identified device type are not counted."
              empty="No device identified yet."
            />
            <BarFigure
              id="fig-country"
              title="By country"
              unit="Services"
              data={bars(countPairs(s.byCountry), 'country')}
              note="The ten most frequent countries of the hosts (attribution data)."
              empty="No host has a country: load attribution data (medsurface attribute) to see one."
            />
            <BarFigure
              id="fig-product"
              title="By product"
              unit="Services"
              data={bars(countPairs(s.byProduct), 'product')}
              note="The ten most frequent products (a service's own or its host's)."
              empty="No product identified yet."
            />
          </section>
        </>
      ) : null}
      <section aria-labelledby="trend-title" className="figures">
        <h2 id="trend-title">Open findings over time</h2>
        <ErrorMessage error={trend.error} title="Trend" />
        {trend.data ? <TrendFigure id="fig-trend" title={`Open findings, last ${TREND_DAYS} days`} points={trend.data.points} /> : null}
      </section>
      <section aria-labelledby="top-title">
        <h2 id="top-title">Riskiest assets</h2>
        <ErrorMessage error={top.error} title="Riskiest assets" />
        {top.data ? (
          <div className="table-wrap">
            <table className="data">
              <caption className="visually-hidden">The {TOP_ASSETS} riskiest assets, riskiest first</caption>
              <thead>
                <tr>
                  <th scope="col">Address</th>
                  <th scope="col" className="num">
                    Risk
                  </th>
                  <th scope="col">Highest severity</th>
                  <th scope="col" className="num">
                    Open findings
                  </th>
                  <th scope="col">Product</th>
                  <th scope="col">Device type</th>
                </tr>
              </thead>
              <tbody>
                {topRows.map((a) => (
                  <tr key={a.ip}>
                    <th scope="row">
                      <Link to={`/assets/${encodeURIComponent(a.ip)}`}>{a.ip}</Link>
                    </th>
                    <td className="num">{fmt(a.risk)}</td>
                    <td>
                      <SeverityBadge severity={a.maxSeverity} />
                    </td>
                    <td className="num">{fmt(a.openFindings)}</td>
                    <td>{a.product ?? '–'}</td>
                    <td>{a.deviceType ?? '–'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
    </>
  );
}
