/**
 * Imports a Rapid7 Recog fingerprint file (XML, BSD-2-Clause, github.com/rapid7/recog) as a user
 * fingerprint pack: one YAML db file in our format, written to the user's fingerprint folder,
 * which the engine loads after the built-in rules (user-packs.ts).
 *
 * Recog's format (README.md, xml/fingerprints.xsd): `<fingerprints matches=... protocol=...
 * database_type=... preference=...>` holding `<fingerprint pattern=... flags=...>` elements with a
 * `<description>`, `<example>`s (attributes name expected values, `_encoding="base64"` marks an
 * encoded example) and `<param pos name value>`s (pos 0: a constant, else a capture group).
 *
 * What the import does, per fingerprint:
 * 1. maps the file's `matches` to one of our fields (RECOG_FIELDS); an unknown one is reported and
 *    the file skipped: a field is never guessed;
 * 2. translates the Ruby pattern (recog-regex.ts); refusals reject the fingerprint with the reason;
 * 3. maps params to our outputs: service.vendor/product (service.family when there is no
 *    product)/version/cpe23, or hw.vendor/product/version/cpe23 when the fingerprint names no
 *    service (our outputs describe the device a service runs on as much as the service); os.*,
 *    host.* and the rest have no output of ours and are counted as unmapped. Every capture group
 *    stays a param (its Recog name in camelCase), constants become literal outputs;
 * 4. self-tests it the way Recog's verifier does (lib/recog/fingerprint.rb verify_tests): every
 *    example must match and yield each value its attributes name; an example past our banner cap
 *    (LIMITS.bannerBytes) or one whose file we do not have (`_filename`) cannot be tested and is
 *    dropped; a fingerprint left with no tested example, or matched first by an earlier imported
 *    one, or whose pattern backtracks catastrophically, is rejected with the reason.
 *
 * Safety: the file is bounded (MAX_RECOG_FILE_BYTES, MAX_FINGERPRINTS), a DOCTYPE is refused
 * outright (no entity expansion of any kind: only the five predefined XML entities and character
 * references are decoded, by us), and the XML must be well formed.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { stringify as toYaml } from 'yaml';
import { UsageError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { type Rule, applyRule, compileDbFile, knownField } from './engine.js';
import { FingerprintDbError } from './errors.js';
import { RecogRegexError, translateRecogPattern } from './recog-regex.js';
import { DbFile, type Outputs, type RuleDef } from './schema.js';
import { defaultUserFingerprintDir } from './user-packs.js';

/** Largest Recog file read (rapid7/recog's largest, http_servers.xml, is about 250 KB). */
export const MAX_RECOG_FILE_BYTES = 8 * 1024 * 1024;
/** Fingerprints read from one file. */
export const MAX_FINGERPRINTS = 20_000;
/** Time one test run of an imported pattern may take before it is judged catastrophic. */
const BACKTRACK_BUDGET_MS = 50;

/** The file cannot be imported at all (unreadable, too big, not Recog XML). */
export class RecogImportError extends UsageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RecogImportError';
  }
}

/**
 * Recog `matches` values and the field of ours that carries the same value. Only pairs whose
 * values have the same shape are listed: Recog's ftp.banner is the greeting without its reply
 * code, which is our derived ftp.greeting, not our ftp.banner (engine.ts DERIVED_FIELDS).
 * `telnet_banners` is what Recog calls its telnet file, which has no `matches` attribute (the
 * default is the base file name, fingerprints.xsd).
 */
export const RECOG_FIELDS: Readonly<Record<string, string>> = {
  'http_header.server': 'http.server',
  'http_header.x-powered-by': 'http.poweredBy',
  'http_header.wwwauth': 'http.wwwAuthenticate',
  html_title: 'http.title',
  'favicon.md5': 'http.faviconMd5',
  'ftp.banner': 'ftp.greeting',
  'telnet.banner': 'telnet.banner',
  telnet_banners: 'telnet.banner',
};

export interface RejectedFingerprint {
  /** 1-based position in the file. */
  fingerprint: number;
  description: string;
  reason: string;
}

export interface RecogImportSummary {
  file: string;
  sha256: string;
  /** The Recog `matches` value (or the base file name when absent). */
  matches: string;
  /** Our field, or null when `matches` has none (nothing imported). */
  field: string | null;
  fingerprints: number;
  imported: number;
  rejected: RejectedFingerprint[];
  /** Recog param names with no output of ours, and how many fingerprints carried each. */
  unmappedParams: Record<string, number>;
  /** Examples dropped because they could not be tested (past the banner cap, external file, empty). */
  droppedExamples: number;
  /** The YAML file written, or null when nothing was imported. */
  outFile: string | null;
}

interface RecogParam {
  pos: number;
  name: string;
  value: string;
}

interface RecogExample {
  text: string;
  attrs: Record<string, string>;
}

interface RecogFingerprint {
  index: number;
  pattern: string;
  flags: string[];
  description: string;
  examples: RecogExample[];
  params: RecogParam[];
}

const XML_ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Decodes the five predefined XML entities and character references; nothing else is expanded. */
export function decodeXmlText(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot|apos);/g, (m, e: string) => {
    if (e in XML_ENTITIES) return XML_ENTITIES[e]!;
    const code = e.startsWith('#x') ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
    return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : m;
  });
}

type XmlNode = Record<string, unknown>;
const asNodes = (v: unknown): XmlNode[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is XmlNode => typeof x === 'object' && x !== null);
const attr = (n: XmlNode, name: string): string | undefined => {
  const v = n[`@_${name}`];
  return typeof v === 'string' ? decodeXmlText(v) : undefined;
};
const textOf = (n: XmlNode): string => (typeof n['#text'] === 'string' ? decodeXmlText(n['#text']) : '');

/** Parses Recog XML text into its fingerprints (bounded, no DOCTYPE, well-formed or an error). */
export function parseRecogXml(xml: string): { matches: string | undefined; fingerprints: RecogFingerprint[] } {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new RecogImportError('the file declares a DOCTYPE or entities; Recog files have none, and they are not expanded here');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new RecogImportError(`not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`);
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    textNodeName: '#text',
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    processEntities: false,
    htmlEntities: false,
    alwaysCreateTextNode: true,
    isArray: (name) => name === 'fingerprint' || name === 'example' || name === 'param' || name === 'description',
  });
  let doc: XmlNode;
  try {
    doc = parser.parse(xml) as XmlNode;
  } catch (err) {
    throw new RecogImportError(`not well-formed XML: ${(err as Error).message}`, { cause: err });
  }
  const root = asNodes(doc.fingerprints)[0];
  if (!root) throw new RecogImportError('not a Recog fingerprint file: no <fingerprints> root element');
  const nodes = asNodes(root.fingerprint);
  if (nodes.length > MAX_FINGERPRINTS) throw new RecogImportError(`more than ${MAX_FINGERPRINTS} fingerprints in one file`);
  const fingerprints = nodes.map((fp, i): RecogFingerprint => {
    const examples = asNodes(fp.example).map((e) => {
      const attrs: Record<string, string> = {};
      for (const k of Object.keys(e)) if (k.startsWith('@_')) attrs[k.slice(2)] = attr(e, k.slice(2)) ?? '';
      return { text: textOf(e), attrs };
    });
    const params = asNodes(fp.param).map((p) => ({ pos: Number(attr(p, 'pos') ?? 'NaN'), name: attr(p, 'name') ?? '', value: attr(p, 'value') ?? '' }));
    return {
      index: i + 1,
      pattern: attr(fp, 'pattern') ?? '',
      flags: (attr(fp, 'flags') ?? '').split(/[,|]/),
      description: asNodes(fp.description).map(textOf).join(' ').replace(/\s+/g, ' ').trim(),
      examples,
      params,
    };
  });
  return { matches: attr(root, 'matches'), fingerprints };
}

/** `service.version` → `serviceVersion`: a param name our schema accepts. */
function camel(name: string): string {
  const parts = name.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const out = parts.map((p, i) => (i === 0 ? p.charAt(0).toLowerCase() + p.slice(1) : p.charAt(0).toUpperCase() + p.slice(1))).join('');
  return /^[a-z][a-zA-Z0-9]*$/.test(out) ? out : `p${out.replace(/[^a-zA-Z0-9]/g, '')}`;
}

function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'pack'
  );
}

/** Recog's result for a match (fingerprint.rb #match): constants, captures, then `{name}` interpolation. */
function recogResult(params: readonly RecogParam[], m: RegExpExecArray): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const p of params) out.set(p.name, p.pos === 0 ? p.value : m[p.pos]);
  for (const p of params) {
    if (p.pos !== 0) continue;
    const v = p.value.replace(/\{([^\s{}]+)\}/g, (whole, ref: string) => {
      const r = out.get(ref);
      if (r !== undefined) return r;
      return /\.cpe23$/.test(p.name) && /\.version$/.test(ref) ? '-' : whole;
    });
    out.set(p.name, v);
  }
  return out;
}

/** The namespace whose params give our vendor/product/version: service first, hw when no service param names one. */
function namespaceOf(params: readonly RecogParam[]): 'service' | 'hw' | null {
  const names = new Set(params.map((p) => p.name));
  if (['vendor', 'product', 'family', 'version'].some((k) => names.has(`service.${k}`))) return 'service';
  if (['vendor', 'product', 'version'].some((k) => names.has(`hw.${k}`))) return 'hw';
  return null;
}

const NOT_A_PLACEHOLDER = /\{[A-Za-z0-9]+\}/;

/** A template for one output: `{N}` for a capture, the constant (interpolated against the other params) otherwise. */
function templateOf(p: RecogParam, params: readonly RecogParam[]): string {
  if (p.pos > 0) return `{${p.pos}}`;
  const v = p.value.replace(/\{([^\s{}]+)\}/g, (_whole, ref: string) => {
    const r = params.find((x) => x.name === ref);
    if (!r) throw new RecogRegexError(`param ${p.name} interpolates {${ref}}, which no param defines`);
    return r.pos > 0 ? `{${r.pos}}` : r.value;
  });
  if (v.includes('{') && NOT_A_PLACEHOLDER.test(v.replace(/\{\d\}/g, ''))) throw new RecogRegexError(`param ${p.name} value ${JSON.stringify(p.value)} looks like a placeholder`);
  return v;
}

/** Recog's cpe23 value (`cpe:/a:vendor:product:version...` or a CPE 2.3 string) as our CPE 2.3 template, or undefined when it carries no usable version. */
function cpeTemplate(value: string, versionParam: RecogParam | undefined): string | undefined {
  let parts: string[];
  if (value.startsWith('cpe:2.3:')) parts = value.slice(8).split(':');
  else if (value.startsWith('cpe:/')) parts = value.slice(5).split(':');
  else return undefined;
  const [part, vendor, product, version, ...rest] = parts;
  if (!part || !/^[aho]$/.test(part) || !vendor || !product || version === undefined) return undefined;
  if ([vendor, product, ...rest].some((x) => x.includes('{'))) return undefined;
  const versionRef = versionParam ? `{${versionParam.name}}` : null;
  const isVersion = version === versionRef || (versionParam?.pos === 0 && version === versionParam.value && version !== '-' && version !== '');
  if (!isVersion) return undefined;
  const tail = Array.from({ length: 7 }, (_, i) => rest[i] || '*');
  return `cpe:2.3:${part}:${vendor}:${product}:{version}:${tail.join(':')}`;
}

interface Mapped {
  outputs: Outputs;
  params: Array<{ pos: number; name: string }>;
  used: Set<string>;
}

function mapParams(fp: RecogFingerprint, groups: number): Mapped {
  for (const p of fp.params) {
    if (!p.name) throw new RecogRegexError('a param has no name');
    if (!Number.isInteger(p.pos) || p.pos < 0) throw new RecogRegexError(`param ${p.name} has pos ${p.pos}`);
    if (p.pos > groups) throw new RecogRegexError(`param ${p.name} has pos ${p.pos} but the pattern has ${groups} capture groups`);
    if (p.pos === 0 && p.value === '') throw new RecogRegexError(`param ${p.name} is a constant (pos 0) without a value`);
  }
  if (groups > 9) throw new RecogRegexError(`${groups} capture groups (at most 9)`);
  const params: Array<{ pos: number; name: string }> = [];
  const names = new Set<string>();
  for (let pos = 1; pos <= groups; pos++) {
    const first = fp.params.find((p) => p.pos === pos);
    let name = first ? camel(first.name) : `capture${pos}`;
    while (names.has(name)) name = `${name}${pos}`;
    names.add(name);
    params.push({ pos, name });
  }
  const ns = namespaceOf(fp.params);
  const outputs: Outputs = {};
  const used = new Set<string>();
  if (ns) {
    const get = (k: string) => fp.params.find((p) => p.name === `${ns}.${k}`);
    const vendor = get('vendor');
    const product = get('product') ?? (ns === 'service' ? get('family') : undefined);
    const version = get('version');
    const cpe = get('cpe23');
    if (vendor) {
      outputs.vendor = templateOf(vendor, fp.params);
      used.add(vendor.name);
    }
    if (product) {
      outputs.product = templateOf(product, fp.params);
      used.add(product.name);
    }
    if (version) {
      outputs.version = templateOf(version, fp.params);
      used.add(version.name);
    }
    if (cpe) {
      const t = cpeTemplate(cpe.value, version);
      if (t) {
        outputs.cpe = t;
        used.add(cpe.name);
      }
    }
    if (product && get('product') && get('family')) used.add(`${ns}.family`);
  }
  return { outputs, params, used };
}

/** Inputs on which a pattern that backtracks catastrophically takes visibly long. */
function backtrackProbes(example: string): string[] {
  const first = example.charAt(0) || 'a';
  const pumps = [first, ' ', 'a', '0', example.slice(0, 8) || 'ab'];
  const out: string[] = [];
  for (const len of [12, 16, 20, 22, 24, 26]) for (const p of pumps) out.push(`${p.repeat(Math.ceil(len / p.length)).slice(0, len)}\u0001`);
  for (const p of pumps) out.push(`${p.repeat(Math.ceil(LIMITS.bannerBytes / p.length)).slice(0, LIMITS.bannerBytes - 1)}\u0001`);
  return out;
}

function checkBacktracking(regex: RegExp, example: string): void {
  for (const s of backtrackProbes(example)) {
    const t0 = performance.now();
    regex.exec(s);
    const ms = performance.now() - t0;
    if (ms > BACKTRACK_BUDGET_MS) throw new RecogRegexError(`the pattern backtracks catastrophically (${Math.round(ms)} ms on a ${s.length}-character input)`);
  }
}

function decodeExample(e: RecogExample): string | null {
  if (e.attrs._filename !== undefined) return null;
  if (e.attrs._encoding === 'base64') {
    const b64 = e.text.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new RecogRegexError('an example marked base64 is not base64');
    return Buffer.from(b64, 'base64').toString('utf8');
  }
  if (e.attrs._encoding !== undefined) throw new RecogRegexError(`example encoding ${e.attrs._encoding} is not supported`);
  return e.text;
}

export interface RecogImportOptions {
  /** Folder the YAML pack is written to (default: the user fingerprint folder). */
  outDir?: string;
}

/**
 * Imports one Recog XML file. Throws RecogImportError when the file cannot be used at all;
 * otherwise returns the summary (rejected fingerprints are listed there, not thrown).
 */
export function importRecogFile(file: string, opts: RecogImportOptions = {}): RecogImportSummary {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw new RecogImportError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  if (size > MAX_RECOG_FILE_BYTES) throw new RecogImportError(`${file}: ${size} bytes, larger than the ${MAX_RECOG_FILE_BYTES}-byte cap for a fingerprint file`);
  const bytes = readFileSync(file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const base = path.basename(file);
  const stem = base.replace(/\.xml$/i, '');
  let parsed: ReturnType<typeof parseRecogXml>;
  try {
    parsed = parseRecogXml(bytes.toString('utf8'));
  } catch (err) {
    if (err instanceof RecogImportError) throw new RecogImportError(`${file}: ${err.message}`, { cause: err });
    throw err;
  }
  const matches = parsed.matches ?? stem;
  const field = RECOG_FIELDS[matches] ?? null;
  const summary: RecogImportSummary = {
    file,
    sha256,
    matches,
    field,
    fingerprints: parsed.fingerprints.length,
    imported: 0,
    rejected: [],
    unmappedParams: {},
    droppedExamples: 0,
    outFile: null,
  };
  if (!field || !knownField(field)) return summary;

  const accepted: Rule[] = [];
  const defs: RuleDef[] = [];
  for (const fp of parsed.fingerprints) {
    const reject = (reason: string) => summary.rejected.push({ fingerprint: fp.index, description: fp.description || '(no description)', reason });
    try {
      const { source, flags } = translateRecogPattern(fp.pattern, fp.flags);
      const groups = new RegExp(`${source}|`, flags).exec('')!.length - 1;
      const { outputs, params, used } = mapParams(fp, groups);
      const id = `recog-${slug(stem)}-${fp.index}`;
      const description = `${fp.description || 'Recog fingerprint'} (Recog ${base} #${fp.index})`.slice(0, 500);
      const draft: RuleDef = { id, pattern: source, ...(flags ? { flags } : {}), description, outputs, params, examples: [] };
      const [rule] = compileDbFile({ matches: field, description: 'draft rule being imported', rules: [{ ...draft, examples: [placeholderExample(sha256, base, fp.index)] }] }, base, 'import');
      const regex = rule!.regex;
      const examples: RuleDef['examples'] = [];
      for (const [n, e] of fp.examples.entries()) {
        const value = decodeExample(e);
        if (value === null || value.length === 0 || Buffer.byteLength(value) > LIMITS.bannerBytes || value.length > 1024) {
          summary.droppedExamples++;
          continue;
        }
        const m = regex.exec(value);
        if (!m) throw new RecogRegexError(`example ${n + 1} does not match the pattern`);
        const result = recogResult(fp.params, m);
        for (const [k, v] of Object.entries(e.attrs)) {
          if (k === '_encoding' || k === '_filename') continue;
          if (result.get(k) !== v) throw new RecogRegexError(`example ${n + 1}: expected ${k}=${JSON.stringify(v)}, got ${JSON.stringify(result.get(k) ?? null)}`);
        }
        const earlier = accepted.find((r) => applyRule(r, value) !== null);
        if (earlier) throw new RecogRegexError(`example ${n + 1} is matched first by an earlier fingerprint (${earlier.id})`);
        const expect = applyRule(rule!, value) ?? {};
        examples.push({ value, expect, source: { import: { format: 'recog', file: base, sha256, fingerprint: fp.index } } });
      }
      if (examples.length === 0) throw new RecogRegexError(fp.examples.length === 0 ? 'no example to self-test it with' : 'none of its examples can be tested here');
      checkBacktracking(regex, examples[0]!.value);
      const def: RuleDef = { ...draft, examples };
      const [compiled] = compileDbFile({ matches: field, description: 'draft rule being imported', rules: [def] }, base, 'import');
      accepted.push(compiled!);
      defs.push(def);
      for (const p of fp.params) if (!used.has(p.name)) summary.unmappedParams[p.name] = (summary.unmappedParams[p.name] ?? 0) + 1;
    } catch (err) {
      if (err instanceof RecogRegexError) reject(err.message);
      else if (err instanceof FingerprintDbError) reject(err.message.replace(/^[^:]*: /, '').replace(/\s+/g, ' '));
      else throw err;
    }
  }
  summary.imported = defs.length;
  if (defs.length === 0) return summary;
  const dbFile = DbFile.parse({
    matches: field,
    description: `Imported from Recog ${base} (matches ${matches}), sha256 ${sha256}: ${defs.length} of ${parsed.fingerprints.length} fingerprints passed their self-test.`,
    rules: defs,
  });
  const outDir = opts.outDir ?? defaultUserFingerprintDir();
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const outFile = path.join(outDir, `recog-${slug(stem)}.yaml`);
  const header = [
    `# Generated by \`medsurface fingerprints import\` from ${base} (Rapid7 Recog format, BSD-2-Clause).`,
    `# sha256 ${sha256}. Re-importing the same file replaces this one; edit the source file, not this.`,
    '',
  ].join('\n');
  const tmp = `${outFile}.${process.pid}.tmp`;
  writeFileSync(tmp, header + toYaml(dbFile, { lineWidth: 0 }), { mode: 0o600 });
  renameSync(tmp, outFile);
  summary.outFile = outFile;
  return summary;
}

/** A stand-in example so that a draft rule compiles before its real examples are tested. */
function placeholderExample(sha256: string, file: string, fingerprint: number): RuleDef['examples'][number] {
  return { value: 'x', expect: {}, source: { import: { format: 'recog', file, sha256, fingerprint } } };
}
