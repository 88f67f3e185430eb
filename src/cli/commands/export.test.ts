/**
 * `medsurface export` as a command: stdout and --out (atomic file, mode 0600, a summary on
 * stderr), --query, --tlp, --services, --include-honeypots, and the usage errors a user sees
 * for a missing or bad format, a bad TLP, a bad query, --services with a format that has no
 * service rows, and an --out in a missing directory, none of which writes a file.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { HONEYPOT_IP, seedExportInventory } from '../../export/test-inventory.js';
import { SearchQueryError } from '../../inventory/search/index.js';
import { registerExport } from './export.js';

let dir: string;
let db: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'medsurface-export-cli-'));
  db = path.join(dir, 'inv.sqlite');
  const inv = await seedExportInventory(db);
  await inv.close();
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** A stream that keeps what is written to it. */
function collector(): { stream: Writable; text: () => string } {
  const parts: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      parts.push(String(chunk));
      cb();
    },
  });
  return { stream, text: () => parts.join('') };
}

async function run(args: string[]): Promise<{ out: string; err: string }> {
  const program = new Command().exitOverride();
  const [out, err] = [collector(), collector()];
  registerExport(program, { stdout: out.stream, stderr: err.stream });
  await program.parseAsync(['export', ...args, '--db', db], { from: 'user' });
  return { out: out.text(), err: err.text() };
}

test('JSONL to stdout, TLP:AMBER by default, nothing on stderr', async () => {
  const { out, err } = await run(['--format', 'jsonl']);
  const lines = out.trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; tlp?: string; ip?: string });
  assert.equal(lines[0]!.type, 'meta');
  assert.equal(lines[0]!.tlp, 'TLP:AMBER');
  assert.ok(lines.length > 20);
  assert.ok(!lines.some((l) => l.ip === HONEYPOT_IP));
  assert.equal(err, '');
});

test('SARIF to a file with --query, --tlp red: mode 0600, a summary on stderr, nothing on stdout', async () => {
  const file = path.join(dir, 'high.sarif');
  const { out, err } = await run(['--format', 'sarif', '--query', 'severity>=high', '--tlp', 'red', '--out', file]);
  assert.equal(out, '');
  const log = JSON.parse(readFileSync(file, 'utf8')) as { runs: { properties: { tlp: string; query: string }; results: { level: string }[] }[] };
  assert.equal(log.runs[0]!.properties.tlp, 'TLP:RED');
  assert.equal(log.runs[0]!.properties.query, 'severity>=high');
  assert.ok(log.runs[0]!.results.length > 0);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.match(err, /^medsurface: exported \d+ finding\(s\) of \d+ service\(s\) as sarif, TLP:RED, honeypots left out, to .*high\.sarif\n$/);
});

test('CSV of services, honeypots included', async () => {
  const file = path.join(dir, 'services.csv');
  const { err } = await run(['--format', 'csv', '--services', '--include-honeypots', '--out', file]);
  const csv = readFileSync(file, 'utf8');
  assert.ok(csv.startsWith('tlp,ip,port,protocol,hostname,status,'));
  assert.ok(csv.includes(`TLP:AMBER,${HONEYPOT_IP},`));
  assert.match(err, /exported 10 service\(s\) of 10 service\(s\) as csv, TLP:AMBER, to /);
});

test('DefectDojo and nmap-XML to stdout', async () => {
  const dojo = JSON.parse((await run(['--format', 'defectdojo', '--tlp', 'amber+strict'])).out) as { description: string; findings: unknown[] };
  assert.ok(dojo.description.startsWith('TLP:AMBER+STRICT: '));
  assert.ok(dojo.findings.length > 20);
  const xml = (await run(['--format', 'nmap-xml', '--query', 'port:11112'])).out;
  assert.match(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<!-- TLP:AMBER: /);
  assert.match(xml, /<medsurface tlp="TLP:AMBER"/);
  assert.match(xml, /portid="11112"/);
  assert.doesNotMatch(xml, /portid="8042"/);
});

test('usage errors, and no file written for any of them', async () => {
  const out = path.join(dir, 'never.json');
  await assert.rejects(run(['--out', out]), (e: unknown) => e instanceof UsageError && /export needs --format \(csv, json, jsonl, sarif, defectdojo, nmap-xml\)/.test(e.message));
  await assert.rejects(run(['--format', 'xml', '--out', out]), (e: unknown) => e instanceof UsageError && /--format must be one of csv, json, jsonl, sarif, defectdojo, nmap-xml, not "xml"/.test(e.message));
  await assert.rejects(run(['--format', 'json', '--tlp', 'orange', '--out', out]), (e: unknown) => e instanceof UsageError && /--tlp must be one of clear, green, amber, amber\+strict, red/.test(e.message));
  await assert.rejects(run(['--format', 'json', '--tlp', 'white', '--out', out]), /TLP 2\.0 calls it clear/);
  await assert.rejects(run(['--format', 'json', '--query', 'severity>=urgent', '--out', out]), (e: unknown) => e instanceof SearchQueryError);
  await assert.rejects(run(['--format', 'sarif', '--services', '--out', out]), /--services is for csv, json, jsonl; sarif lists findings/);
  await assert.rejects(run(['--format', 'json', '--out', path.join(dir, 'no', 'such', 'dir.json')]), /--out: the directory .* does not exist/);
  await assert.rejects(run(['--format', 'json', '--out', ' ']), /--out needs a file name/);
  assert.equal(existsSync(out), false);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
  );
});
