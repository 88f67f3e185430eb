/**
 * Findings triage: filter by state, severity, check and search query; mark one finding or a
 * selection accepted risk, false positive, fixed, or reopen it, with a note (audited). Only
 * analysts and admins see the selection and the actions.
 */
import { createColumnHelper, type RowSelectionState } from '@tanstack/react-table';
import { type FormEvent, useEffect, useMemo, useRef, useState } from 'react';
import { qs } from '../api';
import { hasRole, useUser } from '../auth';
import { Day, ErrorMessage, Empty, Loading, SeverityBadge, StateBadge, StatusMessage } from '../components/common';
import { type AnyColumn, DataTable, PAGE_SIZES, Pager } from '../components/data-table';
import { TriageDialog } from '../components/triage';
import { useGet, usePageTitle } from '../hooks';
import { Link, navigate, useLocation, withParams } from '../router';
import { type Finding, type Page, SEVERITIES, type UserState } from '../types';

const STATES = ['open', 'resolved', 'unverified', 'accepted-risk', 'false-positive', 'fixed'];
const DEFAULT_SIZE = 50;

interface Filters {
  state: string;
  severity: string;
  check: string;
  q: string;
  offset: number;
  size: number;
}

function readFilters(p: URLSearchParams): Filters {
  const size = Number(p.get('size'));
  const offset = Number(p.get('offset'));
  return {
    state: p.has('state') ? (p.get('state') ?? '') : 'open',
    severity: p.get('severity') ?? '',
    check: p.get('check') ?? '',
    q: p.get('q') ?? '',
    offset: Number.isInteger(offset) && offset > 0 ? offset : 0,
    size: PAGE_SIZES.includes(size) ? size : DEFAULT_SIZE,
  };
}

function href(f: Filters): string {
  return withParams('/findings', {
    state: f.state === 'open' ? null : f.state || 'any',
    severity: f.severity,
    check: f.check,
    q: f.q,
    offset: f.offset || null,
    size: f.size === DEFAULT_SIZE ? null : f.size,
  });
}

const fc = createColumnHelper<Finding>();

function Checkbox({ checked, indeterminate, onChange, label }: { checked: boolean; indeterminate?: boolean; onChange(v: boolean): void; label: string }) {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (ref.current) ref.current.indeterminate = indeterminate === true;
  }, [indeterminate]);
  return <input ref={ref} type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} aria-label={label} />;
}

export function FindingsPage() {
  const user = useUser();
  const canTriage = hasRole(user, 'analyst');
  const h1 = usePageTitle('Findings');
  const { params } = useLocation();
  const raw = readFilters(params);
  const filters = { ...raw, state: raw.state === 'any' ? '' : raw.state };
  const [draft, setDraft] = useState(filters);
  const [selection, setSelection] = useState<RowSelectionState>({});
  const [triage, setTriage] = useState<Finding[] | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const key = href(filters);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `filters` is a new object on every render; its URL form `key` says when it really changed
  useEffect(() => {
    setDraft(filters);
    setSelection({});
  }, [key]);

  const path = `/findings${qs({ state: filters.state, severity: filters.severity, check: filters.check, q: filters.q, limit: filters.size, offset: filters.offset })}`;
  const page = useGet<Page<Finding>>(path);
  const rows = page.data?.rows ?? [];
  const go = (f: Partial<Filters>) => navigate(href({ ...filters, ...f }));

  const submit = (e: FormEvent) => {
    e.preventDefault();
    go({ ...draft, offset: 0 });
  };

  const columns = useMemo(() => {
    const cols: AnyColumn<Finding>[] = [];
    if (canTriage) {
      cols.push(
        fc.display({
          id: 'select',
          header: ({ table }) => (
            <Checkbox
              label="Select all findings on this page"
              checked={table.getIsAllRowsSelected()}
              indeterminate={table.getIsSomeRowsSelected()}
              onChange={(v) => table.toggleAllRowsSelected(v)}
            />
          ),
          cell: ({ row }) => (
            <Checkbox label={`Select ${row.original.checkId} on ${row.original.ip}:${row.original.port}`} checked={row.getIsSelected()} onChange={(v) => row.toggleSelected(v)} />
          ),
        }),
      );
    }
    cols.push(
      fc.accessor('severity', { header: 'Severity', cell: (c) => <SeverityBadge severity={c.getValue()} /> }),
      fc.display({
        id: 'finding',
        header: 'Finding',
        cell: ({ row }) => (
          <>
            <span className="finding-title">{row.original.title}</span>
            <code className="check-id">{row.original.checkId}</code>
          </>
        ),
        meta: { rowHeader: true },
      }),
      fc.display({
        id: 'where',
        header: 'Service',
        cell: ({ row }) => <Link to={`/assets/${encodeURIComponent(row.original.ip)}#finding-${row.original.id}`}>{`${row.original.ip}:${row.original.port}`}</Link>,
      }),
      fc.display({ id: 'state', header: 'State', cell: ({ row }) => <StateBadge state={row.original.state} userState={row.original.userState} /> }),
      fc.accessor('confidence', { header: 'Confidence' }),
      fc.accessor('lastSeen', { header: 'Last seen', cell: (c) => <Day iso={c.getValue()} /> }),
    );
    if (canTriage) {
      cols.push(
        fc.display({
          id: 'action',
          header: () => <span className="visually-hidden">Actions</span>,
          cell: ({ row }) => (
            <button type="button" onClick={() => setTriage([row.original])}>
              Triage…
              <span className="visually-hidden">
                {' '}
                {row.original.checkId} on {row.original.ip}:{row.original.port}
              </span>
            </button>
          ),
        }),
      );
    }
    return cols;
  }, [canTriage]);

  const selected = rows.filter((f) => selection[String(f.id)]);
  const finish = (n: number, choice: UserState | 'reopen') => {
    setTriage(null);
    setSelection({});
    setDone(`${n === 1 ? '1 finding' : `${n} findings`} ${choice === 'reopen' ? 'reopened' : `marked ${choice}`}.`);
    page.reload();
  };

  return (
    <>
      <h1 ref={h1} tabIndex={-1}>
        Findings
      </h1>
      <form className="filters" onSubmit={submit} aria-label="Filter findings">
        <div className="field">
          <label htmlFor="f-state">State</label>
          <select id="f-state" value={draft.state} onChange={(e) => setDraft({ ...draft, state: e.target.value })}>
            <option value="">any</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-severity">Severity</label>
          <select id="f-severity" value={draft.severity} onChange={(e) => setDraft({ ...draft, severity: e.target.value })}>
            <option value="">any</option>
            {[...SEVERITIES].reverse().map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-check">Check id</label>
          <input id="f-check" value={draft.check} onChange={(e) => setDraft({ ...draft, check: e.target.value })} spellCheck={false} placeholder="dicom-any-ae" />
        </div>
        <div className="field grow">
          <label htmlFor="f-q">Search query</label>
          <input id="f-q" type="search" value={draft.q} onChange={(e) => setDraft({ ...draft, q: e.target.value })} spellCheck={false} placeholder="devicetype:pacs" />
        </div>
        <button type="submit" className="primary">
          Apply filters
        </button>
      </form>
      {done ? <StatusMessage>{done}</StatusMessage> : null}
      <ErrorMessage error={page.error} title="Findings" />
      {page.loading && !page.data ? <Loading what="Loading findings" /> : null}
      {page.data && !page.error ? (
        <section aria-labelledby="findings-count">
          <h2 id="findings-count">{page.data.total === null ? 'Findings' : `${page.data.total} finding${page.data.total === 1 ? '' : 's'}`}</h2>
          {canTriage ? (
            <div className="bulk-bar" aria-live="polite">
              <span>{selected.length === 0 ? 'Select findings to triage several at once.' : `${selected.length} selected`}</span>
              <button type="button" className="primary" disabled={selected.length === 0} onClick={() => setTriage(selected)}>
                Triage selected…
              </button>
              {selected.length > 0 ? (
                <button type="button" onClick={() => setSelection({})}>
                  Clear selection
                </button>
              ) : null}
            </div>
          ) : null}
          {rows.length === 0 ? (
            <Empty>No finding matches these filters.</Empty>
          ) : (
            <>
              <DataTable
                caption="Findings"
                columns={columns}
                data={rows}
                rowId={(f) => String(f.id)}
                selection={canTriage ? selection : undefined}
                onSelectionChange={setSelection}
                busy={page.loading}
              />
              <Pager
                label="Findings"
                total={page.data.total}
                offset={filters.offset}
                size={filters.size}
                shown={rows.length}
                onOffset={(o) => go({ offset: o })}
                onSize={(s) => go({ size: s, offset: 0 })}
              />
            </>
          )}
        </section>
      ) : null}
      {canTriage ? (
        <TriageDialog
          open={triage !== null}
          ids={(triage ?? []).map((f) => f.id)}
          what={triage?.length === 1 ? `${triage[0]!.checkId} on ${triage[0]!.ip}:${triage[0]!.port}` : `${triage?.length ?? 0} findings`}
          onClose={() => setTriage(null)}
          onDone={finish}
        />
      ) : null}
    </>
  );
}
