/**
 * Traffic Light Protocol markings (FIRST TLP 2.0, https://www.first.org/tlp/) for exports and
 * reports. An export says which hosts run exposed medical systems and how they are exposed: it
 * must carry who may see it. The default is TLP:AMBER (the organisation and its clients, need
 * to know), the marking FIRST gives to information whose sharing needs care but that the
 * recipient must be able to act on.
 *
 * The option values are the lower-case level names (`clear`, `green`, `amber`, `amber+strict`,
 * `red`); the label written into every export is TLP 2.0's own spelling (`TLP:AMBER+STRICT`).
 */
import { UsageError } from '../core/errors.js';

export const TLP_LEVELS = ['clear', 'green', 'amber', 'amber+strict', 'red'] as const;
export type TlpLevel = (typeof TLP_LEVELS)[number];

export const DEFAULT_TLP: TlpLevel = 'amber';

export interface TlpMarking {
  level: TlpLevel;
  /** `TLP:CLEAR`, `TLP:GREEN`, `TLP:AMBER`, `TLP:AMBER+STRICT`, `TLP:RED`. */
  label: string;
  /** What a recipient may do with it, in TLP 2.0's words. */
  description: string;
}

/** TLP 2.0's short definitions of each label (FIRST, "Traffic Light Protocol (TLP) version 2.0", section "TLP definitions"). */
const DESCRIPTIONS: Readonly<Record<TlpLevel, string>> = {
  clear: 'Recipients can spread this to the world, there is no limit on disclosure.',
  green: 'Limited disclosure, recipients can spread this within their community.',
  amber: 'Limited disclosure, recipients can only spread this on a need-to-know basis within their organization and its clients.',
  'amber+strict': 'Limited disclosure, recipients can only spread this on a need-to-know basis within their organization.',
  red: 'For the eyes and ears of individual recipients only, no further disclosure.',
};

export function tlpMarking(level: TlpLevel): TlpMarking {
  return { level, label: `TLP:${level.toUpperCase()}`, description: DESCRIPTIONS[level] };
}

/** Reads a `--tlp` value: a level name or a label (`amber`, `AMBER+STRICT`, `TLP:RED`), any case. */
export function parseTlp(raw: string): TlpLevel {
  const v = raw.trim().toLowerCase().replace(/^tlp:/, '');
  // TLP 1.0's WHITE became CLEAR in 2.0; say so rather than guess.
  if (v === 'white') throw new UsageError('--tlp: TLP:WHITE is TLP 1.0; TLP 2.0 calls it clear (--tlp clear)');
  if (!(TLP_LEVELS as readonly string[]).includes(v)) {
    throw new UsageError(`--tlp must be one of ${TLP_LEVELS.join(', ')} (FIRST TLP 2.0), not ${JSON.stringify(raw.slice(0, 40))}`);
  }
  return v as TlpLevel;
}
