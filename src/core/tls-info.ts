import { type X509Certificate, createHash } from 'node:crypto';
import net from 'node:net';
import type tls from 'node:tls';
import type { TlsCertificate, TlsInfo } from './types.js';

/**
 * Summarises a TLS session. Certificate subjects should describe the server (a host name, an
 * organisation), but they are one of the channels patient data leaks through (DESIGN.md): a
 * modality whose certificate names the patient on the table, a SAN e-mail address, a device
 * serial or an MRN in an OU. So only what identifies the server is kept (redactCertName,
 * keptSubjectAltNames), everything else is replaced by `[redacted N chars]` before it leaves
 * this module. Whether the certificate is self-signed is decided on the raw names first.
 */
export function tlsInfoOf(socket: tls.TLSSocket): TlsInfo {
  const cipher = socket.getCipher?.();
  let certificate: TlsCertificate | null = null;
  try {
    const peer = socket.getPeerX509Certificate?.();
    if (peer) certificate = certificateOf(peer);
  } catch {
    certificate = null;
  }
  return {
    version: socket.getProtocol?.() ?? null,
    cipher: cipher?.standardName ?? cipher?.name ?? null,
    alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null,
    certificate,
  };
}

const clip = (s: string, n = 512) => (s.length > n ? `${s.slice(0, n)}…` : s);

export function certificateOf(cert: X509Certificate): TlsCertificate {
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails;
  const keyBits = details?.modulusLength ?? (details?.namedCurve ? curveBits(details.namedCurve) : null);
  let selfSigned = false;
  try {
    selfSigned = cert.subject === cert.issuer && cert.verify(cert.publicKey);
  } catch {
    selfSigned = false;
  }
  // A self-issued certificate's issuer is its subject: the same rule applies to both. A CA's
  // name in a CA-issued certificate is organisational data (a CA, not a device or a person).
  const selfIssued = cert.subject === cert.issuer;
  return {
    subject: clip(redactCertName(cert.subject, 'subject')),
    issuer: clip(redactCertName(cert.issuer, selfIssued ? 'subject' : 'ca')),
    subjectAltNames: keptSubjectAltNames(cert.subjectAltName ?? '').map((s) => clip(s, 256)),
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: new Date(cert.validTo).toISOString(),
    selfSigned,
    keyType: key.asymmetricKeyType ?? null,
    keyBits: keyBits ?? null,
    signatureAlgorithm: signatureAlgorithmOf(cert),
    sha256: createHash('sha256').update(cert.raw).digest('hex'),
  };
}

/** Name attributes that describe an organisation or a place (RFC 5280 §4.1.2.4, RFC 4519). */
const ORGANISATIONAL = new Set(['C', 'ST', 'L', 'O', 'OU', 'DC']);
/** Attributes kept of one name, and characters per value. */
const MAX_NAME_ATTRIBUTES = 16;

/**
 * A host name as certificates carry it (RFC 6125 §6.4): dot-separated labels of letters, digits,
 * hyphens and underscores, optionally a leading `*.` wildcard, at least two labels (a lone word
 * is as likely a person's name as a host's), or `localhost`.
 */
export function isCertHostName(v: string): boolean {
  if (v.length > 253) return false;
  if (v.toLowerCase() === 'localhost') return true;
  return /^(?:\*\.)?[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)+\.?$/.test(v);
}

/**
 * What personal data looks like in a name value: a DICOM person-name separator `^` (PS3.5
 * §6.2.1), an e-mail address, a run of 5+ digits (patient ids, MRNs, birth dates, serials), a
 * date. The same markers the http probe's title rule refuses (probes/http/parse.ts isSafeTitle).
 */
export function looksPersonal(v: string): boolean {
  return /\^/.test(v) || /@/.test(v) || /\d{5,}/.test(v) || /\b\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b/.test(v);
}

const redacted = (v: string) => `[redacted ${v.length} chars]`;

/**
 * Redacts a distinguished name as Node prints it (one `KEY=value` per line). The rule:
 * - CN: kept when it is a host name (isCertHostName) or an IP address; in a CA's name (`ca`: the
 *   issuer of a certificate that is not self-issued) also when it does not look personal;
 * - C, ST, L, O, OU, DC: kept unless the value looks personal (looksPersonal);
 * - every other attribute (emailAddress, serialNumber, UID, GN, SN, title, pseudonym, OIDs...):
 *   redacted, as is anything that is not `KEY=value`.
 * Values are replaced by `[redacted N chars]`, so the shape stays visible and nothing else.
 */
export function redactCertName(name: string, role: 'subject' | 'ca'): string {
  const parts: string[] = [];
  for (const line of name.split('\n').filter(Boolean).slice(0, MAX_NAME_ATTRIBUTES)) {
    const eq = line.indexOf('=');
    if (eq <= 0) {
      parts.push(redacted(line));
      continue;
    }
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    const safeKey = /^(?:[A-Za-z][A-Za-z0-9]{0,31}|\d{1,9}(?:\.\d{1,9}){1,15})$/.test(key) ? key : '?';
    let keep = false;
    if (key === 'CN') keep = isCertHostName(value) || net.isIP(value) !== 0 || (role === 'ca' && !looksPersonal(value));
    else if (ORGANISATIONAL.has(key)) keep = !looksPersonal(value);
    parts.push(`${safeKey}=${keep ? value : redacted(value)}`);
  }
  return parts.join(', ');
}

/**
 * The subjectAltName entries that name the server: `DNS:` host names and `IP Address:` entries.
 * E-mail, URI, directory names and other names are dropped (they are where a person's address or
 * a record link would be).
 */
export function keptSubjectAltNames(san: string): string[] {
  const out: string[] = [];
  for (const entry of san.split(/,\s*/)) {
    if (out.length >= 32) break;
    const dns = /^DNS:(.+)$/.exec(entry);
    if (dns && isCertHostName(dns[1]!)) out.push(entry);
    const ip = /^IP Address:(.+)$/.exec(entry);
    if (ip && net.isIP(ip[1]!) !== 0) out.push(entry);
  }
  return out;
}

function curveBits(curve: string): number | null {
  const m = /(\d{3})/.exec(curve);
  return m ? Number(m[1]) : null;
}

/** Node exposes no signature algorithm field: read the OID from the DER (RFC 5280 §4.1.1.2). */
function signatureAlgorithmOf(cert: X509Certificate): string | null {
  const der = cert.raw;
  const names: Record<string, string> = {
    '2a864886f70d010105': 'sha1WithRSAEncryption',
    '2a864886f70d01010b': 'sha256WithRSAEncryption',
    '2a864886f70d01010c': 'sha384WithRSAEncryption',
    '2a864886f70d01010d': 'sha512WithRSAEncryption',
    '2a864886f70d010104': 'md5WithRSAEncryption',
    '2a8648ce3d040302': 'ecdsa-with-SHA256',
    '2a8648ce3d040303': 'ecdsa-with-SHA384',
    '2a8648ce3d040304': 'ecdsa-with-SHA512',
    '2a8648ce3d040301': 'ecdsa-with-SHA1',
    '2b6570': 'ed25519',
  };
  // The signatureAlgorithm AlgorithmIdentifier follows the TBSCertificate; find the last OID before the signature BIT STRING.
  const hex = der.toString('hex');
  let best: string | null = null;
  for (const [oid, name] of Object.entries(names)) {
    const needle = `06${(oid.length / 2).toString(16).padStart(2, '0')}${oid}`;
    if (hex.lastIndexOf(needle) >= 0) {
      const at = hex.lastIndexOf(needle);
      if (best === null || at > Number(best.split('|')[0])) best = `${at}|${name}`;
    }
  }
  return best ? best.split('|')[1]! : null;
}
