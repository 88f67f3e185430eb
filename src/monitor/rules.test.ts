import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseMonitorConfig } from './config.js';
import { isAllowed, parseBlackout, parseRecurring, spanCovers } from './rules.js';
import { canonicalTimeZone, localTime, parseDuration, parseTimePoint, TimeSyntaxError } from './time.js';
import type { JobConfig } from './types.js';

/** One job through the real config path. */
function job(over: Record<string, unknown>, timezone = 'UTC'): JobConfig {
  const config = parseMonitorConfig({
    timezone,
    jobs: [
      {
        name: 'j',
        targets: ['127.77.0.0/24'],
        schedule: '0 2 * * *',
        authorisation: { approvedBy: 'CISO Test', reference: 'CHG-1', until: '2099-01-01' },
        ...over,
      },
    ],
  });
  return config.jobs[0]!;
}

const at = (iso: string): Date => new Date(iso);

test('durations', () => {
  assert.equal(parseDuration('10m'), 600_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('7d'), 604_800_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('0'), 0);
  for (const bad of ['10', '5x', '', 'm', '-1m', '1.5h']) assert.throws(() => parseDuration(bad), TimeSyntaxError, bad);
});

test('time zone names are checked and canonicalised', () => {
  assert.equal(canonicalTimeZone('europe/amsterdam'), 'Europe/Amsterdam');
  assert.throws(() => canonicalTimeZone('Europe/Amsterdm'), /unknown time zone "Europe\/Amsterdm"/);
});

test('local wall-clock time follows DST in Europe/Amsterdam', () => {
  // 2026-03-29: 02:00 CET becomes 03:00 CEST.
  assert.equal(localTime(at('2026-03-29T00:59:00Z'), 'Europe/Amsterdam').secondOfDay, 1 * 3600 + 59 * 60);
  assert.equal(localTime(at('2026-03-29T01:00:00Z'), 'Europe/Amsterdam').secondOfDay, 3 * 3600);
  assert.equal(localTime(at('2026-03-29T01:00:00Z'), 'Europe/Amsterdam').weekday, 0);
});

test('a window that crosses midnight covers the next morning, of listed days only', () => {
  const j = job({ windows: ['Mon-Fri 19:00-06:00', 'Sat-Sun 00:00-24:00'] });
  assert.equal(isAllowed(j, at('2026-05-01T18:59:59Z')).allowed, false); // Fri before the window
  assert.equal(isAllowed(j, at('2026-05-01T19:00:00Z')).allowed, true); // Fri 19:00
  assert.equal(isAllowed(j, at('2026-05-01T23:30:00Z')).allowed, true);
  assert.equal(isAllowed(j, at('2026-05-02T05:59:00Z')).allowed, true); // Sat morning: Friday's window (and Saturday's)
  assert.equal(isAllowed(j, at('2026-05-03T12:00:00Z')).allowed, true); // Sunday
  assert.equal(isAllowed(j, at('2026-05-04T05:00:00Z')).allowed, false); // Mon morning: Sunday is not in Mon-Fri
  const noon = isAllowed(j, at('2026-05-04T12:00:00Z'));
  assert.equal(noon.allowed, false);
  assert.equal(noon.reason, 'outside-window');
  assert.match(noon.detail, /Mon-Fri 19:00-06:00/);
  // Thursday night into Friday morning.
  assert.equal(isAllowed(j, at('2026-04-30T04:00:00Z')).allowed, true);
});

test('windows are read in the job zone', () => {
  const j = job({ windows: ['Mon-Fri 19:00-06:00'] }, 'Europe/Amsterdam');
  // Fri 2026-05-01 17:30 UTC is 19:30 CEST: inside; 16:30 UTC is 18:30: outside.
  assert.equal(isAllowed(j, at('2026-05-01T17:30:00Z')).allowed, true);
  assert.equal(isAllowed(j, at('2026-05-01T16:30:00Z')).allowed, false);
  // Mon 2026-05-04 03:30 UTC is 05:30 local: Sunday night is not a listed start day.
  assert.equal(isAllowed(j, at('2026-05-04T03:30:00Z')).allowed, false);
  // Tue 03:30 UTC = 05:30 local, Monday's window: inside. 04:30 UTC = 06:30: outside.
  assert.equal(isAllowed(j, at('2026-05-05T03:30:00Z')).allowed, true);
  assert.equal(isAllowed(j, at('2026-05-05T04:30:00Z')).allowed, false);
});

test('DST spring forward (Europe/Amsterdam 2026-03-29): wall-clock windows lose the skipped hour', () => {
  const j = job({ windows: ['daily 02:00-04:00'] }, 'Europe/Amsterdam');
  assert.equal(isAllowed(j, at('2026-03-29T00:30:00Z')).allowed, false); // 01:30 CET
  assert.equal(isAllowed(j, at('2026-03-29T00:59:59Z')).allowed, false); // 01:59:59 CET, next second is 03:00 CEST
  assert.equal(isAllowed(j, at('2026-03-29T01:00:00Z')).allowed, true); // 03:00 CEST
  assert.equal(isAllowed(j, at('2026-03-29T01:59:59Z')).allowed, true); // 03:59:59 CEST
  assert.equal(isAllowed(j, at('2026-03-29T02:00:00Z')).allowed, false); // 04:00 CEST
  // The day before, the same window is two real hours long.
  assert.equal(isAllowed(j, at('2026-03-28T01:00:00Z')).allowed, true); // 02:00 CET
  assert.equal(isAllowed(j, at('2026-03-28T02:59:00Z')).allowed, true); // 03:59 CET
});

test('DST fall back (2026-10-25): the repeated hour is inside a window both times', () => {
  const j = job({ windows: ['Sun 02:00-03:00'] }, 'Europe/Amsterdam');
  assert.equal(isAllowed(j, at('2026-10-25T00:30:00Z')).allowed, true); // 02:30 CEST
  assert.equal(isAllowed(j, at('2026-10-25T01:30:00Z')).allowed, true); // 02:30 CET
  assert.equal(isAllowed(j, at('2026-10-25T02:00:00Z')).allowed, false); // 03:00 CET
});

test('blackouts: absolute periods in local time, recurring daily slots, and instants with an offset', () => {
  const j = job(
    {
      windows: ['daily 00:00-24:00'],
      blackouts: ['2026-12-24 00:00/2026-12-27 00:00', 'daily 07:30-08:30', '2026-06-01T10:00Z/2026-06-01T11:00Z'],
    },
    'Europe/Amsterdam',
  );
  assert.equal(isAllowed(j, at('2026-12-23T22:59:00Z')).allowed, true); // 23:59 on the 23rd
  const xmas = isAllowed(j, at('2026-12-23T23:30:00Z')); // 00:30 on the 24th
  assert.deepEqual([xmas.allowed, xmas.reason], [false, 'blackout']);
  assert.match(xmas.detail, /2026-12-24 00:00\/2026-12-27 00:00/);
  assert.equal(isAllowed(j, at('2026-12-26T22:59:00Z')).allowed, false); // 23:59 on the 26th
  assert.equal(isAllowed(j, at('2026-12-26T23:00:00Z')).allowed, true); // 00:00 on the 27th: the end is exclusive
  // daily 07:30-08:30 local = 05:30-06:30 UTC in summer.
  assert.equal(isAllowed(j, at('2026-07-01T05:45:00Z')).reason, 'blackout');
  assert.equal(isAllowed(j, at('2026-07-01T06:30:00Z')).allowed, true);
  // The instant period ignores the zone.
  assert.equal(isAllowed(j, at('2026-06-01T10:30:00Z')).reason, 'blackout');
  assert.equal(isAllowed(j, at('2026-06-01T11:00:00Z')).allowed, true);
});

test('a blackout wins over a window', () => {
  const j = job({ windows: ['daily 00:00-24:00'], blackouts: ['Mon-Fri 07:00-17:00'] });
  assert.equal(isAllowed(j, at('2026-05-04T08:00:00Z')).reason, 'blackout');
  assert.equal(isAllowed(j, at('2026-05-02T08:00:00Z')).allowed, true); // Saturday
});

test('authorisation: missing, valid through the end of its local day, then expired', () => {
  const none = isAllowed(job({ authorisation: undefined }), at('2026-05-01T00:00:00Z'));
  assert.deepEqual([none.allowed, none.reason], [false, 'authorisation-missing']);
  const j = job({ authorisation: { approvedBy: 'CISO Test', reference: 'CHG-1234', until: '2027-06-30' } }, 'Europe/Amsterdam');
  assert.equal(isAllowed(j, at('2027-06-30T21:59:59Z')).allowed, true); // 23:59:59 local
  const expired = isAllowed(j, at('2027-06-30T22:00:00Z')); // 00:00 on 1 July local
  assert.deepEqual([expired.allowed, expired.reason], [false, 'authorisation-expired']);
  assert.match(expired.detail, /CHG-1234.*2027-06-30/);
  // The authorisation is checked before the windows.
  const both = job({ windows: ['Sat 10:00-11:00'], authorisation: { approvedBy: 'x', until: '2020-01-01' } });
  assert.equal(isAllowed(both, at('2026-05-04T12:00:00Z')).reason, 'authorisation-expired');
});

test('syntax errors say what is wrong', () => {
  assert.throws(() => parseRecurring('Mon-Fri 19:00-06:61'), /"06:61" is not a time of day/);
  assert.throws(() => parseRecurring('Mox 10:00-11:00'), /"Mox" is not a day/);
  assert.throws(() => parseRecurring('daily 10:00-10:00'), /start and end are the same/);
  assert.throws(() => parseRecurring('daily 24:00-02:00'), /not a time of day/);
  assert.throws(() => parseRecurring('10:00-11:00'), /not a window/);
  assert.throws(() => parseBlackout('2026-02-30 00:00/2026-03-01'), /no such date/);
  assert.throws(() => parseBlackout('2026-03-02/2026-03-01'), /end is not after the start/);
  assert.throws(() => parseTimePoint('30/06/2027'), /not a date/);
  assert.deepEqual(parseRecurring('Fri-Mon 22:00-02:00').days, [true, true, false, false, false, true, true]);
  assert.deepEqual(parseRecurring('monday,wed 22:00-24:00').days, [false, true, false, true, false, false, false]);
});

test('a date-only blackout end covers that whole day', () => {
  const span = parseBlackout('2026-12-24/2026-12-26');
  assert.equal(spanCovers(span, at('2026-12-26T23:59:00Z'), 'UTC'), true);
  assert.equal(spanCovers(span, at('2026-12-27T00:00:00Z'), 'UTC'), false);
});

test('property: a span that crosses midnight is exactly the complement of its reverse', () => {
  const zones = ['UTC', 'Europe/Amsterdam', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe'];
  const hhmm = (m: number): string => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1439 }),
      fc.integer({ min: 0, max: 1438 }),
      fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2030, 0, 1) }),
      fc.constantFrom(...zones),
      (a, b, ms, zone) => {
        fc.pre(a > b);
        const over = parseRecurring(`daily ${hhmm(a)}-${hhmm(b)}`);
        const under = parseRecurring(`daily ${hhmm(b)}-${hhmm(a)}`);
        const t = new Date(ms);
        return spanCovers(over, t, zone) !== spanCovers(under, t, zone);
      },
    ),
    { numRuns: 500 },
  );
});

test('property: the parsers never throw anything but TimeSyntaxError', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (s) => {
      for (const parse of [parseRecurring, parseBlackout, parseDuration, (x: string) => parseTimePoint(x)]) {
        try {
          parse(s);
        } catch (err) {
          if (!(err instanceof TimeSyntaxError)) return false;
        }
      }
      return true;
    }),
    { numRuns: 1000 },
  );
});
