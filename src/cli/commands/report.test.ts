/**
 * `medsurface report` as a command over the lab-like inventory of src/report/test-fixture.ts:
 * bad options refused before the inventory is opened, Markdown and HTML to stdout or to a 0600
 * file, a PDF file printed by Chromium, and the errors a user sees.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { openKyselyInventory } from '../../inventory/db.js';
import { ReportOptionError } from '../../report/errors.js';
import { Clock, seedReportLab } from '../../report/test-fixture.js';
import { parseFormat, registerReport } from './report.js';

let dir: string;
let db: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'medsurface-report-cli-'));
  db = path.join(dir, 'inv.sqlite');
  const clock = new Clock();
  const inv = await openKyselyInventory(db, { now: clock.now });
  try {
    await seedReportLab(inv, clock);
  } finally {
    await inv.close();
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[], where: string = db, isTTY = false): Promise<{ out: string; err: string; bytes: Buffer }> {
  const program = new Command().exitOverride();
  const chunks: Buffer[] = [];
  let err = '';
  registerReport(program, {
    out: (chunk) => void chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, 'utf8')),
    err: (text) => {
      err += text;
    },
    isTTY,
  });
  await program.parseAsync(['report', ...args, '--db', where], { from: 'user' });
  const bytes = Buffer.concat(chunks);
  return { out: bytes.toString('utf8'), err, bytes };
}

test('a bad --format, --tlp, --max-assets or --since is a usage error naming the choices, before any inventory is opened', async () => {
  const fresh = path.join(dir, 'never-created.sqlite');
  const cases: [string[], RegExp][] = [
    [['--format', 'docx'], /^--format must be one of html, pdf, md \(got "docx"\)$/],
    [['--format', 'html', '--tlp', 'white'], /^--tlp must be one of clear, green, amber, amber\+strict, red \(got "white"\)$/],
    [['--tlp', 'amber', '--format', '<script>'], /^--format must be one of html, pdf, md \(got "<script>"\)$/],
    [['--max-assets', 'many'], /^--max-assets must be an integer from 0 to 20000/],
    [['--max-assets', '999999'], /^--max-assets must be an integer from 0 to 20000/],
    [['--since', 'last tuesday'], /^--since: "last tuesday" is neither an age/],
  ];
  for (const [args, message] of cases) {
    await assert.rejects(run(args, fresh), (err: unknown) => err instanceof UsageError && message.test(err.message), args.join(' '));
  }
  assert.equal(existsSync(fresh), false, 'the inventory was not opened');
  assert.equal(parseFormat(' PDF '), 'pdf', 'any case, spaces trimmed');
});

test('Markdown to stdout with the TLP level asked for and the query applied', async () => {
  const { out, err } = await run(['--format', 'md', '--tlp', 'green', '--query', 'protocol:dicom']);
  assert.equal(err, '');
  assert.match(out, /^---\ntitle: "Exposure assessment of healthcare systems"\ntlp: "TLP:GREEN"\n/);
  assert.match(out, /\| Scope \| services matching the query "protocol:dicom" on|\| Scope \| services matching the query "protocol:dicom": /);
  assert.match(out, /\| exposed services \| 4 \|/);
  assert.ok(!out.includes('127.77.13.10'), 'the OpenEMR web server is outside the query');
});

test('HTML to a file readable by its owner only; --org and --title shape it', async () => {
  const file = path.join(dir, 'lab.html');
  const { out, err } = await run(['--out', file, '--org', 'Lab Hospital', '--title', 'Lab Hospital <PACS> review', '--tlp', 'amber+strict']);
  assert.equal(out, '');
  assert.equal(err, `medsurface: wrote ${file} (HTML, TLP:AMBER+STRICT)\n`);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const html = readFileSync(file, 'utf8');
  assert.match(html, /^<!DOCTYPE html>/);
  assert.ok(html.includes('<title>TLP:AMBER+STRICT | Lab Hospital &lt;PACS&gt; review</title>'));
  assert.ok(html.includes('<meta name="tlp" content="TLP:AMBER+STRICT">'));
  assert.match(html, /data-figure="assets"><div class="value">4</);
});

test('an unwritable --out and a malformed --query are usage errors', async () => {
  await assert.rejects(run(['--format', 'md', '--out', path.join(dir, 'no', 'such', 'dir', 'r.md')]), (err: unknown) => err instanceof ReportOptionError && /^--out: cannot write/.test(err.message));
  await assert.rejects(run(['--format', 'md', '--query', 'port:']), UsageError);
});

test('a PDF is not written to a terminal', async () => {
  await assert.rejects(run(['--format', 'pdf'], db, true), (err: unknown) => err instanceof ReportOptionError && /give --out FILE/.test(err.message));
});

