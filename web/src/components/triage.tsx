/**
 * Triage of one finding or many: accepted risk, false positive, fixed, or reopen (the user
 * state cleared), with a note. One finding: PATCH /findings/:id; several: POST /findings/bulk.
 * Both are audited by the server.
 */
import { type FormEvent, useId, useState } from 'react';
import { patch, post } from '../api';
import type { UserState } from '../types';
import { ErrorMessage } from './common';
import { Dialog } from './dialog';

export const TRIAGE_CHOICES: Array<{ value: UserState | 'reopen'; label: string; help: string }> = [
  { value: 'accepted-risk', label: 'Accepted risk', help: 'Known and accepted; kept out of open counts.' },
  { value: 'false-positive', label: 'False positive', help: 'The check was wrong for this service.' },
  { value: 'fixed', label: 'Fixed', help: 'Remediated; reopens by itself if a later scan sees it again.' },
  { value: 'reopen', label: 'Reopen', help: 'Clear the triage state: the finding counts as open again.' },
];

/** Characters of a note (the server has the final word). */
const NOTE_MAX = 2000;

export async function applyTriage(ids: number[], choice: UserState | 'reopen', note: string): Promise<number> {
  const userState = choice === 'reopen' ? null : choice;
  const body = note.trim() ? { userState, note: note.trim() } : { userState };
  if (ids.length === 1) {
    await patch(`/findings/${ids[0]}`, body);
    return 1;
  }
  const r = await post<{ updated?: number }>('/findings/bulk', { ids, ...body });
  return r.updated ?? ids.length;
}

export function TriageDialog({
  open,
  ids,
  what,
  onClose,
  onDone,
}: {
  open: boolean;
  ids: number[];
  /** Names the findings in the title ("finding dicom-any-ae on 10.0.0.1:104", "12 findings"). */
  what: string;
  onClose(): void;
  onDone(updated: number, choice: UserState | 'reopen'): void;
}) {
  const [choice, setChoice] = useState<UserState | 'reopen'>('accepted-risk');
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const id = useId();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const n = await applyTriage(ids, choice, note);
      setNote('');
      onDone(n, choice);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog open={open} title={`Triage ${what}`} onClose={onClose}>
      <form onSubmit={submit} className="stack">
        <fieldset className="radio-list">
          <legend>New state</legend>
          {TRIAGE_CHOICES.map((c) => (
            <div key={c.value} className="radio">
              <input
                type="radio"
                id={`${id}-${c.value}`}
                name={`${id}-state`}
                value={c.value}
                checked={choice === c.value}
                onChange={() => setChoice(c.value)}
                aria-describedby={`${id}-${c.value}-help`}
              />
              <label htmlFor={`${id}-${c.value}`}>{c.label}</label>
              <span id={`${id}-${c.value}-help`} className="hint">
                {c.help}
              </span>
            </div>
          ))}
        </fieldset>
        <div className="field">
          <label htmlFor={`${id}-note`}>Note (optional, kept in the audit log)</label>
          <textarea id={`${id}-note`} rows={3} maxLength={NOTE_MAX} value={note} onChange={(e) => setNote(e.target.value)} />
        </div>
        <ErrorMessage error={error} title="Triage failed" />
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Saving…' : `Apply to ${ids.length === 1 ? '1 finding' : `${ids.length} findings`}`}
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
