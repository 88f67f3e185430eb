/**
 * `medsurface fingerprints import` and `fingerprints stats` as a user runs them (the CLI entry
 * point in a child process, from source through tsx): the summary, the written pack, the pack
 * counted by stats, and one clear line for a file that cannot be imported.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { packageRoot } from '../core/paths.js';

const ROOT = packageRoot();
const work = mkdtempSync(path.join(tmpdir(), 'medsurface-fpcli-'));
after(() => rmSync(work, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = `import(${JSON.stringify(path.join(ROOT, 'src/cli/main.ts'))}).then((m) => m.main(['node', 'medsurface', ...process.argv.slice(1)])).then((c) => { process.exitCode = c; })`;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script, ...args],
      { cwd: ROOT, env: { ...process.env, XDG_CONFIG_HOME: path.join(work, 'config'), MEDSURFACE_FINGERPRINTS_DIR: '', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('import writes a pack to the default user folder, prints the summary, and stats counts it', async () => {
  const r = await cli(['fingerprints', 'import', path.join(ROOT, 'src/fingerprints/fixtures/recog/ftp_banners.xml')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Recog ftp\.banner -> ftp\.greeting\): 10 of 11 fingerprints imported, 1 rejected/);
  assert.match(r.stdout, /#6 ProFTPD on a wired Linksys device: no example to self-test it with/);
  assert.match(r.stdout, /params with no medsurface output .*os\.vendor \(5\)/);
  const pack = path.join(work, 'config', 'medsurface', 'fingerprints', 'recog-ftp-banners.yaml');
  assert.ok(existsSync(pack), r.stdout);
  const s = await cli(['fingerprints', 'stats', '--json']);
  assert.equal(s.code, 0, s.stderr);
  const stats = JSON.parse(s.stdout) as { examplesBySource: Record<string, number>; userPacks: { dir: string; rules: number }[]; hintRules: number };
  assert.deepEqual(stats.userPacks, [{ dir: path.dirname(pack), rules: 10 }]);
  assert.ok(stats.examplesBySource.import! >= 10);
  assert.ok(stats.hintRules >= 6);
});

test('a file that cannot be imported: one clear line on stderr, exit status 2', async () => {
  const bad = path.join(work, 'bad.xml');
  writeFileSync(bad, '<fingerprints><fingerprint pattern="^a$">');
  const r = await cli(['fingerprints', 'import', bad, '--out', path.join(work, 'out')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^medsurface: .*bad\.xml: not well-formed XML/);
  assert.equal(r.stdout, '');
});
