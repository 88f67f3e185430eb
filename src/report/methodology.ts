/**
 * What the report says about how the data was gathered: each probe, the actions it performs and
 * the profile each action needs (the probe registry's own `safety` declarations), in words a
 * clinical engineer can check against a device log. Also the remediation text of a finding,
 * from the check database (checks/defs), for CVE ids and for the inventory's own finding.
 */
import type { CheckDef } from '../checks/engine.js';
import type { Profile } from '../core/types.js';
import { UNLISTED_FINDING } from '../inventory/kysely-store.js';
import { PROBES } from '../probes/index.js';
import type { ProbeSummary } from './types.js';

/** What each probe action sends, keyed by the action names of the probes' `safety` tables. */
const ACTION_TEXT: Record<string, string> = {
  associateRandomAe: 'A-ASSOCIATE-RQ addressed to a random called AE title (then A-RELEASE)',
  associateDocumentedDefaults: 'only when the random title is rejected: at most two more associations, with AE titles the product documents as defaults',
  cEcho: 'C-ECHO (verification) on an accepted association',
  cFindRandomKey: 'C-FIND whose match key is a fresh random UID: it cannot match a record, an empty answer proves the query door is open',
  associateGuessList: 'called AE titles from a short list, within a per-host guessing budget',
  cFindCount: 'count-only C-FIND (responses counted, values not kept), cancelled after a cap',
  qidoRandomUid: 'QIDO-RS study search for a fresh random StudyInstanceUID (cannot match a record)',
  authScopeControl: 'when the search is refused: one request to a random non-DICOMweb path, to tell a DICOMweb refusal from a server-wide login',
  qidoCount: 'QIDO-RS study search with includefield=none and a limit; matches counted, values not kept',
  getMetadata: 'GET [base]/metadata (the CapabilityStatement)',
  getSmartConfiguration: 'GET [base]/.well-known/smart-configuration',
  searchRandomId: 'FHIR search with a fresh random _id (cannot match a record)',
  searchCount: 'FHIR Patient search with _summary=count (a number, no resource)',
  greeting: 'reads the greeting',
  feat: 'FEAT',
  syst: 'SYST',
  authTlsQuery: 'AUTH TLS (whether the server offers TLS), then QUIT',
  anonymousLogin: 'USER anonymous / PASS with the scanner contact, reply codes kept, no listing',
  patientQueryRandomId: 'one HL7 v2 QRY^A19 with processing id D (debugging) for a random patient id: a read-type message, no ADT/ORU/ORM',
  tlsRetryAfterSilentClose: 'when the plain connection closes silently: the same message once over TLS',
  getRoot: 'GET / (status, title of a login page or app shell, headers, redirects within the scope)',
  getFavicon: 'GET /favicon.ico (hash only)',
  alpnHandshake: 'a TLS handshake offering h2 and http/1.1 (ALPN)',
  orthancSystem: 'GET /system when the server looks like Orthanc (version, whether authentication is on)',
  connectionRequest: 'X.224 Connection Request with an RDP negotiation request (no login)',
  refuseOptions: 'refuses every Telnet option the server proposes',
  readBanner: 'reads the banner and login prompt (no login)',
  protocolVersion: 'reads the RFB protocol version and answers with it',
  securityTypes: 'reads the offered security types (no authentication)',
};

/** `associateRandomAe` → `associate random ae` for an action without a description. */
function words(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

const PROFILE_ORDER: Record<Profile, number> = { safe: 0, intrusive: 1 };

/** Every probe of the registry with its actions, safe ones first. */
export function probeSummaries(): ProbeSummary[] {
  return PROBES.map((p) => ({
    id: p.id,
    title: p.title,
    defaultPorts: [...p.defaultPorts],
    actions: Object.entries(p.safety)
      .map(([name, profile]) => ({ name, profile, description: ACTION_TEXT[name] ?? words(name) }))
      .sort((a, b) => PROFILE_ORDER[a.profile] - PROFILE_ORDER[b.profile]),
  }));
}

/** What the profiles mean (DESIGN.md "Safety is a feature"). */
export const PROFILE_TEXT: Record<Profile, string> = {
  safe:
    'observes only: connections, protocol handshakes, banners, metadata pages and queries that cannot match a record. ' +
    'No login attempt, no guessing, no query that can return records.',
  intrusive:
    'adds count-only record queries stopped after a cap, called-AE guessing from a short list, default-credential attempts ' +
    'within a per-host budget and anonymous FTP login. Record counts exist only where this profile ran.',
};

/** Never sent in any profile (DESIGN.md). */
export const NEVER_SENT =
  'C-STORE, C-MOVE to a third party, HL7 write-type messages (ADT, ORU, ORM...) and any request that changes state on a target.';

const CVE_ID = /^CVE-\d{4}-\d{4,}$/;

export function isCveId(id: string): boolean {
  return CVE_ID.test(id);
}

/** The one remediation shown under a service's table of version-matched CVEs. */
export const CVE_GROUP_REMEDIATION =
  'Update the product to a release that fixes these vulnerabilities (the vendor advisory and each CVE entry of the NVD, ' +
  'https://nvd.nist.gov/vuln/detail/<CVE id>, name the fixed versions); until then keep the service off the internet. ' +
  'They were matched by version: a distribution may have backported a fix, so confirm with the package changelog.';

/** Evidence keys of a CVE finding that its table shows in columns or that repeat the service's identity. */
export const CVE_EVIDENCE_SHOWN_ELSEWHERE: readonly string[] = ['cvss', 'kev', 'cvssVector', 'product', 'vendor', 'cpe', 'matchedCriteria'];

/** The remediation a finding shows: its check's, generic advice for a CVE, the inventory's own for an unlisted device. */
export function remediationFor(checkId: string, checks: ReadonlyMap<string, CheckDef>): string {
  const def = checks.get(checkId);
  if (def) return def.info.remediation;
  if (isCveId(checkId)) {
    return (
      `Update the product to a release that fixes ${checkId} (see the vendor advisory and the NVD entry ` +
      `https://nvd.nist.gov/vuln/detail/${checkId}); until then keep the service off the internet. The finding was ` +
      'matched by version: a distribution may have backported the fix, so confirm with the package changelog.'
    );
  }
  if (checkId === UNLISTED_FINDING.id) {
    return 'Add the device to the known-asset list if it belongs there, or take it off the network; every exposed system needs an owner.';
  }
  return 'No remediation text: this finding id is not in the check database the report was made with.';
}
