/**
 * Pure functions of the http probe: bytes in, bounded features out, no socket. Everything here
 * runs on a body already cut to its cap (core/http-client), and every regex is linear: tags are
 * matched with bounded attribute runs (`[^>]{0,2048}`), never nested quantifiers.
 *
 * Patient data (DESIGN.md "Patient data is never kept"): a web page may be a data view, so the
 * probe keeps a page's title only when the page is a login page or an app shell and the title does
 * not look like it names a person or a record (isSafeTitle); "marks" keep only names chosen by the
 * application's authors (meta generator, script and path names, form field NAMES, cookie names),
 * never a value a user typed or a record holds.
 */
import { createHash } from 'node:crypto';
import murmur from 'murmurhash3js-revisited';
import { ProtocolError } from '../../core/errors.js';

/** Characters kept of a page title (ISSUE3 common rules: bounded to 128). */
export const TITLE_CHARS = 128;
/** HTML bytes scanned for title, marks and forms (the client already caps the body). */
export const HTML_SCAN_BYTES = 64 * 1024;
/** Marks kept per page, characters per mark, and the joined marks string (LIMITS.bannerBytes). */
export const MAX_MARKS = 64;
export const MARK_CHARS = 48;
export const MARKS_CHARS = 1024;
/** Tags examined per page. */
const MAX_TAGS = 2048;
/** Input names and cookie names kept. */
const MAX_INPUT_MARKS = 24;
export const MAX_COOKIE_NAMES = 16;

/** Printable ASCII only, bounded: what may reach output, logs and fingerprint regexes. */
export function printable(s: string, max: number): string {
  const t = s.replace(/[^\x20-\x7e]/g, '?');
  return t.length > max ? t.slice(0, max) : t;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', '#39': "'" };

/** Decodes the few entities titles use; numeric ones too (bounded to the BMP, no control characters). */
export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,8}|#39);/g, (m, name: string) => {
    if (name in ENTITIES) return ENTITIES[name]!;
    let code = Number.NaN;
    if (name.startsWith('#x') || name.startsWith('#X')) code = Number.parseInt(name.slice(2), 16);
    else if (name.startsWith('#')) code = Number.parseInt(name.slice(1), 10);
    if (!Number.isFinite(code) || code < 0x20 || code > 0xfffd) return m;
    return String.fromCharCode(code);
  });
}

/** Body bytes as text for scanning (UTF-8, invalid sequences replaced), at most HTML_SCAN_BYTES. */
export function bodyText(body: Buffer): string {
  return body.subarray(0, HTML_SCAN_BYTES).toString('utf8');
}

/** The document's first <title>, entity-decoded, whitespace collapsed, at most TITLE_CHARS; null when absent or empty. */
export function extractTitle(html: string): string | null {
  const m = /<title\b[^>]{0,256}>([^<]{0,4096})<\/title\s*>/i.exec(html);
  if (!m) return null;
  const t = decodeEntities(m[1]!)
    .replace(/[\u0000-\u001f\u007f\s]+/g, ' ')
    .trim();
  if (!t) return null;
  return t.length > TITLE_CHARS ? t.slice(0, TITLE_CHARS) : t;
}

/**
 * Whether a title may be kept: it must not look like it names a person or a record. Refused:
 * DICOM person-name separators (`^`, PS3.5 §6.2.1), runs of 5+ digits (ids, MRNs, dates), dates,
 * "Surname, Given" pairs, and words that announce a record view (patient, MRN, DOB, accession,
 * study, exam). Refusing an innocent title costs a fingerprint; keeping a patient name is a leak.
 */
export function isSafeTitle(title: string): boolean {
  if (/[\^]/.test(title)) return false;
  if (/\d{5,}/.test(title)) return false;
  if (/\b\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b/.test(title)) return false;
  if (/\b[A-Z][A-Za-z'-]+,\s*[A-Z][A-Za-z'-]+/.test(title)) return false;
  if (/\b(patient|patients|mrn|dob|birth|accession|study|studies|exam|examen|paciente|patient-id)\b/i.test(title)) return false;
  return true;
}

/** A password input: the page asks for credentials (a login form). */
export function hasPasswordInput(html: string): boolean {
  return /<input\b[^>]{0,2048}?\btype\s*=\s*["']?password\b/i.test(html);
}

/** Attributes of one tag's attribute text, lower-case names, at most 32. */
export function attributesOf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /([a-zA-Z_:][-a-zA-Z0-9_:.]{0,63})\s*=\s*(?:"([^"]{0,2048})"|'([^']{0,2048})'|([^\s"'>]{1,2048}))/g;
  let m: RegExpExecArray | null;
  let n = 0;
  while ((m = re.exec(text)) !== null && n++ < 32) {
    const name = m[1]!.toLowerCase();
    if (!out.has(name)) out.set(name, m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

/** A token for marks: lower case, [a-z0-9._-], at most MARK_CHARS; empty when nothing is left. */
export function slug(s: string): string {
  const t = s
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return t.length > MARK_CHARS ? t.slice(0, MARK_CHARS) : t;
}

/** The same-origin path a URL attribute points to, resolved against the page's path; null for other origins and schemes. */
export function sameOriginPath(ref: string, pagePath: string): string | null {
  const base = `http://page.invalid${pagePath.startsWith('/') ? pagePath : `/${pagePath}`}`;
  let u: URL;
  try {
    u = new URL(decodeEntities(ref.trim()), base);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  if (u.host !== 'page.invalid') return null;
  return u.pathname;
}

function firstSegment(path: string): string | null {
  const seg = path.split('/')[1];
  return seg ? slug(decodeURIComponentSafe(seg)) || null : null;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Script basename without its extension(s): `/libs/jquery.min.js?v=1` -> `jquery.min`. */
function scriptName(path: string): string | null {
  const base = path.split('/').pop() ?? '';
  const name = base.replace(/\.js$/i, '');
  return name ? slug(decodeURIComponentSafe(name)) || null : null;
}

/**
 * Marks for fingerprints, from names the application's authors chose:
 * `generator:` and `app-name:` (meta generator / application-name), `ng-app:`, `path:` (first path
 * segment of same-origin script, stylesheet, icon, image and form URLs, resolved against the page),
 * `script:` (script file names), `input:` (form field NAMES, never values), `cookie:` (cookie names).
 * Unique, ordered by kind (MARK_ORDER) then name, at most MAX_MARKS.
 */
export function extractMarks(html: string, pagePath: string, cookieNames: readonly string[] = []): string[] {
  const marks = new Set<string>();
  const add = (kind: string, v: string | null) => {
    if (v && marks.size < MAX_MARKS * 2) marks.add(`${kind}:${v}`);
  };
  let inputs = 0;
  const re = /<(meta|script|link|img|form|input|iframe|html|body|div)\b([^>]{0,2048})>/gi;
  let m: RegExpExecArray | null;
  let n = 0;
  while ((m = re.exec(html)) !== null && n++ < MAX_TAGS) {
    const tag = m[1]!.toLowerCase();
    const attrs = attributesOf(m[2]!);
    const ngApp = attrs.get('ng-app') ?? attrs.get('data-ng-app');
    if (ngApp) add('ng-app', slug(ngApp));
    switch (tag) {
      case 'meta': {
        const name = (attrs.get('name') ?? '').toLowerCase();
        const content = attrs.get('content') ?? '';
        if (name === 'generator') add('generator', slug(decodeEntities(content)));
        else if (name === 'application-name') add('app-name', slug(decodeEntities(content)));
        break;
      }
      case 'script': {
        const src = attrs.get('src');
        const p = src ? sameOriginPath(src, pagePath) : null;
        if (p) {
          add('path', firstSegment(p));
          add('script', scriptName(p));
        }
        break;
      }
      case 'link':
      case 'img':
      case 'iframe': {
        const ref = attrs.get('href') ?? attrs.get('src');
        const p = ref ? sameOriginPath(ref, pagePath) : null;
        if (p) add('path', firstSegment(p));
        break;
      }
      case 'form': {
        const action = attrs.get('action');
        const p = action ? sameOriginPath(action, pagePath) : null;
        if (p) add('path', firstSegment(p));
        break;
      }
      case 'input': {
        const name = attrs.get('name');
        if (name && inputs < MAX_INPUT_MARKS) {
          inputs++;
          add('input', slug(name));
        }
        break;
      }
      default:
        break;
    }
  }
  for (const c of cookieNames.slice(0, MAX_COOKIE_NAMES)) add('cookie', slug(c));
  // The most telling kinds first, so that the MAX_MARKS and MARKS_CHARS cuts drop script and input names first.
  const rank = (m: string) => MARK_ORDER.indexOf(m.slice(0, m.indexOf(':')));
  return [...marks].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0)).slice(0, MAX_MARKS);
}

/** Order of mark kinds in the marks string. */
const MARK_ORDER = ['generator', 'app-name', 'ng-app', 'path', 'cookie', 'input', 'script'];

/** Marks joined by single spaces, cut at a token boundary to at most MARKS_CHARS. */
export function joinMarks(marks: readonly string[]): string {
  let out = '';
  for (const m of marks) {
    const next = out ? `${out} ${m}` : m;
    if (next.length > MARKS_CHARS) break;
    out = next;
  }
  return out;
}

/** The `<link rel="icon">` (or "shortcut icon") of the page, as a same-origin path; null when none. */
export function iconPath(html: string, pagePath: string): string | null {
  const re = /<link\b([^>]{0,2048})>/gi;
  let m: RegExpExecArray | null;
  let n = 0;
  while ((m = re.exec(html)) !== null && n++ < MAX_TAGS) {
    const attrs = attributesOf(m[1]!);
    const rel = (attrs.get('rel') ?? '').toLowerCase().split(/\s+/);
    if (!rel.includes('icon')) continue;
    const href = attrs.get('href');
    const p = href ? sameOriginPath(href, pagePath) : null;
    if (p && p.length <= 512) return p;
  }
  return null;
}

/** Cookie names from a joined Set-Cookie header (core/http-client joins repeats with ', '). Names only, never values. */
export function cookieNamesOf(setCookie: string | undefined): string[] {
  if (!setCookie) return [];
  const names = new Set<string>();
  // A cookie starts at the beginning or after ", " and runs "name=value"; attributes follow ';'.
  for (const m of setCookie.matchAll(/(?:^|,\s*)([!#$%&'*+.^_`|~0-9A-Za-z-]{1,64})=/g)) {
    const name = m[1]!;
    const lower = name.toLowerCase();
    // "Expires=Wed, 21 Oct ..." contains a comma: skip attribute names that can follow one.
    if (['expires', 'max-age', 'domain', 'path', 'samesite', 'secure', 'httponly'].includes(lower)) continue;
    names.add(name);
    if (names.size >= MAX_COOKIE_NAMES) break;
  }
  return [...names].sort();
}

/** Scheme and realm of a WWW-Authenticate value (RFC 9110 §11.6.1, RFC 7617 §2): the first challenge only. */
export function parseAuthenticate(value: string | undefined): { scheme: string; realm: string | null } | null {
  if (!value) return null;
  const m = /^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]{1,32})(?:\s+(.{0,1024}))?$/.exec(value.slice(0, 1100));
  if (!m) return null;
  const params = m[2] ?? '';
  const r = /(?:^|[\s,])realm\s*=\s*(?:"((?:[^"\\]|\\.){0,256})"|([^\s,]{1,256}))/i.exec(params);
  const realm = r ? (r[1] ?? r[2] ?? '').replace(/\\(.)/g, '$1') : null;
  return { scheme: printable(m[1]!, 32), realm: realm === null ? null : printable(realm, 128) };
}

/**
 * Shodan's favicon encoding: Python's base64.encodebytes, i.e. standard base64 with a newline
 * after every 76 characters and one at the end (RFC 2045 §6.8 line length); empty input is empty.
 */
export function shodanBase64(bytes: Buffer): string {
  const b64 = bytes.toString('base64');
  if (b64.length === 0) return '';
  let out = '';
  for (let i = 0; i < b64.length; i += 76) out += `${b64.slice(i, i + 76)}\n`;
  return out;
}

/** MurmurHash3 x86 32-bit (seed 0) as a signed int, as Python's mmh3.hash returns it. */
export function mmh3Signed(bytes: Uint8Array): number {
  return murmur.x86.hash32(bytes) | 0;
}

/** The favicon hashes: MD5 hex and Shodan's `http.favicon.hash` (mmh3 of shodanBase64, signed, as text). */
export function faviconHashes(bytes: Buffer): { md5: string; mmh3: string } {
  return {
    md5: createHash('md5').update(bytes).digest('hex'),
    mmh3: String(mmh3Signed(Buffer.from(shodanBase64(bytes), 'latin1'))),
  };
}

/** Location for the record: query and fragment dropped (they can carry ids), printable, bounded. */
export function locationForRecord(loc: string): string {
  const cut = loc.search(/[?#]/);
  return printable(cut >= 0 ? loc.slice(0, cut) : loc, 256);
}

/** A plain-HTTP answer that says the port wants TLS (nginx, Apache httpd, Go net/http wordings). */
export function saysTlsRequired(status: number, body: Buffer): boolean {
  if (status !== 400 && status !== 403 && status !== 497) return false;
  const text = body.subarray(0, 4096).toString('latin1');
  return /plain HTTP request was sent to HTTPS port|speaking plain HTTP to an SSL-enabled server port|sent an HTTP request to an HTTPS server|combination of host and port requires TLS/i.test(
    text,
  );
}

/** What Orthanc's GET /system says about itself (Orthanc REST API, "System" resource). */
export interface OrthancSystemInfo {
  version: string | null;
  apiVersion: number | null;
  name: string | null;
}

/** Largest /system body parsed (real ones are < 1 KiB). */
export const ORTHANC_SYSTEM_BYTES = 16 * 1024;

/**
 * Parses Orthanc's /system JSON: Version ("1.10.1", or "mainline"), ApiVersion, Name. Throws
 * ProtocolError for anything that is not a JSON object; unknown or ill-typed fields become null.
 */
export function parseOrthancSystem(body: Buffer): OrthancSystemInfo {
  if (body.length > ORTHANC_SYSTEM_BYTES) throw new ProtocolError(`/system body larger than ${ORTHANC_SYSTEM_BYTES} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ProtocolError('/system is not JSON', { cause: err });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ProtocolError('/system is not a JSON object');
  const o = json as Record<string, unknown>;
  const v = typeof o.Version === 'string' && /^(\d{1,4}\.\d{1,4}(\.\d{1,4})?|mainline)$/.test(o.Version) ? o.Version : null;
  const api = typeof o.ApiVersion === 'number' && Number.isInteger(o.ApiVersion) && o.ApiVersion >= 0 && o.ApiVersion < 10000 ? o.ApiVersion : null;
  const name = typeof o.Name === 'string' && o.Name.length > 0 ? printable(o.Name, 64) : null;
  return { version: v, apiVersion: api, name };
}
