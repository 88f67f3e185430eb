/**
 * The Traffic Light Protocol marking every disclosure file and message carries (FIRST TLP 2.0,
 * https://www.first.org/tlp/), default AMBER: the recipient may share the information within its
 * organisation and with its clients, on a need-to-know basis, to fix the exposure; not publicly.
 * The levels, labels, colours and `--tlp` parsing are the reports' (src/report/tlp.ts), so a
 * report and a disclosure package mark the same level the same way; this module only names the
 * pieces the disclosure templates use.
 */
import { type Tlp, tlpMarking } from '../report/tlp.js';

export { DEFAULT_TLP, TLP_LEVELS, type Tlp, parseTlp } from '../report/tlp.js';

/** `TLP:AMBER+STRICT` */
export function tlpLabel(t: Tlp): string {
  return tlpMarking(t).label;
}

/** Label text colour on black (TLP 2.0 colour table). */
export function tlpColour(t: Tlp): string {
  return tlpMarking(t).colour;
}

/** What the marking lets the recipient do, one sentence. */
export function tlpMeaning(t: Tlp): string {
  return tlpMarking(t).meaning;
}
