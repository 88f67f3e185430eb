/**
 * orgs.yaml: the user's own list of organisations and the address ranges they hold, with the
 * people and the CERT to notify. It takes precedence over the mmdb files (docs/attribution.md).
 *
 *   - name: Example University Hospital
 *     cidrs: [192.0.2.0/24, 2001:db8:10::/48]
 *     country: NL
 *     contact: { name: Security Office, email: security@hospital.example, pgpKey: keys/sec.asc }
 *     cert: { name: Z-CERT, email: cert@z-cert.example }
 *     tags: [hospital, academic]
 *
 * The file is validated as a whole with zod 4 and every problem is reported with the file, the
 * entry (number and name) and the field, so a user can fix them all in one pass. Lookups use a
 * PrefixTable over all organisations' blocks: the most specific block wins, and the same block
 * listed by two organisations goes to the one listed first (with a warning).
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { messageOf } from '../core/errors.js';
import { readYamlFile } from '../core/yaml-file.js';
import { type Cidr, type ParsedIp, parseCidr } from './address.js';
import { AttributionError } from './errors.js';
import { PrefixTable } from './prefix-table.js';
import type { OrgCert, OrgContact } from './types.js';

/** Caps on what one orgs.yaml may hold: a national CERT's list fits, a mistake does not. */
export const ORGS_LIMITS = {
  fileBytes: 16 * 1024 * 1024,
  organisations: 100_000,
  cidrsPerOrg: 100_000,
  cidrsTotal: 1_000_000,
  /** Problems listed in one error message; the rest are counted. */
  reportedIssues: 20,
} as const;

/** One organisation after validation: CIDRs canonical, `pgpKey` an absolute path. */
export interface Organisation {
  name: string;
  cidrs: string[];
  country?: string;
  contact?: OrgContact;
  cert?: OrgCert;
  tags?: string[];
}

const required = (what: string) => (iss: { input: unknown }) =>
  iss.input === undefined ? 'required' : `must be ${what} (got ${JSON.stringify(iss.input)})`;

const Text = (max: number) =>
  z
    .string({ error: required('text') })
    .trim()
    .min(1, 'must not be empty')
    .max(max, `longer than ${max} characters`);

const Email = z.email({ error: (iss) => (iss.input === undefined ? 'required' : `not a valid e-mail address: ${JSON.stringify(iss.input)}`) });

const CidrText = z.string({ error: required('a CIDR block in quotes or plain text, e.g. 192.0.2.0/24') }).superRefine((s, ctx) => {
  const c = parseCidr(s.trim());
  if ('error' in c) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)}: ${c.error}` });
});

const ContactIn = z
  .strictObject({
    name: Text(200).optional(),
    email: Email.optional(),
    /* YAML reads an unquoted 0201234567 as the number 201234567: insist on text. */
    phone: z
      .string({ error: required('text; put the phone number in quotes') })
      .regex(/^\+?[0-9][0-9 ()./-]{2,39}$/, 'not a phone number (digits, spaces, + ( ) . / -)')
      .optional(),
    pgpKey: Text(4096).optional(),
  })
  .refine((c) => Object.values(c).some((v) => v !== undefined), 'give at least one of name, email, phone, pgpKey');

const CertIn = z.strictObject({ name: Text(200), email: Email });

const OrgIn = z.strictObject({
  name: Text(200),
  cidrs: z
    .array(CidrText, { error: required('a list of CIDR blocks') })
    .min(1, 'list at least one CIDR block')
    .max(ORGS_LIMITS.cidrsPerOrg, `more than ${ORGS_LIMITS.cidrsPerOrg} blocks`),
  country: z
    .string({ error: required('a two-letter country code') })
    .regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 code such as NL')
    .transform((s) => s.toUpperCase())
    .optional(),
  contact: ContactIn.optional(),
  cert: CertIn.optional(),
  tags: z
    .array(
      z
        .string({ error: required('text') })
        .regex(/^[a-z0-9][a-z0-9._:-]{0,63}$/, 'tags are 1-64 characters: lower-case letters, digits, . _ : -'),
    )
    .max(64, 'more than 64 tags')
    .optional(),
});

const OrgsFile = z
  .array(OrgIn, { error: 'expected a list of organisations (each item starting with "- name:")' })
  .max(ORGS_LIMITS.organisations, `more than ${ORGS_LIMITS.organisations} organisations`);

type OrgInput = z.infer<typeof OrgIn>;

/** "entry 3 (\"St Example\"), cidrs[1]" from an issue path into the raw list. */
function where(raw: unknown, issuePath: readonly PropertyKey[]): string {
  if (issuePath.length === 0) return '';
  const [index, ...rest] = issuePath;
  if (typeof index !== 'number') return issuePath.map(String).join('.');
  const item = Array.isArray(raw) ? (raw[index] as { name?: unknown } | undefined) : undefined;
  const name = typeof item?.name === 'string' && item.name.trim() !== '' ? ` (${JSON.stringify(item.name.trim())})` : '';
  let field = '';
  for (const p of rest) field += typeof p === 'number' ? `[${p}]` : `${field === '' ? '' : '.'}${String(p)}`;
  return `entry ${index + 1}${name}${field === '' ? '' : `, ${field}`}`;
}

const KNOWN_KEYS: Record<string, string> = {
  contact: 'name, email, phone, pgpKey',
  cert: 'name, email',
  entry: 'name, cidrs, country, contact, cert, tags',
};

function issueMessage(i: z.core.$ZodIssue): string {
  if (i.code !== 'unrecognized_keys') return i.message;
  const last = i.path[i.path.length - 1];
  const known = KNOWN_KEYS[typeof last === 'string' ? last : 'entry'] ?? '';
  const keys = i.keys.map((k) => JSON.stringify(k)).join(', ');
  return `unknown key${i.keys.length > 1 ? 's' : ''} ${keys} (known: ${known})`;
}

function fail(file: string, problems: string[]): never {
  const shown = problems.slice(0, ORGS_LIMITS.reportedIssues);
  const more = problems.length - shown.length;
  const lines = shown.map((p) => `  - ${p}`);
  if (more > 0) lines.push(`  - ... and ${more} more`);
  throw new AttributionError(`${file}: ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}:\n${lines.join('\n')}`, { file });
}

/** The validated organisations and the range table over all their blocks. */
export class OrgTable {
  readonly file: string;
  readonly organisations: readonly Organisation[];
  private readonly table: PrefixTable<number>;
  /** Things worth telling the user that do not stop the run (duplicate blocks). */
  readonly warnings: readonly string[];

  private constructor(file: string, organisations: Organisation[], entries: Array<{ cidr: Cidr; value: number }>) {
    this.file = file;
    this.organisations = organisations;
    this.table = PrefixTable.build(entries);
    this.warnings = this.table.duplicates
      .filter((d) => d.kept !== d.ignored)
      .map(
        (d) =>
          `${file}: ${d.cidr.text} is listed by both ${JSON.stringify(organisations[d.kept]!.name)} and ` +
          `${JSON.stringify(organisations[d.ignored]!.name)}; the first one listed wins`,
      );
  }

  /**
   * Validates parsed YAML (`data`) as an orgs list. `file` names the source in messages and
   * relative `pgpKey` paths are resolved against `baseDir` (the file's folder).
   */
  static fromData(data: unknown, file: string, baseDir: string = path.dirname(path.resolve(file))): OrgTable {
    if (data === null || data === undefined) fail(file, ['the file is empty; expected a list of organisations']);
    const parsed = OrgsFile.safeParse(data);
    if (!parsed.success) fail(file, parsed.error.issues.map((i) => `${where(data, i.path) || 'file'}: ${issueMessage(i)}`));
    const problems: string[] = [];
    const organisations: Organisation[] = [];
    const entries: Array<{ cidr: Cidr; value: number }> = [];
    parsed.data.forEach((o: OrgInput, index) => {
      const org = toOrganisation(o, baseDir, (field, message) => problems.push(`${where(data, [index, ...field])}: ${message}`));
      const seen = new Set<string>();
      for (const text of o.cidrs) {
        const c = parseCidr(text.trim()) as Cidr; /* validated by the schema */
        if (seen.has(c.text)) continue;
        seen.add(c.text);
        entries.push({ cidr: c, value: index });
        org.cidrs.push(c.text);
      }
      organisations.push(org);
    });
    if (entries.length > ORGS_LIMITS.cidrsTotal) problems.push(`more than ${ORGS_LIMITS.cidrsTotal} CIDR blocks in total`);
    if (problems.length > 0) fail(file, problems);
    return new OrgTable(file, organisations, entries);
  }

  /** Reads and validates an orgs.yaml file (size-capped). */
  static load(file: string): OrgTable {
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new AttributionError(`${file}: not a file (orgs.yaml expected)`, { file });
      size = st.size;
    } catch (err) {
      if (err instanceof AttributionError) throw err;
      const reason = (err as { code?: string }).code === 'ENOENT' ? 'file not found' : `cannot read it: ${messageOf(err)}`;
      throw new AttributionError(`${file}: ${reason} (organisations file, orgs.yaml)`, { cause: err, file });
    }
    if (size > ORGS_LIMITS.fileBytes) throw new AttributionError(`${file}: larger than ${ORGS_LIMITS.fileBytes} bytes`, { file });
    const data = readYamlFile(file, ORGS_LIMITS.fileBytes, (message, cause) =>
      new AttributionError(cause === undefined ? message : `${message}: ${messageOf(cause)}`, { cause, file }),
    );
    return OrgTable.fromData(data, file);
  }

  /** The organisation whose most specific block contains `ip`, and that block. */
  lookup(ip: ParsedIp): { org: Organisation; network: string } | null {
    const m = this.table.lookup(ip);
    return m === null ? null : { org: this.organisations[m.value]!, network: m.cidr.text };
  }
}

function toOrganisation(o: OrgInput, baseDir: string, problem: (field: PropertyKey[], message: string) => void): Organisation {
  const org: Organisation = { name: o.name, cidrs: [] };
  if (o.country !== undefined) org.country = o.country;
  if (o.tags !== undefined) org.tags = [...new Set(o.tags)];
  if (o.cert !== undefined) org.cert = { name: o.cert.name, email: o.cert.email };
  if (o.contact !== undefined) {
    const contact: OrgContact = {};
    if (o.contact.name !== undefined) contact.name = o.contact.name;
    if (o.contact.email !== undefined) contact.email = o.contact.email;
    if (o.contact.phone !== undefined) contact.phone = o.contact.phone;
    if (o.contact.pgpKey !== undefined) {
      const key = path.resolve(baseDir, o.contact.pgpKey);
      let ok = false;
      try {
        ok = statSync(key).isFile();
      } catch {
        ok = false;
      }
      if (ok) contact.pgpKey = key;
      else problem(['contact', 'pgpKey'], `file not found: ${key}`);
    }
    org.contact = contact;
  }
  return org;
}
