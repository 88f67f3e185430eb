/**
 * The authorisation matrix (issue 6 "Proof required"): every route the server registers, called
 * as anonymous, viewer, analyst and admin, with the outcome each must get. A route added
 * without a row here fails the coverage test, so no endpoint escapes the matrix.
 *
 * Also: an analyst without the intrusive permission cannot launch an intrusive scan, and an
 * organisation-scoped viewer neither reads another organisation's host nor sees it in lists.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageRoot } from '../core/paths.js';
import { registeredRoutes } from './app.js';
import { createToken } from './auth/tokens.js';
import { createUser } from './auth/users.js';
import { addUser, as, type Client, login, ORG_A, ORG_B, PASSWORD, SEED, seedInventory, TEST_ARGON2_KIB, type TestServer, testServer } from './test-support.js';

type Role = 'anon' | 'viewer' | 'analyst' | 'admin';
const ROLES: Role[] = ['anon', 'viewer', 'analyst', 'admin'];

interface Row {
  method: string;
  /** The route as registered. */
  route: string;
  /** The URL called (route parameters filled in). */
  url?: string;
  body?: unknown;
  /** Status per role; a bare number applies to the three logged-in roles. */
  expect: Record<Role, number>;
  /** Log in afresh for this call (the call ends the session). */
  fresh?: boolean;
}

const ok = (status: number, anon = 401): Record<Role, number> => ({ anon, viewer: status, analyst: status, admin: status });
const analystOnly = (status: number): Record<Role, number> => ({ anon: 401, viewer: 403, analyst: status, admin: status });
const adminOnly = (status: number): Record<Role, number> => ({ anon: 401, viewer: 403, analyst: 403, admin: status });
const pub = (status: number): Record<Role, number> => ({ anon: status, viewer: status, analyst: status, admin: status });

let t: TestServer;
const clients: Partial<Record<Role, Client>> = {};
let findingA = 0;
let victimId = 0;
let adminTokenId = 0;

function rows(): Row[] {
  return [
    { method: 'GET', route: '/api/v1/health', expect: pub(200) },
    { method: 'GET', route: '/contact', expect: pub(200) },
    { method: 'POST', route: '/api/v1/auth/setup', body: { token: 'x', username: 'newadmin', password: 'long enough password' }, expect: pub(409) },
    { method: 'POST', route: '/api/v1/auth/login', body: { username: 'nobody', password: 'wrong password' }, expect: pub(401) },
    { method: 'POST', route: '/api/v1/auth/logout', fresh: true, expect: ok(204) },
    { method: 'GET', route: '/api/v1/auth/me', expect: ok(200) },
    { method: 'GET', route: '/api/v1/summary', expect: ok(200) },
    { method: 'GET', route: '/api/v1/trend', url: '/api/v1/trend?days=7', expect: ok(200) },
    { method: 'GET', route: '/api/v1/assets/top', expect: ok(200) },
    { method: 'GET', route: '/api/v1/services', url: '/api/v1/services?q=port:104&sort=risk&order=desc', expect: ok(200) },
    { method: 'GET', route: '/api/v1/assets', url: '/api/v1/assets?q=devicetype:pacs', expect: ok(200) },
    { method: 'GET', route: '/api/v1/facets', url: '/api/v1/facets?field=devicetype', expect: ok(200) },
    { method: 'GET', route: '/api/v1/assets/:ip', url: `/api/v1/assets/${SEED.a}`, expect: ok(200) },
    { method: 'PATCH', route: '/api/v1/assets/:ip', url: `/api/v1/assets/${SEED.a}`, body: { tags: ['radiology'], owner: 'PACS team' }, expect: analystOnly(200) },
    { method: 'GET', route: '/api/v1/findings', url: '/api/v1/findings?state=open&severity=high,medium', expect: ok(200) },
    { method: 'PATCH', route: '/api/v1/findings/:id', url: `/api/v1/findings/${findingA}`, body: { userState: 'accepted-risk', note: 'compensating control' }, expect: analystOnly(200) },
    { method: 'POST', route: '/api/v1/findings/bulk', body: { ids: [findingA], userState: null }, expect: analystOnly(200) },
    { method: 'GET', route: '/api/v1/scans', expect: ok(200) },
    { method: 'GET', route: '/api/v1/scans/:id', url: '/api/v1/scans/r-seed', expect: ok(200) },
    { method: 'POST', route: '/api/v1/scans', body: { targets: ['127.217.250.1'], profile: 'safe', ports: '104' }, expect: analystOnly(202) },
    { method: 'POST', route: '/api/v1/scans/:id/cancel', url: '/api/v1/scans/r-none/cancel', expect: analystOnly(404) },
    { method: 'POST', route: '/api/v1/scans/stop-all', body: {}, expect: adminOnly(200) },
    // The matrix server accepts no event-stream client: 503 proves the request got past authorisation.
    { method: 'GET', route: '/api/v1/events', expect: ok(503) },
    { method: 'GET', route: '/api/v1/monitor/jobs', expect: ok(200) },
    { method: 'GET', route: '/api/v1/export', url: '/api/v1/export?format=jsonl', expect: analystOnly(200) },
    { method: 'GET', route: '/api/v1/users', expect: adminOnly(200) },
    { method: 'POST', route: '/api/v1/users', body: { username: 'made-by-admin', password: 'long enough password', role: 'viewer' }, expect: adminOnly(201) },
    { method: 'PATCH', route: '/api/v1/users/:id', url: `/api/v1/users/${victimId}`, body: { role: 'analyst' }, expect: adminOnly(200) },
    { method: 'DELETE', route: '/api/v1/users/:id', url: `/api/v1/users/${victimId}`, expect: adminOnly(204) },
    { method: 'GET', route: '/api/v1/tokens', expect: ok(200) },
    { method: 'POST', route: '/api/v1/tokens', body: { name: 'script' }, expect: ok(201) },
    // Another user's token: not found for non-admins, deleted by the admin.
    { method: 'DELETE', route: '/api/v1/tokens/:id', url: `/api/v1/tokens/${adminTokenId}`, expect: { anon: 401, viewer: 404, analyst: 404, admin: 204 } },
    { method: 'GET', route: '/api/v1/audit', expect: adminOnly(200) },
    // The dashboard and the API documentation are public pages (they hold no inventory data).
    { method: 'GET', route: '/*', url: '/inventory', expect: pub(200) },
    { method: 'GET', route: '/api/docs', expect: pub(200) },
    { method: 'HEAD', route: '/api/docs/', expect: pub(200) },
    { method: 'GET', route: '/api/docs/json', expect: pub(200) },
    { method: 'GET', route: '/api/docs/yaml', expect: pub(200) },
    { method: 'GET', route: '/api/docs/static/index.html', expect: pub(302) },
    { method: 'GET', route: '/api/docs/static/swagger-initializer.js', expect: pub(200) },
    { method: 'GET', route: '/api/docs/static/*', url: '/api/docs/static/swagger-ui.css', expect: pub(200) },
  ];
}

async function call(row: Row, role: Role, method = row.method) {
  let headers: Record<string, string> = {};
  if (role !== 'anon') headers = as(row.fresh ? await login(t, clients[role]!.username) : clients[role]!);
  return t.app.inject({
    method: method as 'GET',
    url: row.url ?? row.route,
    headers,
    ...(row.body !== undefined ? { payload: row.body as object } : {}),
  });
}

describe('authorisation matrix', () => {
  before(async () => {
    t = await testServer({
      withWeb: true,
      contactPage: path.join(packageRoot(), 'src/server/fixtures/contact.yaml'),
      sseMaxClients: 0,
      loginRateMax: 1000,
      // A launched "scan" that ends at once: the matrix checks who may launch, not the scan.
      scanCommand: [process.execPath, '-e', 'process.exit(0)'],
    });
    ({ findingA } = await seedInventory(t.inv));
    await addUser(t, 'viewer', 'viewer');
    await addUser(t, 'analyst', 'analyst', { canIntrusive: true });
    await addUser(t, 'admin', 'admin', { canIntrusive: true });
    victimId = (await createUser(t.inv.db, { username: 'victim', password: PASSWORD, role: 'viewer' }, new Date(), TEST_ARGON2_KIB)).id;
    const admin = (await t.inv.db.selectFrom('users').select(['id', 'username']).where('username', '=', 'admin').executeTakeFirstOrThrow());
    adminTokenId = (await createToken(t.inv.db, { id: Number(admin.id), username: admin.username }, 'admin script', new Date())).token.id;
    for (const r of ['viewer', 'analyst', 'admin'] as const) clients[r] = await login(t, r);
  });
  after(async () => {
    await t?.close();
  });

  test('every route answers each role as the matrix says', async () => {
    const wrong: string[] = [];
    for (const row of rows()) {
      for (const role of ROLES) {
        const res = await call(row, role);
        if (res.statusCode !== row.expect[role]) wrong.push(`${row.method} ${row.url ?? row.route} as ${role}: ${res.statusCode} (expected ${row.expect[role]}) ${res.body.slice(0, 160)}`);
        assert.equal(res.headers['cache-control'], 'no-store', `${row.method} ${row.route} as ${role} is no-store`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  test('HEAD answers as GET for anonymous callers', async () => {
    for (const row of rows().filter((r) => r.method === 'GET' && r.route !== '/api/v1/events')) {
      const res = await call(row, 'anon', 'HEAD');
      assert.equal(res.statusCode, row.expect.anon, `HEAD ${row.route}`);
    }
  });

  test('the matrix covers every registered route, and only those', () => {
    const table = new Set(rows().map((r) => `${r.method} ${r.route}`));
    const registered = registeredRoutes(t.app);
    assert.ok(registered.length > 30, `${registered.length} routes registered`);
    const missing = registered
      .filter((r) => !table.has(`${r.method} ${r.url}`) && !(r.method === 'HEAD' && table.has(`GET ${r.url}`)))
      .map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(missing, [], 'routes without a row in the matrix');
    const known = new Set(registered.map((r) => `${r.method} ${r.url}`));
    assert.deepEqual([...table].filter((k) => !known.has(k)), [], 'matrix rows of routes that do not exist');
  });

  test('matrix rows agree with the access each route declares', () => {
    const declared = new Map(registeredRoutes(t.app).map((r) => [`${r.method} ${r.url}`, r.access]));
    for (const row of rows()) {
      const access = declared.get(`${row.method} ${row.route}`);
      // A public route treats everyone alike; any other refuses anonymous callers.
      if (access === 'public') assert.ok(ROLES.every((r) => row.expect[r] === row.expect.anon), `${row.route} is public`);
      else assert.equal(row.expect.anon, 401, `${row.route} (${access}) refuses anonymous callers`);
    }
  });

  test('an analyst without the intrusive permission cannot launch an intrusive scan', async () => {
    await addUser(t, 'careful', 'analyst', { canIntrusive: false });
    const c = await login(t, 'careful');
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/scans', headers: as(c), payload: { targets: ['127.217.250.2'], profile: 'intrusive' } });
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(res.json().error, 'intrusive-not-allowed');
    const safe = await t.app.inject({ method: 'POST', url: '/api/v1/scans', headers: as(c), payload: { targets: ['127.217.250.2'], profile: 'safe' } });
    assert.equal(safe.statusCode, 202, safe.body);
    const audit = await t.inv.db.selectFrom('audit_log').selectAll().where('action', '=', 'scan-launch').where('ok', '=', 0).execute();
    assert.equal(audit.length, 1, 'the refused launch is audited');
  });

  test('an organisation-scoped viewer sees only its organisation', async () => {
    await addUser(t, 'alpha-viewer', 'viewer', { orgs: [ORG_A.toLowerCase()] });
    const c = as(await login(t, 'alpha-viewer'));
    const get = async (url: string) => {
      const res = await t.app.inject({ method: 'GET', url, headers: c });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      return res.json();
    };
    assert.equal((await t.app.inject({ method: 'GET', url: `/api/v1/assets/${SEED.b}`, headers: c })).statusCode, 404, 'another organisation\'s host');
    assert.equal((await t.app.inject({ method: 'GET', url: `/api/v1/assets/${SEED.none}`, headers: c })).statusCode, 404, 'an unattributed host');
    assert.equal((await get(`/api/v1/assets/${SEED.a}`)).asset.org, ORG_A);
    for (const url of ['/api/v1/services', '/api/v1/assets', `/api/v1/services?q=${encodeURIComponent(`org:"${ORG_B}" OR ip:${SEED.b}`)}`, '/api/v1/services?q=port:11112']) {
      const page = await get(url);
      assert.ok(page.rows.every((r: { ip: string }) => r.ip === SEED.a), `${url} lists only ${SEED.a}: ${JSON.stringify(page.rows.map((r: { ip: string }) => r.ip))}`);
    }
    const findings = await get('/api/v1/findings');
    assert.deepEqual(findings.rows.map((r: { ip: string }) => r.ip), [SEED.a]);
    const facet = await get('/api/v1/facets?field=org');
    assert.deepEqual(facet.buckets.map((b: { value: string }) => b.value), [ORG_A]);
    const summary = await get('/api/v1/summary');
    assert.equal(summary.assets, 1);
    assert.equal(summary.openFindings, 1);
    const top = await get('/api/v1/assets/top');
    assert.deepEqual(top.map((r: { ip: string }) => r.ip), [SEED.a]);
    const exportRes = await t.app.inject({ method: 'GET', url: '/api/v1/export?format=jsonl', headers: c });
    assert.equal(exportRes.statusCode, 403, 'a viewer does not export');
    // A query trying to escape the parentheses is refused, never run unscoped.
    const breakout = await t.app.inject({ method: 'GET', url: `/api/v1/services?q=${encodeURIComponent('port:104) OR (port:11112')}`, headers: c });
    assert.equal(breakout.statusCode, 400, breakout.body);
  });

  test('an organisation-scoped analyst cannot change another organisation\'s host or finding', async () => {
    await addUser(t, 'beta-analyst', 'analyst', { orgs: [ORG_B] });
    const c = as(await login(t, 'beta-analyst'));
    const patch = await t.app.inject({ method: 'PATCH', url: `/api/v1/assets/${SEED.a}`, headers: c, payload: { notes: 'not mine' } });
    assert.equal(patch.statusCode, 404);
    const f = await t.app.inject({ method: 'PATCH', url: `/api/v1/findings/${findingA}`, headers: c, payload: { userState: 'false-positive' } });
    assert.equal(f.statusCode, 404);
    const bulk = await t.app.inject({ method: 'POST', url: '/api/v1/findings/bulk', headers: c, payload: { ids: [findingA], userState: 'fixed' } });
    assert.equal(bulk.statusCode, 404);
    const exp = await t.app.inject({ method: 'GET', url: '/api/v1/export?format=csv', headers: c });
    assert.equal(exp.statusCode, 200);
    assert.ok(!exp.body.includes(SEED.a), 'the export leaves the other organisation out');
    assert.ok(exp.body.includes(SEED.b));
  });
});
