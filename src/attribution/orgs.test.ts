import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { packageRoot } from '../core/paths.js';
import { UsageError } from '../core/errors.js';
import { parseIp } from './address.js';
import { AttributionError } from './errors.js';
import { OrgTable } from './orgs.js';

const ip = (t: string) => parseIp(t)!;
let dir = '';

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'medsurface-orgs-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

/** Loads YAML text and returns the error it raises. */
async function errorOf(text: string): Promise<AttributionError> {
  const file = await write(`bad-${Math.random().toString(36).slice(2)}.yaml`, text);
  try {
    OrgTable.load(file);
  } catch (err) {
    assert.ok(err instanceof AttributionError, String(err));
    assert.ok(err instanceof UsageError, 'printed by the CLI without a stack');
    assert.equal(err.file, file);
    assert.ok(err.message.startsWith(`${file}: `), err.message);
    return err;
  }
  throw new Error('no error raised');
}

describe('orgs.yaml', () => {
  test('the example in docs/examples loads, and its rules hold', () => {
    const t = OrgTable.load(path.join(packageRoot(), 'docs', 'examples', 'orgs.yaml'));
    assert.equal(t.organisations.length, 3);
    assert.deepEqual(t.warnings, []);
    const h = t.lookup(ip('192.0.2.10'));
    assert.equal(h?.org.name, 'Example University Hospital');
    assert.equal(h?.network, '192.0.2.0/24');
    assert.equal(h?.org.country, 'NL');
    assert.deepEqual(h?.org.cert, { name: 'Z-CERT', email: 'cert@z-cert.example' });
    assert.equal(h?.org.contact?.phone, '+31 20 555 0100');
    assert.equal(t.lookup(ip('192.0.2.64'))?.org.name, 'Example Radiology Partners');
    assert.equal(t.lookup(ip('192.0.2.127'))?.org.name, 'Example Radiology Partners');
    assert.equal(t.lookup(ip('192.0.2.128'))?.org.name, 'Example University Hospital');
    assert.equal(t.lookup(ip('2001:db8:10:ff::1'))?.org.name, 'Example University Hospital');
    assert.equal(t.lookup(ip('2001:db8:11::1')), null);
    assert.equal(t.lookup(ip('127.77.3.4'))?.org.name, 'medsurface lab');
    assert.equal(t.lookup(ip('127.0.0.1')), null);
  });

  test('fields are normalised: CIDR text canonical, country upper case, duplicate blocks and tags once', async () => {
    const file = await write(
      'norm.yaml',
      `- name: "  Spaced Name  "\n  cidrs: ["2001:DB8:0:0::/32", 2001:db8::/32, " 198.51.100.0/24 "]\n  country: be\n  tags: [a, a, b]\n`,
    );
    const t = OrgTable.load(file);
    assert.deepEqual(t.organisations[0], { name: 'Spaced Name', cidrs: ['2001:db8::/32', '198.51.100.0/24'], country: 'BE', tags: ['a', 'b'] });
    assert.deepEqual(t.warnings, []);
  });

  test('the same block in two organisations: the first listed wins, with a warning', async () => {
    const file = await write('dup.yaml', '- name: First\n  cidrs: [198.51.100.0/24]\n- name: Second\n  cidrs: [198.51.100.0/24, 198.51.100.0/25]\n');
    const t = OrgTable.load(file);
    assert.equal(t.lookup(ip('198.51.100.200'))?.org.name, 'First');
    assert.equal(t.lookup(ip('198.51.100.1'))?.org.name, 'Second');
    assert.equal(t.warnings.length, 1);
    assert.match(t.warnings[0]!, /198\.51\.100\.0\/24 is listed by both "First" and "Second"; the first one listed wins/);
  });

  test('pgpKey is resolved against the file folder and must exist', async () => {
    await writeFile(path.join(dir, 'sec.asc'), '-----BEGIN PGP PUBLIC KEY BLOCK-----\n(synthetic)\n');
    const ok = await write('pgp.yaml', '- name: Keyed\n  cidrs: [192.0.2.0/24]\n  contact: { email: sec@keyed.example, pgpKey: sec.asc }\n');
    assert.equal(OrgTable.load(ok).organisations[0]?.contact?.pgpKey, path.join(dir, 'sec.asc'));
    const e = await errorOf('- name: Keyless\n  cidrs: [192.0.2.0/24]\n  contact: { pgpKey: missing.asc }\n');
    assert.match(e.message, /entry 1 \("Keyless"\), contact\.pgpKey: file not found: .*missing\.asc/);
  });

  test('a bad CIDR names the file, the entry and the block', async () => {
    const e = await errorOf('- name: Good\n  cidrs: [192.0.2.0/24]\n- name: St Example\n  cidrs: [198.51.100.0/24, 198.51.100.300/24]\n');
    assert.match(e.message, /entry 2 \("St Example"\), cidrs\[1\]: "198\.51\.100\.300\/24": not a valid IPv4 address/);
    const hostBits = await errorOf('- name: Typo\n  cidrs: [192.0.2.7/24]\n');
    assert.match(hostBits.message, /entry 1 \("Typo"\), cidrs\[0\]: "192\.0\.2\.7\/24": host bits are set; the block is 192\.0\.2\.0\/24/);
  });

  test('a missing name, a missing cidrs list, unknown keys and bad values are all reported at once', async () => {
    const e = await errorOf(
      [
        '- cidrs: [192.0.2.0/24]',
        '- name: No Blocks',
        '- name: Typo Key',
        '  cidr: [192.0.2.0/24]',
        '- name: Bad Fields',
        '  cidrs: []',
        '  country: Netherlands',
        '  contact: { email: not-an-address, phone: 0201234567 }',
        '  cert: { name: Some CERT }',
        '  tags: [Radiology]',
        '- name: Contact Typo',
        '  cidrs: [203.0.113.0/24]',
        '  contact: { mail: sec@typo.example }',
      ].join('\n'),
    );
    const m = e.message;
    assert.match(m, /problems:/);
    assert.match(m, /entry 1, name: required/);
    assert.match(m, /entry 2 \("No Blocks"\), cidrs: required/);
    assert.match(m, /entry 3 \("Typo Key"\): unknown key "cidr" \(known: name, cidrs, country, contact, cert, tags\)/);
    assert.match(m, /entry 4 \("Bad Fields"\), cidrs: list at least one CIDR block/);
    assert.match(m, /entry 4 \("Bad Fields"\), country: must be an ISO 3166-1 alpha-2 code/);
    assert.match(m, /entry 4 \("Bad Fields"\), contact\.email: not a valid e-mail address: "not-an-address"/);
    assert.match(m, /entry 4 \("Bad Fields"\), contact\.phone: must be text; put the phone number in quotes/);
    assert.match(m, /entry 4 \("Bad Fields"\), cert\.email: required/);
    assert.match(m, /entry 4 \("Bad Fields"\), tags\[0\]: tags are 1-64 characters/);
    assert.match(m, /entry 5 \("Contact Typo"\), contact: unknown key "mail" \(known: name, email, phone, pgpKey\)/);
  });

  test('the file must be a list; empty, broken and missing files are clear errors', async () => {
    assert.match((await errorOf('name: Not A List\ncidrs: [192.0.2.0/24]\n')).message, /expected a list of organisations/);
    assert.match((await errorOf('')).message, /the file is empty/);
    assert.match((await errorOf('- name: [unclosed\n')).message, /not valid YAML/);
    const missing = path.join(dir, 'nope.yaml');
    assert.throws(() => OrgTable.load(missing), (e: unknown) => e instanceof AttributionError && e.message === `${missing}: file not found (organisations file, orgs.yaml)`);
    assert.throws(() => OrgTable.load(dir), (e: unknown) => e instanceof AttributionError && /not a file/.test(e.message));
  });

  test('an empty list is valid and matches nothing', async () => {
    const t = OrgTable.load(await write('empty-list.yaml', '[]\n'));
    assert.equal(t.organisations.length, 0);
    assert.equal(t.lookup(ip('192.0.2.1')), null);
  });

  test('many problems are listed up to a cap, then counted', () => {
    const data = parseYaml(Array.from({ length: 30 }, (_, i) => `- name: Org ${i}\n  cidrs: [192.0.2.${i}/24]`).join('\n'));
    assert.throws(
      () => OrgTable.fromData(data, 'generated.yaml'),
      (e: unknown) => e instanceof AttributionError && /29 problems/.test(e.message) && /\.\.\. and 9 more/.test(e.message),
    );
  });
});
