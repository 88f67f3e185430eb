/**
 * The shape of the fingerprint database files (db/*.yaml), as zod schemas. The loader
 * validates every file against these before compiling a single regex, and the self-test
 * validates them again (with the JSON Schema generated from them via `z.toJSONSchema`).
 *
 * Modelled on rapid7/recog's XML fingerprints (`<fingerprint pattern>`, `<description>`,
 * `<example>`, `<param pos name>`), written as YAML.
 */
import { z } from 'zod';
import { DeviceType } from '../core/types.js';

/** Stable rule id: lowercase kebab-case. Rule ids appear in the evidence trail and never change. */
export const RuleId = z.string().regex(/^([a-z0-9]+-)*[a-z0-9]+$/);

/** Observation field a db file matches on, `<probe>.<field>` (`dicom.implementationClassUid`). */
export const FieldName = z.string().regex(/^[a-z][a-z0-9]*\.[A-Za-z][A-Za-z0-9]*$/);

/**
 * An example that came with a rule imported from someone else's fingerprint pack (`medsurface
 * fingerprints import`): the pack's file name and SHA-256 (so the exact file can be found again)
 * and the fingerprint's 1-based position in it. Only user packs carry these; the built-in db's
 * examples name a fixture or a public document.
 */
export const ImportSource = z.strictObject({
  format: z.literal('recog'),
  file: z.string().min(1).max(255),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  fingerprint: z.number().int().min(1),
});

/**
 * Where an example comes from. REQUIRED: an example without a source is a guess, and a
 * fingerprint db full of guesses identifies nothing.
 * - `fixture`: a repository-relative path to bytes captured from a real peer; the self-test
 *   checks that the file exists and that the example value occurs in it.
 * - `url` + `section`: a public document (source code, conformance statement, release notes).
 * - `import`: the example came with an imported rule (user packs only, see ImportSource).
 */
export const ExampleSource = z.union([
  z.strictObject({ fixture: z.string().regex(/^src\/[A-Za-z0-9_./-]+$/), note: z.string().optional() }),
  z.strictObject({ url: z.url({ protocol: /^https$/ }), section: z.string().min(1), note: z.string().optional() }),
  z.strictObject({ import: ImportSource, note: z.string().optional() }),
]);
export type ExampleSource = z.infer<typeof ExampleSource>;

/** The outputs a rule (or an example's expectation) names. Templates may use `{N}`, `{param}`, `{version}`. */
export const Outputs = z.strictObject({
  vendor: z.string().min(1).optional(),
  product: z.string().min(1).optional(),
  version: z.string().min(1).optional(),
  /** CPE 2.3 formatted string template; dropped when the version is unknown (a `*` version would match every CVE). */
  cpe: z
    .string()
    .regex(/^cpe:2\.3:[aho]:[^:]+:[^:]+:\{version\}(:[^:]+){7}$/)
    .optional(),
  deviceType: DeviceType.optional(),
});
export type Outputs = z.infer<typeof Outputs>;

/** What an example expects: concrete values (a CPE with a real version, no templates). */
export const ExpectedOutputs = z.strictObject({
  vendor: z.string().min(1).optional(),
  product: z.string().min(1).optional(),
  version: z.string().min(1).optional(),
  cpe: z
    .string()
    .regex(/^cpe:2\.3:[aho](:[^:{}]+){10}$/)
    .optional(),
  deviceType: DeviceType.optional(),
});
export type ExpectedOutputs = z.infer<typeof ExpectedOutputs>;

export const Param = z.strictObject({
  /** Capture group number (1-based). Every capture group must be named by exactly one param. */
  pos: z.number().int().min(1).max(9),
  name: z.string().regex(/^[a-z][a-zA-Z0-9]*$/),
});

export const Example = z.strictObject({
  value: z.string().min(1).max(1024),
  /** The outputs the rule must extract from `value`, exactly (missing keys must stay missing). */
  expect: ExpectedOutputs,
  source: ExampleSource,
});
export type Example = z.infer<typeof Example>;

export const Rule = z.strictObject({
  id: RuleId,
  /** Anchored regex (`^...$`), run on the value truncated to LIMITS.bannerBytes. */
  pattern: z
    .string()
    .min(3)
    .max(2048)
    .refine((p) => p.startsWith('^') && p.endsWith('$'), 'pattern must be anchored: ^...$'),
  /**
   * JavaScript RegExp flags: `i` (case-insensitive) and `s` (dot matches newline) only. Rules
   * imported from Recog need them (REG_ICASE, REG_DOT_NEWLINE); `m` is refused because it would
   * turn the anchors into line anchors.
   */
  flags: z
    .string()
    .regex(/^(?:i|s|is|si)$/)
    .optional(),
  description: z.string().min(10),
  outputs: Outputs,
  params: z.array(Param).default([]),
  examples: z.array(Example).min(1),
});
export type RuleDef = z.infer<typeof Rule>;

/**
 * How much a file's rules count. `product` (the default): rules that name what a service is.
 * `hint`: weak evidence (a DICOM AE title that answered, a vendor's modality UID root) that may
 * only give a device type, and only when no product rule gave a committal one (engine.identify);
 * hint rules therefore output `deviceType` and nothing else.
 */
export const Precedence = z.enum(['product', 'hint']);

export const DbFile = z
  .strictObject({
    /** The observation field every rule in this file runs on. */
    matches: FieldName,
    description: z.string().min(10),
    precedence: Precedence.optional(),
    rules: z.array(Rule).min(1),
  })
  .superRefine((f, ctx) => {
    if (f.precedence !== 'hint') return;
    f.rules.forEach((r, i) => {
      const extra = Object.keys(r.outputs).filter((k) => k !== 'deviceType');
      if (extra.length > 0 || !r.outputs.deviceType) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'outputs'], message: `hint rule ${r.id} may output deviceType only` });
      }
    });
  });
export type DbFile = z.infer<typeof DbFile>;

/** db/index.yaml: the version of the database as a whole (STYLE.md §5: "one version as a whole"). */
export const DbIndex = z.strictObject({
  version: z.string().regex(/^\d{4}\.\d{2}\.\d{2}(\.\d+)?$/),
  description: z.string().optional(),
});
