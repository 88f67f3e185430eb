import { type X509Certificate, createHash } from 'node:crypto';
import type tls from 'node:tls';
import type { TlsCertificate, TlsInfo } from './types.js';

/**
 * Summarises a TLS session. Certificate subjects describe the server (an organisation,
 * a host name), not a patient; they are kept, bounded in length.
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
  return {
    subject: clip(cert.subject.replace(/\n/g, ', ')),
    issuer: clip(cert.issuer.replace(/\n/g, ', ')),
    subjectAltNames: (cert.subjectAltName ?? '').split(/,\s*/).filter(Boolean).slice(0, 32).map((s) => clip(s, 256)),
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: new Date(cert.validTo).toISOString(),
    selfSigned,
    keyType: key.asymmetricKeyType ?? null,
    keyBits: keyBits ?? null,
    signatureAlgorithm: signatureAlgorithmOf(cert),
    sha256: createHash('sha256').update(cert.raw).digest('hex'),
  };
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
