/**
 * The case state machine. A case starts `new`; `send` makes it `notified`; the owner's answers
 * move it to `acknowledged` and `remediating` (set by hand: `disclose set-state`); a
 * re-measurement that finds every finding of the case resolved makes it `resolved`; an owner who
 * never answers is `closed-no-response`. Resolved is final. A closed-no-response case may be
 * notified again, and a case fixed before anyone was told may go from new to resolved.
 * Moving a case to the state it is in is not a change and is refused.
 */
import { CaseStateError } from './errors.js';

export const CASE_STATES = ['new', 'notified', 'acknowledged', 'remediating', 'resolved', 'closed-no-response'] as const;
export type CaseState = (typeof CASE_STATES)[number];

/** States whose case still follows the party's exposures (new findings join it). */
export const ACTIVE_STATES: readonly CaseState[] = ['new', 'notified', 'acknowledged', 'remediating'];
/** States a re-measurement rescans. */
export const REMEASURED_STATES: readonly CaseState[] = ['notified', 'acknowledged', 'remediating'];

const NEXT: Record<CaseState, readonly CaseState[]> = {
  new: ['notified', 'resolved'],
  notified: ['acknowledged', 'remediating', 'resolved', 'closed-no-response'],
  acknowledged: ['remediating', 'resolved', 'closed-no-response'],
  remediating: ['acknowledged', 'resolved', 'closed-no-response'],
  resolved: [],
  'closed-no-response': ['notified', 'resolved'],
};

export function isCaseState(s: string): s is CaseState {
  return (CASE_STATES as readonly string[]).includes(s);
}

export function parseCaseState(raw: string): CaseState {
  const s = raw.trim().toLowerCase();
  if (!isCaseState(s)) throw new CaseStateError(`unknown case state ${JSON.stringify(raw)} (one of ${CASE_STATES.join(', ')})`);
  return s;
}

export function allowedNext(from: CaseState): readonly CaseState[] {
  return NEXT[from];
}

/** Throws CaseStateError unless `from` → `to` is a transition of the workflow. */
export function assertTransition(caseId: number, from: CaseState, to: CaseState): void {
  if (NEXT[from].includes(to)) return;
  const allowed = NEXT[from];
  throw new CaseStateError(
    `case ${caseId} is ${from}: it cannot become ${to}` +
      (allowed.length === 0 ? ` (${from} is final)` : ` (from ${from}: ${allowed.join(', ')})`),
  );
}
