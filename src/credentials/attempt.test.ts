import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { after, describe, test } from 'node:test';
import { testProbeContext } from '../core/testing.js';
import { CredentialsDbError, entryFor, loadCredentials, lockoutSignal, tryCredentials } from './attempt.js';
import type { CredentialsFile } from './schema.js';

/** Test servers listen on 127.80.2.x. */
const HOST = '127.80.2.1';
const servers: http.Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

interface Seen {
  /** Requests that carried credentials (Authorization header or a form body). */
  attempts: number;
  requests: number;
  users: string[];
}

async function serve(handler: (req: http.IncomingMessage, body: string, seen: Seen) => [number, Record<string, string>, string]): Promise<{ port: number; seen: Seen }> {
  const seen: Seen = { attempts: 0, requests: 0, users: [] };
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      seen.requests++;
      const auth = req.headers.authorization;
      if (auth?.startsWith('Basic ')) {
        seen.attempts++;
        seen.users.push(Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')[0]!);
      } else if (body) {
        seen.attempts++;
        seen.users.push(new URLSearchParams(body).get('username') ?? new URLSearchParams(body).get('authUser') ?? '');
      }
      const [status, headers, text] = handler(req, body, seen);
      res.writeHead(status, headers);
      res.end(text);
    });
  });
  servers.push(srv);
  const port = await new Promise<number>((resolve) => srv.listen(0, HOST, () => resolve((srv.address() as net.AddressInfo).port)));
  return { port, seen };
}

function basicUser(req: http.IncomingMessage): [string, string] | null {
  const a = req.headers.authorization;
  if (!a?.startsWith('Basic ')) return null;
  const [u, ...p] = Buffer.from(a.slice(6), 'base64').toString('utf8').split(':');
  return [u!, p.join(':')];
}

const db = loadCredentials();
const orthanc = entryFor('Orthanc', db)!;
const opts = { delayMs: 0, weak: true };

describe('credential data file', () => {
  test('loads, every product entry has a sourced default, ids are unique', () => {
    assert.ok(db.products.length >= 7);
    const ids = [...db.weak, ...db.products.flatMap((p) => p.accounts)].map((a) => a.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const name of ['Orthanc', 'OpenEMR', 'XNAT', 'Mirth Connect', 'OpenMRS', 'Dicoogle', 'dcm4chee']) {
      assert.ok(entryFor(name, db), name);
    }
    assert.equal(entryFor('orthanc', db)?.id, 'orthanc', 'product names compare case-insensitively');
    assert.equal(entryFor('Apache httpd', db), null, 'nothing is tried against a product without an entry');
    assert.equal(entryFor(undefined, db), null);
  });

  test('a malformed file is a clear error', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'medsurface-creds-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'version: 1\nweak: []\nproducts:\n  - id: x\n    products: [X]\n    method: { kind: http-basic, path: nope, success: { status: 200 } }\n    accounts: []\n');
    assert.throws(() => loadCredentials(bad), (e: unknown) => e instanceof CredentialsDbError && /products\.0\.method\.path/.test(e.message));
  });
});

describe('tryCredentials', () => {
  test('Orthanc-style Basic auth: the default account is accepted on the first attempt, no password kept', async () => {
    const { port, seen } = await serve((req) => {
      const c = basicUser(req);
      return c && c[0] === 'orthanc' && c[1] === 'orthanc'
        ? [200, { 'content-type': 'application/json' }, '{ "ApiVersion" : 27, "Name" : "TEST" }']
        : [401, { 'www-authenticate': 'Basic realm="Orthanc Secure Area"' }, ''];
    });
    const budget = { credentialBudget: 6, fragile: false };
    const obs = await tryCredentials(testProbeContext(HOST, port), orthanc, db, budget, opts);
    assert.deepEqual(obs.accepted, { id: 'orthanc-default', user: 'orthanc', kind: 'default' });
    assert.equal(obs.stoppedBy, 'accepted');
    assert.equal(obs.attempts, 1);
    assert.equal(seen.attempts, 1, 'the peer saw one credential attempt');
    assert.equal(budget.credentialBudget, 5);
    assert.ok(!JSON.stringify(obs).includes('"orthanc:') && !/password/i.test(JSON.stringify(obs)));
  });

  test('the per-host budget caps the attempts the peer sees, across services of the host', async () => {
    const { port, seen } = await serve((req) => (basicUser(req) ? [401, {}, ''] : [401, { 'www-authenticate': 'Basic realm="x"' }, '']));
    const budget = { credentialBudget: 3, fragile: false };
    const first = await tryCredentials(testProbeContext(HOST, port), orthanc, db, budget, opts);
    assert.equal(first.stoppedBy, 'budget');
    assert.equal(first.attempts, 3);
    const second = await tryCredentials(testProbeContext(HOST, port), orthanc, db, budget, opts);
    assert.equal(second.attempts, 0, 'a second service of the same host gets nothing left');
    assert.equal(seen.attempts, 3, 'the peer counted exactly the budget');
  });

  test('without the weak list only documented defaults are tried; exhausted when none works', async () => {
    const { port, seen } = await serve((req) => (basicUser(req) ? [401, {}, ''] : [401, {}, '']));
    const obs = await tryCredentials(testProbeContext(HOST, port), orthanc, db, { credentialBudget: 6, fragile: false }, { delayMs: 0, weak: false });
    assert.equal(obs.stoppedBy, 'exhausted');
    assert.equal(obs.attempts, orthanc.accounts.length);
    assert.deepEqual(seen.users, ['orthanc']);
  });

  test('a lockout sign stops every further attempt on the host', async () => {
    const { port, seen } = await serve((req, _b, s) => {
      if (!basicUser(req)) return [401, {}, ''];
      return s.attempts >= 2 ? [429, { 'retry-after': '600' }, 'Too many failed login attempts'] : [401, {}, ''];
    });
    const budget = { credentialBudget: 6, fragile: false };
    const obs = await tryCredentials(testProbeContext(HOST, port), orthanc, db, budget, opts);
    assert.equal(obs.stoppedBy, 'lockout');
    assert.equal(obs.lockoutSignal, 'status 429');
    assert.equal(obs.attempts, 2);
    assert.equal(seen.attempts, 2);
    assert.equal(budget.credentialBudget, 0, 'nothing more for this host in this run');
  });

  test('lockout signs in a 401/403 body are recognised too', () => {
    const r = (status: number, body: string, headers: Record<string, string> = {}) =>
      ({ status, headers, body: Buffer.from(body) }) as Parameters<typeof lockoutSignal>[0];
    assert.equal(lockoutSignal(r(403, 'Your account has been locked.')), 'body: account has been locked');
    assert.equal(lockoutSignal(r(401, 'Bad credentials')), null);
    assert.equal(lockoutSignal(r(503, '', { 'retry-after': '30' })), 'Retry-After header');
    assert.equal(lockoutSignal(r(423, '')), 'status 423');
  });

  test('an API open without credentials is not guessed at', async () => {
    const { port, seen } = await serve(() => [200, {}, '{"ApiVersion": 27}']);
    const obs = await tryCredentials(testProbeContext(HOST, port), orthanc, db, { credentialBudget: 6, fragile: false }, opts);
    assert.equal(obs.stoppedBy, 'open');
    assert.equal(seen.attempts, 0);
  });

  test('imaging modalities and bedside devices are never tried', async () => {
    const { port, seen } = await serve(() => [401, {}, '']);
    const obs = await tryCredentials(testProbeContext(HOST, port), orthanc, db, { credentialBudget: 6, fragile: true }, opts);
    assert.equal(obs.stoppedBy, 'fragile');
    assert.equal(seen.requests, 0);
  });

  test('form logins: Dicoogle token and Mirth Connect login status', async () => {
    const dicoogle = await serve((_req, body) => {
      const f = new URLSearchParams(body);
      return f.get('username') === 'dicoogle' && f.get('password') === 'dicoogle'
        ? [200, { 'content-type': 'application/json' }, '{"user":"dicoogle","token":"0f1e","roles":[],"admin":true}']
        : [401, {}, ''];
    });
    const d = await tryCredentials(testProbeContext(HOST, dicoogle.port), entryFor('Dicoogle', db)!, db, { credentialBudget: 6, fragile: false }, opts);
    assert.deepEqual(d.accepted, { id: 'dicoogle-default', user: 'dicoogle', kind: 'default' });
    const mirth = await serve((req, body) => {
      assert.equal(req.headers['x-requested-with'], 'OpenAPI');
      assert.equal(req.method, 'POST');
      const f = new URLSearchParams(body);
      const ok = f.get('username') === 'admin' && f.get('password') === 'admin';
      return [ok ? 200 : 401, { 'content-type': 'application/xml' }, `<com.mirth.connect.model.LoginStatus><status>${ok ? 'SUCCESS' : 'FAIL'}</status></com.mirth.connect.model.LoginStatus>`];
    });
    const m = await tryCredentials(testProbeContext(HOST, mirth.port), entryFor('Mirth Connect', db)!, db, { credentialBudget: 6, fragile: false }, opts);
    assert.equal(m.accepted?.id, 'mirth-default');
    assert.equal(mirth.seen.attempts, 1);
  });

  test('a weak password is found after the defaults and reported as weak', async () => {
    const { port, seen } = await serve((req) => {
      const c = basicUser(req);
      return c && c[0] === 'admin' && c[1] === '123456' ? [200, {}, '{"ApiVersion": 27}'] : [401, {}, ''];
    });
    const obs = await tryCredentials(testProbeContext(HOST, port), orthanc, db, { credentialBudget: 6, fragile: false }, opts);
    assert.deepEqual(obs.accepted, { id: 'weak-admin-123456', user: 'admin', kind: 'weak' });
    assert.deepEqual(seen.users, ['orthanc', 'admin', 'admin']);
  });

  test('a dead service is an error, not a crash', async () => {
    const obs = await tryCredentials(testProbeContext(HOST, 1), orthanc, db, { credentialBudget: 6, fragile: false }, opts);
    assert.equal(obs.stoppedBy, 'error');
    assert.equal(obs.errors.length, 1);
  });

  test('the typed file keeps passwords only in the definition', () => {
    const f: CredentialsFile = db;
    assert.ok(f.products.every((p) => p.accounts.every((a) => typeof a.source === 'string' && a.source.length > 10)));
  });
});
