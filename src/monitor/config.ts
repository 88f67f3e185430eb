/**
 * monitor.yaml: the zod 4 schema of the file, its compilation into JobConfig (cron expressions,
 * zones, windows, blackouts and authorisations parsed once, here), and the problems that do not
 * stop the monitor but keep one job from running: a missing or expired authorisation, an
 * authorisation about to expire, a schedule that never falls inside the job's windows.
 *
 * Every error names the job and the field (`job "radiology-dmz" windows[1]: ...`). Unknown keys
 * are errors: a misspelt `blackout:` must not silently allow scanning during procedures.
 */
import { existsSync } from 'node:fs';
import { Cron } from 'croner';
import { z } from 'zod';
import { UsageError } from '../core/errors.js';
import { PROFILES } from '../core/types.js';
import { readYamlFile } from '../core/yaml-file.js';
import { isAllowed, parseBlackout, parseRecurring } from './rules.js';
import { canonicalTimeZone, isAtOrAfter, parseDuration, parseTimePoint, TimeSyntaxError } from './time.js';
import type { Authorisation, JobConfig, MonitorConfig, RecurringSpan, Span } from './types.js';

/** Bounds on what a config file may ask for. */
export const MONITOR_LIMITS = {
  fileBytes: 1024 * 1024,
  jobs: 500,
  targetsPerJob: 10_000,
  rulesPerJob: 100,
  maxJitterMs: 24 * 3_600_000,
  /** Fires checked ahead when warning about a schedule that never meets a window. */
  firesChecked: 200,
  /** Warn when an authorisation ends within this time. */
  expiryWarningMs: 14 * 86_400_000,
} as const;

export interface ConfigIssue {
  /** The job name when the issue is inside a job (else null). */
  job: string | null;
  /** Dotted path inside the job (or the file), e.g. `windows[1]`. */
  field: string;
  message: string;
}

/** monitor.yaml is invalid: every issue found, each with its job and field. */
export class MonitorConfigError extends UsageError {
  readonly issues: ConfigIssue[];
  constructor(source: string, issues: ConfigIssue[], options?: { cause?: unknown }) {
    const shown = issues.slice(0, 20).map((i) => `  ${formatIssue(i)}`);
    if (issues.length > 20) shown.push(`  ... and ${issues.length - 20} more`);
    super(`${source}: invalid monitor configuration:\n${shown.join('\n')}`, options);
    this.name = 'MonitorConfigError';
    this.issues = issues;
  }
}

/** A job that loads but will not run (error), or something to look at (warning). */
export interface ConfigProblem extends ConfigIssue {
  severity: 'error' | 'warning';
}

export function formatIssue(i: ConfigIssue): string {
  return i.job === null ? `${i.field}: ${i.message}` : `job "${i.job}" ${i.field}: ${i.message}`;
}

const Name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');
const Text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max);
const Target = Text(2048).refine((s) => s !== '-', 'stdin ("-") is not available to a scheduled job; use @file');

const AuthorisationSchema = z.strictObject({
  approvedBy: Text(200),
  reference: Text(200).optional(),
  until: Text(40),
});

const JobSchema = z.strictObject({
  name: Name,
  targets: z.array(Target).min(1, 'at least one target').max(MONITOR_LIMITS.targetsPerJob),
  exclude: z.array(Text(2048)).max(MONITOR_LIMITS.targetsPerJob).default([]),
  ports: z.array(z.number().int().min(1).max(65535)).min(1).max(65535).optional(),
  profile: z.enum(PROFILES).default('safe'),
  schedule: Text(200),
  timezone: Text(100).optional(),
  jitter: z.union([Text(40), z.literal(0)]).default('0'),
  windows: z.array(Text(200)).max(MONITOR_LIMITS.rulesPerJob).default([]),
  blackouts: z.array(Text(250)).max(MONITOR_LIMITS.rulesPerJob).default([]),
  authorisation: AuthorisationSchema.optional(),
  alerts: z.array(Name).max(50).default([]),
});

export const MonitorConfigSchema = z.strictObject({
  inventory: Text(4096).optional(),
  timezone: Text(100).default('UTC'),
  jobs: z.array(z.unknown()).min(1, 'at least one job').max(MONITOR_LIMITS.jobs),
  sinks: z.unknown().optional(),
});

type RawJob = z.infer<typeof JobSchema>;

function pathText(path: readonly PropertyKey[], whole: string): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out === '' ? '' : '.'}${String(p)}`;
  return out === '' ? whole : out;
}

function zodIssues(error: z.ZodError, job: string | null): ConfigIssue[] {
  return error.issues.map((i) => ({
    job,
    field: pathText(i.path, job === null ? '(file)' : '(job)'),
    message: i.code === 'unrecognized_keys' ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message,
  }));
}

function nameOf(raw: unknown, index: number): string {
  const name = (raw as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name.length <= 64 ? name : `#${index + 1}`;
}

/** One rule-list entry through its parser, collecting errors under `field[i]`. */
function parseList<T>(list: string[], field: string, parse: (s: string) => T, job: string, issues: ConfigIssue[]): T[] {
  const out: T[] = [];
  list.forEach((spec, i) => {
    try {
      out.push(parse(spec));
    } catch (err) {
      if (!(err instanceof TimeSyntaxError)) throw err;
      issues.push({ job, field: `${field}[${i}]`, message: err.message });
    }
  });
  return out;
}

function compileJob(raw: RawJob, defaultZone: string, issues: ConfigIssue[]): JobConfig {
  const job = raw.name;
  let timezone = defaultZone;
  if (raw.timezone !== undefined) {
    try {
      timezone = canonicalTimeZone(raw.timezone);
    } catch (err) {
      issues.push({ job, field: 'timezone', message: (err as Error).message });
    }
  }
  try {
    // croner reads a string with ":" as a one-off date; a job takes cron expressions only.
    if (raw.schedule.includes(':')) throw new Error('write five fields (minute hour day month weekday), e.g. "0 2 * * *"');
    new Cron(raw.schedule, { timezone, mode: '5-or-6-parts' });
  } catch (err) {
    issues.push({ job, field: 'schedule', message: `"${raw.schedule}" is not a cron expression: ${(err as Error).message.replace(/^Cron\w*: /, '')}` });
  }
  let jitterMs = 0;
  try {
    jitterMs = parseDuration(String(raw.jitter));
    if (jitterMs > MONITOR_LIMITS.maxJitterMs) issues.push({ job, field: 'jitter', message: 'at most 24h' });
  } catch (err) {
    issues.push({ job, field: 'jitter', message: (err as Error).message });
  }
  const windows: RecurringSpan[] = parseList(raw.windows, 'windows', parseRecurring, job, issues);
  const blackouts: Span[] = parseList(raw.blackouts, 'blackouts', parseBlackout, job, issues);
  let authorisation: Authorisation | null = null;
  if (raw.authorisation) {
    try {
      authorisation = {
        approvedBy: raw.authorisation.approvedBy,
        reference: raw.authorisation.reference ?? null,
        untilText: raw.authorisation.until,
        until: parseTimePoint(raw.authorisation.until, { endOfDay: true }),
      };
    } catch (err) {
      issues.push({ job, field: 'authorisation.until', message: (err as Error).message });
    }
  }
  return {
    name: job,
    targets: raw.targets,
    exclude: raw.exclude,
    ports: raw.ports ?? null,
    profile: raw.profile,
    schedule: raw.schedule,
    timezone,
    jitterMs,
    windows,
    blackouts,
    authorisation,
    alerts: raw.alerts,
  };
}

/** Validates and compiles a parsed monitor.yaml; throws MonitorConfigError listing every issue. */
export function parseMonitorConfig(raw: unknown, source = 'monitor.yaml'): MonitorConfig {
  const top = MonitorConfigSchema.safeParse(raw ?? {});
  if (!top.success) throw new MonitorConfigError(source, zodIssues(top.error, null));
  const issues: ConfigIssue[] = [];
  let timezone = 'UTC';
  try {
    timezone = canonicalTimeZone(top.data.timezone);
  } catch (err) {
    issues.push({ job: null, field: 'timezone', message: (err as Error).message });
  }
  const jobs: JobConfig[] = [];
  const seen = new Set<string>();
  top.data.jobs.forEach((rawJob, index) => {
    const name = nameOf(rawJob, index);
    const parsed = JobSchema.safeParse(rawJob);
    if (!parsed.success) {
      issues.push(...zodIssues(parsed.error, name));
      return;
    }
    if (seen.has(parsed.data.name)) issues.push({ job: name, field: 'name', message: `another job is already called "${name}"` });
    seen.add(parsed.data.name);
    jobs.push(compileJob(parsed.data, timezone, issues));
  });
  if (issues.length > 0) throw new MonitorConfigError(source, issues);
  return { inventory: top.data.inventory ?? null, timezone, jobs, sinks: top.data.sinks ?? null };
}

/**
 * What keeps a job from running, or deserves a look, at `now`: a missing or expired
 * authorisation (error: the job is reported and never run), one that ends within 14 days,
 * and a schedule none of whose next fires falls inside the windows and outside the blackouts.
 */
export function configProblems(config: MonitorConfig, now: Date): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const job of config.jobs) {
    const auth = job.authorisation;
    if (!auth) {
      problems.push({ job: job.name, field: 'authorisation', severity: 'error', message: 'no authorisation recorded (approvedBy, until): the job will not run' });
    } else if (isAtOrAfter(now, auth.until, job.timezone)) {
      problems.push({ job: job.name, field: 'authorisation.until', severity: 'error', message: `authorisation expired (until ${auth.untilText}): the job will not run` });
    } else if (isAtOrAfter(new Date(now.getTime() + MONITOR_LIMITS.expiryWarningMs), auth.until, job.timezone)) {
      problems.push({ job: job.name, field: 'authorisation.until', severity: 'warning', message: `authorisation ends soon (until ${auth.untilText})` });
    }
    if (job.windows.length > 0 || job.blackouts.length > 0) {
      const fires = new Cron(job.schedule, { timezone: job.timezone, mode: '5-or-6-parts' }).nextRuns(MONITOR_LIMITS.firesChecked, now);
      const rulesOnly: JobConfig = { ...job, authorisation: { approvedBy: '-', reference: null, untilText: '-', until: { kind: 'instant', ms: Number.MAX_SAFE_INTEGER } } };
      if (fires.length > 0 && !fires.some((f) => isAllowed(rulesOnly, f).allowed)) {
        problems.push({
          job: job.name,
          field: 'schedule',
          severity: 'warning',
          message: `none of the next ${fires.length} fires of "${job.schedule}" falls inside the windows and outside the blackouts: every run would be skipped`,
        });
      }
    }
  }
  return problems;
}

/** Reads and validates monitor.yaml (bounded in size). */
export function loadMonitorConfig(file: string): MonitorConfig {
  if (!existsSync(file)) throw new MonitorConfigError(file, [{ job: null, field: '(file)', message: 'no such file' }]);
  const raw = readYamlFile(file, MONITOR_LIMITS.fileBytes, (message, cause) => {
    const text = message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message;
    return new MonitorConfigError(file, [{ job: null, field: '(file)', message: text }], { cause });
  });
  return parseMonitorConfig(raw, file);
}
