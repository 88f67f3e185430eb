import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../core/paths.js';
import { configProblems, loadMonitorConfig, MonitorConfigError, parseMonitorConfig } from './config.js';

const base = {
  name: 'radiology-dmz',
  targets: ['127.77.0.0/24'],
  schedule: '0 2 * * *',
  authorisation: { approvedBy: 'CISO Jane Roe', reference: 'CHG-1234', until: '2027-06-30' },
};

function issuesOf(raw: unknown): string {
  try {
    parseMonitorConfig(raw);
  } catch (err) {
    assert.ok(err instanceof MonitorConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a MonitorConfigError');
}

test('the shipped example (docs/examples/monitor.yaml) loads and compiles', () => {
  const config = loadMonitorConfig(path.join(packageRoot(), 'docs', 'examples', 'monitor.yaml'));
  assert.equal(config.timezone, 'Europe/Amsterdam');
  assert.equal(config.inventory, '/var/lib/medsurface/inventory.sqlite');
  const [dmz, lab] = config.jobs;
  assert.ok(dmz && lab);
  assert.equal(dmz.name, 'radiology-dmz');
  assert.deepEqual(dmz.targets, ['127.77.0.0/24']);
  assert.deepEqual(dmz.exclude, ['127.77.0.99']);
  assert.deepEqual(dmz.ports, [104, 4242, 8042, 11112]);
  assert.equal(dmz.profile, 'safe');
  assert.equal(dmz.jitterMs, 600_000);
  assert.equal(dmz.timezone, 'Europe/Amsterdam');
  assert.equal(dmz.windows.length, 2);
  assert.equal(dmz.blackouts.length, 2);
  assert.equal(dmz.authorisation?.approvedBy, 'CISO Jane Roe');
  assert.equal(dmz.authorisation?.reference, 'CHG-1234');
  assert.deepEqual(dmz.alerts, ['soc-webhook']);
  assert.equal(lab.ports, null);
  assert.equal(lab.jitterMs, 0);
  // Sinks are passed through unread.
  assert.ok(Array.isArray(config.sinks));
  assert.equal((config.sinks as Array<{ name: string }>)[0]?.name, 'soc-webhook');
  assert.deepEqual(configProblems(config, new Date('2026-11-28T12:00:00Z')), []);
});

test('defaults: UTC, safe profile, no jitter, no windows', () => {
  const config = parseMonitorConfig({ jobs: [base] });
  const job = config.jobs[0]!;
  assert.equal(config.timezone, 'UTC');
  assert.equal(job.timezone, 'UTC');
  assert.equal(job.profile, 'safe');
  assert.equal(job.jitterMs, 0);
  assert.deepEqual(job.windows, []);
  assert.deepEqual(job.exclude, []);
  assert.equal(config.sinks, null);
  assert.equal(config.inventory, null);
});

test('a job may use its own zone', () => {
  const config = parseMonitorConfig({ timezone: 'UTC', jobs: [{ ...base, timezone: 'america/new_york' }] });
  assert.equal(config.jobs[0]!.timezone, 'America/New_York');
});

test('errors name the job and the field', () => {
  assert.match(issuesOf({ jobs: [{ ...base, windows: ['Mon-Fri 19:00-06:00', 'Mon-Fri 19:00-06:61'] }] }), /job "radiology-dmz" windows\[1\]: "Mon-Fri 19:00-06:61": "06:61" is not a time of day/);
  assert.match(issuesOf({ jobs: [{ ...base, schedule: '61 * * * *' }] }), /job "radiology-dmz" schedule: "61 \* \* \* \*" is not a cron expression/);
  assert.match(issuesOf({ jobs: [{ ...base, schedule: '2026-12-24T02:00' }] }), /job "radiology-dmz" schedule: .*five fields/);
  assert.match(issuesOf({ jobs: [{ ...base, jitter: '10 minutes' }] }), /job "radiology-dmz" jitter: "10 minutes" is not a duration/);
  assert.match(issuesOf({ jobs: [{ ...base, jitter: '2d' }] }), /job "radiology-dmz" jitter: at most 24h/);
  assert.match(issuesOf({ jobs: [{ ...base, profile: 'aggressive' }] }), /job "radiology-dmz" profile:/);
  assert.match(issuesOf({ jobs: [{ ...base, ports: [0] }] }), /job "radiology-dmz" ports\[0\]:/);
  assert.match(issuesOf({ jobs: [{ ...base, targets: [] }] }), /job "radiology-dmz" targets: at least one target/);
  assert.match(issuesOf({ jobs: [{ ...base, targets: ['-'] }] }), /job "radiology-dmz" targets\[0\]: stdin/);
  assert.match(issuesOf({ jobs: [{ ...base, authorisation: { approvedBy: '', until: '2027-06-30' } }] }), /job "radiology-dmz" authorisation.approvedBy: must not be empty/);
  assert.match(issuesOf({ jobs: [{ ...base, authorisation: { approvedBy: 'x', until: '30-06-2027' } }] }), /job "radiology-dmz" authorisation.until: "30-06-2027" is not a date/);
  assert.match(issuesOf({ jobs: [{ ...base, blackouts: ['2026-12-27/2026-12-24'] }] }), /job "radiology-dmz" blackouts\[0\]: .*end is not after the start/);
  assert.match(issuesOf({ jobs: [{ ...base, timezone: 'Mars/Olympus' }] }), /job "radiology-dmz" timezone: unknown time zone "Mars\/Olympus"/);
  assert.match(issuesOf({ timezone: 'CET+1', jobs: [base] }), /^monitor.yaml: invalid monitor configuration:\n {2}timezone: unknown time zone/);
  assert.match(issuesOf({ jobs: [] }), /jobs: at least one job/);
  assert.match(issuesOf({ jobs: [base, base] }), /job "radiology-dmz" name: another job is already called "radiology-dmz"/);
  // A job without a name is named by its position.
  assert.match(issuesOf({ jobs: [base, { targets: ['127.77.0.1'], schedule: '0 2 * * *' }] }), /job "#2" name:/);
});

test('unknown keys are errors: a misspelt blackout must not allow scanning', () => {
  assert.match(issuesOf({ jobs: [{ ...base, blackout: ['daily 07:30-08:30'] }] }), /job "radiology-dmz" \(job\): unknown field "blackout"/);
  assert.match(issuesOf({ jobz: [], jobs: [base] }), /\(file\): unknown field "jobz"/);
  assert.match(issuesOf({ jobs: [{ ...base, authorisation: { approvedBy: 'x', until: '2027-06-30', scope: 'all' } }] }), /job "radiology-dmz" authorisation: unknown field "scope"/);
});

test('every issue is reported at once', () => {
  const err = (() => {
    try {
      parseMonitorConfig({ jobs: [{ ...base, jitter: 'x', windows: ['nope'] }, { ...base, name: 'other', schedule: 'x' }] });
    } catch (e) {
      return e as MonitorConfigError;
    }
    return null;
  })();
  assert.ok(err instanceof MonitorConfigError);
  assert.deepEqual(
    err.issues.map((i) => `${i.job}:${i.field}`),
    ['radiology-dmz:jitter', 'radiology-dmz:windows[0]', 'other:schedule'],
  );
});

test('a job without an authorisation, or with an expired one, loads but is reported as never running', () => {
  const config = parseMonitorConfig({
    jobs: [
      { ...base, name: 'none', authorisation: undefined },
      { ...base, name: 'expired', authorisation: { approvedBy: 'CISO', until: '2026-11-27' } },
      { ...base, name: 'soon', authorisation: { approvedBy: 'CISO', until: '2026-12-05' } },
      { ...base, name: 'fine' },
    ],
  });
  const problems = configProblems(config, new Date('2026-11-28T12:00:00Z'));
  assert.deepEqual(
    problems.map((p) => [p.job, p.field, p.severity]),
    [
      ['none', 'authorisation', 'error'],
      ['expired', 'authorisation.until', 'error'],
      ['soon', 'authorisation.until', 'warning'],
    ],
  );
  assert.match(problems[0]!.message, /will not run/);
  assert.match(problems[1]!.message, /expired \(until 2026-11-27\)/);
});

test('a schedule that never meets its windows is reported', () => {
  const config = parseMonitorConfig({ jobs: [{ ...base, schedule: '0 12 * * *', windows: ['Mon-Fri 19:00-06:00'] }] });
  const [p] = configProblems(config, new Date('2026-11-28T12:00:00Z'));
  assert.equal(p?.field, 'schedule');
  assert.equal(p?.severity, 'warning');
  assert.match(p?.message ?? '', /every run would be skipped/);
});

test('loadMonitorConfig: missing file, bad YAML, too large', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-monitor-config-'));
  try {
    assert.throws(() => loadMonitorConfig(path.join(dir, 'absent.yaml')), (e: unknown) => e instanceof MonitorConfigError && /absent.yaml: invalid monitor configuration:\n {2}\(file\): no such file/.test(e.message));
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'jobs: [\n');
    assert.throws(() => loadMonitorConfig(bad), (e: unknown) => e instanceof MonitorConfigError && /not valid YAML/.test(e.message) && e.cause !== undefined);
    const big = path.join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(1024 * 1024)}\n`);
    assert.throws(() => loadMonitorConfig(big), /larger than/);
    const ok = path.join(dir, 'ok.yaml');
    writeFileSync(ok, 'jobs:\n  - name: a\n    targets: [127.77.0.1]\n    schedule: "*/15 * * * *"\n    authorisation: { approvedBy: x, until: 2027-06-30 }\n');
    assert.equal(loadMonitorConfig(ok).jobs[0]!.authorisation?.untilText, '2027-06-30');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
