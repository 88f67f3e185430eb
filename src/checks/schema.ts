/**
 * The shape of a check definition (defs/<protocol>/<id>.yaml), nuclei-template style
 * (STYLE.md §5): an id, an info block, the profile it needs, a declarative matcher over dotted
 * paths of a service record, the paths it requires, the paths it copies as evidence, and
 * example fixtures that the tests run.
 */
import { z } from 'zod';
import { Confidence, Profile, Severity } from '../core/types.js';

/**
 * A dotted path into `{ protocol, data, tls, identification }`. Segments are plain names or
 * array indexes; prototype-reaching names are refused so a definition can never walk into
 * `__proto__` or `constructor`.
 */
export const CheckPath = z
  .string()
  .max(200)
  .regex(/^(protocol|data|tls|identification)(\.[A-Za-z0-9_]+)*$/)
  .refine((p) => !p.split('.').some((s) => s === '__proto__' || s === 'constructor' || s === 'prototype'), {
    message: 'path may not use __proto__, constructor or prototype',
  });

export const Scalar = z.union([z.string().max(256), z.number(), z.boolean(), z.null()]);
export type Scalar = z.infer<typeof Scalar>;

/** Anchored regex, run on the value truncated to LIMITS.bannerBytes. */
const AnchoredRegex = z
  .string()
  .min(2)
  .max(512)
  .refine((p) => p.startsWith('^') && p.endsWith('$'), 'regex must be anchored: ^...$')
  .refine((p) => {
    try {
      new RegExp(p);
      return true;
    } catch {
      return false;
    }
  }, 'regex does not compile');

/**
 * A point in time a date operator compares with: `now` (the moment the check is evaluated, so a
 * stored observation re-scored later is judged against that later time) or a fixed ISO 8601
 * date (`2017-01-01`, `2017-01-01T00:00:00Z`).
 */
/** ISO 8601 dates as the probes write them (`2015-01-01T00:00:00.000Z`); a time needs an offset. */
export const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

export const DateRef = z.union([
  z.literal('now'),
  z
    .string()
    .regex(ISO_DATE)
    .refine((s) => !Number.isNaN(Date.parse(s)), 'not a valid date'),
]);
export type DateRef = z.infer<typeof DateRef>;

export type Matcher =
  | { all: Matcher[] }
  | { any: Matcher[] }
  | { not: Matcher }
  | { path: string; equals: Scalar }
  | { path: string; notEquals: Scalar }
  | { path: string; exists: boolean }
  | { path: string; gt: number }
  | { path: string; gte: number }
  | { path: string; lt: number }
  | { path: string; lte: number }
  | { path: string; in: Scalar[] }
  | { path: string; contains: Scalar }
  | { path: string; regex: string }
  | { path: string; before: DateRef }
  | { path: string; after: DateRef };

export const Matcher: z.ZodType<Matcher> = z.lazy(() =>
  z.union([
    z.strictObject({ all: z.array(Matcher).min(1).max(32) }),
    z.strictObject({ any: z.array(Matcher).min(1).max(32) }),
    z.strictObject({ not: Matcher }),
    z.strictObject({ path: CheckPath, equals: Scalar }),
    z.strictObject({ path: CheckPath, notEquals: Scalar }),
    z.strictObject({ path: CheckPath, exists: z.boolean() }),
    z.strictObject({ path: CheckPath, gt: z.number() }),
    z.strictObject({ path: CheckPath, gte: z.number() }),
    z.strictObject({ path: CheckPath, lt: z.number() }),
    z.strictObject({ path: CheckPath, lte: z.number() }),
    z.strictObject({ path: CheckPath, in: z.array(Scalar).min(1).max(64) }),
    z.strictObject({ path: CheckPath, contains: Scalar }),
    z.strictObject({ path: CheckPath, regex: AnchoredRegex }),
    z.strictObject({ path: CheckPath, before: DateRef }),
    z.strictObject({ path: CheckPath, after: DateRef }),
  ]),
);

/** Check ids: lowercase kebab-case, prefixed by the protocol (DESIGN.md "Finding ids"). */
export const CheckId = z.string().regex(/^([a-z0-9]+-)*[a-z0-9]+$/);

export const CheckInfo = z.strictObject({
  name: z.string().min(5).max(120),
  severity: Severity,
  description: z.string().min(40),
  remediation: z.string().min(40),
  references: z.array(z.url({ protocol: /^https$/ })).min(1),
});

export const CheckFile = z.strictObject({
  id: CheckId,
  info: CheckInfo,
  /** Probe id whose services this check judges, or `*` for TLS-level checks on any protocol. */
  protocol: z.string().regex(/^([a-z0-9]+|\*)$/),
  /** The profile that must be in effect for the check to run (intrusive includes safe). */
  profile: Profile,
  confidence: Confidence,
  /**
   * Paths that must be present (non-null) for the check to be evaluated at all. When the data
   * the check judges was not gathered, the check did not run: a finding is resolved only by a
   * later scan in which its check ran and did not fire (DESIGN.md).
   */
  requires: z.array(CheckPath).min(1),
  /** Optional precondition: when it does not hold, the check did not run (e.g. no count query was made). */
  when: Matcher.optional(),
  match: Matcher,
  /**
   * Severity raised for a finding when a further condition holds (first that holds wins), e.g. a
   * Telnet service that is critical rather than high when it opens a shell without a login. Each
   * must be above info.severity: the listed severity is the least a finding of this check has.
   */
  escalate: z.array(z.strictObject({ severity: Severity, when: Matcher })).max(4).optional(),
  /** Paths copied into Finding.evidence. Never a path that can hold a patient value. */
  evidence: z.array(CheckPath).max(16).default([]),
  /** Fixture files (relative to src/checks/) that must fire the check, and that must run it without firing. */
  examples: z.strictObject({
    positive: z.array(z.string().regex(/^fixtures\/[A-Za-z0-9_./-]+\.json$/)).min(1),
    negative: z.array(z.string().regex(/^fixtures\/[A-Za-z0-9_./-]+\.json$/)).min(1),
  }),
});
export type CheckFile = z.infer<typeof CheckFile>;

/** defs/index.yaml: the version of the check db as a whole. */
export const ChecksIndex = z.strictObject({
  version: z.string().regex(/^\d{4}\.\d{2}\.\d{2}(\.\d+)?$/),
  description: z.string().optional(),
});
