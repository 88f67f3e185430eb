/**
 * The server's defences, one by one: CSRF on cookie writes, session fixation, logout and
 * expiry, lockout and login rate limit, the one-time setup token, API tokens stored hashed and
 * shown once, input validation (400, never 500), headers, and the contact page's escaping.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageRoot } from '../core/paths.js';
import { addUser, as, type Client, login, PASSWORD, SEED, seedInventory, sessionCookie, type TestServer, testServer } from './test-support.js';

class Clock {
  t = Date.parse('2026-11-20T10:00:00.000Z');
  now = (): Date => new Date(this.t);
  advance(ms: number): void {
    this.t += ms;
  }
}

describe('CSRF, sessions and tokens', () => {
  let t: TestServer;
  const clock = new Clock();
  let analyst: Client;
  let findingA = 0;
  before(async () => {
    t = await testServer({ now: clock.now, loginRateMax: 1000 });
    ({ findingA } = await seedInventory(t.inv));
    await addUser(t, 'analyst', 'analyst');
    await addUser(t, 'other', 'viewer');
    analyst = await login(t, 'analyst');
  });
  after(async () => {
    await t?.close();
  });

  const patchFinding = (headers: Record<string, string>) =>
    t.app.inject({ method: 'PATCH', url: `/api/v1/findings/${findingA}`, headers, payload: { userState: 'accepted-risk' } });

  test('a cookie-authenticated write needs the session\'s CSRF token', async () => {
    const cookie = { cookie: `ms_session=${analyst.cookie}` };
    const none = await patchFinding(cookie);
    assert.equal(none.statusCode, 403);
    assert.equal(none.json().error, 'csrf');
    const wrong = await patchFinding({ ...cookie, 'x-csrf-token': `${analyst.csrf.slice(0, -1)}x` });
    assert.equal(wrong.statusCode, 403);
    const otherSession = await login(t, 'other');
    const foreign = await patchFinding({ ...cookie, 'x-csrf-token': otherSession.csrf });
    assert.equal(foreign.statusCode, 403, "another session's token is not this session's");
    const good = await patchFinding(as(analyst));
    assert.equal(good.statusCode, 200, good.body);
    assert.equal(good.json().finding.userState, 'accepted-risk');
    // Reads need no token.
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/findings', headers: cookie })).statusCode, 200);
  });

  test('a bearer-token write needs no CSRF header; a token cannot mint tokens', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: as(analyst), payload: { name: 'ci' } });
    assert.equal(created.statusCode, 201, created.body);
    const { secret } = created.json() as { secret: string };
    const bearer = { authorization: `Bearer ${secret}` };
    const res = await t.app.inject({ method: 'PATCH', url: `/api/v1/findings/${findingA}`, headers: bearer, payload: { userState: null } });
    assert.equal(res.statusCode, 200, res.body);
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer });
    assert.equal(me.json().user.username, 'analyst');
    assert.equal(me.json().csrfToken, null);
    const mint = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer, payload: { name: 'more' } });
    assert.equal(mint.statusCode, 403);
    const bad = await t.app.inject({ method: 'GET', url: '/api/v1/summary', headers: { authorization: `Bearer ${secret.slice(0, -2)}xx` } });
    assert.equal(bad.statusCode, 401);
    const basic = await t.app.inject({ method: 'GET', url: '/api/v1/summary', headers: { authorization: 'Basic YTpi' } });
    assert.equal(basic.statusCode, 401);
  });

  test('API tokens are stored as SHA-256 and their secret is shown once', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: as(analyst), payload: { name: 'report job', expiresInDays: 30 } });
    const { secret, token } = created.json() as { secret: string; token: { id: number; prefix: string } };
    assert.match(secret, /^mst_[A-Za-z0-9_-]{43}$/);
    const row = await t.inv.db.selectFrom('api_tokens').selectAll().where('id', '=', token.id).executeTakeFirstOrThrow();
    assert.equal(row.token_hash, createHash('sha256').update(secret).digest('hex'));
    const whole = JSON.stringify(await t.inv.db.selectFrom('api_tokens').selectAll().execute());
    assert.ok(!whole.includes(secret) && !whole.includes(secret.slice(4)), 'no secret in the table');
    assert.ok(secret.startsWith(token.prefix));
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: as(analyst) });
    assert.ok(!list.body.includes(secret.slice(12)), 'the list shows the prefix only');
    const audit = JSON.stringify(await t.inv.db.selectFrom('audit_log').selectAll().execute());
    assert.ok(!audit.includes(secret.slice(12)), 'no secret in the audit log');
    // An expired token stops working.
    clock.advance(31 * 86_400_000);
    const late = await t.app.inject({ method: 'GET', url: '/api/v1/summary', headers: { authorization: `Bearer ${secret}` } });
    assert.equal(late.statusCode, 401);
    clock.advance(-31 * 86_400_000);
  });

  test('login issues a new session id: a cookie set before login is not the one after', async () => {
    const planted = 'A'.repeat(43);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { cookie: `ms_session=${planted}` }, payload: { username: 'analyst', password: PASSWORD } });
    assert.equal(res.statusCode, 200);
    const fresh = sessionCookie(res);
    assert.notEqual(fresh, planted);
    const c = res.cookies.find((x) => x.name === 'ms_session')!;
    assert.equal(c.httpOnly, true);
    assert.equal(c.sameSite, 'Strict');
    assert.equal(c.path, '/');
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie: `ms_session=${planted}` } })).statusCode, 401);
    // Logging in again from a live session replaces it: the old id stops working.
    const again = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { cookie: `ms_session=${fresh}` }, payload: { username: 'analyst', password: PASSWORD } });
    const second = sessionCookie(again);
    assert.notEqual(second, fresh);
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie: `ms_session=${fresh}` } })).statusCode, 401);
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie: `ms_session=${second}` } })).statusCode, 200);
    // Session ids are stored hashed.
    const rows = JSON.stringify(await t.inv.db.selectFrom('sessions').selectAll().execute());
    assert.ok(!rows.includes(second));
  });

  test('logout invalidates the session', async () => {
    const c = await login(t, 'analyst');
    const out = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: as(c) });
    assert.equal(out.statusCode, 204);
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: as(c) })).statusCode, 401);
  });

  test('an expired or idle session is rejected', async () => {
    const c = await login(t, 'analyst');
    clock.advance(2 * 3600_000 + 1000);
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: as(c) })).statusCode, 401, 'idle for more than 2 hours');
    const d = await login(t, 'analyst');
    for (let i = 0; i < 7; i++) {
      clock.advance(100 * 60_000);
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: as(d) })).statusCode, 200, `active, hour ${((i + 1) * 100) / 60}`);
    }
    clock.advance(100 * 60_000);
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: as(d) })).statusCode, 401, 'past 12 hours');
  });

  test('disabling a user ends its sessions and tokens', async () => {
    await addUser(t, 'leaver', 'analyst');
    const c = await login(t, 'leaver');
    const tok = (await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: as(c), payload: { name: 'x' } })).json().secret as string;
    await addUser(t, 'boss', 'admin');
    const boss = await login(t, 'boss');
    const id = (await t.inv.db.selectFrom('users').select('id').where('username', '=', 'leaver').executeTakeFirstOrThrow()).id;
    const res = await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${id}`, headers: as(boss), payload: { disabled: true } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: as(c) })).statusCode, 401);
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${tok}` } })).statusCode, 401);
    const last = await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${(await t.inv.db.selectFrom('users').select('id').where('username', '=', 'boss').executeTakeFirstOrThrow()).id}`, headers: as(boss), payload: { role: 'viewer' } });
    assert.equal(last.statusCode, 409, 'the last admin cannot demote itself');
  });
});

describe('behind TLS', () => {
  test('the session cookie is Secure and answers carry HSTS', async () => {
    const t = await testServer({ tls: true });
    try {
      await addUser(t, 'admin', 'admin');
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: PASSWORD } });
      assert.equal(res.statusCode, 200);
      assert.equal(res.cookies.find((c) => c.name === 'ms_session')?.secure, true);
      assert.match(String(res.headers['strict-transport-security']), /max-age=31536000/);
    } finally {
      await t.close();
    }
  });
});

describe('lockout and rate limit', () => {
  let t: TestServer;
  const clock = new Clock();
  before(async () => {
    t = await testServer({ now: clock.now, loginRateMax: 10 });
    await addUser(t, 'victim', 'viewer');
  });
  after(async () => {
    await t?.close();
  });

  const attempt = (password: string, remoteAddress: string, username = 'victim') =>
    t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password }, remoteAddress });

  test('five failures in a row lock the account for 15 minutes', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await attempt('wrong password', `127.0.1.${i + 1}`)).statusCode, 401);
    const locked = await attempt(PASSWORD, '127.0.1.9');
    assert.equal(locked.statusCode, 401, 'the right password is refused while locked');
    assert.equal(locked.json().error, 'invalid-credentials', 'a locked account answers like a wrong password');
    clock.advance(14 * 60_000);
    assert.equal((await attempt(PASSWORD, '127.0.1.10')).statusCode, 401, 'still locked after 14 minutes');
    clock.advance(2 * 60_000);
    assert.equal((await attempt(PASSWORD, '127.0.1.11')).statusCode, 200, 'open again after 15 minutes');
    const fails = await t.inv.db.selectFrom('audit_log').selectAll().where('action', '=', 'login').where('ok', '=', 0).execute();
    assert.equal(fails.length, 7, "five wrong passwords and two attempts while locked");
    assert.ok(fails.every((f) => !(f.detail ?? '').includes('wrong password')), 'no password in the audit log');
  });

  test('a success resets the count', async () => {
    for (let i = 0; i < 4; i++) await attempt('wrong password', '127.0.2.1');
    assert.equal((await attempt(PASSWORD, '127.0.2.1')).statusCode, 200);
    for (let i = 0; i < 4; i++) await attempt('wrong password', '127.0.2.1');
    assert.equal((await attempt(PASSWORD, '127.0.2.2')).statusCode, 200);
  });

  test('logins are rate limited per address', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push((await attempt('wrong password', '127.0.3.1', 'nobody')).statusCode);
    assert.deepEqual(codes.slice(0, 10), Array(10).fill(401));
    assert.deepEqual(codes.slice(10), [429, 429]);
    const limited = await attempt('wrong password', '127.0.3.1', 'nobody');
    assert.equal(limited.json().error, 'rate-limited');
    assert.equal((await attempt('wrong password', '127.0.3.2', 'nobody')).statusCode, 401, 'another address is not limited');
  });
});

describe('one-time setup', () => {
  test('the setup token creates the first admin once, and is refused when users exist', async () => {
    const t = await testServer({ setupToken: 'setup-secret-token-123' });
    try {
      const body = { token: 'setup-secret-token-123', username: 'Root', password: 'a long admin password' };
      const wrong = await t.app.inject({ method: 'POST', url: '/api/v1/auth/setup', payload: { ...body, token: 'guess' } });
      assert.equal(wrong.statusCode, 403);
      const weak = await t.app.inject({ method: 'POST', url: '/api/v1/auth/setup', payload: { ...body, password: 'short' } });
      assert.equal(weak.statusCode, 400, 'a weak password is refused, the token stays usable');
      const ok = await t.app.inject({ method: 'POST', url: '/api/v1/auth/setup', payload: body });
      assert.equal(ok.statusCode, 201, ok.body);
      assert.equal(ok.json().user.role, 'admin');
      assert.equal(ok.json().user.username, 'root');
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/users', headers: { cookie: `ms_session=${sessionCookie(ok)}` } })).statusCode, 200, 'logged in as the admin');
      const again = await t.app.inject({ method: 'POST', url: '/api/v1/auth/setup', payload: { ...body, username: 'second' } });
      assert.equal(again.statusCode, 409);
      const hash = (await t.inv.db.selectFrom('users').select('password_hash').executeTakeFirstOrThrow()).password_hash;
      assert.match(hash, /^\$argon2id\$v=19\$m=\d+,t=2,p=1\$/);
    } finally {
      await t.close();
    }
  });

  test('without a token (users existed at start) setup is refused', async () => {
    const t = await testServer({ setupToken: null });
    try {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/setup', payload: { token: 'anything', username: 'x', password: 'a long admin password' } });
      assert.equal(res.statusCode, 403);
      assert.equal(await t.inv.db.selectFrom('users').select('id').executeTakeFirst(), undefined);
    } finally {
      await t.close();
    }
  });
});

describe('validation: 400 with a clear message, never a 500', () => {
  let t: TestServer;
  let admin: Client;
  before(async () => {
    t = await testServer({ withWeb: true, contactPage: path.join(packageRoot(), 'src/server/fixtures/contact.yaml'), loginRateMax: 1000 });
    await seedInventory(t.inv);
    await addUser(t, 'admin', 'admin', { canIntrusive: true });
    admin = await login(t, 'admin');
  });
  after(async () => {
    await t?.close();
  });

  test('malformed bodies, wrong types, unknown fields, huge bodies, wrong content types', async () => {
    const h = as(admin);
    const send = (payload: string, type = 'application/json', url = '/api/v1/findings/bulk', method: 'POST' | 'PATCH' = 'POST') =>
      t.app.inject({ method, url, headers: { ...h, 'content-type': type }, payload });
    const cases: [string, Awaited<ReturnType<typeof send>>, number, RegExp][] = [
      ['malformed JSON', await send('{"ids": [1,'), 400, /JSON/i],
      ['a JSON string', await send('"ids"'), 400, /body/],
      ['wrong type', await send(JSON.stringify({ ids: 'all', userState: 'fixed' })), 400, /body\.ids/],
      ['wrong enum', await send(JSON.stringify({ ids: [1], userState: 'ignored' })), 400, /body\.userState/],
      ['unknown field', await send(JSON.stringify({ ids: [1], userState: null, sneaky: true })), 400, /unknown field "sneaky"/],
      ['too many ids', await send(JSON.stringify({ ids: Array.from({ length: 1001 }, (_, i) => i + 1), userState: null })), 400, /body\.ids/],
      ['prototype pollution', await send('{"ids":[1],"userState":null,"__proto__":{"x":1}}'), 400, /./],
      ['huge body', await send(JSON.stringify({ ids: [1], userState: null, note: 'x'.repeat(100_000) })), 413, /larger than/],
      ['text/plain (a form post)', await send('ids=1', 'text/plain'), 415, /application\/json/],
      ['urlencoded', await send('ids=1', 'application/x-www-form-urlencoded'), 415, /application\/json/],
      ['bad PATCH', await send(JSON.stringify({ criticality: 'extreme' }), 'application/json', `/api/v1/assets/${SEED.a}`, 'PATCH'), 400, /criticality/],
      ['empty PATCH', await send('{}', 'application/json', `/api/v1/assets/${SEED.a}`, 'PATCH'), 400, /at least one/],
      ['bad tag', await send(JSON.stringify({ tags: ['Bad Tag!'] }), 'application/json', `/api/v1/assets/${SEED.a}`, 'PATCH'), 400, /tag/],
      ['scan: host name', await send(JSON.stringify({ targets: ['pacs.example.org'] }), 'application/json', '/api/v1/scans'), 400, /host name/],
      ['scan: a file', await send(JSON.stringify({ targets: ['@/etc/passwd'] }), 'application/json', '/api/v1/scans'), 400, /no lists, files or stdin/],
      ['scan: stdin', await send(JSON.stringify({ targets: ['-'] }), 'application/json', '/api/v1/scans'), 400, /no lists, files or stdin/],
      ['scan: bad ports', await send(JSON.stringify({ targets: ['127.217.1.1'], ports: '0-70000' }), 'application/json', '/api/v1/scans'), 400, /ports/],
      ['scan: bad profile', await send(JSON.stringify({ targets: ['127.217.1.1'], profile: 'aggressive' }), 'application/json', '/api/v1/scans'), 400, /profile/],
      ['user: short password', await send(JSON.stringify({ username: 'u1', password: 'short', role: 'viewer' }), 'application/json', '/api/v1/users'), 400, /password/],
      ['user: bad name', await send(JSON.stringify({ username: 'Robert"); DROP', password: 'long enough password', role: 'viewer' }), 'application/json', '/api/v1/users'), 400, /username/],
      ['logout with a field', await send('{"everywhere":true}', 'application/json', '/api/v1/auth/logout'), 400, /unknown field "everywhere"/],
      ['user: empty orgs', await send(JSON.stringify({ username: 'u2', password: 'long enough password', role: 'viewer', orgs: [] }), 'application/json', '/api/v1/users'), 400, /orgs/],
    ];
    for (const [what, res, status, message] of cases) {
      assert.equal(res.statusCode, status, `${what}: ${res.body}`);
      const body = res.json() as { error: string; message: string };
      assert.equal(typeof body.error, 'string', what);
      assert.match(body.message, message, what);
    }
  });

  test('bad query strings and parameters', async () => {
    const h = as(admin);
    const urls: [string, number, RegExp][] = [
      ['/api/v1/services?limit=abc', 400, /limit/],
      ['/api/v1/services?limit=100000', 400, /limit/],
      ['/api/v1/services?offset=-1', 400, /offset/],
      ['/api/v1/services?sort=name', 400, /sort/],
      ['/api/v1/services?q=port:99999', 400, /port/],
      ['/api/v1/services?q=%22unclosed', 400, /unclosed quote/],
      [`/api/v1/services?q=${'a'.repeat(5000)}`, 400, /q/],
      ['/api/v1/services?unknown=1', 400, /unknown field "unknown"/],
      ['/api/v1/facets', 400, /field/],
      ['/api/v1/facets?field=password', 400, /field/],
      ['/api/v1/assets/not-an-ip', 400, /ip/],
      ['/api/v1/assets/127.0.0.1%00', 400, /ip/],
      ['/api/v1/findings?severity=urgent', 400, /urgent/],
      ['/api/v1/findings?check=%3Cscript%3E', 400, /check/],
      ['/api/v1/trend?days=0', 400, /days/],
      ['/api/v1/scans/..%2F..%2Fetc', 400, /id/],
      ['/api/v1/users/abc', 404, /./],
      ['/api/v1/audit?action=everything', 400, /action/],
    ];
    for (const [url, status, message] of urls) {
      const res = await t.app.inject({ method: url.startsWith('/api/v1/users/') ? 'DELETE' : 'GET', url, headers: h });
      assert.ok(res.statusCode < 500, `${url}: ${res.statusCode}`);
      if (!url.startsWith('/api/v1/users/')) assert.equal(res.statusCode, status, `${url}: ${res.body}`);
      assert.match((res.json() as { message: string }).message, message, url);
    }
    const q = await t.app.inject({ method: 'GET', url: `/api/v1/services?q=${encodeURIComponent('port:104 severity>=urgent')}`, headers: h });
    assert.equal(q.statusCode, 400);
    const e = q.json() as { error: string; position: number; length: number; message: string };
    assert.equal(e.error, 'bad-query');
    assert.equal(e.position, 'port:104 severity>='.length, 'the position names the bad token');
    assert.match(e.message, /urgent/);
  });

  test('headers: no-store, CSP, no framing; the dashboard and its fallback', async () => {
    const api = await t.app.inject({ method: 'GET', url: '/api/v1/health' });
    assert.equal(api.headers['cache-control'], 'no-store');
    assert.equal(api.headers['x-content-type-options'], 'nosniff');
    assert.equal(api.headers['strict-transport-security'], undefined, 'no HSTS without TLS');
    const page = await t.app.inject({ method: 'GET', url: '/assets/127.217.9.1' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<div id="root">/, 'client-side routes get index.html');
    const csp = String(page.headers['content-security-policy']);
    for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "frame-ancestors 'none'"]) assert.ok(csp.includes(d), `${d} in ${csp}`);
    assert.ok(!csp.includes('unsafe'), csp);
    assert.equal(page.headers['cache-control'], 'no-store');
    const js = await t.app.inject({ method: 'GET', url: '/assets/app.js' });
    assert.match(String(js.headers['content-type']), /javascript/);
    const docs = await t.app.inject({ method: 'GET', url: '/api/docs/static/index.html', headers: {} });
    assert.ok(String(docs.headers['content-security-policy']).includes("'unsafe-inline'"), 'relaxed under /api/docs only');
    const dot = await t.app.inject({ method: 'GET', url: '/.env' });
    assert.notEqual(dot.statusCode, 500);
    const apiMiss = await t.app.inject({ method: 'GET', url: '/api/v1/nothing-here' });
    assert.equal(apiMiss.statusCode, 404);
    assert.equal(apiMiss.json().error, 'not-found');
    const openapi = (await t.app.inject({ method: 'GET', url: '/api/docs/json' })).json() as { paths: Record<string, unknown> };
    assert.ok(openapi.paths['/api/v1/services'] && openapi.paths['/api/v1/findings/bulk'], 'the OpenAPI document lists the routes');
  });

  test('the contact page escapes every value', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/contact' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /text\/html/);
    assert.ok(!res.body.includes('<script>'), 'no markup from the file');
    assert.ok(res.body.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(res.body.includes('Example University &lt;Medical Device Lab&gt;'));
    assert.ok(res.body.includes('href="https://example.org/medsurface-scans?a=1&amp;b=&quot;2&quot;"'));
    assert.ok(res.body.includes('<code>2001:db8::7</code>'));
    const none = await testServer({});
    try {
      assert.equal((await none.app.inject({ method: 'GET', url: '/contact' })).statusCode, 404);
      const nb = await none.app.inject({ method: 'GET', url: '/' });
      assert.match(nb.body, /npm run build/, 'without the dashboard, a page says how to build it');
    } finally {
      await none.close();
    }
  });
});
