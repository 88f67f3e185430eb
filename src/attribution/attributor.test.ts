import assert from 'node:assert/strict';
import { copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageRoot } from '../core/paths.js';
import { Attributor } from './attributor.js';
import { AttributionError } from './errors.js';
import { type FixtureFiles, writeFixtures } from './fixtures.js';
import { Attribution } from './types.js';

let fx: FixtureFiles;
let orgsFile = '';

const ORGS = `
- name: Example University Hospital
  cidrs: [192.0.2.0/24, "2001:db8:10::/48"]
  country: NL
  contact: { name: Security Office, email: security@hospital.example }
  cert: { name: Z-CERT, email: cert@z-cert.example }
  tags: [hospital]
- name: Example Radiology Partners
  cidrs: [192.0.2.64/26]
- name: Unlocated Clinic
  cidrs: [198.51.100.0/25]
- name: medsurface lab
  cidrs: [127.77.0.0/16]
  tags: [lab]
`;

before(async () => {
  fx = await writeFixtures();
  orgsFile = path.join(fx.dir, 'orgs.yaml');
  await writeFile(orgsFile, ORGS);
});
after(async () => {
  await fx.remove();
});

describe('Attributor', () => {
  test('mmdb only: country and ASN; the AS organisation is the org', async () => {
    const a = await Attributor.open({ geoip: fx.country, asn: fx.asn, lookupReserved: true });
    assert.deepEqual(a.lookup('203.0.113.7'), { country: 'SE', asn: 64498, asOrg: 'Example Transit', org: 'Example Transit', orgSource: 'asn' });
    /* An AS without an organisation name: no org at all rather than a made-up one. */
    assert.deepEqual(a.lookup('198.51.100.200'), { country: 'DE', asn: 64497, asOrg: null, org: null, orgSource: null });
    assert.deepEqual(a.lookup('192.0.3.1'), { country: null, asn: null, asOrg: null, org: null, orgSource: null });
  });

  test('orgs.yaml takes precedence: org, contact, CERT, tags, and its country over the mmdb one', async () => {
    const a = await Attributor.open({ geoip: fx.country, asn: fx.asn, orgs: orgsFile, lookupReserved: true });
    /* 192.0.2.200 is BE in the GeoIP database and in AS 64496; the hospital owns the /24 and says NL. */
    const r = a.lookup('192.0.2.200');
    assert.deepEqual(r, {
      country: 'NL',
      asn: 64496,
      asOrg: 'Example Health Network',
      org: 'Example University Hospital',
      orgSource: 'orgs',
      orgNetwork: '192.0.2.0/24',
      contact: { name: 'Security Office', email: 'security@hospital.example' },
      cert: { name: 'Z-CERT', email: 'cert@z-cert.example' },
      tags: ['hospital'],
    });
    assert.equal(Attribution.safeParse(r).success, true);
    /* The more specific /26 belongs to another organisation, which has no country: the mmdb's stays. */
    assert.deepEqual(a.lookup('192.0.2.65'), {
      country: 'NL',
      asn: 64496,
      asOrg: 'Example Health Network',
      org: 'Example Radiology Partners',
      orgSource: 'orgs',
      orgNetwork: '192.0.2.64/26',
    });
    assert.equal(a.lookup('198.51.100.1').country, 'DE');
    assert.equal(a.lookup('198.51.100.1').org, 'Unlocated Clinic');
    /* Outside every orgs.yaml block the AS organisation is used again. */
    assert.equal(a.lookup('203.0.113.1').orgSource, 'asn');
  });

  test('IPv6: mmdb and orgs.yaml, and IPv4-mapped addresses as IPv4', async () => {
    const a = await Attributor.open({ geoip: fx.country, asn: fx.asn, orgs: orgsFile, lookupReserved: true });
    assert.deepEqual(a.lookup('2001:db8:be::1'), { country: 'BE', asn: 64500, asOrg: 'Example IPv6 Network', org: 'Example IPv6 Network', orgSource: 'asn' });
    const h = a.lookup('2001:db8:10::abcd');
    assert.equal(h.org, 'Example University Hospital');
    assert.equal(h.orgNetwork, '2001:db8:10::/48');
    assert.equal(h.country, 'NL');
    assert.deepEqual(a.lookup('::ffff:192.0.2.70'), a.lookup('192.0.2.70'));
  });

  test('special addresses skip the mmdb files by default; orgs.yaml still attributes them', async () => {
    const a = await Attributor.open({ geoip: fx.country, asn: fx.asn, orgs: orgsFile });
    /* The fixture databases do describe 127.77.0.0/16 (LU) and 192.0.2.0/24: neither is used. */
    assert.deepEqual(a.lookup('127.77.0.10'), { country: null, asn: null, asOrg: null, org: 'medsurface lab', orgSource: 'orgs', orgNetwork: '127.77.0.0/16', tags: ['lab'] });
    assert.deepEqual(a.lookup('127.0.0.1'), { country: null, asn: null, asOrg: null, org: null, orgSource: null });
    assert.deepEqual(a.lookup('10.1.2.3'), { country: null, asn: null, asOrg: null, org: null, orgSource: null });
    assert.deepEqual(a.lookup('::1'), { country: null, asn: null, asOrg: null, org: null, orgSource: null });
    const doc = a.lookup('192.0.2.10');
    assert.equal(doc.country, 'NL'); /* from orgs.yaml, not the database */
    assert.equal(doc.asn, null);
    /* An ordinary public address (MaxMind's own test network, as data only) is looked up. */
    assert.deepEqual(a.lookup('81.2.69.143'), { country: 'GB', asn: 64499, asOrg: 'Example Public AS', org: 'Example Public AS', orgSource: 'asn' });
    /* lookupReserved: a site-built database may describe internal ranges. */
    const b = await Attributor.open({ geoip: fx.country, lookupReserved: true });
    assert.equal(b.lookup('127.77.0.10').country, 'LU');
  });

  test('@ip-location-db: one file per family, both given, each used for its own family', async () => {
    const a = await Attributor.open({ geoip: [fx.ildCountry4, fx.ildCountry6], asn: [fx.ildAsn4, fx.ildAsn6], lookupReserved: true });
    assert.deepEqual(a.lookup('192.0.2.1'), { country: 'FR', asn: 64501, asOrg: 'ILD Example AS', org: 'ILD Example AS', orgSource: 'asn' });
    assert.deepEqual(a.lookup('2001:db8::1'), { country: 'FR', asn: 64502, asOrg: 'ILD Example v6 AS', org: 'ILD Example v6 AS', orgSource: 'asn' });
    assert.deepEqual(a.lookup('198.51.100.1'), { country: 'DE', asn: null, asOrg: null, org: null, orgSource: null });
  });

  test('several files for a role: the first with a record wins', async () => {
    const a = await Attributor.open({ geoip: [fx.ildCountry4, fx.country], lookupReserved: true });
    assert.equal(a.lookup('192.0.2.1').country, 'FR');
    assert.equal(a.lookup('203.0.113.1').country, 'SE'); /* only in the second */
    const b = await Attributor.open({ geoip: [fx.country, fx.ildCountry4], lookupReserved: true });
    assert.equal(b.lookup('192.0.2.1').country, 'NL');
  });

  test('no files: every lookup is null; sources say what was opened', async () => {
    const none = await Attributor.open();
    assert.deepEqual(none.lookup('192.0.2.1'), { country: null, asn: null, asOrg: null, org: null, orgSource: null });
    assert.deepEqual(none.sources, []);
    const a = await Attributor.open({ geoip: fx.country, asn: fx.asn, orgs: orgsFile });
    assert.deepEqual(
      a.sources.map((s) => [s.kind, path.basename(s.file), s.builtAt ?? null]),
      [
        ['geoip', 'GeoLite2-Country-fixture.mmdb', '1970-01-01T00:00:00.000Z'],
        ['asn', 'GeoLite2-ASN-fixture.mmdb', '1970-01-01T00:00:00.000Z'],
        ['orgs', 'orgs.yaml', null],
      ],
    );
    assert.match(a.sources[0]!.description, /GeoIP2\/GeoLite2/);
    assert.equal(a.sources[2]!.description, '4 organisations');
  });

  test('reload picks up changed files', async () => {
    const file = path.join(fx.dir, 'reload.mmdb');
    await copyFile(fx.ildCountry4, file);
    const a = await Attributor.open({ geoip: file, lookupReserved: true });
    assert.equal(a.lookup('192.0.2.1').country, 'FR');
    await copyFile(fx.country, file);
    const b = await a.reload();
    assert.equal(b.lookup('192.0.2.1').country, 'NL');
    assert.equal(a.lookup('192.0.2.1').country, 'FR'); /* the old one is untouched */
  });

  test('errors: a bad address, a missing or wrong-kind file, a bad orgs.yaml', async () => {
    const a = await Attributor.open();
    for (const bad of ['not-an-ip', '192.0.2', '010.0.0.1', 'fe80::1%eth0', 'x'.repeat(500)]) {
      assert.throws(() => a.lookup(bad), (e: unknown) => e instanceof AttributionError && /^not an IP address: /.test(e.message) && e.message.length < 120, bad);
    }
    await assert.rejects(Attributor.open({ geoip: path.join(fx.dir, 'nope.mmdb') }), (e: unknown) => e instanceof AttributionError && /nope\.mmdb: file not found/.test(e.message));
    await assert.rejects(Attributor.open({ asn: fx.country }), (e: unknown) => e instanceof AttributionError && /looks like a country database/.test(e.message));
    const bad = path.join(fx.dir, 'bad-orgs.yaml');
    await writeFile(bad, '- name: X\n  cidrs: [192.0.2.0/33]\n');
    await assert.rejects(Attributor.open({ orgs: bad }), (e: unknown) => e instanceof AttributionError && /entry 1 \("X"\), cidrs\[0\]/.test(e.message));
  });

  test('warnings from orgs.yaml are passed on', async () => {
    const dup = path.join(fx.dir, 'dup-orgs.yaml');
    await writeFile(dup, '- name: A\n  cidrs: [192.0.2.0/24]\n- name: B\n  cidrs: [192.0.2.0/24]\n');
    const a = await Attributor.open({ orgs: dup });
    assert.equal(a.warnings.length, 1);
    assert.equal(a.lookup('192.0.2.1').org, 'A');
  });

  test('the example orgs.yaml attributes the lab', async () => {
    const a = await Attributor.open({ orgs: path.join(packageRoot(), 'docs', 'examples', 'orgs.yaml') });
    assert.equal(a.lookup('127.77.0.1').org, 'medsurface lab');
  });
});
