/**
 * Small pieces every page uses: error and status messages, severity and state badges (text
 * first, colour second: readable without colour), number and date formatting, a JSON viewer.
 */
import type { ReactNode } from 'react';
import { errorMessage } from '../api';
import type { Counts, Severity } from '../types';

const NUMBER = new Intl.NumberFormat('en');

export function fmt(n: number | null | undefined): string {
  return n === null || n === undefined || Number.isNaN(n) ? '–' : NUMBER.format(n);
}

/** `2026-03-10 12:00 UTC` (the inventory's times are UTC; showing them so avoids confusion). */
export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function fmtDay(iso: string | null | undefined): string {
  return iso ? iso.slice(0, 10) : '–';
}

/** A day in a table cell: a <time> that never wraps. */
export function Day({ iso }: { iso: string | null | undefined }) {
  return iso ? <time dateTime={iso}>{fmtDay(iso)}</time> : <>–</>;
}

/** A server error, in words, announced to screen readers. */
export function ErrorMessage({ error, title }: { error: unknown; title?: string }) {
  if (error === null || error === undefined) return null;
  return (
    <div className="message error" role="alert">
      {title ? <strong>{title}: </strong> : null}
      {errorMessage(error)}
    </div>
  );
}

export function StatusMessage({ children }: { children: ReactNode }) {
  return (
    <p className="message ok" role="status">
      {children}
    </p>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="loading" role="status">
      {what}…
    </p>
  );
}

export function SeverityBadge({ severity }: { severity: Severity | null | undefined }) {
  if (!severity) return <span className="badge sev-none">none</span>;
  return (
    <span className={`badge sev-${severity}`}>
      <span className="sev-mark" aria-hidden="true" />
      {severity}
    </span>
  );
}

export function StateBadge({ state, userState }: { state: string; userState?: string | null }) {
  return (
    <span className="state">
      <span className={`badge state-${state}`}>{state}</span>
      {userState ? <span className={`badge user-${userState}`}>{userState}</span> : null}
    </span>
  );
}

/** Counts (an object or a bucket list) as [label, count] pairs, largest first. */
export function countPairs(c: Counts | null | undefined): Array<[string, number]> {
  if (!c) return [];
  const pairs: Array<[string, number]> = Array.isArray(c)
    ? c.map((b) => [String(b.value ?? b.key ?? b.name ?? 'unknown'), Number(b.count)])
    : Object.entries(c).map(([k, v]) => [k, Number(v)]);
  return pairs.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** Anything JSON, indented, in a scrollable block. */
export function JsonView({ value, label }: { value: unknown; label: string }) {
  if (value === undefined || value === null) return null;
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable block must be reachable by keyboard
    <figure className="json" tabIndex={0}>
      <figcaption className="visually-hidden">{label}</figcaption>
      <pre>{JSON.stringify(value, null, 2)}</pre>
    </figure>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}
