/**
 * CPE 2.3 names: the formatted-string binding (NISTIR 7695 §6.2), the legacy URI binding for
 * reading (NISTIR 7695 §6.1, used by some CSAF product trees), and the attribute matching that NVD
 * applies between a configuration's `criteria` and a product.
 *
 * Internally a name is a WFN (well-formed name, NISTIR 7695 §5): eleven attributes, each `ANY`,
 * `NA` or a value string in WFN form, i.e. every character other than [A-Za-z0-9_] is quoted with
 * a backslash, and an unquoted `*` (any run of characters) or `?` (exactly one character) is a
 * wildcard. So the formatted string `1.2\:3` and the WFN value `1\.2\:3` name the same logical
 * value `1.2:3`.
 *
 * Matching follows the brief's reduced form of NISTIR 7696 (name matching), not the full
 * relation table: per attribute, ANY on either side matches; otherwise NA matches only NA;
 * otherwise values compare case-insensitively, and wildcards in the criteria are expanded. The
 * version attribute is left to the caller (nvd.ts), which compares versions with version.ts
 * rather than as strings.
 */
import { CpeError } from './errors.js';
import { VULN_LIMITS } from './limits.js';

export const ANY = Symbol.for('cpe.ANY');
export const NA = Symbol.for('cpe.NA');
export type CpeValue = typeof ANY | typeof NA | string;

export const CPE_ATTRIBUTES = [
  'part',
  'vendor',
  'product',
  'version',
  'update',
  'edition',
  'language',
  'swEdition',
  'targetSw',
  'targetHw',
  'other',
] as const;
export type CpeAttribute = (typeof CPE_ATTRIBUTES)[number];

/** A well-formed name: every attribute present, values in WFN (quoted) form. */
export type Cpe = { readonly [K in CpeAttribute]: CpeValue };

const ALNUM = /^[A-Za-z0-9]$/;

function isAlnum(c: string): boolean {
  return ALNUM.test(c);
}

/** Splits a formatted string on colons that are not quoted by a backslash. */
function splitUnescaped(s: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      if (i + 1 >= s.length) throw new CpeError('CPE ends with a lone backslash');
      cur += c + s[i + 1]!;
      i++;
    } else if (c === ':') {
      parts.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  parts.push(cur);
  return parts;
}

/**
 * NISTIR 7695 §6.2.3.3 add_quoting: a formatted-string value to WFN form. Alphanumerics and `_`
 * are copied, quoted characters are kept quoted, `*` is allowed only first or last, `?` only in
 * runs at the start or the end; every other printable character gets a backslash.
 */
function addQuoting(s: string): string {
  let out = '';
  let embedded = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (isAlnum(c) || c === '_') {
      out += c;
      embedded = true;
      continue;
    }
    if (c === '\\') {
      const next = s[i + 1];
      if (next === undefined) throw new CpeError('CPE value ends with a lone backslash');
      out += c + next;
      i++;
      embedded = true;
      continue;
    }
    if (c === '*') {
      if (i === 0 || i === s.length - 1) {
        out += c;
        embedded = true;
        continue;
      }
      throw new CpeError(`an unquoted * may only begin or end a CPE value: ${JSON.stringify(s)}`);
    }
    if (c === '?') {
      const ok =
        i === 0 ||
        i === s.length - 1 ||
        (!embedded && s[i - 1] === '?') ||
        (embedded && s[i + 1] === '?');
      if (ok) {
        out += c;
        embedded = false;
        continue;
      }
      throw new CpeError(`an unquoted ? may only appear at the start or end of a CPE value: ${JSON.stringify(s)}`);
    }
    const code = c.charCodeAt(0);
    if (code < 0x21 || code > 0x7e) throw new CpeError('CPE values are printable ASCII without spaces (NISTIR 7695 §5.3.2)');
    out += `\\${c}`;
    embedded = true;
  }
  return out;
}

/** NISTIR 7695 §6.2.3.2 unbind_value_fs. */
function unbindValueFs(s: string): CpeValue {
  if (s === '*') return ANY;
  if (s === '-') return NA;
  if (s === '') throw new CpeError('empty CPE attribute (use * for ANY)');
  return addQuoting(s);
}

/** NISTIR 7695 §6.2.2.2 process_quoted_chars: `.`, `-` and `_` are unquoted in a formatted string. */
function processQuotedChars(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = s[i + 1] ?? '';
    out += next === '.' || next === '-' || next === '_' ? next : `\\${next}`;
    i++;
  }
  return out;
}

function bindValueFs(v: CpeValue): string {
  if (v === ANY) return '*';
  if (v === NA) return '-';
  // A value that is a lone hyphen must stay quoted, or it would read back as NA.
  if (v === '\\-') return v;
  return processQuotedChars(v);
}

function checkPart(v: CpeValue): void {
  if (v === ANY || v === NA) return;
  if (v !== 'a' && v !== 'o' && v !== 'h') throw new CpeError(`CPE part must be a, o or h, not ${JSON.stringify(v)}`);
}

/**
 * Parses a CPE 2.3 formatted string (`cpe:2.3:` followed by exactly eleven attributes,
 * NISTIR 7695 §6.2.5). Throws CpeError on anything else.
 */
export function parseCpe(fs: string): Cpe {
  if (typeof fs !== 'string') throw new CpeError('CPE must be a string');
  if (fs.length > VULN_LIMITS.cpeChars) throw new CpeError(`CPE longer than ${VULN_LIMITS.cpeChars} characters`);
  if (!/^cpe:2\.3:/i.test(fs)) throw new CpeError(`not a CPE 2.3 formatted string: ${JSON.stringify(fs.slice(0, 64))}`);
  const parts = splitUnescaped(fs.slice(8));
  if (parts.length !== 11) throw new CpeError(`CPE 2.3 has 11 attributes after cpe:2.3:, found ${parts.length}`);
  const values = parts.map(unbindValueFs);
  const cpe = Object.fromEntries(CPE_ATTRIBUTES.map((a, i) => [a, values[i]!])) as Cpe;
  checkPart(cpe.part);
  return cpe;
}

/** Parses, returning null instead of throwing. */
export function tryParseCpe(fs: string): Cpe | null {
  try {
    return parseCpe(fs);
  } catch {
    return null;
  }
}

/** Formats a WFN as a CPE 2.3 formatted string (NISTIR 7695 §6.2.2). */
export function formatCpe(cpe: Cpe): string {
  return `cpe:2.3:${CPE_ATTRIBUTES.map((a) => bindValueFs(cpe[a])).join(':')}`;
}

/** Quotes a logical value (no wildcards) into WFN form: every non-[A-Za-z0-9_] gets a backslash. */
export function quoteValue(logical: string): string {
  let out = '';
  for (const c of logical) out += isAlnum(c) || c === '_' ? c : `\\${c}`;
  return out;
}

/** The logical value of a WFN string: backslashes removed (wildcards stay as `*` / `?`). */
export function logicalValue(v: CpeValue): string | null {
  if (v === ANY || v === NA) return null;
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\') {
      out += v[i + 1] ?? '';
      i++;
    } else {
      out += c;
    }
  }
  return out;
}

/** True when a WFN value has an unquoted `*` or `?`. */
export function hasWildcards(v: CpeValue): boolean {
  if (v === ANY || v === NA) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\') i++;
    else if (c === '*' || c === '?') return true;
  }
  return false;
}

/** Builds a WFN from logical values; absent attributes are ANY. `part` defaults to `a`. */
export function makeCpe(attrs: Partial<Record<CpeAttribute, string | typeof ANY | typeof NA>>): Cpe {
  const out: Record<string, CpeValue> = {};
  for (const a of CPE_ATTRIBUTES) {
    const v = attrs[a];
    if (v === undefined) out[a] = a === 'part' ? 'a' : ANY;
    else if (v === ANY || v === NA) out[a] = v;
    else if (v === '') out[a] = ANY;
    else out[a] = a === 'part' ? v : quoteValue(v);
  }
  const cpe = out as Cpe;
  checkPart(cpe.part);
  return cpe;
}

/** Returns a copy with one attribute replaced. */
export function withAttribute(cpe: Cpe, attr: CpeAttribute, value: CpeValue): Cpe {
  return { ...cpe, [attr]: value };
}

function regexFromPattern(wfn: string): RegExp {
  let re = '^';
  for (let i = 0; i < wfn.length; i++) {
    const c = wfn[i]!;
    if (c === '\\') {
      re += (wfn[i + 1] ?? '').replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
      i++;
    } else if (c === '*') {
      re += '.*';
    } else if (c === '?') {
      re += '.';
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    }
  }
  return new RegExp(`${re}$`, 'is');
}

const patternCache = new Map<string, RegExp>();

/**
 * Compares one attribute of the criteria (source, may hold wildcards) with the product (target).
 * ANY on either side matches; NA matches only NA; strings compare case-insensitively, with
 * wildcards of the criteria expanded against the product's logical value.
 */
export function attributeMatches(criteria: CpeValue, target: CpeValue): boolean {
  if (criteria === ANY || target === ANY) return true;
  if (criteria === NA || target === NA) return criteria === target;
  if (hasWildcards(criteria) && !hasWildcards(target)) {
    let re = patternCache.get(criteria);
    if (!re) {
      re = regexFromPattern(criteria);
      if (patternCache.size > 4096) patternCache.clear();
      patternCache.set(criteria, re);
    }
    return re.test(logicalValue(target) ?? '');
  }
  return criteria.toLowerCase() === target.toLowerCase();
}

/** Every attribute except those listed matches (see attributeMatches). */
export function cpeMatchesExcept(criteria: Cpe, target: Cpe, except: readonly CpeAttribute[] = []): boolean {
  for (const a of CPE_ATTRIBUTES) {
    if (except.includes(a)) continue;
    if (!attributeMatches(criteria[a], target[a])) return false;
  }
  return true;
}

/** Every attribute matches, version included (compared as a string). */
export function cpeMatches(criteria: Cpe, target: Cpe): boolean {
  return cpeMatchesExcept(criteria, target);
}

/** `vendor:product` in lowercase logical form, the key the vulnerability index uses. */
export function vendorProductKey(cpe: Cpe): string | null {
  const v = logicalValue(cpe.vendor);
  const p = logicalValue(cpe.product);
  if (v === null || p === null || hasWildcards(cpe.vendor) || hasWildcards(cpe.product)) return null;
  return `${v.toLowerCase()}:${p.toLowerCase()}`;
}

function decodeUriComponentCpe(s: string): CpeValue {
  if (s === '') return ANY;
  if (s === '-') return NA;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%') {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new CpeError('bad percent-encoding in CPE URI');
      i += 2;
      if (hex === '01') out += '?';
      else if (hex === '02') out += '*';
      else {
        const ch = String.fromCharCode(Number.parseInt(hex, 16));
        out += isAlnum(ch) || ch === '_' ? ch : `\\${ch}`;
      }
    } else if (isAlnum(c) || c === '_') {
      out += c;
    } else {
      const code = c.charCodeAt(0);
      if (code < 0x21 || code > 0x7e) throw new CpeError('CPE URI values are printable ASCII');
      out += `\\${c}`;
    }
  }
  return out;
}

/**
 * Reads a CPE 2.2 URI (`cpe:/a:vendor:product:version:update:edition:language`, NISTIR 7695
 * §6.1.3), including the packed edition `~edition~sw_edition~target_sw~target_hw~other`.
 * CSAF product_identification_helper.cpe accepts both bindings (CSAF 2.0 §3.1.3.3.1).
 */
export function parseCpeUri(uri: string): Cpe {
  if (uri.length > VULN_LIMITS.cpeChars) throw new CpeError(`CPE longer than ${VULN_LIMITS.cpeChars} characters`);
  if (!/^cpe:\//i.test(uri)) throw new CpeError('not a CPE URI');
  const comps = uri.slice(5).split(':');
  if (comps.length > 7) throw new CpeError('a CPE URI has at most 7 components');
  const get = (i: number) => comps[i] ?? '';
  const attrs: Record<string, CpeValue> = {};
  for (const a of CPE_ATTRIBUTES) attrs[a] = ANY;
  attrs.part = decodeUriComponentCpe(get(0));
  attrs.vendor = decodeUriComponentCpe(get(1));
  attrs.product = decodeUriComponentCpe(get(2));
  attrs.version = decodeUriComponentCpe(get(3));
  attrs.update = decodeUriComponentCpe(get(4));
  const edition = get(5);
  if (edition.startsWith('~')) {
    const packed = edition.split('~');
    if (packed.length !== 6) throw new CpeError('a packed CPE URI edition has five fields');
    attrs.edition = decodeUriComponentCpe(packed[1]!);
    attrs.swEdition = decodeUriComponentCpe(packed[2]!);
    attrs.targetSw = decodeUriComponentCpe(packed[3]!);
    attrs.targetHw = decodeUriComponentCpe(packed[4]!);
    attrs.other = decodeUriComponentCpe(packed[5]!);
  } else {
    attrs.edition = decodeUriComponentCpe(edition);
  }
  attrs.language = decodeUriComponentCpe(get(6));
  const cpe = attrs as Cpe;
  checkPart(cpe.part);
  return cpe;
}

/** Parses either binding: `cpe:2.3:...` or `cpe:/...`. */
export function parseAnyCpe(s: string): Cpe {
  return /^cpe:\//i.test(s) ? parseCpeUri(s) : parseCpe(s);
}
