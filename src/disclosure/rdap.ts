/**
 * Abuse contacts from RDAP (RFC 9083 JSON responses, RFC 9082 queries): an "ip network" object
 * holds the network's first and last address, its handle, name and country, and entities with
 * roles; the entity with the role "abuse" carries the abuse mailbox in its jCard (RFC 7095,
 * `vcardArray`: ["vcard", [["email", {}, "text", "abuse@example.net"], ...]]). Registries nest
 * entities (ARIN puts the abuse contact under the registrant), so nested entities are searched
 * too, to a bounded depth and count.
 *
 * `disclose import-rdap FILE` reads a file holding one such object, a JSON array of them, or JSON
 * lines (one object per line, as bulk RDAP exports come); every value is checked and bounded.
 */
import { ipKey } from '../inventory/ip-key.js';
import { DisclosureError } from './errors.js';

export const RDAP_LIMITS = {
  /** Bytes of an imported RDAP file. */
  fileBytes: 64 * 1024 * 1024,
  /** Networks in one import. */
  networks: 200_000,
  /** Depth of nested entities searched for the abuse role. */
  entityDepth: 4,
  /** Entities visited per network. */
  entities: 200,
  /** Abuse addresses kept per network. */
  emails: 8,
  /** Characters of a name or handle kept. */
  textChars: 200,
} as const;

export interface RdapNetwork {
  startAddress: string;
  endAddress: string;
  startKey: string;
  endKey: string;
  handle: string | null;
  name: string | null;
  country: string | null;
  /** Lower-case, de-duplicated, at most RDAP_LIMITS.emails. */
  abuseEmails: string[];
}

const EMAIL_RE = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function text(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const s = v.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  return s === '' ? null : s.slice(0, RDAP_LIMITS.textChars);
}

/** Email values of a jCard (`["vcard", [[name, params, type, value], ...]]`). */
function vcardEmails(vcard: unknown): string[] {
  if (!Array.isArray(vcard) || vcard[0] !== 'vcard' || !Array.isArray(vcard[1])) return [];
  const out: string[] = [];
  for (const prop of (vcard[1] as unknown[]).slice(0, 200)) {
    if (!Array.isArray(prop) || typeof prop[0] !== 'string' || prop[0].toLowerCase() !== 'email') continue;
    for (const v of prop.slice(3)) {
      if (typeof v === 'string' && v.length <= 254 && EMAIL_RE.test(v.trim())) out.push(v.trim().toLowerCase());
    }
  }
  return out;
}

/** Abuse mailboxes among `entities`, depth-first, bounded. */
function abuseEmails(entities: unknown): string[] {
  const found: string[] = [];
  let visited = 0;
  const walk = (list: unknown, depth: number): void => {
    if (!Array.isArray(list) || depth > RDAP_LIMITS.entityDepth) return;
    for (const e of list) {
      if (visited++ >= RDAP_LIMITS.entities) return;
      if (!isObject(e)) continue;
      const roles = Array.isArray(e.roles) ? e.roles.filter((r): r is string => typeof r === 'string').map((r) => r.toLowerCase()) : [];
      if (roles.includes('abuse')) found.push(...vcardEmails(e.vcardArray));
      walk(e.entities, depth + 1);
    }
  };
  walk(entities, 1);
  return [...new Set(found)].slice(0, RDAP_LIMITS.emails);
}

/** One RFC 9083 "ip network" object → the network and its abuse contacts. Throws DisclosureError. */
export function parseRdapNetwork(obj: unknown, where = 'RDAP object'): RdapNetwork {
  if (!isObject(obj)) throw new DisclosureError(`${where}: not a JSON object`);
  if (obj.objectClassName !== undefined && obj.objectClassName !== 'ip network') {
    const cls = typeof obj.objectClassName === 'string' ? obj.objectClassName.slice(0, 40) : typeof obj.objectClassName;
    const hint = obj.errorCode !== undefined ? ` (an RDAP error response, errorCode ${JSON.stringify(obj.errorCode)})` : '';
    throw new DisclosureError(`${where}: objectClassName is ${JSON.stringify(cls)}, expected "ip network"${hint}`);
  }
  const start = text(obj.startAddress);
  const end = text(obj.endAddress);
  if (start === null || end === null) throw new DisclosureError(`${where}: startAddress and endAddress are required (RFC 9083 §5.4)`);
  const startKey = ipKey(start);
  const endKey = ipKey(end);
  if (startKey.startsWith('x:') || endKey.startsWith('x:')) throw new DisclosureError(`${where}: ${JSON.stringify(startKey.startsWith('x:') ? start : end)} is not an IP address`);
  if (startKey[0] !== endKey[0]) throw new DisclosureError(`${where}: startAddress ${start} and endAddress ${end} are of different families`);
  if (startKey > endKey) throw new DisclosureError(`${where}: startAddress ${start} is after endAddress ${end}`);
  const country = text(obj.country);
  return {
    startAddress: start,
    endAddress: end,
    startKey,
    endKey,
    handle: text(obj.handle),
    name: text(obj.name),
    country: country !== null && /^[A-Za-z]{2}$/.test(country) ? country.toUpperCase() : null,
    abuseEmails: abuseEmails(obj.entities),
  };
}

/** The networks of an RDAP file's text: one object, an array of objects, or JSON lines. */
export function parseRdapDocument(textIn: string, file: string): RdapNetwork[] {
  if (textIn.length > RDAP_LIMITS.fileBytes) throw new DisclosureError(`${file}: larger than ${RDAP_LIMITS.fileBytes} bytes`, { file });
  const body = textIn.charCodeAt(0) === 0xfeff ? textIn.slice(1) : textIn;
  let items: unknown[];
  try {
    const whole = JSON.parse(body) as unknown;
    items = Array.isArray(whole) ? whole : [whole];
  } catch (wholeErr) {
    // JSON lines: one object per non-empty line.
    items = [];
    const lines = body.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '') continue;
      try {
        items.push(JSON.parse(line));
      } catch {
        throw new DisclosureError(`${file}: not JSON (one RDAP object, an array of them, or one object per line); line ${i + 1} does not parse`, { cause: wholeErr, file });
      }
      if (items.length > RDAP_LIMITS.networks) break;
    }
  }
  if (items.length === 0) throw new DisclosureError(`${file}: no RDAP object in the file`, { file });
  if (items.length > RDAP_LIMITS.networks) throw new DisclosureError(`${file}: more than ${RDAP_LIMITS.networks} RDAP objects`, { file });
  return items.map((o, i) => parseRdapNetwork(o, items.length === 1 ? file : `${file}: object ${i + 1}`));
}
