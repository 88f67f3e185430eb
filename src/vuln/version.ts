/**
 * Vendor version strings and their order.
 *
 * Vendors write versions every which way: `3.6.7`, `1.10.1`, `4.2.0.1234`, `V3.0.0.1 SP2`,
 * `2023.1`, `v7.0.1-rc2`, `3.6.7a`, and distributions add their own packaging on top
 * (`1.10.1+dfsg-2+deb12u1`). NVD ranges (`versionEndExcluding: "1.12.0"`) and CSAF/vers ranges
 * compare such strings, so we need one documented total order.
 *
 * ## Parsing
 * 1. Trim; keep at most VULN_LIMITS.versionChars characters.
 * 2. Distribution packaging (Debian policy §5.6.12 `[epoch:]upstream[-revision]`): when the
 *    string has an epoch, or a `-revision` that starts with a digit and carries a distribution
 *    marker (`deb`, `ubuntu`, `~bpo`, `+dfsg`, `+ds`, `+repack`, `.el<N>`, `.fc<N>`), the epoch and
 *    the revision are split off. Only the upstream version is compared: NVD and vendors speak
 *    of upstream versions. `distribution` is then set, because a distribution may have
 *    backported a fix without changing the upstream number (Debian's Orthanc
 *    1.10.1+dfsg-2+deb12u1 carries the fix for CVE-2023-33466, which NVD lists for < 1.12.0).
 * 3. A leading `v`/`V` before a digit is dropped; `+metadata` is dropped (SemVer 2.0 §10: build
 *    metadata does not take part in precedence; Debian repack suffixes such as `+dfsg` too).
 * 4. The rest is split into numbers (runs of digits) and words (runs of ASCII letters); every
 *    other character separates. Words are classified:
 *    - pre-release: `dev`, `snapshot`, `nightly` < `alpha`/`a` < `beta`/`b` < `pre`/`preview`
 *      < `rc`/`cr`. A single `a`/`b` counts as alpha/beta only when a number follows it (`1.0a1`).
 *    - ignored: `final`, `ga`, `release`, `stable`.
 *    - post-release: everything else, e.g. `sp`, `patch`, `p`, `update`, `u`, `build`, and a
 *      letter suffix glued to a number (`3.6.7a`, OpenSSL style).
 * 5. Trailing zeros of every run of numbers are dropped, so `1.12` = `1.12.0`, `1.0 SP1` =
 *    `1.0.0 SP1` and `7.0.0-rc1` = `7.0-rc1`.
 *
 * ## Order
 * Two keys are compared item by item; a key that has ended is padded with END. At one position:
 *
 *     pre-release  <  END  <  post-release word  <  number
 *
 * pre-release items by their rank, post-release words by their lowercase spelling, numbers by
 * value (any length, no overflow). So `7.0.1-rc2 < 7.0.1 < 7.0.1a < 7.0.1 SP1 < 7.0.1.1`.
 * This is a lexicographic order on sequences over a totally ordered alphabet, hence a total
 * preorder on strings: reflexive, antisymmetric up to equal keys, transitive (version.test.ts
 * checks all three on random strings). Strings with equal keys are the same version.
 */
import { VULN_LIMITS } from './limits.js';

type Item = { k: 0; rank: number } | { k: 2; word: string } | { k: 3; digits: string };
// k: 0 pre-release, (1 is END, never stored), 2 post-release word, 3 number.

export interface ParsedVersion {
  /** The input, trimmed and capped. */
  raw: string;
  /** The version that is compared: epoch, distribution revision and build metadata removed. */
  upstream: string;
  epoch?: string;
  /** Distribution revision (Debian `-2+deb12u1`), when one was recognised. */
  revision?: string;
  /** Build metadata after `+` (SemVer) or a repack suffix (`dfsg`). */
  build?: string;
  /** A distribution package version: its fixes may be backported without a new upstream number. */
  distribution: boolean;
  key: readonly Item[];
}

const DISTRO_MARKER = /deb\d|ubuntu|~bpo|~deb|\+dfsg|\+ds\d*\b|\+repack|\.el\d|\.fc\d|\+deb/i;
const DEBIAN_FORM = /^(?:(\d{1,9}):)?(.+?)-([0-9][0-9A-Za-z.+~]*)$/;

const PRE_RANK: Record<string, number> = {
  dev: 0,
  snapshot: 0,
  nightly: 0,
  alpha: 1,
  a: 1,
  beta: 2,
  b: 2,
  pre: 3,
  preview: 3,
  rc: 4,
  cr: 4,
};
const IGNORED = new Set(['final', 'ga', 'release', 'stable']);
const FULL_PRE_WORDS = new Set(['dev', 'snapshot', 'nightly', 'alpha', 'beta', 'pre', 'preview', 'rc', 'cr']);

interface Token {
  text: string;
  num: boolean;
  /** No separator between this token and the previous one. */
  glued: boolean;
}

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let glued = false;
  while (i < s.length && out.length < VULN_LIMITS.versionTokens) {
    const c = s[i]!;
    if (c >= '0' && c <= '9') {
      let j = i;
      while (j < s.length && s[j]! >= '0' && s[j]! <= '9') j++;
      out.push({ text: s.slice(i, j), num: true, glued });
      glued = true;
      i = j;
    } else if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (j < s.length && /[A-Za-z]/.test(s[j]!)) j++;
      out.push({ text: s.slice(i, j).toLowerCase(), num: false, glued });
      glued = true;
      i = j;
    } else {
      glued = false;
      i++;
    }
  }
  return out;
}

function buildKey(core: string): Item[] {
  const tokens = tokenize(core);
  const items: Item[] = [];
  for (let t = 0; t < tokens.length; t++) {
    const tok = tokens[t]!;
    if (tok.num) {
      items.push({ k: 3, digits: tok.text.replace(/^0+(?=\d)/, '') });
      continue;
    }
    const w = tok.text;
    if (IGNORED.has(w)) continue;
    const next = tokens[t + 1];
    const numberFollows = next?.num === true;
    // A lone a/b is alpha/beta only before a number (1.0a1); a letter glued to a number and not
    // followed by one is a post-release suffix (3.6.7a), like every other word.
    if (FULL_PRE_WORDS.has(w) || ((w === 'a' || w === 'b') && numberFollows)) {
      items.push({ k: 0, rank: PRE_RANK[w]! });
    } else {
      items.push({ k: 2, word: w });
    }
  }
  // Drop trailing zeros of every run of numbers (1.12.0 = 1.12).
  const out: Item[] = [];
  let run: Item[] = [];
  const flush = () => {
    while (run.length > 0) {
      const last = run[run.length - 1]!;
      if (last.k === 3 && last.digits === '0') run.pop();
      else break;
    }
    out.push(...run);
    run = [];
  };
  for (const it of items) {
    if (it.k === 3) run.push(it);
    else {
      flush();
      out.push(it);
    }
  }
  flush();
  return out;
}

/** Parses a vendor version string (see the module comment for the rules). */
export function parseVersion(input: string): ParsedVersion {
  const raw = String(input).trim().slice(0, VULN_LIMITS.versionChars);
  let upstream = raw;
  let epoch: string | undefined;
  let revision: string | undefined;
  let distribution = false;
  const deb = DEBIAN_FORM.exec(raw);
  if (deb && (deb[1] !== undefined || DISTRO_MARKER.test(raw))) {
    epoch = deb[1];
    upstream = deb[2]!;
    revision = deb[3]!;
    distribution = true;
  }
  upstream = upstream.replace(/^[vV](?=\d)/, '');
  let build: string | undefined;
  const plus = upstream.indexOf('+');
  let core = upstream;
  if (plus >= 0) {
    build = upstream.slice(plus + 1);
    core = upstream.slice(0, plus);
    if (/^(dfsg|ds|repack)/i.test(build)) distribution = true;
  }
  const parsed: ParsedVersion = { raw, upstream: core, distribution, key: buildKey(core) };
  if (epoch !== undefined) parsed.epoch = epoch;
  if (revision !== undefined) parsed.revision = revision;
  if (build !== undefined && build !== '') parsed.build = build;
  return parsed;
}

function compareItems(a: Item | undefined, b: Item | undefined): number {
  const ka = a === undefined ? 1 : a.k;
  const kb = b === undefined ? 1 : b.k;
  if (ka !== kb) return ka < kb ? -1 : 1;
  if (a === undefined || b === undefined) return 0;
  if (a.k === 0 && b.k === 0) return a.rank === b.rank ? 0 : a.rank < b.rank ? -1 : 1;
  if (a.k === 2 && b.k === 2) return a.word === b.word ? 0 : a.word < b.word ? -1 : 1;
  if (a.k === 3 && b.k === 3) {
    if (a.digits.length !== b.digits.length) return a.digits.length < b.digits.length ? -1 : 1;
    return a.digits === b.digits ? 0 : a.digits < b.digits ? -1 : 1;
  }
  return 0;
}

function compareKeys(a: readonly Item[], b: readonly Item[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareItems(a[i], b[i]);
    if (c !== 0) return c;
  }
  return 0;
}

const parseCache = new Map<string, ParsedVersion>();

function cachedParse(v: string | ParsedVersion): ParsedVersion {
  if (typeof v !== 'string') return v;
  let p = parseCache.get(v);
  if (!p) {
    p = parseVersion(v);
    if (parseCache.size > 10_000) parseCache.clear();
    parseCache.set(v, p);
  }
  return p;
}

/** Compares two versions: negative, zero or positive. Total preorder, see the module comment. */
export function compareVersions(a: string | ParsedVersion, b: string | ParsedVersion): number {
  return compareKeys(cachedParse(a).key, cachedParse(b).key);
}

export function versionsEqual(a: string | ParsedVersion, b: string | ParsedVersion): boolean {
  return compareVersions(a, b) === 0;
}

/** NVD cpeMatch bounds (NVD CVE API 2.0: versionStart/End Including/Excluding). */
export interface VersionBounds {
  versionStartIncluding?: string | undefined;
  versionStartExcluding?: string | undefined;
  versionEndIncluding?: string | undefined;
  versionEndExcluding?: string | undefined;
}

export function hasBounds(b: VersionBounds): boolean {
  return (
    b.versionStartIncluding !== undefined ||
    b.versionStartExcluding !== undefined ||
    b.versionEndIncluding !== undefined ||
    b.versionEndExcluding !== undefined
  );
}

/** True when `v` lies within every bound that is present. */
export function inBounds(v: string | ParsedVersion, b: VersionBounds): boolean {
  const p = cachedParse(v);
  if (b.versionStartIncluding !== undefined && compareVersions(p, b.versionStartIncluding) < 0) return false;
  if (b.versionStartExcluding !== undefined && compareVersions(p, b.versionStartExcluding) <= 0) return false;
  if (b.versionEndIncluding !== undefined && compareVersions(p, b.versionEndIncluding) > 0) return false;
  if (b.versionEndExcluding !== undefined && compareVersions(p, b.versionEndExcluding) >= 0) return false;
  return true;
}

export type VersConstraint = { op: '=' | '!=' | '<' | '<=' | '>' | '>='; version: string };

/**
 * Parses a version range: the `vers:` syntax of package-url/purl-spec (VERSION-RANGE-SPEC:
 * `vers:<scheme>/<constraint>|<constraint>...`, `vers:<scheme>/*` for all versions) and the
 * bare forms CISA's CSAF generator writes in `product_version_range` (`<1.5.8`, `< 3.6.7`,
 * `>=1.0|<2.0`, `<=4.1`). Returns 'all' for `*`, null when nothing parses.
 */
export function parseVersRange(input: string): VersConstraint[] | 'all' | null {
  let s = String(input).trim().slice(0, VULN_LIMITS.versionChars * 4);
  const vers = /^vers:[a-z0-9.+-]*\//i.exec(s);
  if (vers) s = s.slice(vers[0].length);
  if (s === '*') return 'all';
  const out: VersConstraint[] = [];
  for (const part of s.split(/[|,]/)) {
    const t = part.trim();
    if (t === '') continue;
    const m = /^(!=|<=|>=|<|>|=)?\s*(\S.*)$/.exec(t);
    if (!m) return null;
    const op = (m[1] ?? '=') as VersConstraint['op'];
    const version = decodeURIComponent(m[2]!.trim());
    if (version === '' || /\s/.test(version)) return null;
    out.push({ op, version });
  }
  return out.length > 0 ? out : null;
}

function satisfies(v: ParsedVersion, c: VersConstraint): boolean {
  const d = compareVersions(v, c.version);
  switch (c.op) {
    case '=':
      return d === 0;
    case '!=':
      return d !== 0;
    case '<':
      return d < 0;
    case '<=':
      return d <= 0;
    case '>':
      return d > 0;
    case '>=':
      return d >= 0;
  }
}

/**
 * VERSION-RANGE-SPEC "checking if a version is contained within a range": equal constraints
 * first, then the comparators sorted by version, read as intervals (a lower bound followed by an
 * upper bound; a leading upper bound or a trailing lower bound is open-ended).
 */
export function versRangeContains(v: string | ParsedVersion, range: VersConstraint[] | 'all'): boolean {
  if (range === 'all') return true;
  const p = cachedParse(v);
  for (const c of range) if (c.op === '!=' && compareVersions(p, c.version) === 0) return false;
  for (const c of range) if (c.op === '=' && compareVersions(p, c.version) === 0) return true;
  const cmp = range.filter((c) => c.op !== '=' && c.op !== '!=').sort((x, y) => compareVersions(x.version, y.version));
  if (cmp.length === 0) return false;
  const first = cmp[0]!;
  if ((first.op === '<' || first.op === '<=') && satisfies(p, first)) return true;
  const last = cmp[cmp.length - 1]!;
  if ((last.op === '>' || last.op === '>=') && satisfies(p, last)) return true;
  for (let i = 0; i + 1 < cmp.length; i++) {
    const lo = cmp[i]!;
    const hi = cmp[i + 1]!;
    if ((lo.op === '>' || lo.op === '>=') && (hi.op === '<' || hi.op === '<=') && satisfies(p, lo) && satisfies(p, hi)) return true;
  }
  return false;
}

/** The note attached to a match made on a distribution package version. */
export function backportNote(p: ParsedVersion): string | undefined {
  if (!p.distribution) return undefined;
  const pkg = p.revision ? `${p.upstream} (distribution revision ${p.revision})` : p.upstream;
  return `matched on upstream version ${pkg}: a distribution package may carry a backported fix; check the distribution's security tracker before acting`;
}
