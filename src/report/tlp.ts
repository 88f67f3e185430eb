/**
 * Traffic Light Protocol 2.0 markings (FIRST, https://www.first.org/tlp/): every report carries
 * one in its title, its header, its file metadata and on every printed page, so a reader knows
 * how far it may travel. The colours are FIRST's: the label in the level's colour on black.
 */
import { ReportOptionError } from './errors.js';

export const TLP_LEVELS = ['clear', 'green', 'amber', 'amber+strict', 'red'] as const;
export type Tlp = (typeof TLP_LEVELS)[number];
export const DEFAULT_TLP: Tlp = 'amber';

export interface TlpMarking {
  level: Tlp;
  /** `TLP:AMBER+STRICT`, as FIRST writes it. */
  label: string;
  /** Text colour on a black background (FIRST TLP 2.0 colour table). */
  colour: string;
  background: string;
  /** What a recipient may do with the report (FIRST TLP 2.0 definitions, shortened). */
  meaning: string;
}

const MARKINGS: Record<Tlp, Omit<TlpMarking, 'level' | 'label' | 'background'>> = {
  red: { colour: '#FF2B2B', meaning: 'For the eyes and ears of individual recipients only, no further disclosure.' },
  'amber+strict': {
    colour: '#FFC000',
    meaning: 'Limited disclosure: recipients may share this on a need-to-know basis within their own organisation only.',
  },
  amber: {
    colour: '#FFC000',
    meaning: 'Limited disclosure: recipients may share this on a need-to-know basis within their organisation and its clients.',
  },
  green: { colour: '#33FF00', meaning: 'Limited disclosure: recipients may share this within their community, not publicly.' },
  clear: { colour: '#FFFFFF', meaning: 'Recipients may share this with the world; there is no limit on disclosure.' },
};

export function tlpMarking(level: Tlp): TlpMarking {
  return { level, label: `TLP:${level.toUpperCase()}`, background: '#000000', ...MARKINGS[level] };
}

/** `--tlp` as given (any case, with or without the `TLP:` prefix) to a level; anything else is a ReportOptionError. */
export function parseTlp(text: string): Tlp {
  const t = text.trim().toLowerCase().replace(/^tlp:/, '');
  if ((TLP_LEVELS as readonly string[]).includes(t)) return t as Tlp;
  const shown = text.length > 40 ? `${text.slice(0, 40)}...` : text;
  throw new ReportOptionError(`--tlp must be one of ${TLP_LEVELS.join(', ')} (got "${shown.replace(/[^\x20-\x7e]/g, '?')}")`);
}
