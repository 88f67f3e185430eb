/**
 * The CERT directory (`--certs certs.yaml`): who handles disclosures for a country, and the
 * sector CERTs (Health-ISAC, Z-CERT, ...) that take batches for theirs. Owners with no contact
 * of their own are notified through their country's national CERT, and every CERT gets a batch
 * export of the cases in its constituency (package.ts).
 *
 *   national:
 *     NL: { name: NCSC-NL, email: cert@ncsc.example }
 *   sector:
 *     - name: Z-CERT
 *       email: info@z-cert.example
 *       countries: [NL]          # omitted: every case, whatever its country
 *
 * Fill the real addresses from FIRST's team directory (https://www.first.org/members/teams/)
 * and the CERTs' own pages; docs/examples/certs.yaml ships only example.org placeholders.
 * The file is validated as a whole; every problem is listed with its place in the file.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { messageOf } from '../core/errors.js';
import { readYamlFile } from '../core/yaml-file.js';
import { DisclosureError } from './errors.js';

export const CERTS_LIMITS = { fileBytes: 1024 * 1024, national: 300, sector: 200, reportedIssues: 20 } as const;

export interface CertContact {
  name: string;
  email: string;
  /** Absolute path of the CERT's OpenPGP public key file, when given. */
  pgpKey?: string;
}

export interface SectorCert extends CertContact {
  /** Countries covered (upper case); undefined: every case. */
  countries?: string[];
}

const Text = z.string().trim().min(1, 'must not be empty').max(200, 'longer than 200 characters');
const Email = z.email({ error: (iss) => (iss.input === undefined ? 'required' : `not a valid e-mail address: ${JSON.stringify(iss.input)}`) });
const Country = z
  .string()
  .regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 code such as NL')
  .transform((s) => s.toUpperCase());
const Entry = z.strictObject({ name: Text, email: Email, pgpKey: Text.optional() });
const SectorEntry = Entry.extend({ countries: z.array(Country).min(1, 'list at least one country, or leave countries out').max(300).optional() });
const CertsFile = z.strictObject({
  national: z.record(z.string(), Entry).optional(),
  sector: z.array(SectorEntry).max(CERTS_LIMITS.sector, `more than ${CERTS_LIMITS.sector} sector CERTs`).optional(),
});

/** The national CERT per country and the sector CERTs, validated. */
export class CertDirectory {
  readonly file: string | null;
  readonly national: ReadonlyMap<string, CertContact>;
  readonly sector: readonly SectorCert[];

  private constructor(file: string | null, national: Map<string, CertContact>, sector: SectorCert[]) {
    this.file = file;
    this.national = national;
    this.sector = sector;
  }

  static empty(): CertDirectory {
    return new CertDirectory(null, new Map(), []);
  }

  /** Validates parsed YAML; relative `pgpKey` paths are resolved against `baseDir`. */
  static fromData(data: unknown, file: string, baseDir: string = path.dirname(path.resolve(file))): CertDirectory {
    const fail = (problems: string[]): never => {
      const shown = problems.slice(0, CERTS_LIMITS.reportedIssues).map((p) => `  - ${p}`);
      if (problems.length > shown.length) shown.push(`  - ... and ${problems.length - shown.length} more`);
      throw new DisclosureError(`${file}: ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}:\n${shown.join('\n')}`, { file });
    };
    if (data === null || data === undefined) fail(['the file is empty; expected "national:" and/or "sector:"']);
    const parsed = CertsFile.safeParse(data);
    if (!parsed.success) {
      fail(parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : 'file'}: ${i.code === 'unrecognized_keys' ? `unknown key(s) ${i.keys.join(', ')}` : i.message}`));
    }
    const problems: string[] = [];
    const key = (where: string, k: string | undefined): string | undefined => {
      if (k === undefined) return undefined;
      const p = path.resolve(baseDir, k);
      let ok = false;
      try {
        ok = statSync(p).isFile();
      } catch {
        ok = false;
      }
      if (!ok) problems.push(`${where}.pgpKey: file not found: ${p}`);
      return p;
    };
    const national = new Map<string, CertContact>();
    const entries = Object.entries(parsed.data!.national ?? {});
    if (entries.length > CERTS_LIMITS.national) problems.push(`national: more than ${CERTS_LIMITS.national} countries`);
    for (const [code, e] of entries) {
      if (!/^[A-Za-z]{2}$/.test(code)) {
        problems.push(`national.${code}: not an ISO 3166-1 alpha-2 country code (e.g. NL)`);
        continue;
      }
      const cc = code.toUpperCase();
      if (national.has(cc)) problems.push(`national.${code}: ${cc} is listed twice`);
      const pgpKey = key(`national.${code}`, e.pgpKey);
      national.set(cc, { name: e.name, email: e.email, ...(pgpKey ? { pgpKey } : {}) });
    }
    const sector = (parsed.data!.sector ?? []).map((e, i) => {
      const pgpKey = key(`sector[${i}]`, e.pgpKey);
      return { name: e.name, email: e.email, ...(pgpKey ? { pgpKey } : {}), ...(e.countries ? { countries: [...new Set(e.countries)] } : {}) };
    });
    if (problems.length > 0) fail(problems);
    return new CertDirectory(file, national, sector);
  }

  static load(file: string): CertDirectory {
    try {
      if (!statSync(file).isFile()) throw new DisclosureError(`${file}: not a file (CERT directory, certs.yaml, expected)`, { file });
    } catch (err) {
      if (err instanceof DisclosureError) throw err;
      const reason = (err as { code?: string }).code === 'ENOENT' ? 'file not found' : `cannot read it: ${messageOf(err)}`;
      throw new DisclosureError(`${file}: ${reason} (CERT directory, certs.yaml)`, { cause: err, file });
    }
    const data = readYamlFile(file, CERTS_LIMITS.fileBytes, (message, cause) =>
      new DisclosureError(cause === undefined ? message : `${message}: ${messageOf(cause)}`, { cause, file }),
    );
    return CertDirectory.fromData(data, file);
  }

  nationalFor(country: string | null): CertContact | null {
    return country === null ? null : (this.national.get(country.toUpperCase()) ?? null);
  }

  /** The CERTs whose constituency includes a case in `country` (null: no country known): national first, then sector. */
  constituencyOf(country: string | null): CertContact[] {
    const out: CertContact[] = [];
    const n = this.nationalFor(country);
    if (n) out.push(n);
    for (const s of this.sector) {
      if (s.countries === undefined || (country !== null && s.countries.includes(country.toUpperCase()))) out.push(s);
    }
    return out;
  }

  /** Every CERT of the directory, national ones first (for the batch exports). */
  all(): CertContact[] {
    return [...this.national.values(), ...this.sector];
  }
}
