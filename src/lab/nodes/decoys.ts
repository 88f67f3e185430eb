/**
 * Lab nodes for the intrusive credential attempts and for honeypot detection, host offsets 9.x.
 * All content is synthetic; the Orthanc pages are the web family's (web.ts).
 *
 * - `web-orthanc-default-password`: Orthanc with authentication on and the orthanc/orthanc user
 *   left in place (the Docker images' default): 401 without it, the API with it.
 * - `web-orthanc-lockout`: the same realm, no valid account, and a lockout after two failed
 *   attempts (429 with Retry-After), as an authenticating reverse proxy with fail2ban-like rules does.
 * - `decoy-combo-web`: OpenEMR's login page on a host whose DICOM port is an ultrasound scanner
 *   (layout.ts `decoy-combo-us`): a combination no real modality console has.
 * Each credential node counts the attempts it saw (credentialAttemptsSeen), for the tests.
 */
import type http from 'node:http';
import type { LabNodeSpec } from '../layout.js';
import { openemr, orthancRoutes, orthancSecure, type Route, routeServer } from './web.js';

const seen = new Map<string, number>();

/** Requests carrying an Authorization header each credential node received since the lab started. */
export function credentialAttemptsSeen(name: string): number {
  return seen.get(name) ?? 0;
}

function basic(req: http.IncomingMessage): [string, string] | null {
  const a = req.headers.authorization;
  if (!a?.startsWith('Basic ')) return null;
  const text = Buffer.from(a.slice(6), 'base64').toString('utf8');
  const i = text.indexOf(':');
  return i < 0 ? null : [text.slice(0, i), text.slice(i + 1)];
}

function count(name: string, req: http.IncomingMessage): void {
  if (req.headers.authorization !== undefined) seen.set(name, (seen.get(name) ?? 0) + 1);
}

function orthancWithDefaultUser(name: string): Route {
  const open = orthancRoutes('lab-orthanc-default');
  return (path, req) => {
    count(name, req);
    const c = basic(req);
    return c && c[0] === 'orthanc' && c[1] === 'orthanc' ? open(path, req) : orthancSecure(path, req);
  };
}

function orthancLockout(name: string, after: number): Route {
  let failures = 0;
  return (path, req) => {
    count(name, req);
    if (failures >= after) return { status: 429, headers: { 'Retry-After': '900', 'Content-Type': 'text/plain' }, body: 'Too many failed login attempts\n' };
    if (basic(req)) failures++;
    return orthancSecure(path, req);
  };
}

function node(spec: Omit<LabNodeSpec, 'kind'>): LabNodeSpec {
  return { kind: 'service', ...spec };
}

export const NODES: readonly LabNodeSpec[] = [
  node({
    name: 'web-orthanc-default-password',
    hostOffset: [9, 10],
    port: 8042,
    role: 'pacs',
    description: 'Orthanc with authentication on and the default orthanc/orthanc account left in place',
    expected: { status: 'success', protocol: 'http', vendor: 'Orthanc', product: 'Orthanc', deviceType: 'pacs', realm: 'Orthanc Secure Area', findings: ['http-no-tls'] },
    service: routeServer('web-orthanc-default-password', orthancWithDefaultUser('web-orthanc-default-password')),
  }),
  node({
    name: 'web-orthanc-lockout',
    hostOffset: [9, 11],
    port: 8042,
    role: 'pacs',
    description: 'Orthanc realm behind a proxy that answers 429 + Retry-After after two failed logins',
    expected: { status: 'success', protocol: 'http', vendor: 'Orthanc', product: 'Orthanc', deviceType: 'pacs', realm: 'Orthanc Secure Area', findings: ['http-no-tls'] },
    service: routeServer('web-orthanc-lockout', orthancLockout('web-orthanc-lockout', 2)),
  }),
  node({
    name: 'decoy-combo-web',
    hostOffset: [9, 21],
    port: 80,
    role: 'ehr',
    description: 'OpenEMR login page on the same address as an ultrasound scanner (an impossible combination)',
    expected: { status: 'success', protocol: 'http', vendor: 'OpenEMR', product: 'OpenEMR', loginForm: true, honeypot: true, findings: ['http-no-tls'] },
    service: routeServer('decoy-combo-web', openemr),
  }),
];
