/**
 * The lab's web nodes, host offsets 4.x: canned but faithful front pages of medical web
 * applications, and hostile web peers. Each page carries what a real installation shows a
 * browser that is not logged in (status, redirects, title, form field names, headers, favicon),
 * reconstructed from the product's public source as cited on each page builder; all content is
 * synthetic.
 *
 * - `web-orthanc`: Orthanc 1.10 with remote access and no authentication: `/` -> 301
 *   `app/explorer.html`, `/system` JSON (Version 1.10.1), the Orthanc favicon (captured from the
 *   Debian package, src/probes/http/fixtures/orthanc-1.10.1-favicon.ico).
 * - `web-orthanc-secure`: Orthanc with AuthenticationEnabled: 401 `Basic realm="Orthanc Secure Area"` everywhere.
 * - `web-openemr`: OpenEMR behind Apache: `/` -> 302 `interface/login/login.php?site=default`, the Twig login page.
 * - `web-mirth`: Mirth Connect's web landing page over HTTPS on 8443 with a self-signed certificate
 *   (src/lab/certs/web-tls.*), ALPN h2 offered.
 * - `web-ohif`, `web-dicoogle`, `web-hapi-fhir`, `web-bahmni` (HTTPS 443), `web-openmrs` (plain HTTP
 *   on 8443, where TLS is expected), `web-dcm4chee-tls` (HTTPS on 9090, where plain HTTP is expected).
 * - `web-viewer-leaky`: a viewer whose `/` redirects to a study view with the lab's synthetic web
 *   canaries (WEB_LAB_CANARIES) in the Location query, the title and the body: none may be kept.
 * - `web-cert-canary`: a sign-in page over HTTPS whose certificate (src/lab/certs/cert-canary.*,
 *   issued by the lab test CA) carries synthetic patient values (CERT_LAB_CANARIES) in its subject
 *   CN, O, OU and emailAddress and in SAN email and URI entries, as a modality whose certificate
 *   was generated from the patient context would: the scan must keep none of them.
 * - hostile: `web-endless-body` (a chunked body that never ends), `web-huge-header` (a 1 MB header),
 *   `web-redirect-loop`, `web-slow-drip` (headers one byte every 500 ms), `web-tls-garbage` (random
 *   bytes in answer to the ClientHello). Hostile peers answer only after the client spoke, so a
 *   banner-reading probe sees nothing.
 *
 * Every connection is closed after NODE_MAX_LIFE_MS and inbound requests are bounded (Node's
 * http server: 16 KiB of headers; the raw hostile servers read at most REQUEST_BYTES).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { LabNodeSpec, LabServiceFactory } from '../layout.js';
import { LabStartError, closeServer, listen } from '../listen.js';

/**
 * Synthetic patient values the `web-viewer-leaky` node shows (Location query, title, body), as a
 * real viewer's deep link does. None of them may appear in any scan output, log or database.
 */
export const WEB_LAB_CANARIES = {
  patientName: 'CANARYWEB^ALPHAWEB',
  displayName: 'Canaryweb, Alphaweb',
  patientId: 'WEBCANARY000417',
  birthDate: '19020304',
  accession: 'WEBACC99017',
} as const;

/**
 * Synthetic patient values in the `web-cert-canary` node's certificate (subject CN, O, OU,
 * emailAddress, SAN email and URI; see src/lab/certs/README.md). None may appear in any output.
 */
export const CERT_LAB_CANARIES = {
  patientName: 'CANARY^CERTNAME',
  patientId: 'CERTPID4471902',
  birthDate: '19030405',
  email: 'canary.certname@patients.example',
} as const;

/** Interval of the slow drip, ms. */
export const WEB_DRIP_INTERVAL_MS = 500;
/** Size of the huge header line. */
export const HUGE_HEADER_BYTES = 1024 * 1024;
/** Bytes the endless body sends at most per connection (the scanner stops long before). */
const ENDLESS_MAX_BYTES = 64 * 1024 * 1024;
/** A lab connection is closed after this long whatever happens. */
const NODE_MAX_LIFE_MS = 60_000;
/** Request bytes a raw hostile server reads before answering. */
const REQUEST_BYTES = 16 * 1024;

function dirWith(file: string, rel: string[]): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = rel.map((r) => `${here}${r}`);
  for (const c of candidates) if (existsSync(`${c}${file}`)) return c;
  throw new LabStartError(`lab file ${file} not found (looked in ${candidates.join(', ')})`);
}

/** Key pairs under src/lab/certs a web node may present. */
type WebCert = 'web-tls' | 'cert-canary';

function tlsMaterial(name: WebCert = 'web-tls'): { key: Buffer; cert: Buffer } {
  const dir = dirWith(`${name}.cert.pem`, ['../certs/', '../../../src/lab/certs/', '../../../../src/lab/certs/']);
  return { key: readFileSync(`${dir}${name}.key.pem`), cert: readFileSync(`${dir}${name}.cert.pem`) };
}

let orthancIcon: Buffer | null = null;
/** The favicon of Debian's Orthanc 1.10.1 (captured, see src/probes/http/fixtures/README.md). */
function orthancFavicon(): Buffer {
  if (!orthancIcon) {
    const dir = dirWith('orthanc-1.10.1-favicon.ico', [
      '../../probes/http/fixtures/',
      '../../../src/probes/http/fixtures/',
      '../../../../src/probes/http/fixtures/',
    ]);
    orthancIcon = readFileSync(`${dir}orthanc-1.10.1-favicon.ico`);
  }
  return orthancIcon;
}

export type Reply = { status: number; headers?: Record<string, string | string[]>; body?: string | Buffer };
/** A page builder: the path (query dropped), and the request for the few nodes that read headers (credentials). */
export type Route = (path: string, req: http.IncomingMessage) => Reply;

const html = (title: string, head: string, body: string) =>
  `<!DOCTYPE html>\n<html>\n<head>\n  <meta charset="utf-8">\n  <title>${title}</title>\n${head}\n</head>\n<body>\n${body}\n</body>\n</html>\n`;

const notFound: Reply = { status: 404, headers: { 'Content-Type': 'text/html' }, body: '<html><body>Not Found</body></html>' };

/**
 * Orthanc 1.10: `/` -> 301 `app/explorer.html` and `/favicon.ico` -> 301 `app/images/favicon.ico`
 * (both seen on Debian's Orthanc 1.10.1, fixtures orthanc-1.10.1-root.http); the explorer page
 * head as in OrthancExplorer/explorer.html (shortened); `/system` fields as Orthanc returns them.
 * Headers: Orthanc's embedded server sends no Server header (fixtures).
 */
export function orthancRoutes(name: string): Route {
  const head = [
    '  <link rel="shortcut icon" href="images/favicon.ico">',
    '  <link rel="stylesheet" href="libs/jquery.mobile.min.css" />',
    '  <script src="libs/jquery.min.js"></script>',
    '  <script src="libs/jquery.mobile.min.js"></script>',
    '  <script src="explorer.js"></script>',
    '  <script src="../plugins/explorer.js"></script>',
  ].join('\n');
  const page = html('Orthanc Explorer', head, '  <div data-role="page" id="lookup"><h1>Lookup studies</h1></div>');
  const system = JSON.stringify(
    {
      ApiVersion: 16,
      CheckRevisions: false,
      DatabaseBackendPlugin: null,
      DatabaseVersion: 6,
      DicomAet: 'ORTHANC',
      DicomPort: 4242,
      HttpPort: 8042,
      IsHttpServerSecure: false,
      Name: name,
      PluginsEnabled: true,
      StorageAreaPlugin: null,
      Version: '1.10.1',
    },
    null,
    3,
  );
  const keepAlive = { Connection: 'keep-alive', 'Keep-Alive': 'timeout=1' };
  return (path) => {
    if (path === '/') return { status: 301, headers: { ...keepAlive, Location: 'app/explorer.html' } };
    if (path === '/favicon.ico') return { status: 301, headers: { ...keepAlive, Location: 'app/images/favicon.ico' } };
    if (path === '/app/explorer.html') return { status: 200, headers: { ...keepAlive, 'Content-Type': 'text/html' }, body: page };
    if (path === '/app/images/favicon.ico') return { status: 200, headers: { ...keepAlive, 'Content-Type': 'image/x-icon' }, body: orthancFavicon() };
    if (path === '/system') return { status: 200, headers: { ...keepAlive, 'Content-Type': 'application/json; charset=utf-8' }, body: system };
    return { status: 404, headers: keepAlive };
  };
}

/** Orthanc with AuthenticationEnabled: every resource answers 401 with its realm (fixture orthanc-1.10.1-auth-root.http). */
export const orthancSecure: Route = () => ({
  status: 401,
  headers: { Connection: 'keep-alive', 'Keep-Alive': 'timeout=1', 'WWW-Authenticate': 'Basic realm="Orthanc Secure Area"' },
});

/**
 * OpenEMR 7: index.php sends `Location: interface/login/login.php?site=default`
 * (openemr/openemr index.php); the login page is templates/login/base.html.twig (title
 * "{{ title }} Login", title = OpenEMR) with the username and password partials (inputs
 * authUser and clearPass) and an OpenEMR session cookie; Apache on Debian in front.
 */
export const openemr: Route = (path) => {
  const server = { Server: 'Apache/2.4.62 (Debian)' };
  if (path === '/') return { status: 302, headers: { ...server, Location: 'interface/login/login.php?site=default', 'Content-Type': 'text/html; charset=UTF-8' }, body: '' };
  if (path.startsWith('/interface/login/login.php')) {
    const head = [
      '  <link rel="stylesheet" href="/public/assets/bootstrap/dist/css/bootstrap.min.css?v=70" type="text/css">',
      '  <script src="/public/assets/jquery/dist/jquery.min.js?v=70"></script>',
    ].join('\n');
    const body = [
      '<form method="POST" id="login_form" autocomplete="off" action="../main/main_screen.php?auth=login&amp;site=default" target="_top" name="login_form">',
      '  <input type="hidden" name="new_login_session_management" value="1">',
      '  <input type="text" class="form-control" id="authUser" name="authUser" placeholder="Username">',
      '  <input type="password" class="form-control" id="clearPass" name="clearPass" placeholder="Password">',
      '  <button type="submit" class="btn btn-primary" id="login-button">Login</button>',
      '</form>',
    ].join('\n');
    return {
      status: 200,
      headers: { ...server, 'Content-Type': 'text/html; charset=utf-8', 'Set-Cookie': 'OpenEMR=labsession0000; path=/; HttpOnly; SameSite=Strict' },
      body: html('OpenEMR Login', head, body),
    };
  }
  return notFound;
};

/**
 * Mirth Connect's web landing page (nextgenhealthcare/connect webadmin/WebContent/WEB-INF/jsp/index.jsp):
 * title "Mirth Connect Administrator", the Web Dashboard sign-in form (username, password), Jetty.
 */
const mirth: Route = (path) => {
  if (path !== '/' && path !== '/index.action') return notFound;
  const head = [
    '  <link rel="shortcut icon" type="image/x-icon" href="images/favicon.ico" />',
    '  <link rel="stylesheet" type="text/css" href="css/bootstrap.css" />',
    '  <script type="text/javascript" src="js/jquery-1.8.0.js"></script>',
  ].join('\n');
  const body = [
    '<h1 style="text-align: center;">Mirth Connect Administrator</h1>',
    '<a class="btn btn-md btn-themebutton" href="javascript:launchAdministrator()">Launch Mirth Connect Administrator</a>',
    '<form id="webLoginForm" name="loginform" action="Login.action" method="post">',
    '  <input type="hidden" name="op" value="login" /> <input type="hidden" name="version" value="0.0.0" />',
    '  <input id="username" type="text" name="username" autocomplete="off" maxlength="32" />',
    '  <input id="password" type="password" name="password" autocomplete="off" />',
    '</form>',
  ].join('\n');
  return { status: 200, headers: { 'Content-Type': 'text/html;charset=utf-8', 'Set-Cookie': 'JSESSIONID=node0lab0000.node0; Path=/; Secure' }, body: html('Mirth Connect Administrator', head, body) };
};

/** OHIF Viewer 3 (OHIF/Viewers platform/app/public/html-templates/index.html): title and application-name "OHIF Viewer". */
const ohif: Route = (path) => {
  if (path !== '/' && path !== '/index.html') return notFound;
  const head = [
    '  <meta name="application-name" content="OHIF Viewer" />',
    '  <link rel="manifest" href="/manifest.json" />',
    '  <link rel="shortcut icon" href="/assets/favicon.ico" />',
    '  <script type="text/javascript" src="/app-config.js"></script>',
  ].join('\n');
  return { status: 200, headers: { Server: 'nginx/1.25.3', 'Content-Type': 'text/html' }, body: html('OHIF Viewer', head, '  <div id="root"></div>') };
};

/** Dicoogle's web application (bioinformatics-ua/dicoogle dicoogle/src/main/resources/webapp/index-template.html). */
const dicoogle: Route = (path) => {
  if (path !== '/' && path !== '/index.html') return notFound;
  const head = [
    '  <meta name="description" content="Dicoogle Web Application">',
    '  <link rel="shortcut icon" href="assets/favicon.ico">',
    '  <link href="bootstrap/css/bootstrap.css" rel="stylesheet">',
  ].join('\n');
  return { status: 200, headers: { 'Content-Type': 'text/html' }, body: html('Dicoogle', head, '  <div id="react-container"></div>') };
};

/** HAPI FHIR's testpage overlay home (hapifhir/hapi-fhir hapi-fhir-testpage-overlay window-title.html: "HAPI FHIR"). */
const hapi: Route = (path) => {
  if (path === '/') return { status: 302, headers: { Location: '/home' } };
  if (path !== '/home') return notFound;
  const head = ['  <link rel="stylesheet" href="/css/tester.css" />', '  <script src="/resources/jquery/dist/jquery.min.js"></script>'].join('\n');
  return { status: 200, headers: { 'Content-Type': 'text/html;charset=utf-8' }, body: html('HAPI FHIR', head, '  <div class="container-fluid">Server Home</div>') };
};

/** Bahmni's home app (Bahmni/openmrs-module-bahmniapps ui/app/home/index.html), behind Apache at /bahmni/home/. */
const bahmni: Route = (path) => {
  const server = { Server: 'Apache/2.4.58 (Unix) OpenSSL/3.1.4' };
  if (path === '/') return { status: 302, headers: { ...server, Location: '/bahmni/home/' } };
  if (path !== '/bahmni/home/' && path !== '/bahmni/home/index.html') return notFound;
  const head = ['  <link rel="shortcut icon" type="image/x-icon" href="../favicon.ico">', '  <link rel="stylesheet" href="../styles/home.css"/>'].join('\n');
  const body = ['<div class="reg-wrapper"><div ng-app="bahmni.home"><div ui-view id="view-content"></div></div></div>', '<script src="../components/angular/angular.min.js"></script>', '<script src="app.js"></script>'].join('\n');
  return { status: 200, headers: { ...server, 'Content-Type': 'text/html' }, body: html('Bahmni Home', head, body) };
};

/** OpenMRS 3 (openmrs/openmrs-module-spa master-single-page-application.jsp): title "OpenMRS", assets under /openmrs/. */
const openmrs: Route = (path) => {
  if (path === '/') return { status: 302, headers: { Location: '/openmrs/spa/login' } };
  if (!path.startsWith('/openmrs/spa')) return notFound;
  const head = [
    '  <link rel="shortcut icon" type="image/x-icon" href="/openmrs/images/openmrs-favicon.ico"/>',
    '  <base href="/openmrs/spa/" />',
    '  <script src="/openmrs/spa/openmrs.js"></script>',
  ].join('\n');
  return { status: 200, headers: { 'Content-Type': 'text/html;charset=UTF-8' }, body: html('OpenMRS', head, '  <div id="app"></div>') };
};

/** dcm4chee-arc-light's UI (dcm4chee-arc-ui2/src/index.html, title "Dcm4cheeArcUi2") at /dcm4chee-arc/ui2/. */
const dcm4chee: Route = (path) => {
  if (path === '/') return { status: 302, headers: { Location: '/dcm4chee-arc/ui2/' } };
  if (path !== '/dcm4chee-arc/ui2/') return notFound;
  const head = ['  <link rel="icon" type="image/x-icon" href="favicon.ico">', '  <script src="main.js"></script>'].join('\n');
  return { status: 200, headers: { 'Content-Type': 'text/html' }, body: html('Dcm4cheeArcUi2', head, '  <app-root>Loading...</app-root>') };
};

/** A viewer deep link that leaks: every channel carries the lab's web canaries. */
const leakyViewer: Route = (path) => {
  const c = WEB_LAB_CANARIES;
  if (path === '/') return { status: 302, headers: { Location: `/viewer/study?patientId=${c.patientId}&accession=${c.accession}` } };
  if (!path.startsWith('/viewer/study')) return notFound;
  const body = [
    `<h1>${c.displayName} (${c.patientId})</h1>`,
    `<p>DOB ${c.birthDate} - ${c.patientName} - Accession ${c.accession}</p>`,
    `<input type="hidden" name="patientId" value="${c.patientId}">`,
  ].join('\n');
  return { status: 200, headers: { 'Content-Type': 'text/html' }, body: html(`${c.displayName} ${c.patientId} - Study Viewer`, '', body) };
};

/** A generic sign-in page (no product named): what the certificate canary node serves. */
const signIn: Route = (path) => {
  if (path !== '/') return notFound;
  const form = ['<form method="post" action="/login">', '  <input type="text" name="username">', '  <input type="password" name="password">', '</form>'].join('\n');
  return { status: 200, headers: { 'Content-Type': 'text/html' }, body: html('Sign in', '', form) };
};

interface StartedServer {
  stop(): Promise<void>;
}

/** Serves a route table over HTTP or HTTPS on ip:port (loopback only, see listen()). */
export function routeServer(name: string, route: Route, opts: { tls?: boolean; h2?: boolean; cert?: WebCert } = {}): LabServiceFactory {
  return async (ip, port): Promise<StartedServer> => {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const r = req.method === 'GET' || req.method === 'HEAD' ? route(path, req) : { status: 405 };
      const body = r.body ?? '';
      res.writeHead(r.status, { 'Content-Length': Buffer.byteLength(body), ...(r.headers ?? {}) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const server = opts.tls
      ? https.createServer({ ...tlsMaterial(opts.cert), ...(opts.h2 ? { ALPNProtocols: ['h2', 'http/1.1'] } : {}) }, handler)
      : http.createServer(handler);
    server.maxHeadersCount = 64;
    server.headersTimeout = 10_000;
    server.requestTimeout = 15_000;
    const sockets = new Set<net.Socket>();
    server.on('connection', (s: net.Socket) => {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
      s.setTimeout(NODE_MAX_LIFE_MS, () => s.destroy());
    });
    server.on('tlsClientError', () => {});
    server.on('clientError', (_err, s) => s.destroy());
    await listen(server, name, ip, port);
    return { stop: () => closeServer(server, sockets) };
  };
}

type HostileWeb = 'endless-body' | 'huge-header' | 'redirect-loop' | 'slow-drip' | 'tls-garbage';

/** A raw TCP server that answers the first bytes of a request (never before) the hostile way. */
function hostileWeb(name: string, mode: HostileWeb): LabServiceFactory {
  return async (ip, port): Promise<StartedServer> => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
      sockets.add(s);
      const timers: NodeJS.Timeout[] = [];
      const life = setTimeout(() => s.destroy(), NODE_MAX_LIFE_MS);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        clearTimeout(life);
        for (const t of timers) clearInterval(t);
      });
      let got = 0;
      let answered = false;
      s.on('data', (chunk: Buffer) => {
        got += chunk.length;
        if (got > REQUEST_BYTES) return s.destroy();
        if (answered) return;
        answered = true;
        switch (mode) {
          case 'endless-body': {
            s.write('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n');
            const chunk = Buffer.alloc(16 * 1024, 0x61);
            const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
            let sent = 0;
            const pump = () => {
              while (!s.destroyed && sent < ENDLESS_MAX_BYTES) {
                sent += frame.length;
                if (!s.write(frame)) return void s.once('drain', pump);
              }
              s.destroy();
            };
            pump();
            break;
          }
          case 'huge-header':
            s.write('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n');
            s.write(`X-Padding: ${'p'.repeat(HUGE_HEADER_BYTES)}\r\n\r\n<html></html>`);
            break;
          case 'redirect-loop': {
            const text = chunk.toString('latin1');
            const to = /^GET \/a[ ?]/.test(text) ? '/' : '/a';
            s.end(`HTTP/1.1 302 Found\r\nLocation: ${to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
            break;
          }
          case 'slow-drip': {
            const text = 'HTTP/1.1 200 OK\r\nServer: drip/1.0\r\nContent-Length: 5\r\n\r\nhello';
            let i = 0;
            const t = setInterval(() => {
              if (i >= text.length) return s.end();
              s.write(text[i++]!);
            }, WEB_DRIP_INTERVAL_MS);
            timers.push(t);
            break;
          }
          case 'tls-garbage':
            // Random bytes where a ServerHello belongs (never starting like a TLS record or "HTTP/").
            s.end(Buffer.concat([Buffer.from([0x7f, 0x00]), randomBytes(510)]));
            break;
        }
      });
    });
    await listen(server, name, ip, port);
    return { stop: () => closeServer(server, sockets) };
  };
}

function node(spec: Omit<LabNodeSpec, 'kind'>): LabNodeSpec {
  return { kind: 'service', ...spec };
}

/** Lab nodes of the web family (third octet 4). */
export const NODES: readonly LabNodeSpec[] = [
  node({
    name: 'web-orthanc',
    hostOffset: [4, 10],
    port: 8042,
    role: 'pacs',
    description: 'Orthanc 1.10.1 web side, remote access without authentication: explorer redirect, /system readable',
    expected: { status: 'success', protocol: 'http', vendor: 'Orthanc', product: 'Orthanc', deviceType: 'pacs', title: 'Orthanc Explorer', location: 'app/explorer.html', findings: ['http-admin-no-login', 'http-no-tls', 'orthanc-rest-open'] },
    service: routeServer('web-orthanc', orthancRoutes('lab-orthanc')),
  }),
  node({
    name: 'web-orthanc-secure',
    hostOffset: [4, 11],
    port: 8042,
    role: 'pacs',
    description: 'Orthanc with authentication enabled: 401 Basic realm "Orthanc Secure Area" on every resource',
    expected: { status: 'success', protocol: 'http', vendor: 'Orthanc', product: 'Orthanc', deviceType: 'pacs', realm: 'Orthanc Secure Area', findings: ['http-no-tls'] },
    service: routeServer('web-orthanc-secure', orthancSecure),
  }),
  node({
    name: 'web-openemr',
    hostOffset: [4, 12],
    port: 80,
    role: 'ehr',
    description: 'OpenEMR behind Apache: redirect to interface/login/login.php, the login form (authUser, clearPass)',
    expected: { status: 'success', protocol: 'http', vendor: 'OpenEMR', product: 'OpenEMR', deviceType: 'ehr', loginForm: true, title: 'OpenEMR Login', findings: ['http-no-tls'] },
    service: routeServer('web-openemr', openemr),
  }),
  node({
    name: 'web-mirth',
    hostOffset: [4, 13],
    port: 8443,
    role: 'interface-engine',
    description: 'Mirth Connect web landing page over HTTPS with a self-signed certificate (ALPN offers h2)',
    expected: { status: 'success', protocol: 'http', vendor: 'NextGen Healthcare', product: 'Mirth Connect', deviceType: 'interface-engine', tls: true, scheme: 'https', http2: true, findings: ['tls-self-signed'] },
    service: routeServer('web-mirth', mirth, { tls: true, h2: true }),
    serviceTls: true,
  }),
  node({
    name: 'web-ohif',
    hostOffset: [4, 14],
    port: 3000,
    role: 'viewer',
    description: 'OHIF Viewer 3 app shell (title and application-name "OHIF Viewer")',
    expected: { status: 'success', protocol: 'http', vendor: 'OHIF', product: 'OHIF Viewer', deviceType: 'viewer', findings: ['http-no-tls'] },
    service: routeServer('web-ohif', ohif),
  }),
  node({
    name: 'web-dicoogle',
    hostOffset: [4, 15],
    port: 8080,
    role: 'pacs',
    description: 'Dicoogle web application shell',
    expected: { status: 'success', protocol: 'http', vendor: 'Dicoogle', product: 'Dicoogle', deviceType: 'pacs', findings: ['http-no-tls'] },
    service: routeServer('web-dicoogle', dicoogle),
  }),
  node({
    name: 'web-hapi-fhir',
    hostOffset: [4, 16],
    port: 8080,
    role: 'fhir-server',
    description: 'HAPI FHIR JPA server testpage overlay home',
    expected: { status: 'success', protocol: 'http', vendor: 'HAPI FHIR', product: 'HAPI FHIR', deviceType: 'fhir-server', findings: ['http-admin-no-login', 'http-no-tls'] },
    service: routeServer('web-hapi-fhir', hapi),
  }),
  node({
    name: 'web-bahmni',
    hostOffset: [4, 17],
    port: 443,
    role: 'his',
    description: 'Bahmni home app behind Apache over HTTPS (self-signed)',
    expected: { status: 'success', protocol: 'http', vendor: 'Bahmni', product: 'Bahmni', deviceType: 'his', tls: true, scheme: 'https', findings: ['tls-self-signed'] },
    service: routeServer('web-bahmni', bahmni, { tls: true }),
    serviceTls: true,
  }),
  node({
    name: 'web-openmrs',
    hostOffset: [4, 18],
    port: 8443,
    role: 'ehr',
    description: 'OpenMRS 3 on a connector left plain: HTTP on 8443 where TLS is expected (scheme fallback)',
    expected: { status: 'success', protocol: 'http', vendor: 'OpenMRS', product: 'OpenMRS', deviceType: 'ehr', scheme: 'http', schemeFallback: true, findings: ['http-no-tls'] },
    service: routeServer('web-openmrs', openmrs),
  }),
  node({
    name: 'web-dcm4chee-tls',
    hostOffset: [4, 19],
    port: 9090,
    role: 'pacs',
    description: 'dcm4chee-arc UI served over HTTPS on a port where plain HTTP is expected (scheme fallback)',
    expected: { status: 'success', protocol: 'http', vendor: 'dcm4che', product: 'dcm4chee-arc', deviceType: 'pacs', tls: true, scheme: 'https', schemeFallback: true, findings: ['tls-self-signed'] },
    service: routeServer('web-dcm4chee-tls', dcm4chee, { tls: true }),
    serviceTls: true,
  }),
  node({
    name: 'web-viewer-leaky',
    hostOffset: [4, 20],
    port: 8080,
    role: 'viewer',
    description: 'a viewer whose / redirects to a study view carrying synthetic patient canaries (query, title, body)',
    expected: { status: 'success', protocol: 'http', title: null, titleWithheld: true },
    service: routeServer('web-viewer-leaky', leakyViewer),
  }),
  node({
    name: 'web-cert-canary',
    hostOffset: [4, 21],
    port: 443,
    role: 'unknown',
    description: 'sign-in page over HTTPS whose CA-issued certificate carries synthetic patient values in subject and SANs (none may be kept)',
    expected: { status: 'success', protocol: 'http', tls: true, scheme: 'https', loginForm: true, title: 'Sign in' },
    service: routeServer('web-cert-canary', signIn, { tls: true, cert: 'cert-canary' }),
    serviceTls: true,
  }),
  node({
    name: 'web-endless-body',
    hostOffset: [4, 240],
    port: 8080,
    role: 'hostile',
    description: 'hostile: a chunked 200 body that never ends (the scanner keeps 64 KiB and hangs up)',
    expected: { status: 'success', protocol: 'http' },
    service: hostileWeb('web-endless-body', 'endless-body'),
  }),
  node({
    name: 'web-huge-header',
    hostOffset: [4, 241],
    port: 8080,
    role: 'hostile',
    description: 'hostile: a 1 MB response header line',
    expected: { status: 'protocol-error' },
    service: hostileWeb('web-huge-header', 'huge-header'),
  }),
  node({
    name: 'web-redirect-loop',
    hostOffset: [4, 242],
    port: 8080,
    role: 'hostile',
    description: 'hostile: / redirects to /a, /a back to /',
    expected: { status: 'application-error', redirectStop: 'loop' },
    service: hostileWeb('web-redirect-loop', 'redirect-loop'),
  }),
  node({
    name: 'web-slow-drip',
    hostOffset: [4, 243],
    port: 8080,
    role: 'hostile',
    description: 'hostile: the response headers one byte every 500 ms',
    expected: { status: 'io-timeout' },
    service: hostileWeb('web-slow-drip', 'slow-drip'),
  }),
  node({
    name: 'web-tls-garbage',
    hostOffset: [4, 244],
    port: 443,
    role: 'hostile',
    description: 'hostile: random bytes in answer to the TLS ClientHello (and to plain HTTP)',
    expected: { status: 'tls-error' },
    service: hostileWeb('web-tls-garbage', 'tls-garbage'),
  }),
];
