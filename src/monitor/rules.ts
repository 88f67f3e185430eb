/**
 * Rules of engagement, as pure functions of a job and an instant: the recorded authorisation
 * (missing or expired: never scan), blackout periods (never scan then, e.g. during procedures),
 * and scan windows (scan only then). Evaluated in the job's time zone on wall-clock time, so a
 * window written `19:00-06:00` means those local hours on every day, DST or not.
 *
 * Grammar (case-insensitive day names):
 *   window    := days " " HH:MM "-" HH:MM         e.g. `Mon-Fri 19:00-06:00`, `daily 07:30-08:30`
 *   days      := "daily" | "*" | day ("-" day)? ("," day ("-" day)?)*     (Mon Tue Wed Thu Fri Sat Sun)
 *   blackout  := window | point "/" point         e.g. `2026-12-24 00:00/2026-12-27 00:00`
 * A span whose end is earlier than its start crosses midnight and belongs to the day it starts
 * on (`Fri 22:00-02:00` covers Friday night into Saturday). `24:00` ends a span at midnight.
 */
import { isAtOrAfter, localTime, parseTimePoint, TimeSyntaxError } from './time.js';
import type { AbsoluteSpan, JobConfig, RecurringSpan, Span, Verdict } from './types.js';

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const MAX_SPEC_CHARS = 200;

function dayIndex(name: string, spec: string): number {
  const i = DAY_NAMES.indexOf(name.slice(0, 3).toLowerCase());
  const full = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
  if (i < 0 || !(name.length === 3 || full[i] === name.toLowerCase())) {
    throw new TimeSyntaxError(`"${spec}": "${name}" is not a day (use Mon, Tue, Wed, Thu, Fri, Sat, Sun, or daily)`);
  }
  return i;
}

function parseDays(text: string, spec: string): boolean[] {
  const days = new Array<boolean>(7).fill(false);
  if (text.toLowerCase() === 'daily' || text === '*') return days.fill(true);
  for (const part of text.split(',')) {
    const [a, b, extra] = part.split('-');
    if (a === undefined || a === '' || extra !== undefined || b === '') throw new TimeSyntaxError(`"${spec}": "${part}" is not a day or a day range`);
    const from = dayIndex(a, spec);
    const to = b === undefined ? from : dayIndex(b, spec);
    // A range may wrap: Fri-Mon is Fri, Sat, Sun, Mon.
    for (let d = from; ; d = (d + 1) % 7) {
      days[d] = true;
      if (d === to) break;
    }
  }
  return days;
}

function parseClock(text: string, spec: string, allow24: boolean): number {
  const m = /^(\d{2}):(\d{2})$/.exec(text);
  if (!m) throw new TimeSyntaxError(`"${spec}": "${text}" is not a time (write HH:MM, 24-hour)`);
  const minutes = Number(m[1]) * 60 + Number(m[2]);
  if (allow24 && minutes === 1440) return minutes;
  if (Number(m[1]) > 23 || Number(m[2]) > 59) throw new TimeSyntaxError(`"${spec}": "${text}" is not a time of day${allow24 ? ' (24:00 is the latest end)' : ''}`);
  return minutes;
}

/** `Mon-Fri 19:00-06:00` → a recurring span. */
export function parseRecurring(spec: string): RecurringSpan {
  const s = spec.trim();
  if (s.length > MAX_SPEC_CHARS) throw new TimeSyntaxError(`"${s.slice(0, 40)}...": longer than ${MAX_SPEC_CHARS} characters`);
  const m = /^(\S+)\s+(\S+)-(\S+)$/.exec(s);
  if (!m) throw new TimeSyntaxError(`"${spec}" is not a window (write e.g. "Mon-Fri 19:00-06:00" or "daily 07:30-08:30")`);
  const days = parseDays(m[1]!, spec);
  const startMin = parseClock(m[2]!, spec, false);
  const endMin = parseClock(m[3]!, spec, true);
  if (startMin === endMin) throw new TimeSyntaxError(`"${spec}": start and end are the same (for a whole day write 00:00-24:00)`);
  return { kind: 'recurring', source: s, days, startMin, endMin };
}

/** A blackout: a recurring span, or `from/to` dates. */
export function parseBlackout(spec: string): Span {
  const s = spec.trim();
  if (!s.includes('/')) return parseRecurring(s);
  if (s.length > MAX_SPEC_CHARS) throw new TimeSyntaxError(`"${s.slice(0, 40)}...": longer than ${MAX_SPEC_CHARS} characters`);
  const [a, b, extra] = s.split('/');
  if (a === undefined || b === undefined || extra !== undefined) throw new TimeSyntaxError(`"${spec}" is not a period (write "2026-12-24 00:00/2026-12-27 00:00")`);
  const from = parseTimePoint(a);
  const to = parseTimePoint(b, { endOfDay: true });
  if (from.kind === to.kind && (from.kind === 'local' ? from.wallMs : from.ms) >= (to.kind === 'local' ? to.wallMs : to.ms)) {
    throw new TimeSyntaxError(`"${spec}": the end is not after the start`);
  }
  const span: AbsoluteSpan = { kind: 'absolute', source: s, from, to };
  return span;
}

function inRecurring(span: RecurringSpan, weekday: number, secondOfDay: number): boolean {
  const start = span.startMin * 60;
  const end = span.endMin * 60;
  if (start < end) return span.days[weekday] === true && secondOfDay >= start && secondOfDay < end;
  // Crosses midnight: the evening part on a listed day, the morning part on the day after one.
  const yesterday = (weekday + 6) % 7;
  return (span.days[weekday] === true && secondOfDay >= start) || (span.days[yesterday] === true && secondOfDay < end);
}

/** Whether `span` covers `date`, read in `timeZone`. */
export function spanCovers(span: Span, date: Date, timeZone: string): boolean {
  if (span.kind === 'absolute') return isAtOrAfter(date, span.from, timeZone) && !isAtOrAfter(date, span.to, timeZone);
  const t = localTime(date, timeZone);
  return inRecurring(span, t.weekday, t.secondOfDay);
}

/**
 * May `job` scan at `date`? Checked in this order: authorisation, blackouts, windows. The
 * detail names the rule (its text as written), never a target.
 */
export function isAllowed(job: JobConfig, date: Date): Verdict {
  const auth = job.authorisation;
  if (!auth) return { allowed: false, reason: 'authorisation-missing', detail: 'no authorisation recorded for this job' };
  if (isAtOrAfter(date, auth.until, job.timezone)) {
    const ref = auth.reference ? ` ${auth.reference}` : '';
    return { allowed: false, reason: 'authorisation-expired', detail: `authorisation${ref} expired (until ${auth.untilText})` };
  }
  const blackout = job.blackouts.find((b) => spanCovers(b, date, job.timezone));
  if (blackout) return { allowed: false, reason: 'blackout', detail: `blackout "${blackout.source}"` };
  if (job.windows.length > 0 && !job.windows.some((w) => spanCovers(w, date, job.timezone))) {
    return { allowed: false, reason: 'outside-window', detail: `outside the windows ${job.windows.map((w) => `"${w.source}"`).join(', ')}` };
  }
  return { allowed: true, reason: 'allowed', detail: job.windows.length > 0 ? 'inside a scan window' : 'no window restriction' };
}
