/**
 * `medsurface users` and `medsurface serve` as processes: passwords come from stdin (never from
 * the command line), serve prints where it listens and, with no user yet, a one-time setup URL
 * whose token creates the first admin; SIGINT stops it cleanly.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isLoopbackHost } from '../cli/commands/serve.js';
import { packageRoot } from '../core/paths.js';
import { openKyselyInventory } from '../inventory/db.js';

const MAIN = path.join(packageRoot(), 'src/cli/main.ts');
const RUN_MAIN = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(['node', 'medsurface', ...process.argv.slice(1)]);`;
const HOST = '127.217.0.1';

let work: string;

function medsurface(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', RUN_MAIN, '--', ...args], {
      env: { ...process.env, MEDSURFACE_STOP_DIR: path.join(work, 'stop') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    child.stdin.end(stdin);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

function startServe(db: string): Promise<{ child: ChildProcess; stderr: () => string; base: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', RUN_MAIN, '--', 'serve', '--db', db, '--host', HOST, '--port', '0', '--state-dir', path.join(work, 'stop'), '--web-dir', path.join(work, 'no-web')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 60_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      const m = /serving the API and dashboard on (http:\/\/\S+) /.exec(stderr);
      if (m && (stderr.includes('no user yet') || stderr.includes('\n'))) {
        clearTimeout(timer);
        // Give the setup message, written right after, a moment to arrive.
        setTimeout(() => resolve({ child, stderr: () => stderr, base: m[1]! }), 200);
      }
    });
    child.on('close', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
}

function stopped(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    child.removeAllListeners('close');
    child.on('close', (code) => resolve(code));
  });
}

describe('medsurface users and serve', () => {
  before(() => {
    work = mkdtempSync(path.join(tmpdir(), 'medsurface-serve-'));
  });
  after(() => {
    rmSync(work, { recursive: true, force: true });
  });

  test('users add reads the password from stdin and stores an argon2id hash', async () => {
    const db = path.join(work, 'users.sqlite');
    const r = await medsurface(['users', 'add', 'Alice', '--role', 'analyst', '--intrusive', '--org', 'Alpha Hospital', '--db', db], 'a long test password\n');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /user alice \(analyst\) created/);
    const list = await medsurface(['users', 'list', '--json', '--db', db]);
    assert.equal(list.code, 0, list.stderr);
    const u = JSON.parse(list.stdout.trim()) as { username: string; role: string; canIntrusive: boolean; orgs: string[] };
    assert.deepEqual([u.username, u.role, u.canIntrusive, u.orgs], ['alice', 'analyst', true, ['Alpha Hospital']]);
    const short = await medsurface(['users', 'add', 'bob', '--role', 'viewer', '--db', db], 'short\n');
    assert.equal(short.code, 2);
    assert.match(short.stderr, /at least 12 characters/);
    const role = await medsurface(['users', 'add', 'carol', '--role', 'root', '--db', db], 'a long test password\n');
    assert.equal(role.code, 2);
    assert.match(role.stderr, /role/);
    const inv = await openKyselyInventory(db);
    try {
      const row = await inv.db.selectFrom('users').selectAll().where('username', '=', 'alice').executeTakeFirstOrThrow();
      assert.match(row.password_hash, /^\$argon2id\$/);
      assert.ok(!JSON.stringify(row).includes('a long test password'));
      const audit = await inv.db.selectFrom('audit_log').selectAll().execute();
      assert.equal(audit[0]?.action, 'user-create');
    } finally {
      await inv.close();
    }
    const reset = await medsurface(['users', 'reset-password', 'alice', '--db', db], 'another long password\n');
    assert.equal(reset.code, 0, reset.stderr);
    const off = await medsurface(['users', 'disable', 'alice', '--db', db]);
    assert.equal(off.code, 0, off.stderr);
    assert.match((await medsurface(['users', 'list', '--db', db])).stdout, /alice .*DISABLED/);
  });

  test('serve prints the one-time setup URL with an empty user table, and its token works once', async () => {
    const db = path.join(work, 'serve.sqlite');
    const s = await startServe(db);
    try {
      const m = /\/setup#token=([A-Za-z0-9_-]+)/.exec(s.stderr());
      assert.ok(m, s.stderr());
      assert.ok(!s.stderr().includes('warning'), 'no warning on loopback');
      const health = await fetch(`${s.base}/api/v1/health`);
      assert.equal(health.status, 200);
      assert.equal(health.headers.get('cache-control'), 'no-store');
      const setup = (token: string, username: string) =>
        fetch(`${s.base}/api/v1/auth/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, username, password: 'the first admin password' }) });
      assert.equal((await setup('wrong-token', 'root')).status, 403);
      const ok = await setup(m[1]!, 'root');
      assert.equal(ok.status, 201, await ok.clone().text());
      assert.match(ok.headers.get('set-cookie') ?? '', /ms_session=.*HttpOnly.*SameSite=Strict/i);
      assert.equal((await setup(m[1]!, 'root2')).status, 409, 'used once');
      const home = await fetch(`${s.base}/`);
      assert.match(await home.text(), /npm run build/);
    } finally {
      s.child.kill('SIGINT');
      assert.equal(await stopped(s.child), 0, s.stderr());
    }
    // With a user, no setup URL.
    const again = await startServe(db);
    try {
      assert.ok(!again.stderr().includes('setup#token'), again.stderr());
    } finally {
      again.child.kill('SIGINT');
      await stopped(again.child);
    }
  });

  test('scan --run-id is checked before anything is scanned', async () => {
    const db = path.join(work, 'runid.sqlite');
    const bad = await medsurface(['scan', '127.217.250.9', '--ports', '104', '--run-id', '../escape', '--db', db]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--run-id/);
    const both = await medsurface(['scan', '--resume', 'r-1', '--run-id', 'r-2', '--db', db]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--run-id/);
  });

  test('loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.217.0.1', 'localhost', '::1', '[::1]']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '192.0.2.1', '::', 'example.org', '128.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
  });
});
