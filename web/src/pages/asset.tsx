/**
 * One asset: its identity and attribution, the metadata the team owns (tags, owner,
 * criticality, notes: editable by analysts), its services with their latest observations, its
 * findings with evidence and remediation (triage in place), and its history, newest first.
 */
import { type FormEvent, useEffect, useId, useState } from 'react';
import { patch } from '../api';
import { hasRole, useUser } from '../auth';
import { ErrorMessage, Empty, fmt, fmtTime, JsonView, Loading, SeverityBadge, StateBadge, StatusMessage } from '../components/common';
import { TriageDialog } from '../components/triage';
import { useGet, usePageTitle } from '../hooks';
import { Link, withParams } from '../router';
import { term } from '../search';
import { type AssetDetail, type AssetMetadata, type AssetService, CRITICALITIES, type Finding, type HistoryEntry, SEVERITIES, type UserState } from '../types';

/** `Vendor Product`, without repeating a vendor the product name already starts with. */
function productName(vendor: string | null, product: string | null): string {
  if (!product) return vendor ?? '–';
  if (!vendor || product.toLowerCase().startsWith(vendor.toLowerCase())) return product;
  return `${vendor} ${product}`;
}

function MetadataForm({ ip, metadata, onSaved }: { ip: string; metadata: AssetMetadata; onSaved(): void }) {
  const id = useId();
  const [tags, setTags] = useState(metadata.tags.join(', '));
  const [owner, setOwner] = useState(metadata.owner ?? '');
  const [criticality, setCriticality] = useState(metadata.criticality ?? '');
  const [notes, setNotes] = useState(metadata.notes ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      await patch(`/assets/${encodeURIComponent(ip)}`, {
        tags: tags
          .split(/[\s,]+/)
          .map((t) => t.trim())
          .filter(Boolean),
        owner: owner.trim() || null,
        criticality: criticality || null,
        notes: notes.trim() || null,
      });
      setSaved(true);
      onSaved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} className="stack metadata-form">
      <div className="field">
        <label htmlFor={`${id}-tags`}>Tags</label>
        <input id={`${id}-tags`} value={tags} onChange={(e) => setTags(e.target.value)} aria-describedby={`${id}-tags-hint`} spellCheck={false} />
        <p id={`${id}-tags-hint`} className="hint">
          Separated by commas or spaces; lower case letters, digits, <code>.</code> <code>_</code> <code>-</code>.
        </p>
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor={`${id}-owner`}>Owner</label>
          <input id={`${id}-owner`} value={owner} onChange={(e) => setOwner(e.target.value)} maxLength={200} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-crit`}>Criticality</label>
          <select id={`${id}-crit`} value={criticality} onChange={(e) => setCriticality(e.target.value)}>
            <option value="">not set</option>
            {CRITICALITIES.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div className="field">
        <label htmlFor={`${id}-notes`}>Notes</label>
        <textarea id={`${id}-notes`} rows={4} maxLength={2000} value={notes} onChange={(e) => setNotes(e.target.value)} />
      </div>
      <ErrorMessage error={error} title="Saving failed" />
      {saved ? <StatusMessage>Saved.</StatusMessage> : null}
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save metadata'}
        </button>
      </div>
    </form>
  );
}

function MetadataView({ metadata }: { metadata: AssetMetadata }) {
  return (
    <dl className="facts">
      <dt>Tags</dt>
      <dd>{metadata.tags.length ? metadata.tags.map((t) => <span key={t} className="tag">{t}</span>) : '–'}</dd>
      <dt>Owner</dt>
      <dd>{metadata.owner ?? '–'}</dd>
      <dt>Criticality</dt>
      <dd>{metadata.criticality ?? '–'}</dd>
      <dt>Notes</dt>
      <dd className="pre-line">{metadata.notes ?? '–'}</dd>
    </dl>
  );
}

function observationOf(s: AssetService): unknown {
  return s.observations ?? s.observation ?? s.data ?? null;
}

function ServiceCard({ s }: { s: AssetService }) {
  const obs = observationOf(s);
  return (
    <article className="card service" aria-labelledby={`svc-${s.port}`}>
      <h3 id={`svc-${s.port}`}>
        Port {s.port}
        {s.protocol ? ` · ${s.protocol}` : ''}
        {s.product ? ` · ${s.product}${s.version ? ` ${s.version}` : ''}` : ''}
      </h3>
      <dl className="facts">
        <dt>Status</dt>
        <dd>{s.status}</dd>
        <dt>Vendor</dt>
        <dd>{s.vendor ?? '–'}</dd>
        <dt>Device type</dt>
        <dd>{s.deviceType ?? '–'}</dd>
        {s.cpe ? (
          <>
            <dt>CPE</dt>
            <dd>
              <code>{s.cpe}</code>
            </dd>
          </>
        ) : null}
        {s.risk !== undefined ? (
          <>
            <dt>Risk</dt>
            <dd>{fmt(s.risk)}</dd>
          </>
        ) : null}
        <dt>First seen</dt>
        <dd>{fmtTime(s.firstSeen)}</dd>
        <dt>Last seen</dt>
        <dd>{fmtTime(s.lastSeen)}</dd>
      </dl>
      {s.tls ? (
        <details>
          <summary>TLS</summary>
          <JsonView value={s.tls} label={`TLS of port ${s.port}`} />
        </details>
      ) : null}
      {obs !== null ? (
        <details>
          <summary>Observation</summary>
          <JsonView value={obs} label={`Observation of port ${s.port}`} />
        </details>
      ) : null}
    </article>
  );
}

function FindingCard({ f, canTriage, onTriage }: { f: Finding; canTriage: boolean; onTriage(f: Finding): void }) {
  const note = f.userNote ?? f.note;
  const explained = Boolean(f.description || f.remediation || (f.references && f.references.length > 0));
  return (
    <article className={`card finding sev-border-${f.severity}`} id={`finding-${f.id}`} aria-labelledby={`finding-${f.id}-title`}>
      <header className="finding-head">
        <SeverityBadge severity={f.severity} />
        <h3 id={`finding-${f.id}-title`}>{f.title}</h3>
        <StateBadge state={f.state} userState={f.userState} />
        {canTriage ? (
          <button type="button" onClick={() => onTriage(f)}>
            Triage…<span className="visually-hidden"> {f.checkId} on port {f.port}</span>
          </button>
        ) : null}
      </header>
      <p className="finding-meta">
        <code>{f.checkId}</code> · port {f.port} · {f.confidence} · seen {fmtTime(f.firstSeen)} to {fmtTime(f.lastSeen)}
        {f.resolvedAt ? ` · resolved ${fmtTime(f.resolvedAt)}` : ''}
      </p>
      {note ? <p className="pre-line">Triage note: {note}</p> : null}
      {explained ? (
        <details>
          <summary>Description and remediation</summary>
          {f.description ? <p>{f.description}</p> : null}
          {f.remediation ? (
            <div className="remediation">
              <h4>Remediation</h4>
              <p>{f.remediation}</p>
            </div>
          ) : null}
          {f.references && f.references.length > 0 ? (
            <>
              <h4>References</h4>
              <ul className="references">
                {f.references.map((r) => (
                  <li key={r}>
                    {/^https:\/\//.test(r) ? (
                      <a href={r} rel="noreferrer noopener" target="_blank">
                        {r}
                      </a>
                    ) : (
                      r
                    )}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </details>
      ) : null}
      {f.evidence ? (
        <details>
          <summary>Evidence</summary>
          <JsonView value={f.evidence} label={`Evidence of ${f.checkId} on port ${f.port}`} />
        </details>
      ) : null}
    </article>
  );
}

function historyText(h: HistoryEntry): string {
  if (h.kind === 'service') {
    if (h.oldValue === null) return `${h.field} set to ${h.newValue ?? 'nothing'}`;
    if (h.newValue === null) return `${h.field} ${h.oldValue} removed`;
    return `${h.field} changed from ${h.oldValue} to ${h.newValue}`;
  }
  if (h.event === 'user-state' && typeof h.detail === 'object' && h.detail !== null) {
    // The triage (PATCH /findings/:id): from, to and the analyst's note.
    const d = h.detail as { from?: string | null; to?: string | null; note?: string };
    const change = d.to ? `marked ${d.to}` : 'reopened';
    return `finding ${h.checkId} ${change}${d.from ? ` (was ${d.from})` : ''}${d.note ? `: “${d.note}”` : ''}`;
  }
  return `finding ${h.checkId} ${h.event}`;
}

function sortFindings(list: Finding[]): Finding[] {
  const active = (f: Finding) => (f.state === 'open' && !f.userState ? 0 : 1);
  return [...list].sort(
    (a, b) => active(a) - active(b) || SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity) || a.port - b.port || a.checkId.localeCompare(b.checkId),
  );
}

export function AssetPage({ ip }: { ip: string }) {
  const user = useUser();
  const canEdit = hasRole(user, 'analyst');
  const h1 = usePageTitle(`Asset ${ip}`);
  const res = useGet<AssetDetail>(`/assets/${encodeURIComponent(ip)}`);
  const [triage, setTriage] = useState<Finding | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const d = res.data;

  // A link to #finding-N scrolls there once the findings are on the page.
  useEffect(() => {
    if (!d || !window.location.hash) return;
    const el = document.getElementById(window.location.hash.slice(1));
    el?.scrollIntoView();
  }, [d]);

  const finish = (_n: number, choice: UserState | 'reopen') => {
    setDone(`Finding ${triage?.checkId ?? ''} ${choice === 'reopen' ? 'reopened' : `marked ${choice}`}.`);
    setTriage(null);
    res.reload();
  };

  const a = d?.asset;
  return (
    <>
      <p className="breadcrumb">
        <Link to="/inventory">Inventory</Link> / {ip}
      </p>
      <h1 ref={h1} tabIndex={-1}>
        Asset {ip}
        {a?.hostname ? <span className="subtitle"> {a.hostname}</span> : null}
      </h1>
      <ErrorMessage error={res.error} title="Asset" />
      {res.loading && !d ? <Loading what="Loading the asset" /> : null}
      {d && a ? (
        <>
          <div className="asset-top">
            <section className="card" aria-labelledby="identity-title">
              <h2 id="identity-title">Identity</h2>
              <dl className="facts">
                <dt>Product</dt>
                <dd>{productName(a.vendor, a.product)}</dd>
                <dt>Device type</dt>
                <dd>{a.deviceType ? <Link to={withParams('/inventory', { q: term('devicetype', a.deviceType) })}>{a.deviceType}</Link> : '–'}</dd>
                {a.risk !== undefined ? (
                  <>
                    <dt>Risk</dt>
                    <dd>{fmt(a.risk)}</dd>
                  </>
                ) : null}
                {a.maxSeverity !== undefined ? (
                  <>
                    <dt>Highest open severity</dt>
                    <dd>
                      <SeverityBadge severity={a.maxSeverity} />
                    </dd>
                  </>
                ) : null}
                <dt>Where</dt>
                <dd>{[a.country, a.asn ? `AS${a.asn}` : null, a.org].filter(Boolean).join(' · ') || '–'}</dd>
                {a.honeypot ? (
                  <>
                    <dt>Honeypot</dt>
                    <dd>likely a honeypot or decoy</dd>
                  </>
                ) : null}
                <dt>First seen</dt>
                <dd>{fmtTime(a.firstSeen)}</dd>
                <dt>Last seen</dt>
                <dd>{fmtTime(a.lastSeen)}</dd>
              </dl>
              {a.evidence && a.evidence.length > 0 ? (
                <details>
                  <summary>Why this identity</summary>
                  <ul>
                    {a.evidence.map((e) => (
                      <li key={e}>{e}</li>
                    ))}
                  </ul>
                </details>
              ) : null}
            </section>
            <section className="card" aria-labelledby="meta-title">
              <h2 id="meta-title">Tags, owner and notes</h2>
              {d.metadata ? (
                canEdit ? (
                  <MetadataForm ip={ip} metadata={d.metadata} onSaved={res.reload} />
                ) : (
                  <MetadataView metadata={d.metadata} />
                )
              ) : (
                <Empty>No metadata.</Empty>
              )}
            </section>
          </div>
          <section aria-labelledby="services-title">
            <h2 id="services-title">Services ({d.services.length})</h2>
            {d.services.length === 0 ? (
              <Empty>No service recorded.</Empty>
            ) : (
              <div className="cards">
                {[...d.services]
                  .sort((x, y) => x.port - y.port)
                  .map((s) => (
                    <ServiceCard key={s.port} s={s} />
                  ))}
              </div>
            )}
          </section>
          <section aria-labelledby="asset-findings-title">
            <h2 id="asset-findings-title">Findings ({d.findings.length})</h2>
            {done ? <StatusMessage>{done}</StatusMessage> : null}
            {d.findings.length === 0 ? (
              <Empty>No finding.</Empty>
            ) : (
              <div className="finding-list">
                {sortFindings(d.findings).map((f) => (
                  <FindingCard key={f.id} f={f} canTriage={canEdit} onTriage={setTriage} />
                ))}
              </div>
            )}
          </section>
          <section aria-labelledby="history-title">
            <h2 id="history-title">History</h2>
            {d.history.length === 0 ? (
              <Empty>No change recorded yet.</Empty>
            ) : (
              <ol className="timeline">
                {d.history.map((h) => (
                  <li key={JSON.stringify(h)} className={`tl-${h.kind}`}>
                    <time dateTime={h.at}>{fmtTime(h.at)}</time>
                    <span className="tl-port">port {h.port}</span>
                    <span className="tl-text">{historyText(h)}</span>
                  </li>
                ))}
              </ol>
            )}
          </section>
          {canEdit ? (
            <TriageDialog
              open={triage !== null}
              ids={triage ? [triage.id] : []}
              what={triage ? `${triage.checkId} on port ${triage.port}` : ''}
              onClose={() => setTriage(null)}
              onDone={finish}
            />
          ) : null}
        </>
      ) : null}
    </>
  );
}
