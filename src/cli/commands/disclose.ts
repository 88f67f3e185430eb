/**
 * `medsurface disclose`: the responsible-disclosure workflow over the inventory (src/disclosure/,
 * docs/disclosure.md):
 *   status [CASE] [--json]            cases, or one case with its findings and history
 *   note CASE TEXT                    a note in the case's history
 *   set-state CASE STATE [--note T]   acknowledged, remediating, closed-no-response, ...
 *   import-rdap FILE.json             RDAP abuse contacts into the contact cache
 *   prepare --out DIR                 group findings into cases, write packages and CERT batches
 *   send [--smtp HOST:PORT --yes]     mail the packages (nothing is sent without --yes)
 *   remeasure [--after 30d]           rescan notified cases, resolve the fixed ones
 *   report [--format md|json]         exposures fixed, by party and over time
 * Each subcommand writes through a CommandIo, so the tests run them in-process.
 */
import os from 'node:os';
import type { Command } from 'commander';
import type { SinkGuard } from '../../alerts/config.js';
import type { DeliveryContext } from '../../alerts/transport.js';
import { OrgTable } from '../../attribution/index.js';
import { UsageError } from '../../core/errors.js';
import { SEVERITIES, type Severity } from '../../core/types.js';
import { openKyselyInventory } from '../../inventory/index.js';
import { makeTable } from '../../output/writer.js';
import type { ResultWriter } from '../../output/writer.js';
import { type HostResolver, createHostResolver } from '../../scope/resolver.js';
import {
  CASE_STATES,
  CertDirectory,
  DEFAULT_TLP,
  MessageTemplates,
  RdapResolver,
  type RescanGroup,
  addNote,
  caseEvents,
  caseFindings,
  disclosureDb,
  getCase,
  importRdapFile,
  listCases,
  parseAge,
  parseCaseId,
  parseCaseState,
  parseTlp,
  preparePackages,
  remediationLookup,
  remediationReport,
  remeasure,
  reportMarkdown,
  sendCases,
  setCaseState,
} from '../../disclosure/index.js';
import type { SmtpTarget } from '../../disclosure/mail.js';
import { intOption, listOption } from '../options.js';
import type { CommandIo } from './inventory.js';
import { executeScan, scanOptions } from './scan.js';

const processIo: CommandIo = {
  out: process.stdout,
  err: process.stderr,
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

/** What the tests replace: where deliveries may connect, how names resolve, the clock. */
export interface DiscloseDeps {
  /** Checked before every SMTP and RDAP connection (default: any destination the user named). */
  guard?: SinkGuard;
  resolve?: HostResolver;
  now?: () => string;
  /** Passed to the rescans' executeScan (default: the emergency-stop folder is watched). */
  stopDir?: string | null;
}

const line = (w: NodeJS.WritableStream, s: string): void => {
  w.write(s.endsWith('\n') ? s : `${s}\n`);
};

function deliveryContext(deps: DiscloseDeps): DeliveryContext {
  return { guard: deps.guard ?? (() => {}), resolve: deps.resolve ?? createHostResolver(), now: Date.now, hostname: os.hostname() };
}

async function withDb<T>(location: string | undefined, fn: (db: ReturnType<typeof disclosureDb>, where: string) => Promise<T>): Promise<T> {
  const inv = await openKyselyInventory(location);
  try {
    return await fn(disclosureDb(inv.db), inv.location);
  } finally {
    await inv.close();
  }
}

// ---------------------------------------------------------------- status, note, set-state

export async function executeStatus(caseArg: string | undefined, o: { db?: string; json?: boolean }, io: CommandIo = processIo): Promise<void> {
  await withDb(o.db, async (db, where) => {
    if (caseArg !== undefined) {
      const id = parseCaseId(caseArg);
      const c = await getCase(db, id);
      const findings = await caseFindings(db, id);
      const history = await caseEvents(db, id);
      if (o.json) return line(io.out, JSON.stringify({ ...c, findingList: findings, history }, null, 2));
      line(io.out, `case ${c.id}: ${c.partyName} (${c.partyKind}${c.country ? `, ${c.country}` : ''}), ${c.state}`);
      line(io.out, `recipient: ${c.recipient ? `${c.recipient.name} <${c.recipient.email}> (${c.recipient.source}${c.recipient.pgpKey ? ', OpenPGP' : ''})` : '- (run prepare)'}`);
      line(io.out, `findings: ${c.findings.open} open, ${c.findings.unverified} unverified, ${c.findings.resolved} resolved, ${c.findings.triaged} triaged (${c.findings.total} in all)`);
      const t = makeTable(['address', 'port', 'finding', 'severity', 'state', 'last seen'], io.out);
      for (const f of findings) t.push([f.ip, String(f.port), f.checkId, f.severity, f.userState ?? f.state, f.lastSeen]);
      if (findings.length > 0) line(io.out, t.toString());
      line(io.out, 'history:');
      for (const e of history) {
        const states = e.fromState !== null || e.toState !== null ? ` ${e.fromState ?? '-'} → ${e.toState ?? '-'}` : '';
        const detail = e.detail ? ` ${Object.entries(e.detail).filter(([k]) => k !== 'sha256').map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')}` : '';
        line(io.out, `  ${e.at} ${e.event}${states}${detail}`);
      }
      return;
    }
    const cases = await listCases(db);
    if (o.json) return line(io.out, JSON.stringify(cases, null, 2));
    if (cases.length === 0) return line(io.out, `No disclosure case in ${where} yet (medsurface disclose prepare --out DIR creates them).`);
    const t = makeTable(['case', 'state', 'party', 'country', 'open / all findings', 'recipient', 'notified', 'updated'], io.out);
    for (const c of cases) {
      t.push([String(c.id), c.state, `${c.partyName} (${c.partyKind})`, c.country ?? '-', `${c.findings.open + c.findings.unverified} / ${c.findings.total}`, c.recipient?.email ?? '-', c.notifiedAt ?? '-', c.updatedAt]);
    }
    line(io.out, t.toString());
  });
}

export async function executeNote(caseArg: string, text: string, o: { db?: string }, io: CommandIo = processIo, deps: DiscloseDeps = {}): Promise<void> {
  const id = parseCaseId(caseArg);
  await withDb(o.db, (db) => addNote(db, id, text, deps.now));
  line(io.out, `case ${id}: note added`);
}

export async function executeSetState(caseArg: string, state: string, o: { db?: string; note?: string }, io: CommandIo = processIo, deps: DiscloseDeps = {}): Promise<void> {
  const id = parseCaseId(caseArg);
  const to = parseCaseState(state);
  const r = await withDb(o.db, (db) => setCaseState(db, id, to, { ...(o.note !== undefined ? { note: o.note } : {}), ...(deps.now ? { now: deps.now } : {}) }));
  line(io.out, `case ${id}: ${r.from} → ${r.to}`);
}

export async function executeImportRdap(file: string, o: { db?: string }, io: CommandIo = processIo, deps: DiscloseDeps = {}): Promise<void> {
  const r = await withDb(o.db, (db) => importRdapFile(db, file, deps.now));
  line(io.out, `${file}: ${r.networks} network(s) stored, ${r.withAbuse} with an abuse contact`);
}

// ---------------------------------------------------------------- prepare

export interface PrepareCliOptions {
  db?: string;
  out: string;
  orgs?: string;
  certs?: string;
  templates?: string;
  tlp?: string;
  from?: string;
  reporter?: string;
  minSeverity?: string;
  rdap?: string;
  rdapDelay?: number;
  rdapMax?: number;
  remeasureDays?: number;
  json?: boolean;
}

function parseSeverity(s: string | undefined): Severity | undefined {
  if (s === undefined) return undefined;
  if (!(SEVERITIES as readonly string[]).includes(s)) throw new UsageError(`--min-severity must be one of ${SEVERITIES.join(', ')} (got ${JSON.stringify(s)})`);
  return s as Severity;
}

const EMAIL_RE = /^[^\s@<>()"',;]{1,64}@[A-Za-z0-9.-]{1,253}$/;

function checkEmail(flag: string, v: string | undefined): string {
  if (v === undefined || v.trim() === '') throw new UsageError(`${flag} ADDRESS is required: the reply address in the messages and the reporter in the X-ARF reports`);
  if (!EMAIL_RE.test(v.trim())) throw new UsageError(`${flag}: not an e-mail address: ${JSON.stringify(v)}`);
  return v.trim();
}

function checkRdapUrl(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new UsageError(`--rdap: not a URL: ${JSON.stringify(v)} (e.g. https://rdap.db.ripe.net)`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UsageError(`--rdap: only http and https URLs (got ${u.protocol})`);
  return v;
}

export async function executePrepare(o: PrepareCliOptions, io: CommandIo = processIo, deps: DiscloseDeps = {}): Promise<void> {
  const tlp = o.tlp === undefined ? DEFAULT_TLP : parseTlp(o.tlp);
  const from = checkEmail('--from', o.from);
  const minSeverity = parseSeverity(o.minSeverity);
  // Every input file is read and checked before anything is written.
  const orgs = o.orgs === undefined ? null : OrgTable.load(o.orgs);
  const certs = o.certs === undefined ? CertDirectory.empty() : CertDirectory.load(o.certs);
  const templates = MessageTemplates.load(o.templates);
  const rdapOnline =
    o.rdap === undefined
      ? null
      : { baseUrl: checkRdapUrl(o.rdap), ctx: deliveryContext(deps), ...(o.rdapDelay !== undefined ? { delayMs: o.rdapDelay } : {}), ...(o.rdapMax !== undefined ? { maxLookups: o.rdapMax } : {}) };
  const r = await withDb(o.db, (db) =>
    preparePackages(db, {
      outDir: o.out,
      orgs,
      certs,
      rdap: new RdapResolver(db, rdapOnline, deps.now),
      templates,
      remediation: remediationLookup(),
      tlp,
      reporter: { name: o.reporter ?? from, email: from },
      ...(minSeverity ? { minSeverity } : {}),
      ...(o.remeasureDays !== undefined ? { remeasureDays: o.remeasureDays } : {}),
      ...(deps.now ? { now: deps.now } : {}),
    }),
  );
  if (o.json) return line(io.out, JSON.stringify(r, null, 2));
  line(io.out, `${r.sync.created.length} new case(s), ${r.sync.grown.length} case(s) with new findings, ${r.sync.findingsAdded} finding(s) added`);
  for (const c of r.cases) {
    const to = c.recipient ? `${c.recipient.email}${c.recipient.pgpKey ? ' (OpenPGP)' : ''}` : 'NO RECIPIENT';
    line(io.out, `case ${c.caseId} ${c.state} ${c.party}: ${c.findings} finding(s) on ${c.services} service(s), ${c.addresses.length} address(es) -> ${to}\n  ${c.dir}`);
  }
  for (const b of r.certBatches) line(io.out, `CERT batch for ${b.cert} <${b.email}>: ${b.cases} case(s), ${b.findings} finding(s)\n  ${b.dir}`);
  if (r.cases.length === 0) line(io.out, 'No open case with exposed services: no package written.');
  if (r.sync.unattributed > 0) {
    line(io.err, `medsurface: ${r.sync.unattributed} open finding(s) on hosts with no organisation, AS or country: nobody to notify (give the scan --orgs, --asn or --geoip, then medsurface attribute)`);
  }
  if (r.rdap.lookups > 0 || r.rdap.errors.length > 0) line(io.err, `medsurface: ${r.rdap.lookups} RDAP lookup(s), ${r.rdap.errors.length} failed`);
  for (const e of r.rdap.errors.slice(0, 10)) line(io.err, `  ${e}`);
  line(io.err, `medsurface: packages are marked ${tlp.toUpperCase()}; review them, then: medsurface disclose send (prints what it would send; --yes sends)`);
}

// ---------------------------------------------------------------- send

export interface SendCliOptions {
  db?: string;
  smtp?: string;
  from?: string;
  yes?: boolean;
  case?: string[];
  packages?: string;
  smtpSecure?: boolean;
  smtpRequireTls?: boolean;
  smtpUser?: string;
  smtpTimeout?: number;
  json?: boolean;
}

/** `HOST:PORT`, `[v6]:PORT`, or HOST alone (port 25). */
export function parseSmtp(spec: string, o: SendCliOptions): SmtpTarget {
  const m = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(spec) ?? /^([^:[\]\s]+)(?::(\d{1,5}))?$/.exec(spec);
  if (!m) throw new UsageError(`--smtp: ${JSON.stringify(spec)} is not HOST:PORT (e.g. 127.0.0.1:25, smtp.example.org:587)`);
  const port = m[2] === undefined ? (o.smtpSecure ? 465 : 25) : Number(m[2]);
  if (port < 1 || port > 65535) throw new UsageError(`--smtp: port ${port} is outside 1-65535`);
  let auth: SmtpTarget['auth'];
  if (o.smtpUser !== undefined) {
    const pass = process.env.MEDSURFACE_SMTP_PASSWORD;
    if (pass === undefined || pass === '') throw new UsageError('--smtp-user needs the password in the environment variable MEDSURFACE_SMTP_PASSWORD');
    auth = { user: o.smtpUser, pass };
  }
  return { host: m[1]!, port, secure: o.smtpSecure === true, requireTLS: o.smtpRequireTls === true, timeoutMs: o.smtpTimeout ?? 30_000, ...(auth ? { auth } : {}) };
}

export async function executeSend(o: SendCliOptions, io: CommandIo = processIo, deps: DiscloseDeps = {}): Promise<void> {
  const yes = o.yes === true;
  if (yes && o.smtp === undefined) throw new UsageError('--yes needs --smtp HOST:PORT (the mail server to send through)');
  const smtp = o.smtp === undefined ? null : parseSmtp(o.smtp, o);
  const from = o.from === undefined ? undefined : checkEmail('--from', o.from);
  const caseIds = (o.case ?? []).map(parseCaseId);
  const r = await withDb(o.db, (db) =>
    sendCases(db, {
      smtp,
      yes,
      ctx: deliveryContext(deps),
      ...(from ? { from } : {}),
      ...(caseIds.length > 0 ? { caseIds } : {}),
      ...(o.packages ? { packagesDir: o.packages } : {}),
      ...(deps.now ? { now: deps.now } : {}),
    }),
  );
  if (o.json) line(io.out, JSON.stringify(r, null, 2));
  else {
    for (const p of r.planned) {
      if (p.skip !== null) {
        line(io.out, `case ${p.caseId} ${p.party}: not sent: ${p.skip}`);
        continue;
      }
      const enc = p.encrypted ? `OpenPGP-encrypted to ${p.pgpFingerprint ?? 'the recipient key'}` : 'not encrypted (no key for this recipient)';
      const verb = r.dryRun ? 'would send' : 'to';
      line(io.out, `case ${p.caseId} ${p.party}: ${verb} ${p.to}: "${p.subject}", ${enc}, attachments ${p.attachments.join(', ')}\n  ${p.dir}`);
    }
    for (const s of r.sent) line(io.out, `sent case ${s.caseId} to ${s.to}, Message-ID ${s.messageId}`);
    for (const f of r.failed) line(io.err, `medsurface: case ${f.caseId}: not sent: ${f.error}`);
    if (r.dryRun) line(io.err, 'medsurface: nothing was sent. Review the packages, then add --yes (with --smtp HOST:PORT) to send.');
    else line(io.err, `medsurface: ${r.sent.length} message(s) sent, ${r.failed.length} failed`);
  }
  if (r.failed.length > 0) io.setExitCode(1);
}

// ---------------------------------------------------------------- remeasure, report

const discard: ResultWriter = { count: 0, write() {}, close: async () => {} };

export interface RemeasureCliOptions {
  db?: string;
  after?: string;
  json?: boolean;
  exclude?: string[];
  excludeFile?: string[];
}

export async function executeRemeasure(o: RemeasureCliOptions, io: CommandIo = processIo, deps: DiscloseDeps = {}): Promise<void> {
  const afterMs = parseAge(o.after ?? '30d');
  const rescan = async (g: RescanGroup) => {
    const s = g.spec;
    const opts = scanOptions({
      ports: g.ports.join(','),
      profile: s.profile,
      ...(s.probes ? { probes: s.probes.join(',') } : {}),
      ...(s.dicomTls ? { dicomTls: true } : {}),
      ...(s.callingAe ? { callingAe: s.callingAe } : {}),
      ...(s.contact ? { contact: s.contact } : {}),
      ...(s.timeouts ? { connectTimeout: s.timeouts.connectMs, readTimeout: s.timeouts.readMs, sessionTimeout: s.timeouts.sessionMs } : {}),
      ...(s.retries !== undefined ? { retries: s.retries } : {}),
      ...(s.credentials ? { credentials: s.credentials.enabled, credentialBudget: s.credentials.budget, credentialDelay: s.credentials.delayMs, weakPasswords: s.credentials.weak } : {}),
      exclude: [...(s.exclude ?? []), ...(o.exclude ?? [])],
      excludeFile: [...(s.excludeFile ?? []), ...(o.excludeFile ?? [])],
      ...(o.db ? { db: o.db } : {}),
      quiet: true,
      json: true,
    });
    const r = await executeScan(g.ips, opts, { stdout: process.stdout, stderr: process.stderr, writer: discard, ...(deps.stopDir !== undefined ? { stopDir: deps.stopDir } : {}) });
    return { runId: r.runId, state: r.state };
  };
  const r = await withDb(o.db, (db) => remeasure(db, { afterMs, rescan, ...(deps.now ? { now: deps.now } : {}) }));
  if (o.json) return line(io.out, JSON.stringify(r, null, 2));
  for (const run of r.runs) line(io.out, `rescan ${run.runId ?? '-'} ${run.state}: ${run.hosts} host(s), port(s) ${run.ports.join(',')}, profile ${run.profile}`);
  for (const c of r.cases) {
    const f = c.findings;
    line(io.out, `case ${c.caseId} ${c.party}: ${c.before}${c.after !== c.before ? ` → ${c.after}` : ''}: ${f.fixed} of ${f.total} finding(s) fixed, ${f.open} open, ${f.unverified} unverified`);
  }
  if (r.cases.length === 0) line(io.out, 'No notified case is due for re-measurement.');
  line(io.out, `${r.cases.length} case(s) remeasured, ${r.resolved} resolved${r.notYet > 0 ? `; ${r.notYet} notified less than ${o.after ?? '30d'} ago, not yet due` : ''}`);
}

export async function executeReport(o: { db?: string; format?: string; tlp?: string }, io: CommandIo = processIo, deps: DiscloseDeps = {}): Promise<void> {
  const format = o.format ?? 'md';
  if (format !== 'md' && format !== 'json') throw new UsageError(`--format must be md or json (got ${JSON.stringify(format)})`);
  const tlp = o.tlp === undefined ? DEFAULT_TLP : parseTlp(o.tlp);
  const r = await withDb(o.db, (db) => remediationReport(db, { tlp, ...(deps.now ? { now: deps.now } : {}) }));
  line(io.out, format === 'json' ? JSON.stringify(r, null, 2) : reportMarkdown(r, tlp));
}

// ---------------------------------------------------------------- registration

const dbOption = '--db <path|url>';
const dbHelp = 'inventory location (default $MEDSURFACE_DB or the XDG data dir)';

export function registerDisclose(program: Command, io: CommandIo = processIo, deps: DiscloseDeps = {}): void {
  const d = program
    .command('disclose')
    .description('responsible disclosure: cases per responsible party, notification packages, sending, re-measurement')
    .addHelpText('after', '\nGuide: docs/disclosure.md. Nothing is ever sent without `disclose send --yes`.');

  d.command('status')
    .description('list the cases, or show one case with its findings and history')
    .argument('[case]', 'case number')
    .option(dbOption, dbHelp)
    .option('--json', 'JSON output')
    .action((c: string | undefined, o: { db?: string; json?: boolean }) => executeStatus(c, o, io));

  d.command('note')
    .description("add a note to a case's history")
    .argument('<case>', 'case number')
    .argument('<text>', 'the note (up to 2000 characters)')
    .option(dbOption, dbHelp)
    .action((c: string, text: string, o: { db?: string }) => executeNote(c, text, o, io, deps));

  d.command('set-state')
    .description(`move a case to another state (${CASE_STATES.join(', ')})`)
    .argument('<case>', 'case number')
    .argument('<state>', 'the new state')
    .option('--note <text>', 'why (kept in the history)')
    .option(dbOption, dbHelp)
    .action((c: string, s: string, o: { db?: string; note?: string }) => executeSetState(c, s, o, io, deps));

  d.command('import-rdap')
    .description('store the abuse contacts of RDAP network objects (RFC 9083 JSON: one object, an array, or JSON lines)')
    .argument('<file>', 'RDAP JSON file')
    .option(dbOption, dbHelp)
    .action((f: string, o: { db?: string }) => executeImportRdap(f, o, io, deps));

  d.command('prepare')
    .description('group open findings into cases and write a notification package per case, plus CERT batches')
    .requiredOption('--out <dir>', 'folder for the packages')
    .option('--from <address>', 'reply address in the messages and reporter of the X-ARF reports (required)')
    .option('--reporter <name>', 'who signs the messages (default the --from address)')
    .option('--orgs <file>', 'orgs.yaml: the contacts (and OpenPGP keys) of your organisations')
    .option('--certs <file>', 'CERT directory: national CERT per country, sector CERTs (docs/examples/certs.yaml)')
    .option('--templates <dir>', 'message templates (subject.txt.eta, message.txt.eta, message.html.eta); default the shipped ones')
    .option('--tlp <level>', 'TLP marking: clear, green, amber, amber+strict, red', DEFAULT_TLP)
    .option('--min-severity <level>', 'leave out findings below this severity (default low)')
    .option('--rdap <url>', 'RDAP base URL for abuse-contact lookups (e.g. https://rdap.db.ripe.net); results are cached')
    .option('--rdap-delay <ms>', 'pause between two RDAP lookups', intOption('--rdap-delay'))
    .option('--rdap-max <n>', 'RDAP lookups at most in this run', intOption('--rdap-max'))
    .option('--remeasure-days <n>', 'days until the re-measurement the message announces', intOption('--remeasure-days'))
    .option(dbOption, dbHelp)
    .option('--json', 'JSON output')
    .action((o: PrepareCliOptions) => executePrepare(o, io, deps));

  d.command('send')
    .description('mail the prepared packages (prints what it would send; --yes sends)')
    .option('--smtp <host:port>', 'mail server (STARTTLS when offered)')
    .option('--from <address>', 'sender address (default the one given to prepare)')
    .option('--yes', 'really send')
    .option('--case <n>', 'only this case (repeatable; also re-sends a notified case)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--packages <dir>', 'read the packages from this folder (default where prepare wrote them)')
    .option('--smtp-secure', 'implicit TLS (port 465)')
    .option('--smtp-require-tls', 'refuse to send unless the server offers STARTTLS')
    .option('--smtp-user <name>', 'SMTP login; the password is read from MEDSURFACE_SMTP_PASSWORD')
    .option('--smtp-timeout <ms>', 'SMTP connection and reply timeout', intOption('--smtp-timeout'))
    .option(dbOption, dbHelp)
    .option('--json', 'JSON output')
    .action((o: SendCliOptions) => executeSend(o, io, deps));

  d.command('remeasure')
    .description('rescan the services of cases notified at least --after ago and resolve the fixed cases')
    .option('--after <age>', 'minimum time since the notification: 30d, 8w, 12h', '30d')
    .option('--exclude <cidrs>', 'never rescan these, besides the original runs\' exclusions (repeatable, comma-separated)', (v: string, prev: string[]) => [...prev, ...listOption(v)], [] as string[])
    .option('--exclude-file <file>', 'exclusion list file, e.g. the owners who opted out (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option(dbOption, dbHelp)
    .option('--json', 'JSON output')
    .action((o: RemeasureCliOptions) => executeRemeasure(o, io, deps));

  d.command('report')
    .description('remediation report: exposures fixed, by party and over time')
    .option('--format <fmt>', 'md or json', 'md')
    .option('--tlp <level>', 'TLP marking', DEFAULT_TLP)
    .option(dbOption, dbHelp)
    .action((o: { db?: string; format?: string; tlp?: string }) => executeReport(o, io, deps));
}
