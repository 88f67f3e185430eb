/**
 * The medsurface command as a user runs it (the built dist/, a child process): wrong input,
 * Ctrl-C and resume, PostgreSQL inventory, and what goes to stdout versus stderr.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { type RunningLab, startLab } from '../lab/index.js';
import { packageRoot } from '../core/paths.js';

const CLI = path.join(packageRoot(), 'bin/medsurface.js');
const BLOCK = '127.210.0.0/16';
let lab: RunningLab;
let work: string;

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, XDG_DATA_HOME: work, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'medsurface-cli-'));
  lab = await startLab({ block: BLOCK, quiet: true });
});
after(async () => {
  await lab?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('bad input gets one clear line and exit status 2', () => {
  const cases: [string[], RegExp][] = [
    [['scan', '127.210.1.10', '--ports', '70000'], /--ports: "70000"/],
    [['scan', '127.210.1.10', '--profile', 'reckless'], /--profile must be one of safe, intrusive/],
    [['scan', '127.210.1.999'], /127\.210\.1\.999/],
    [['scan', '127.210.1.10', '--scope', '127.211.0.0/16'], /outside/],
    [['scan', '127.210.1.10', '--concurrency', 'many'], /--concurrency takes a non-negative integer/],
    [['scan', '@/nonexistent/targets.txt'], /nonexistent/],
    [['scan'], /no targets given/],
    [['inventory', 'list', '--min-severity', 'apocalyptic'], /--min-severity must be one of/],
    [['scan', '127.210.1.10', '--calling-ae', 'WAY_TOO_LONG_FOR_AN_AE'], /AE/],
  ];
  for (const [args, msg] of cases) {
    test(args.join(' '), async () => {
      const r = await run([...args, '--db', path.join(work, 'bad.sqlite')]);
      assert.equal(r.code, 2, `exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.equal(r.stdout, '');
      assert.ok(!/\n\s+at /.test(r.stderr), `no stack trace: ${r.stderr}`);
    });
  }
});

describe('Ctrl-C records the run as interrupted; --resume finishes it', () => {
  test('SIGINT, then resume', async () => {
    const db = path.join(work, 'sigint.sqlite');
    const child: ChildProcess = spawn(
      process.execPath,
      // The lab's lower quarter (every node lives there): 16,384 addresses, still far more than 1.5 s of scanning.
      [CLI, 'scan', '127.210.0.0/18', '--ports', '104,4242', '--json', '--db', db, '--connect-timeout', '300', '-c', '64'],
      { env: { ...process.env, XDG_DATA_HOME: work }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c) => (stdout += c));
    child.stderr!.on('data', (c) => (stderr += c));
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted/);
    const id = /resume with: medsurface scan --resume (\S+)/.exec(stderr)?.[1];
    assert.ok(id, stderr);
    for (const line of stdout.split('\n').filter(Boolean)) JSON.parse(line);
    const runs = await run(['inventory', 'runs', '--json', '--db', db]);
    assert.equal(JSON.parse(runs.stdout)[0].state, 'interrupted');
    const resumed = await run(['scan', '--resume', id, '--db', db, '--json', '--quiet']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const after = JSON.parse((await run(['inventory', 'runs', '--json', '--db', db])).stdout);
    assert.equal(after[0].state, 'completed');
    assert.equal(after[0].doneTargets, after[0].totalTargets);
  });
});

describe('output streams', () => {
  test('stdout holds only JSON lines; progress and the summary go to stderr; a send log is kept', async () => {
    const db = path.join(work, 'streams.sqlite');
    const r = await run(['scan', '127.210.1.10', '--ports', '104', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 1);
    assert.equal(JSON.parse(lines[0]!).protocol, 'dicom');
    assert.match(r.stderr, /completed: 1\/1 hosts/);
    const logs = readdirSync(path.join(work, 'runs'));
    assert.ok(logs.some((f) => f.endsWith('.sendlog.jsonl')));
    assert.ok(existsSync(db));
  });
});

describe('PostgreSQL inventory through the CLI', () => {
  const admin = process.env.MEDSURFACE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
  const name = `medsurface_cli_${process.pid}`;
  const url = admin.replace(/\/[^/]*$/, `/${name}`);
  before(async () => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    await c.query(`CREATE DATABASE ${name}`);
    await c.end();
  });
  after(async () => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });

  test('scan --db postgres://... then inventory show reads it back', async () => {
    const r = await run(['scan', '127.210.1.10', '--ports', '104,4242', '--db', url, '--json', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const show = await run(['inventory', 'show', '127.210.1.10', '--json', '--db', url]);
    assert.equal(show.code, 0, show.stderr);
    const a = JSON.parse(show.stdout);
    assert.equal(a.services.length, 2);
    assert.ok(a.findings.some((f: { checkId: string }) => f.checkId === 'dicom-any-ae'));
    assert.ok(!show.stdout.includes('postgres://'), 'no connection string in output');
  });
});
