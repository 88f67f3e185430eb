/**
 * Scans: launch one (targets, profile, ports; intrusive only with the permission), watch its
 * progress live over the event stream, see the changes it finds as they come, cancel it; the
 * recent runs; and, for admins, the emergency stop of every scan on the host (confirmed first).
 */
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { post, qs } from '../api';
import { hasRole, useUser } from '../auth';
import { ErrorMessage, Empty, fmt, fmtTime, Loading, SeverityBadge, StatusMessage } from '../components/common';
import { Dialog } from '../components/dialog';
import { type EventName, useEventStream } from '../events';
import { useGet, usePageTitle } from '../hooks';
import { Link, navigate, useLocation, withParams } from '../router';
import { type Page, PROFILES, type Profile, type ScanDetail, type ScanRun, type ServiceSearchRow, type Severity, type ShardCounts } from '../types';

const RUNS_SHOWN = 20;
/** Services of the watched run listed as they come. */
const RUN_SERVICES_SHOWN = 25;
/** Live results kept on the page (newest first). */
const LIVE_KEPT = 200;

interface LiveResult {
  seq: number;
  kind: string;
  runId: string | null;
  ip: string;
  port: number | null;
  text: string;
  severity: Severity | null;
}

interface Progress {
  total: number;
  done: number;
  state: string;
}

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
}
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The scan id of an event (`id`, `runId` or `run.id`). */
function runIdOf(d: Record<string, unknown>): string | null {
  return str(d.id) ?? str(d.runId) ?? str(obj(d.run).id);
}

function progressOf(d: Record<string, unknown>): Progress | null {
  const p = Object.keys(obj(d.progress)).length ? obj(d.progress) : d;
  const total = num(p.total) ?? num(p.totalTargets);
  const done = num(p.done) ?? num(p.doneTargets);
  if (total === null || done === null) return null;
  return { total, done, state: str(p.state) ?? str(d.state) ?? 'running' };
}

let seq = 0;
/**
 * A `service-event` (a row of the inventory's service history: `{ip, port, field, oldValue,
 * newValue, at, runId}`) as a line of text.
 */
function liveResult(d: Record<string, unknown>): LiveResult | null {
  const ip = str(d.ip);
  if (!ip) return null;
  const field = str(d.field) ?? str(d.kind) ?? 'change';
  const before = str(d.oldValue);
  const after = str(d.newValue);
  const text = before === null ? (after === null ? field : `${field}: ${after}`) : after === null ? `${field}: ${before} gone` : `${field}: ${before} → ${after}`;
  return {
    seq: ++seq,
    kind: field,
    runId: str(d.runId),
    ip,
    port: num(d.port),
    text,
    severity: (str(d.severity) as Severity | null) ?? null,
  };
}

/** An inventory query for the scanned addresses and ranges (host names left out). */
function targetsQuery(targets: string[]): string {
  const ips = targets.filter((t) => /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(t) && /[.:]/.test(t));
  return ips.map((t) => `ip:${t}`).join(' OR ');
}

function parseTargets(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((t) => t.trim())
    .filter(Boolean);
}

/** A run that has not ended yet. */
/** How often the watched run's detail is fetched again while it runs (besides the events). */
const DETAIL_REFRESH_MS = 2000;

const isActive = (state: string): boolean => state === 'running' || state === 'starting';

function RunState({ state }: { state: string }) {
  return <span className={`badge run-${state}`}>{state}</span>;
}

/** A distributed run's shards (`medsurface scan --queue`): done of total, then what is not. */
function shardText(s: ShardCounts): string {
  const parts = [`${fmt(s.done)} of ${fmt(s.total)} done`];
  if (s.running > 0) parts.push(`${fmt(s.running)} running`);
  if (s.stalled > 0) parts.push(`${fmt(s.stalled)} stalled`);
  if (s.failed > 0) parts.push(`${fmt(s.failed)} failed`);
  return parts.join(', ');
}

function ProgressBar({ p, label }: { p: Progress | null; label: string }) {
  if (!p) return <span>–</span>;
  // A run ended before it counted its targets (cancelled while starting): nothing to show as done.
  if (p.total === 0 && !isActive(p.state)) return <span>no targets counted</span>;
  const pct = p.total > 0 ? Math.round((100 * p.done) / p.total) : isActive(p.state) ? 0 : 100;
  return (
    <span className="progress">
      <progress max={Math.max(1, p.total)} value={Math.min(p.done, Math.max(1, p.total))} aria-label={label} />
      <span>
        {fmt(p.done)} / {fmt(p.total)} ({pct} %)
      </span>
    </span>
  );
}

/**
 * What this run has found so far: services of the scanned addresses seen since the run started
 * (an inventory search), fetched again whenever the event stream reports progress of the run.
 */
function RunServices({ run, tick, active }: { run: ScanRun; tick: number; active: boolean }) {
  const scope = targetsQuery(run.targets);
  const q = scope ? `(${scope}) lastseen>=${run.startedAt}` : null;
  const res = useGet<Page<ServiceSearchRow>>(q ? `/services${qs({ q, sort: 'lastseen', order: 'desc', limit: RUN_SERVICES_SHOWN })}` : null);
  const reload = res.reload;
  useEffect(() => {
    if (tick > 0) reload();
  }, [tick, reload]);
  if (!q) return <Empty>The targets are host names: find their services in the inventory once the scan ends.</Empty>;
  const rows = res.data?.rows ?? [];
  const total = res.data?.total ?? null;
  return (
    <>
      <ErrorMessage error={res.error} title="Results" />
      <p aria-live="polite" className="run-count">
        {total === null ? (active ? 'Waiting for the first results…' : '') : `${fmt(total)} service${total === 1 ? '' : 's'} seen by this run${active ? ' so far' : ''}.`}
        {total !== null && total > rows.length ? (
          <>
            {' '}
            <Link to={withParams('/inventory', { q })}>All of them in the inventory</Link>
          </>
        ) : null}
      </p>
      {rows.length > 0 ? (
        <ul className="live-results" data-testid="run-services">
          {rows.map((r) => (
            <li key={`${r.ip}|${r.port}`}>
              <Link to={`/assets/${encodeURIComponent(r.ip)}`}>{`${r.ip}:${r.port}`}</Link> {r.protocol ?? 'unidentified'}
              {r.product ? ` · ${r.product}${r.version ? ` ${r.version}` : ''}` : ''} <SeverityBadge severity={r.maxSeverity} />
            </li>
          ))}
        </ul>
      ) : null}
    </>
  );
}

function LaunchForm({ onLaunched }: { onLaunched(id: string): void }) {
  const user = useUser();
  const [targets, setTargets] = useState('');
  const [profile, setProfile] = useState<Profile>('safe');
  const [ports, setPorts] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const list = parseTargets(targets);
    if (list.length === 0) {
      setError(new Error('Name at least one target: an address, a CIDR range or a host name.'));
      return;
    }
    setBusy(true);
    try {
      const body: Record<string, unknown> = { targets: list, profile };
      if (ports.trim()) body.ports = ports.replace(/\s+/g, '');
      const r = await post<{ id: string }>('/scans', body);
      onLaunched(r.id);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="stack launch-form" onSubmit={submit}>
      <div className="field">
        <label htmlFor="scan-targets">Targets</label>
        <textarea
          id="scan-targets"
          rows={3}
          value={targets}
          onChange={(e) => setTargets(e.target.value)}
          spellCheck={false}
          aria-describedby="scan-targets-hint"
          placeholder="198.51.100.0/24"
        />
        <p id="scan-targets-hint" className="hint">
          Addresses, CIDR ranges or host names, separated by spaces, commas or lines. The server's scope and exclusion list apply.
        </p>
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor="scan-profile">Profile</label>
          <select id="scan-profile" value={profile} onChange={(e) => setProfile(e.target.value as Profile)} aria-describedby="scan-profile-hint">
            {PROFILES.map((p) => (
              <option key={p} value={p} disabled={p === 'intrusive' && !user.canIntrusive}>
                {p === 'intrusive' && !user.canIntrusive ? 'intrusive (not permitted)' : p}
              </option>
            ))}
          </select>
          <p id="scan-profile-hint" className="hint">
            <strong>safe</strong> only observes; <strong>intrusive</strong> adds count-only record queries and default-credential attempts.
          </p>
        </div>
        <div className="field">
          <label htmlFor="scan-ports">Ports (optional)</label>
          <input id="scan-ports" value={ports} onChange={(e) => setPorts(e.target.value)} spellCheck={false} placeholder="104,11112,4242" aria-describedby="scan-ports-hint" />
          <p id="scan-ports-hint" className="hint">
            Default: the ports of every probe.
          </p>
        </div>
      </div>
      <ErrorMessage error={error} title="The scan did not start" />
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Starting…' : 'Launch scan'}
        </button>
      </div>
    </form>
  );
}

function StopAll() {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const close = useCallback(() => setOpen(false), []);

  const stop = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await post<{ runs?: unknown[] }>('/scans/stop-all', {});
      const n = Array.isArray(r.runs) ? r.runs.length : null;
      setResult(n === null ? 'Emergency stop sent to every scan on this host.' : `Emergency stop: ${n} scan${n === 1 ? '' : 's'} stopped.`);
      setOpen(false);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card danger-zone" aria-labelledby="stop-title">
      <h2 id="stop-title">Emergency stop</h2>
      <p>Stops every scan running on this host at once, including scans started from the command line. They are recorded as interrupted.</p>
      <button type="button" className="danger" onClick={() => setOpen(true)}>
        Stop all scans…
      </button>
      {result ? <StatusMessage>{result}</StatusMessage> : null}
      <Dialog open={open} title="Stop every scan now?" onClose={close}>
        <p>All running scans on this host end immediately and are recorded as interrupted. Interrupted runs resolve no finding.</p>
        <ErrorMessage error={error} title="The stop failed" />
        <div className="actions">
          <button type="button" className="danger" onClick={stop} disabled={busy}>
            {busy ? 'Stopping…' : 'Yes, stop all scans'}
          </button>
          <button type="button" onClick={close} data-autofocus>
            Cancel
          </button>
        </div>
      </Dialog>
    </section>
  );
}

export function ScansPage() {
  const user = useUser();
  const canLaunch = hasRole(user, 'analyst');
  const h1 = usePageTitle('Scans');
  const { params } = useLocation();
  const watching = params.get('scan');
  const runs = useGet<ScanRun[] | { runs?: ScanRun[]; rows?: ScanRun[] }>(`/scans${qs({ limit: RUNS_SHOWN })}`);
  const detail = useGet<ScanDetail>(watching ? `/scans/${encodeURIComponent(watching)}` : null);
  const [live, setLive] = useState<Record<string, Progress>>({});
  const [results, setResults] = useState<LiveResult[]>([]);
  /** Progress events of the watched run (each refreshes its results). */
  const [tick, setTick] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const [cancelError, setCancelError] = useState<unknown>(null);

  const runList = Array.isArray(runs.data) ? runs.data : (runs.data?.runs ?? runs.data?.rows ?? []);
  const reloadRuns = runs.reload;
  const reloadDetail = detail.reload;

  const onEvent = useCallback(
    (name: EventName, data: unknown) => {
      const d = obj(data);
      if (name === 'service-event') {
        const r = liveResult(d);
        if (r) setResults((list) => [r, ...list].slice(0, LIVE_KEPT));
        return;
      }
      const id = runIdOf(d);
      const p = progressOf(d);
      if (id !== null && id === watching) setTick((n) => n + 1);
      if (id && p) setLive((m) => ({ ...m, [id]: name === 'scan-finished' ? { ...p, state: str(d.state) ?? p.state } : p }));
      else if (id && name === 'scan-finished') {
        setLive((m) => ({ ...m, [id]: { total: m[id]?.total ?? 0, done: m[id]?.total ?? 0, state: str(d.state) ?? 'completed' } }));
      }
      // A short scan may end between two polls of the server: its only event is a final progress.
      if (name === 'scan-finished' || (p !== null && !isActive(p.state))) {
        reloadRuns();
        if (id !== null && id === watching) reloadDetail();
      }
    },
    [reloadRuns, reloadDetail, watching],
  );
  const stream = useEventStream(onEvent);

  // A new scan in the list (launched elsewhere) shows up on the next event; also on focus.
  useEffect(() => {
    const f = () => reloadRuns();
    window.addEventListener('focus', f);
    return () => window.removeEventListener('focus', f);
  }, [reloadRuns]);

  const watch = (id: string | null) => navigate(withParams('/scans', { scan: id }), { replace: true });
  const launched = (id: string) => {
    setNotice(`Scan ${id} started.`);
    setResults([]);
    watch(id);
    reloadRuns();
  };
  const cancel = async (id: string) => {
    setCancelError(null);
    try {
      await post(`/scans/${encodeURIComponent(id)}/cancel`, {});
      setNotice(`Scan ${id} cancelled.`);
      reloadRuns();
      if (id === watching) reloadDetail();
    } catch (err) {
      setCancelError(err);
    }
  };

  const run = detail.data?.run;
  const liveP = watching ? live[watching] : undefined;
  const serverP = detail.data?.progress ?? null;
  // The newer of the two: events arrive between fetches; a fetch that says the run ended is final
  // (a run cancelled while starting ends with as many targets done as the last event said).
  const progress: Progress | null = liveP && (!serverP || (isActive(serverP.state) && liveP.done >= serverP.done)) ? liveP : serverP;
  const state = progress?.state ?? run?.state ?? 'unknown';
  // The event stream reports what the server's poller sees; a run that ends between two of its
  // polls (cancelled while its process starts) may send nothing. While the watched run is not
  // over, ask for it now and then as well.
  const watchingActive = watching !== null && isActive(state);
  useEffect(() => {
    if (!watchingActive) return;
    const timer = setInterval(reloadDetail, DETAIL_REFRESH_MS);
    return () => clearInterval(timer);
  }, [watchingActive, reloadDetail]);
  const runResults = results.filter((r) => r.runId === null || r.runId === watching);
  const q = run ? targetsQuery(run.targets) : '';

  return (
    <>
      <h1 ref={h1} tabIndex={-1}>
        Scans
      </h1>
      {notice ? <StatusMessage>{notice}</StatusMessage> : null}
      <div className="scans-top">
        {canLaunch ? (
          <section className="card" aria-labelledby="launch-title">
            <h2 id="launch-title">Launch a scan</h2>
            <LaunchForm onLaunched={launched} />
          </section>
        ) : null}
        <section className="card" aria-labelledby="watch-title" aria-busy={detail.loading ? true : undefined}>
          <h2 id="watch-title">{watching ? `Scan ${watching}` : 'Live progress'}</h2>
          <p className={`stream stream-${stream.state}`}>
            Live updates: <strong>{stream.state === 'open' ? 'connected' : stream.state === 'connecting' ? 'connecting…' : 'disconnected'}</strong>
            {stream.state === 'closed' ? (
              <button type="button" className="link" onClick={stream.reconnect}>
                Reconnect
              </button>
            ) : null}
            <span className="hint"> ({fmt(stream.received)} events)</span>
          </p>
          {!watching ? <Empty>Launch a scan or pick one in the list below to follow it here.</Empty> : null}
          <ErrorMessage error={detail.error} title="Scan" />
          {detail.data?.error ? (
            <p className="message error" role="alert">
              <strong>The scan reported an error: </strong>
              {detail.data.error}
            </p>
          ) : null}
          {watching && run ? (
            <>
              <dl className="facts" aria-live="polite">
                <dt>State</dt>
                <dd data-testid="scan-state">
                  <RunState state={state} />
                </dd>
                <dt>Progress</dt>
                <dd>
                  <ProgressBar p={progress} label={`Progress of scan ${watching}`} />
                </dd>
                {serverP?.shards ? (
                  <>
                    <dt>Shards</dt>
                    <dd data-testid="scan-shards">{shardText(serverP.shards)}</dd>
                  </>
                ) : null}
                <dt>Profile</dt>
                <dd>{run.profile}</dd>
                <dt>Targets</dt>
                <dd>{run.targets.join(', ')}</dd>
                {run.launchedBy ? (
                  <>
                    <dt>Launched by</dt>
                    <dd>{run.launchedBy}</dd>
                  </>
                ) : null}
                <dt>Started</dt>
                <dd>{fmtTime(run.startedAt)}</dd>
                <dt>Finished</dt>
                <dd>{fmtTime(run.finishedAt)}</dd>
              </dl>
              <div className="actions">
                {canLaunch && isActive(state) ? (
                  <button type="button" className="danger" onClick={() => void cancel(watching)}>
                    Cancel this scan
                  </button>
                ) : null}
                {q && !isActive(state) ? <Link to={withParams('/inventory', { q })}>Open the scanned range in the inventory</Link> : null}
              </div>
            </>
          ) : null}
          <ErrorMessage error={cancelError} title="Cancel failed" />
          {watching ? (
            <>
              <h3>Results as they come</h3>
              {run ? <RunServices run={run} tick={tick} active={isActive(state)} /> : null}
              <h3>Changes reported live</h3>
              {runResults.length === 0 ? (
                <Empty>{isActive(state) ? 'No change to a known service yet.' : 'No change was reported while this page was open.'}</Empty>
              ) : (
                <ol className="live-results" aria-live="polite" aria-relevant="additions">
                  {runResults.map((r) => (
                    <li key={r.seq}>
                      <span className="badge kind">{r.kind}</span>{' '}
                      <Link to={`/assets/${encodeURIComponent(r.ip)}`}>{r.port === null ? r.ip : `${r.ip}:${r.port}`}</Link> {r.severity ? <SeverityBadge severity={r.severity} /> : null}{' '}
                      {r.text}
                    </li>
                  ))}
                </ol>
              )}
            </>
          ) : null}
        </section>
      </div>
      <section aria-labelledby="runs-title">
        <h2 id="runs-title">Recent runs</h2>
        <ErrorMessage error={runs.error} title="Runs" />
        {runs.loading && !runs.data ? <Loading what="Loading runs" /> : null}
        {runs.data ? (
          runList.length === 0 ? (
            <Empty>No scan yet.</Empty>
          ) : (
            <div className="table-wrap">
              <table className="data">
                <caption className="visually-hidden">The {RUNS_SHOWN} most recent scan runs, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Run</th>
                    <th scope="col">State</th>
                    <th scope="col">Progress</th>
                    <th scope="col">Profile</th>
                    <th scope="col">Targets</th>
                    <th scope="col">Started</th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {runList.map((r) => {
                    const p = live[r.id] ?? (r.totalTargets !== undefined ? { total: r.totalTargets, done: r.doneTargets ?? 0, state: r.state } : null);
                    const st = live[r.id]?.state ?? r.state;
                    return (
                      <tr key={r.id} className={r.id === watching ? 'selected' : undefined}>
                        <th scope="row">
                          <button type="button" className="link" onClick={() => watch(r.id)} aria-pressed={r.id === watching}>
                            <code>{r.id}</code>
                          </button>
                        </th>
                        <td>
                          <RunState state={st} />
                        </td>
                        <td>
                          <ProgressBar p={p} label={`Progress of run ${r.id}`} />
                        </td>
                        <td>{r.profile}</td>
                        <td className="targets">{r.targets.slice(0, 3).join(', ') + (r.targets.length > 3 ? ` and ${r.targets.length - 3} more` : '')}</td>
                        <td>{fmtTime(r.startedAt)}</td>
                        <td>
                          {canLaunch && isActive(st) ? (
                            <button type="button" onClick={() => void cancel(r.id)}>
                              Cancel<span className="visually-hidden"> run {r.id}</span>
                            </button>
                          ) : null}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )
        ) : null}
      </section>
      {hasRole(user, 'admin') ? <StopAll /> : null}
    </>
  );
}

