/**
 * The inventory: the search language in a box, facets beside it (a click narrows the query by
 * `field:value`), one server-sorted page of services or hosts, and the export of the query.
 * Everything lives in the address (`?q=&view=&sort=&order=&offset=&size=`), so the back
 * button, reload and a shared link show the same page. The browser only ever holds one page
 * (at most 200 rows) and each facet's top buckets, however large the inventory.
 */
import { createColumnHelper } from '@tanstack/react-table';
import { type FormEvent, useEffect, useId, useState } from 'react';
import { API, ApiError, qs } from '../api';
import { hasRole, useUser } from '../auth';
import { Day, ErrorMessage, Empty, fmt, Loading, SeverityBadge } from '../components/common';
import { type AnyColumn, DataTable, PAGE_SIZES, Pager, type SortState } from '../components/data-table';
import { useGet, usePageTitle } from '../hooks';
import { Link, navigate, useLocation, withParams } from '../router';
import { addTerm, EXAMPLES, FACETS, term } from '../search';
import type { AssetSearchRow, FacetResponse, Page, ServiceSearchRow } from '../types';

type View = 'services' | 'assets';
const DEFAULT_SIZE = 50;
const FACET_SIZE = 8;

const assetLink = (ip: string) => `/assets/${encodeURIComponent(ip)}`;
const identity = (product: string | null, version?: string | null) => (product ? (version ? `${product} ${version}` : product) : '–');

const sc = createColumnHelper<ServiceSearchRow>();
const SERVICE_COLUMNS: AnyColumn<ServiceSearchRow>[] = [
  sc.accessor('ip', { header: 'Address', cell: (c) => <Link to={assetLink(c.getValue())}>{c.getValue()}</Link>, meta: { sortKey: 'ip', rowHeader: true } }),
  sc.accessor('port', { header: 'Port', meta: { sortKey: 'port', numeric: true } }),
  sc.accessor('protocol', { header: 'Protocol', cell: (c) => c.getValue() ?? '–' }),
  sc.display({ id: 'product', header: 'Product', cell: (c) => identity(c.row.original.product ?? c.row.original.asset?.product ?? null, c.row.original.version) }),
  sc.display({ id: 'devicetype', header: 'Device type', cell: (c) => c.row.original.deviceType ?? c.row.original.asset?.deviceType ?? '–' }),
  sc.accessor('maxSeverity', { header: 'Severity', cell: (c) => <SeverityBadge severity={c.getValue()} />, meta: { sortKey: 'severity', descFirst: true } }),
  sc.accessor('risk', { header: 'Risk', cell: (c) => fmt(c.getValue()), meta: { sortKey: 'risk', numeric: true, descFirst: true } }),
  sc.display({ id: 'where', header: 'Country / org', cell: (c) => [c.row.original.asset?.country, c.row.original.asset?.org].filter(Boolean).join(' · ') || '–' }),
  sc.accessor('lastSeen', { header: 'Last seen', cell: (c) => <Day iso={c.getValue()} />, meta: { sortKey: 'lastseen', descFirst: true } }),
];

const ac = createColumnHelper<AssetSearchRow>();
const ASSET_COLUMNS: AnyColumn<AssetSearchRow>[] = [
  ac.accessor('ip', { header: 'Address', cell: (c) => <Link to={assetLink(c.getValue())}>{c.getValue()}</Link>, meta: { sortKey: 'ip', rowHeader: true } }),
  ac.accessor('hostname', { header: 'Host name', cell: (c) => c.getValue() ?? '–' }),
  ac.accessor('ports', { header: 'Matching ports', cell: (c) => (c.getValue() ?? []).join(', ') || '–' }),
  ac.display({ id: 'product', header: 'Product', cell: (c) => identity(c.row.original.product) }),
  ac.accessor('deviceType', { header: 'Device type', cell: (c) => c.getValue() ?? '–' }),
  ac.accessor('maxSeverity', { header: 'Severity', cell: (c) => <SeverityBadge severity={c.getValue()} />, meta: { sortKey: 'severity', descFirst: true } }),
  ac.accessor('risk', { header: 'Risk', cell: (c) => fmt(c.getValue()), meta: { sortKey: 'risk', numeric: true, descFirst: true } }),
  ac.display({ id: 'where', header: 'Country / org', cell: (c) => [c.row.original.country, c.row.original.org].filter(Boolean).join(' · ') || '–' }),
  ac.accessor('lastSeen', { header: 'Last seen', cell: (c) => <Day iso={c.getValue()} />, meta: { sortKey: 'lastseen', descFirst: true } }),
];

function intParam(v: string | null, fallback: number, min: number, max: number): number {
  const n = v === null ? Number.NaN : Number(v);
  return Number.isInteger(n) && n >= min && n <= max ? n : fallback;
}

interface InventoryState {
  q: string;
  view: View;
  sort: SortState;
  offset: number;
  size: number;
}

function readState(params: URLSearchParams): InventoryState {
  const view: View = params.get('view') === 'assets' ? 'assets' : 'services';
  const key = params.get('sort') ?? 'ip';
  return {
    q: params.get('q') ?? '',
    view,
    sort: { key: view === 'assets' && key === 'port' ? 'ip' : key, desc: params.get('order') === 'desc' },
    offset: intParam(params.get('offset'), 0, 0, Number.MAX_SAFE_INTEGER),
    size: PAGE_SIZES.includes(Number(params.get('size'))) ? Number(params.get('size')) : DEFAULT_SIZE,
  };
}

function href(s: InventoryState): string {
  return withParams('/inventory', {
    q: s.q,
    view: s.view === 'services' ? null : s.view,
    sort: s.sort.key === 'ip' && !s.sort.desc ? null : s.sort.key,
    order: s.sort.desc ? 'desc' : null,
    offset: s.offset || null,
    size: s.size === DEFAULT_SIZE ? null : s.size,
  });
}

function Facet({
  field,
  label,
  q,
  onPick,
  initiallyOpen,
  queryFailed,
}: {
  field: string;
  label: string;
  q: string;
  onPick(t: string): void;
  initiallyOpen: boolean;
  /** The search itself failed on this query: its error is shown once, above the results. */
  queryFailed: boolean;
}) {
  const [open, setOpen] = useState(initiallyOpen);
  const res = useGet<FacetResponse>(open && !queryFailed ? `/facets${qs({ q, field, size: FACET_SIZE })}` : null);
  const buckets = res.data?.buckets ?? [];
  // A 400 here is the query's fault (field and size are the page's own): the search shows it once.
  const badQuery = queryFailed || (res.error instanceof ApiError && res.error.status === 400);
  return (
    <details className="facet" open={open} onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>{label}</summary>
      {badQuery ? <p className="empty">No counts: the query has an error.</p> : null}
      {!badQuery && res.error ? <ErrorMessage error={res.error} /> : null}
      {!badQuery && res.loading && !res.data ? <Loading what={`Counting ${label.toLowerCase()}`} /> : null}
      {!badQuery && res.data ? (
        buckets.length === 0 ? (
          <p className="empty">No values.</p>
        ) : (
          <ul>
            {buckets.map((b) => {
              const t = term(field, b.value);
              return (
                <li key={String(b.value)}>
                  <button type="button" className="facet-value" onClick={() => onPick(t)} title={`Add ${t} to the query`}>
                    <span className="visually-hidden">Add {field}: </span>
                    <span className="facet-label">{String(b.value)}</span>
                    <span className="count">{fmt(b.count)}</span>
                  </button>
                </li>
              );
            })}
            {res.data.other ? (
              <li className="facet-other">
                other values <span className="count">{fmt(res.data.other)}</span>
              </li>
            ) : null}
          </ul>
        )
      ) : null}
    </details>
  );
}

export function InventoryPage() {
  const user = useUser();
  const h1 = usePageTitle('Inventory');
  const { params } = useLocation();
  const state = readState(params);
  const [draft, setDraft] = useState(state.q);
  const inputId = useId();

  // The box follows the address (back button, facet clicks, links from the overview).
  useEffect(() => setDraft(state.q), [state.q]);

  const go = (next: Partial<InventoryState>) => navigate(href({ ...state, ...next }));
  const path = `/${state.view}${qs({ q: state.q, sort: state.sort.key, order: state.sort.desc ? 'desc' : 'asc', limit: state.size, offset: state.offset })}`;
  const page = useGet<Page<ServiceSearchRow | AssetSearchRow>>(path);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    go({ q: draft.trim(), offset: 0 });
  };
  const pick = (t: string) => go({ q: addTerm(state.q, t), offset: 0 });
  const total = page.data?.total ?? null;
  const rows = page.data?.rows ?? [];
  // A 400 names the bad token of the query (the server's message); other errors are not the query's fault.
  const failedQuery = page.error instanceof ApiError && page.error.status === 400 ? state.q : null;

  return (
    <>
      <h1 ref={h1} tabIndex={-1}>
        Inventory
      </h1>
      <search>
        <form className="search-form" onSubmit={submit}>
          <label htmlFor={inputId}>Search query</label>
          <div className="search-row">
            <input
              id={inputId}
              type="search"
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
              placeholder="devicetype:pacs severity>=high"
              spellCheck={false}
              autoComplete="off"
              aria-describedby={`${inputId}-help`}
              maxLength={4096}
            />
            <button type="submit" className="primary">
              Search
            </button>
            {state.q ? (
              <button type="button" onClick={() => go({ q: '', offset: 0 })}>
                Clear
              </button>
            ) : null}
          </div>
          <details id={`${inputId}-help`} className="help">
            <summary>Search language</summary>
            <p>
              Terms <code>field:value</code> (also <code>&gt;</code>, <code>&gt;=</code>, <code>&lt;</code>, <code>&lt;=</code>), free text, <code>AND</code>{' '}
              (implied), <code>OR</code>, <code>NOT</code> or <code>-</code>, parentheses, <code>"quoted values"</code>, <code>*</code> wildcards. Examples:
            </p>
            <ul>
              {EXAMPLES.map((x) => (
                <li key={x.q}>
                  <button type="button" className="link" onClick={() => go({ q: x.q, offset: 0 })}>
                    <code>{x.q}</code>
                  </button>{' '}
                  {x.what}
                </li>
              ))}
            </ul>
          </details>
        </form>
      </search>
      <div className="inventory-layout">
        <aside className="facets" aria-labelledby="facets-title">
          <h2 id="facets-title">Refine</h2>
          <p className="hint">Counts of matching services; a value adds its term to the query.</p>
          {FACETS.map((f, i) => (
            <Facet key={f.field} field={f.field} label={f.label} q={state.q} onPick={pick} initiallyOpen={i < 4} queryFailed={failedQuery === state.q} />
          ))}
        </aside>
        <section className="results" aria-labelledby="results-title">
          <div className="results-head">
            <h2 id="results-title">
              {total === null ? 'Results' : `${fmt(total)} ${state.view === 'assets' ? (total === 1 ? 'host' : 'hosts') : total === 1 ? 'service' : 'services'}`}
            </h2>
            <fieldset className="segmented">
              <legend className="visually-hidden">Show</legend>
              {(['services', 'assets'] as const).map((v) => (
                <label key={v} className={state.view === v ? 'checked' : undefined}>
                  <input type="radio" name="inventory-view" value={v} checked={state.view === v} onChange={() => go({ view: v, offset: 0 })} />
                  {v === 'services' ? 'Services' : 'Hosts'}
                </label>
              ))}
            </fieldset>
            {hasRole(user, 'analyst') ? (
              <div className="export">
                <span id="export-label">Export this query:</span>
                <a className="button" href={`${API}/export${qs({ q: state.q, format: 'csv' })}`} download="medsurface-export.csv" aria-describedby="export-label">
                  CSV
                </a>
                <a className="button" href={`${API}/export${qs({ q: state.q, format: 'jsonl' })}`} download="medsurface-export.jsonl" aria-describedby="export-label">
                  JSON lines
                </a>
              </div>
            ) : null}
          </div>
          <ErrorMessage error={page.error} />
          {page.loading && !page.data ? <Loading what="Searching" /> : null}
          {page.data && !page.error ? (
            rows.length === 0 ? (
              <Empty>Nothing matches {state.q ? <code>{state.q}</code> : 'yet: scan something first'}.</Empty>
            ) : (
              <>
                {state.view === 'assets' ? (
                  <DataTable
                    caption={`Hosts matching ${state.q || 'everything'}`}
                    columns={ASSET_COLUMNS}
                    data={rows as AssetSearchRow[]}
                    rowId={(r) => r.ip}
                    sort={state.sort}
                    onSort={(s) => go({ sort: s, offset: 0 })}
                    busy={page.loading}
                  />
                ) : (
                  <DataTable
                    caption={`Services matching ${state.q || 'everything'}`}
                    columns={SERVICE_COLUMNS}
                    data={rows as ServiceSearchRow[]}
                    rowId={(r) => `${r.ip}|${r.port}`}
                    sort={state.sort}
                    onSort={(s) => go({ sort: s, offset: 0 })}
                    busy={page.loading}
                  />
                )}
                <Pager
                  label="Inventory"
                  total={total}
                  offset={state.offset}
                  size={state.size}
                  shown={rows.length}
                  onOffset={(o) => go({ offset: o })}
                  onSize={(s) => go({ size: s, offset: 0 })}
                />
              </>
            )
          ) : null}
        </section>
      </div>
    </>
  );
}
