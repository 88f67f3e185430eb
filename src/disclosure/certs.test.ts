/**
 * The CERT directory: the shipped example loads and names only placeholder addresses, every
 * problem of a bad file is reported at once with its place, and a case's constituency is its
 * national CERT plus the sector CERTs covering its country (or every country).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../core/paths.js';
import { CertDirectory } from './certs.js';
import { DisclosureError } from './errors.js';

test('the shipped example loads, and every address in it is an example.org placeholder', () => {
  const d = CertDirectory.load(path.join(packageRoot(), 'docs', 'examples', 'certs.yaml'));
  assert.ok(d.national.size >= 2 && d.sector.length >= 2);
  for (const c of d.all()) assert.match(c.email, /@example\.org$/, c.name);
  assert.deepEqual(d.constituencyOf('nl').map((c) => c.name), ['National CERT of NL (example)', 'Healthcare CERT of NL (example)', 'Health sector ISAC (example)']);
  assert.deepEqual(d.constituencyOf('FR').map((c) => c.name), ['Health sector ISAC (example)']);
  assert.deepEqual(d.constituencyOf(null).map((c) => c.name), ['Health sector ISAC (example)']);
  assert.equal(d.nationalFor('de')?.email, 'cert-de@example.org');
});

test('every problem of a bad directory is reported at once', () => {
  const data = {
    national: { NL: { name: 'A', email: 'not-an-email' }, Netherlands: { name: 'B', email: 'b@example.org' } },
    sector: [{ name: 'C', email: 'c@example.org', countries: ['NLD'] }, { name: '', email: 'd@example.org', extra: 1 }],
    other: true,
  };
  assert.throws(
    () => CertDirectory.fromData(data, 'certs.yaml'),
    (e: unknown) => {
      assert.ok(e instanceof DisclosureError);
      for (const re of [/national\.NL\.email: not a valid e-mail address/, /sector\.0\.countries\.0: must be an ISO 3166-1 alpha-2 code/, /sector\.1\.name: must not be empty/, /unknown key\(s\) extra/, /unknown key\(s\) other/]) {
        assert.match(e.message, re);
      }
      return true;
    },
  );
  assert.throws(() => CertDirectory.fromData({ national: { Netherlands: { name: 'B', email: 'b@example.org' } } }, 'certs.yaml'), /national\.Netherlands: not an ISO 3166-1 alpha-2 country code/);
  assert.throws(() => CertDirectory.fromData(null, 'certs.yaml'), /the file is empty/);
});

test('a pgpKey is resolved against the file and must exist', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-certs-'));
  try {
    writeFileSync(path.join(dir, 'nl.asc'), 'key');
    writeFileSync(path.join(dir, 'certs.yaml'), 'national:\n  nl: { name: A, email: a@example.org, pgpKey: nl.asc }\n');
    assert.equal(CertDirectory.load(path.join(dir, 'certs.yaml')).nationalFor('NL')?.pgpKey, path.join(dir, 'nl.asc'));
    writeFileSync(path.join(dir, 'certs.yaml'), 'national:\n  NL: { name: A, email: a@example.org, pgpKey: missing.asc }\n');
    assert.throws(() => CertDirectory.load(path.join(dir, 'certs.yaml')), /national\.NL\.pgpKey: file not found/);
    assert.throws(() => CertDirectory.load(path.join(dir, 'nope.yaml')), /file not found \(CERT directory/);
    writeFileSync(path.join(dir, 'certs.yaml'), 'national: [unclosed\n');
    assert.throws(() => CertDirectory.load(path.join(dir, 'certs.yaml')), /not valid YAML/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
