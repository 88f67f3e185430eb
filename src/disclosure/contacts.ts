/**
 * Who receives a case's notification, in order of preference:
 * - an orgs.yaml organisation: its `contact` (with its OpenPGP key when given); without an
 *   e-mail address there, the RDAP abuse contact of its addresses, then its orgs.yaml `cert`,
 *   then the national CERT of its country;
 * - an AS organisation: the RDAP abuse contact of the case's addresses (imported RDAP data or a
 *   lookup, rdap-client.ts), else the national CERT of its country;
 * - a country: its national CERT from the CERT directory (certs.ts).
 * Among several abuse contacts for one case's addresses, the one covering most addresses wins.
 * No recipient at all: the package is written, and `send` skips the case and says why.
 */
import type { OrgTable } from '../attribution/index.js';
import type { CaseRow, Recipient } from './cases.js';
import type { CertDirectory } from './certs.js';
import type { RdapResolver } from './rdap-client.js';

/** Addresses of one case looked up for an abuse contact at most (the cache answers the rest of a network). */
export const RDAP_ADDRESSES_PER_CASE = 64;

export interface ContactSources {
  orgs: OrgTable | null;
  certs: CertDirectory;
  rdap: RdapResolver;
}

async function rdapRecipient(ips: readonly string[], rdap: RdapResolver): Promise<Recipient | null> {
  const votes = new Map<string, { n: number; name: string }>();
  for (const ip of ips.slice(0, RDAP_ADDRESSES_PER_CASE)) {
    const net = await rdap.contactFor(ip);
    if (net === null) continue;
    const email = net.abuseEmails[0]!;
    const v = votes.get(email) ?? { n: 0, name: net.name ?? net.handle ?? 'abuse contact' };
    v.n++;
    votes.set(email, v);
  }
  let best: [string, { n: number; name: string }] | null = null;
  for (const e of votes) if (best === null || e[1].n > best[1].n) best = e;
  return best === null ? null : { name: `${best[1].name} (abuse contact)`, email: best[0], source: 'rdap' };
}

function nationalCert(country: string | null, certs: CertDirectory): Recipient | null {
  const c = certs.nationalFor(country);
  return c === null ? null : { name: c.name, email: c.email, source: 'cert-directory', ...(c.pgpKey ? { pgpKey: c.pgpKey } : {}) };
}

/** The recipient of `c`, whose unresolved findings are on `ips`. */
export async function recipientFor(c: CaseRow, ips: readonly string[], src: ContactSources): Promise<Recipient | null> {
  if (c.partyKind === 'org') {
    const org = src.orgs?.organisations.find((o) => o.name === c.partyName) ?? null;
    if (org?.contact?.email) {
      return { name: org.contact.name ?? org.name, email: org.contact.email, source: 'orgs', ...(org.contact.pgpKey ? { pgpKey: org.contact.pgpKey } : {}) };
    }
    const abuse = await rdapRecipient(ips, src.rdap);
    if (abuse) return abuse;
    if (org?.cert) return { name: org.cert.name, email: org.cert.email, source: 'orgs-cert' };
    return nationalCert(org?.country ?? c.country, src.certs);
  }
  if (c.partyKind === 'asn') return (await rdapRecipient(ips, src.rdap)) ?? nationalCert(c.country, src.certs);
  return nationalCert(c.country, src.certs);
}
