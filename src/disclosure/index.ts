/**
 * disclosure: the responsible-disclosure workflow (issue 7 "Disclosure"; user guide
 * docs/disclosure.md). Open findings are grouped by responsible party into cases (cases.ts,
 * states.ts); contacts come from orgs.yaml, RDAP abuse contacts (rdap.ts, rdap-client.ts,
 * import-rdap.ts) and a CERT directory (certs.ts); `prepare` writes per-case packages and CERT
 * batches (package.ts, affected.ts, xarf.ts, templates.ts), `send` mails them, PGP/MIME-encrypted
 * when the recipient has a key (send.ts, mail.ts); `remeasure` rescans notified cases and
 * resolves them when fixed (remeasure.ts); `report` shows what was fixed by party and over time
 * (report.ts). Tables: tables.ts (migration 0004-disclosure).
 *
 *   const db = disclosureDb(inventory.db);
 *   await preparePackages(db, { outDir, orgs, certs, rdap, templates, remediation, tlp, reporter });
 *   await sendCases(db, { smtp, yes: true, ctx });
 *   await remeasure(db, { afterMs: parseAge('30d'), rescan });
 */
export { disclosureDb, type DisclosureDatabase, type DisclosureDb, type DisclosureTables } from './tables.js';
export { DisclosureError, CaseStateError, NoSuchCaseError } from './errors.js';
export { CASE_STATES, ACTIVE_STATES, REMEASURED_STATES, type CaseState, parseCaseState, allowedNext } from './states.js';
export { TLP_LEVELS, DEFAULT_TLP, type Tlp, parseTlp, tlpLabel } from './tlp.js';
export {
  type CaseRow,
  type CaseEvent,
  type CaseFindingRow,
  type Party,
  type Recipient,
  DEFAULT_MIN_SEVERITY,
  addNote,
  caseEvents,
  caseFindings,
  getCase,
  listCases,
  parseCaseId,
  partyOf,
  setCaseState,
  syncCases,
} from './cases.js';
export { CertDirectory, type CertContact, type SectorCert } from './certs.js';
export { parseRdapDocument, parseRdapNetwork, type RdapNetwork } from './rdap.js';
export { RdapResolver, type RdapLookupOptions, cachedNetworks, storeNetworks } from './rdap-client.js';
export { importRdapFile } from './import-rdap.js';
export { recipientFor } from './contacts.js';
export { remediationLookup, affectedServices, type AffectedService } from './affected.js';
export { MessageTemplates, defaultTemplatesDir, TEMPLATE_FILES } from './templates.js';
export { preparePackages, type PrepareResult, type PackageManifest, type Reporter, MANIFEST_FILE, PACKAGE_FILES } from './package.js';
export { buildMessage, loadPublicKey, smtpSend, type SmtpTarget } from './mail.js';
export { sendCases, type SendResult, type PlannedSend } from './send.js';
export { remeasure, planRemeasure, parseAge, type RemeasureResult, type RescanGroup, type RescanSpec } from './remeasure.js';
export { remediationReport, reportMarkdown, type RemediationReport } from './report.js';
