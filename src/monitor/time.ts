/**
 * Time helpers for the monitor's rules of engagement: wall-clock time in an IANA zone (through
 * Intl.DateTimeFormat, so DST follows the ICU data Node ships), durations (`10m`, `2h`, `7d`),
 * and the date-time points written in monitor.yaml. Rules compare wall-clock time, the way a
 * ward schedule is written: "no scans 07:30-08:30" means whatever the local clock shows.
 */
import type { TimePoint } from './types.js';

/** Thrown by the parsers here; the config loader adds the job and field. */
export class TimeSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeSyntaxError';
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The canonical spelling of an IANA zone name (`europe/amsterdam` → `Europe/Amsterdam`); throws TimeSyntaxError for an unknown one. */
export function canonicalTimeZone(name: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    throw new TimeSyntaxError(`unknown time zone "${name}" (use an IANA name such as Europe/Amsterdam or UTC)`);
  }
}

export interface LocalTime {
  /** The local wall-clock reading as if it were UTC milliseconds (comparable with TimePoint.wallMs). */
  wallMs: number;
  /** 0 = Sunday. */
  weekday: number;
  /** Seconds since local midnight. */
  secondOfDay: number;
}

/** What a clock on the wall in `timeZone` shows at `date`. */
export function localTime(date: Date, timeZone: string): LocalTime {
  const parts = formatterFor(timeZone).formatToParts(date);
  const get = (type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === type)?.value ?? Number.NaN);
  const hour = get('hour') % 24;
  const wallMs = Date.UTC(get('year'), get('month') - 1, get('day'), hour, get('minute'), get('second'));
  const weekday = new Date(wallMs).getUTCDay();
  return { wallMs, weekday, secondOfDay: hour * 3600 + get('minute') * 60 + get('second') };
}

/** True when `date` is at or after `point` (a local point is read in `timeZone`). */
export function isAtOrAfter(date: Date, point: TimePoint, timeZone: string): boolean {
  if (point.kind === 'instant') return date.getTime() >= point.ms;
  return localTime(date, timeZone).wallMs >= point.wallMs;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `10m`, `2h`, `7d`, `1h30m`, or `0`. */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === '0') return 0;
  if (s.length > 40 || !/^(\d+(ms|s|m|h|d))+$/.test(s)) {
    throw new TimeSyntaxError(`"${text}" is not a duration (write e.g. 30s, 10m, 2h, 7d or 1h30m)`);
  }
  let total = 0;
  for (const m of s.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  if (!Number.isSafeInteger(total)) throw new TimeSyntaxError(`"${text}" is too long a duration`);
  return total;
}

const POINT = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * `2026-12-24`, `2026-12-24 07:30`, `2026-12-24T07:30:00`, or any of those with `Z` or an
 * offset. Without one the point is wall-clock time in the job's zone. `endOfDay`: a date
 * without a time stands for the end of that day (the start of the next), as in
 * `until: 2027-06-30`.
 */
export function parseTimePoint(text: string, options: { endOfDay?: boolean } = {}): TimePoint {
  const m = POINT.exec(text.trim());
  if (!m) throw new TimeSyntaxError(`"${text}" is not a date (write YYYY-MM-DD or YYYY-MM-DD HH:MM, optionally with Z or +01:00)`);
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const hasTime = m[4] !== undefined;
  const [hour, minute, second] = hasTime ? [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)] : [0, 0, 0];
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (month < 1 || month > 12 || probe.getUTCDate() !== day || probe.getUTCMonth() !== month - 1) {
    throw new TimeSyntaxError(`"${text}": no such date`);
  }
  if (hour > 23 || minute > 59 || second > 59) throw new TimeSyntaxError(`"${text}": no such time of day`);
  const addDay = !hasTime && options.endOfDay === true ? 1 : 0;
  const wallMs = Date.UTC(year, month - 1, day + addDay, hour, minute, second);
  const zone = m[7];
  if (zone === undefined) return { kind: 'local', wallMs };
  if (zone === 'Z') return { kind: 'instant', ms: wallMs };
  const sign = zone.startsWith('-') ? -1 : 1;
  const offsetMin = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6));
  if (offsetMin > 14 * 60) throw new TimeSyntaxError(`"${text}": offset out of range`);
  return { kind: 'instant', ms: wallMs - sign * offsetMin * 60_000 };
}
