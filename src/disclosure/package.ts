/**
 * `medsurface disclose prepare --out DIR`: groups the open findings into cases (cases.ts), then
 * writes, for every active case with something still exposed, a folder
 *
 *   DIR/case-<id>-<party>/  message.txt, message.html (templates.ts), affected.csv,
 *                           affected.json (that party's services and findings only), manifest.json
 *
 * and, for every CERT of the directory with cases in its constituency, a batch covering all
 * those owners at once:
 *
 *   DIR/cert-batches/<cert>/  batch.csv (one line per finding, with case and party), xarf.jsonl
 *                             (one XARF v4 report per finding, xarf.ts)
 *
 * plus DIR/index.json listing both. Every file carries the TLP marking (a `tlp` field or column,
 * the label at the top of the messages). Folders are created 0700 and files 0600: they name
 * exposed systems. The package is what `send` sends (its manifest names recipient and subject;
 * edits to message.txt/html before sending are kept), and each case records a `prepared` event
 * with the folder and the files' SHA-256.
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { VERSION } from '../core/version.js';
import type { Severity } from '../core/types.js';
import { csvLine } from '../export/csv.js';
import { type AffectedService, AFFECTED_CSV_COLUMNS, type RemediationLookup, affectedCells, affectedCsv, affectedServices, summarize } from './affected.js';
import { type CaseRow, caseFindings, listCases, recordEvent, setRecipient, syncCases, type SyncResult } from './cases.js';
import type { CertContact } from './certs.js';
import { type ContactSources, recipientFor } from './contacts.js';
import { DisclosureError } from './errors.js';
import { loadPublicKey } from './mail.js';
import { ACTIVE_STATES } from './states.js';
import type { DisclosureDb } from './tables.js';
import type { MessageData, MessageTemplates } from './templates.js';
import { type Tlp, tlpColour, tlpLabel, tlpMeaning } from './tlp.js';
import { xarfReport } from './xarf.js';

export const MANIFEST_FILE = 'manifest.json';
export const PACKAGE_FILES = { text: 'message.txt', html: 'message.html', csv: 'affected.csv', json: 'affected.json' } as const;

export interface Reporter {
  /** Who signs the messages and reports (a person, team or organisation). */
  name: string;
  /** Reply address, also the X-ARF reporter contact. */
  email: string;
}

export interface PrepareOptions extends ContactSources {
  outDir: string;
  templates: MessageTemplates;
  remediation: RemediationLookup;
  tlp: Tlp;
  reporter: Reporter;
  minSeverity?: Severity;
  /** Days until the planned re-measurement, for the message (default 30). */
  remeasureDays?: number;
  now?: () => string;
}

/** What manifest.json holds; `send` reads it back. */
export interface PackageManifest {
  tlp: string;
  medsurface: string;
  generatedAt: string;
  case: { id: number; party: string; partyKind: string; country: string | null };
  recipient: { name: string; email: string; source: string; pgpKey?: string; pgpFingerprint?: string } | null;
  from: string;
  subject: string;
  findings: number;
  services: number;
  attachments: string[];
  sha256: Record<string, string>;
}

export interface PreparedCase {
  caseId: number;
  party: string;
  state: string;
  dir: string;
  recipient: PackageManifest['recipient'];
  services: number;
  findings: number;
  /** Addresses in the package (for the summary line and the tests). */
  addresses: string[];
}

export interface PrepareResult {
  sync: SyncResult;
  cases: PreparedCase[];
  certBatches: { cert: string; email: string; dir: string; cases: number; findings: number }[];
  /** RDAP lookups made and the failures among them. */
  rdap: { lookups: number; errors: string[] };
}

/** A folder name part: lower case letters, digits and dashes, at most 40 characters. */
export function slug(s: string): string {
  return (
    s
      .normalize('NFKD')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40)
      .replace(/-+$/, '') || 'party'
  );
}

function writePrivate(file: string, content: string): string {
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
  return createHash('sha256').update(content).digest('hex');
}

function makeDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

function remedies(services: readonly AffectedService[]): MessageData['remedies'] {
  const seen = new Map<string, MessageData['remedies'][number]>();
  for (const s of services) {
    for (const f of s.findings) {
      if (!seen.has(f.id)) seen.set(f.id, { id: f.id, title: f.title, severity: f.severity, remediation: f.remediation, references: f.references });
    }
  }
  return [...seen.values()];
}

/** Writes the packages (see the module comment). */
export async function preparePackages(db: DisclosureDb, o: PrepareOptions): Promise<PrepareResult> {
  const now = o.now ?? (() => new Date().toISOString());
  const sync = await syncCases(db, { ...(o.minSeverity ? { minSeverity: o.minSeverity } : {}), now });
  const generatedAt = now();
  const outDir = path.resolve(o.outDir);
  makeDir(outDir);
  const prepared: PreparedCase[] = [];
  const batchRows = new Map<CertContact, { c: CaseRow; services: AffectedService[] }[]>();
  const tlp = { level: o.tlp, label: tlpLabel(o.tlp), meaning: tlpMeaning(o.tlp), colour: tlpColour(o.tlp) };

  for (const c of await listCases(db, { states: ACTIVE_STATES })) {
    const rows = await caseFindings(db, c.id, { unresolved: true });
    if (rows.length === 0) continue;
    const services = affectedServices(rows, o.remediation);
    const addresses = [...new Set(services.map((s) => s.ip))];
    const recipient = await recipientFor(c, addresses, o);
    let pgpFingerprint: string | undefined;
    if (recipient?.pgpKey) pgpFingerprint = (await loadPublicKey(recipient.pgpKey)).fingerprint;
    const summary = summarize(services);
    const data: MessageData = {
      tlp,
      case: { id: c.id, party: c.partyName, partyKind: c.partyKind, country: c.country },
      recipient: recipient === null ? null : { name: recipient.name, email: recipient.email, isCert: recipient.source === 'cert-directory' || recipient.source === 'orgs-cert' },
      reporter: o.reporter,
      generatedAt,
      summary,
      services,
      remedies: remedies(services),
      attachments: [PACKAGE_FILES.csv, PACKAGE_FILES.json],
      remeasureDays: o.remeasureDays ?? 30,
    };
    const message = o.templates.render(data);
    const dir = path.join(outDir, `case-${c.id}-${slug(c.partyName)}`);
    makeDir(dir);
    const sha256: Record<string, string> = {};
    sha256[PACKAGE_FILES.text] = writePrivate(path.join(dir, PACKAGE_FILES.text), message.text);
    sha256[PACKAGE_FILES.html] = writePrivate(path.join(dir, PACKAGE_FILES.html), message.html);
    sha256[PACKAGE_FILES.csv] = writePrivate(path.join(dir, PACKAGE_FILES.csv), affectedCsv(o.tlp, services));
    const json = {
      tlp: tlpLabel(o.tlp),
      tlpMeaning: tlpMeaning(o.tlp),
      generatedAt,
      generator: `medsurface ${VERSION}`,
      case: { id: c.id, party: c.partyName, country: c.country },
      summary,
      services,
    };
    sha256[PACKAGE_FILES.json] = writePrivate(path.join(dir, PACKAGE_FILES.json), `${JSON.stringify(json, null, 2)}\n`);
    const manifestRecipient: PackageManifest['recipient'] =
      recipient === null ? null : { ...recipient, ...(pgpFingerprint ? { pgpFingerprint } : {}) };
    const manifest: PackageManifest = {
      tlp: tlpLabel(o.tlp),
      medsurface: VERSION,
      generatedAt,
      case: data.case,
      recipient: manifestRecipient,
      from: o.reporter.email,
      subject: message.subject,
      findings: summary.findings,
      services: summary.services,
      attachments: [PACKAGE_FILES.csv, PACKAGE_FILES.json],
      sha256,
    };
    writePrivate(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    await setRecipient(db, c.id, recipient);
    await recordEvent(db, c.id, 'prepared', { dir, recipient: recipient?.email ?? null, findings: summary.findings, sha256 }, now);
    prepared.push({ caseId: c.id, party: c.partyName, state: c.state, dir, recipient: manifestRecipient, services: summary.services, findings: summary.findings, addresses });

    const org = o.orgs?.organisations.find((x) => c.partyKind === 'org' && x.name === c.partyName);
    for (const cert of o.certs.constituencyOf(org?.country ?? c.country)) {
      const list = batchRows.get(cert) ?? [];
      list.push({ c, services });
      batchRows.set(cert, list);
    }
  }

  const certBatches: PrepareResult['certBatches'] = [];
  const usedSlugs = new Set<string>();
  for (const [cert, entries] of batchRows) {
    let name = slug(cert.name);
    for (let i = 2; usedSlugs.has(name); i++) name = `${slug(cert.name)}-${i}`;
    usedSlugs.add(name);
    const dir = path.join(outDir, 'cert-batches', name);
    makeDir(dir);
    let csv = csvLine(['case', 'party', 'country', ...AFFECTED_CSV_COLUMNS]);
    let xarf = '';
    let findings = 0;
    for (const { c, services } of entries) {
      for (const s of services) {
        for (const f of s.findings) {
          findings++;
          csv += csvLine([c.id, c.partyName, c.country, ...affectedCells(o.tlp, s, f)]);
          xarf += `${JSON.stringify(xarfReport({ org: o.reporter.name, contact: o.reporter.email }, o.tlp, { caseId: c.id, party: c.partyName, country: c.country }, s, f))}\n`;
        }
      }
    }
    writePrivate(path.join(dir, 'batch.csv'), csv);
    writePrivate(path.join(dir, 'xarf.jsonl'), xarf);
    certBatches.push({ cert: cert.name, email: cert.email, dir, cases: entries.length, findings });
  }

  const index = {
    tlp: tlpLabel(o.tlp),
    generatedAt,
    generator: `medsurface ${VERSION}`,
    cases: prepared.map((p) => ({ case: p.caseId, party: p.party, state: p.state, folder: path.basename(p.dir), recipient: p.recipient?.email ?? null, services: p.services, findings: p.findings })),
    certBatches: certBatches.map((b) => ({ cert: b.cert, email: b.email, folder: path.relative(outDir, b.dir), cases: b.cases, findings: b.findings })),
    unattributedFindings: sync.unattributed,
  };
  writePrivate(path.join(outDir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  return { sync, cases: prepared, certBatches, rdap: { lookups: o.rdap.lookups, errors: [...o.rdap.errors] } };
}

/** Reads a package's manifest back (send). */
export function parseManifest(text: string, file: string): PackageManifest {
  let m: PackageManifest;
  try {
    m = JSON.parse(text) as PackageManifest;
  } catch (err) {
    throw new DisclosureError(`${file}: not JSON (was the package edited?)`, { cause: err, file });
  }
  if (typeof m?.case?.id !== 'number' || typeof m.subject !== 'string' || !Array.isArray(m.attachments)) {
    throw new DisclosureError(`${file}: not a medsurface package manifest (case, subject, attachments missing)`, { file });
  }
  return m;
}
