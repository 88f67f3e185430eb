import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { parseIp } from './address.js';
import { AttributionError } from './errors.js';
import { type FixtureFiles, asnRecord, geoLite2Country, writeFixtures } from './fixtures.js';
import { MmdbDatabase, extractFields } from './mmdb.js';
import { buildMmdb, mmdbType } from './mmdb-writer.js';

const ip = (t: string) => parseIp(t)!;
let fx: FixtureFiles;

before(async () => {
  fx = await writeFixtures();
});
after(async () => {
  await fx.remove();
});

/** Runs `fn` and returns the AttributionError it must throw. */
async function attributionError(fn: () => Promise<unknown> | unknown): Promise<AttributionError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof AttributionError, `AttributionError expected, got ${String(err)}`);
    return err;
  }
  return assert.fail('no error thrown');
}

describe('layout detection (from the record fields)', () => {
  test('GeoLite2-Country: country.iso_code, registered_country.iso_code as the fallback', async () => {
    const db = await MmdbDatabase.open(fx.country, 'geoip');
    assert.deepEqual(db.info.layout, { country: 'geoip2', asn: null });
    assert.equal(db.info.databaseType, 'GeoLite2-Country');
    assert.equal(db.info.ipVersion, 6);
    assert.deepEqual(db.lookup(ip('192.0.2.1')), { country: 'NL', asn: null, asOrg: null });
    assert.deepEqual(db.lookup(ip('192.0.2.200')), { country: 'BE', asn: null, asOrg: null });
    assert.deepEqual(db.lookup(ip('198.51.100.7')), { country: 'DE', asn: null, asOrg: null });
    assert.deepEqual(db.lookup(ip('2001:db8:be::1')), { country: 'BE', asn: null, asOrg: null });
    assert.equal(db.lookup(ip('203.0.114.1')), null);
  });

  test('GeoLite2-ASN: number and organisation; a network without organisation', async () => {
    const db = await MmdbDatabase.open(fx.asn, 'asn');
    assert.deepEqual(db.info.layout, { country: null, asn: 'top-level' });
    assert.deepEqual(db.lookup(ip('192.0.2.9')), { country: null, asn: 64496, asOrg: 'Example Health Network' });
    assert.deepEqual(db.lookup(ip('198.51.100.9')), { country: null, asn: 64497, asOrg: null });
    assert.deepEqual(db.lookup(ip('2001:db8:ffff::1')), { country: null, asn: 64500, asOrg: 'Example IPv6 Network' });
  });

  test('@ip-location-db country and asn, IPv4-only and IPv6 files', async () => {
    const c4 = await MmdbDatabase.open(fx.ildCountry4, 'geoip');
    assert.deepEqual(c4.info.layout, { country: 'country_code', asn: null });
    assert.equal(c4.info.ipVersion, 4);
    assert.deepEqual(c4.lookup(ip('198.51.100.1')), { country: 'DE', asn: null, asOrg: null });
    /* An IPv6 address is never walked through an IPv4-only tree. */
    assert.equal(c4.lookup(ip('2001:db8::1')), null);
    const c6 = await MmdbDatabase.open(fx.ildCountry6, 'geoip');
    assert.deepEqual(c6.lookup(ip('2001:db8::1')), { country: 'FR', asn: null, asOrg: null });
    const a4 = await MmdbDatabase.open(fx.ildAsn4, 'asn');
    assert.deepEqual(a4.info.layout, { country: null, asn: 'top-level' });
    assert.deepEqual(a4.lookup(ip('192.0.2.1')), { country: null, asn: 64501, asOrg: 'ILD Example AS' });
  });

  test('GeoIP2 Enterprise-like: country and traits.autonomous_system_* in one record', async () => {
    const file = path.join(fx.dir, 'enterprise.mmdb');
    await writeFile(
      file,
      buildMmdb({
        ipVersion: 6,
        databaseType: 'GeoIP2-Enterprise',
        networks: [
          {
            network: '203.0.113.0/24',
            data: { ...geoLite2Country('SE', 'SE'), traits: { autonomous_system_number: mmdbType.uint32(64510), autonomous_system_organization: 'Traits AS' } },
          },
        ],
      }),
    );
    for (const role of ['geoip', 'asn'] as const) {
      const db = await MmdbDatabase.open(file, role);
      assert.deepEqual(db.info.layout, { country: 'geoip2', asn: 'traits' });
      assert.deepEqual(db.lookup(ip('203.0.113.5')), { country: 'SE', asn: 64510, asOrg: 'Traits AS' });
    }
  });

  test('the file name does not matter: an ASN database named like a country one is an ASN database', async () => {
    const file = path.join(fx.dir, 'GeoLite2-Country.mmdb');
    await writeFile(file, await readFile(fx.asn));
    const db = await MmdbDatabase.open(file, 'asn');
    assert.deepEqual(db.info.layout, { country: null, asn: 'top-level' });
    const e = await attributionError(() => MmdbDatabase.open(file, 'geoip'));
    assert.match(e.message, /no country field; it looks like an ASN database \(pass it as the ASN database, --asn\)/);
  });

  test('extractFields ignores malformed values', () => {
    assert.deepEqual(extractFields({ country: { iso_code: 'Netherlands' }, country_code: 'nl' }).country, 'NL');
    assert.deepEqual(extractFields({ autonomous_system_number: -1, autonomous_system_organization: 'X' }).asn, null);
    assert.deepEqual(extractFields({ autonomous_system_number: 4294967296 }).asn, null);
    assert.deepEqual(extractFields({ autonomous_system_number: 64496n, autonomous_system_organization: '  ' }), {
      country: null,
      asn: 64496,
      asOrg: null,
      layout: { country: null, asn: 'top-level' },
    });
    assert.deepEqual(extractFields('just a string'), { country: null, asn: null, asOrg: null, layout: { country: null, asn: null } });
    assert.equal(extractFields({ autonomous_system_number: 1, autonomous_system_organization: 'o'.repeat(1000) }).asOrg?.length, 256);
  });
});

describe('bad files give an AttributionError naming the file', () => {
  test('missing file, directory, empty file', async () => {
    const missing = path.join(fx.dir, 'missing.mmdb');
    const e = await attributionError(() => MmdbDatabase.open(missing, 'geoip'));
    assert.equal(e.message, `GeoIP (country) database ${missing}: file not found`);
    assert.equal(e.file, missing);
    const sub = path.join(fx.dir, 'a-directory.mmdb');
    await mkdir(sub);
    assert.match((await attributionError(() => MmdbDatabase.open(sub, 'asn'))).message, /^ASN database .*: not a file$/);
    const empty = path.join(fx.dir, 'empty.mmdb');
    await writeFile(empty, '');
    assert.match((await attributionError(() => MmdbDatabase.open(empty, 'asn'))).message, /the file is empty/);
  });

  test('over the size cap', async () => {
    const e = await attributionError(() => MmdbDatabase.open(fx.country, 'geoip', 100));
    assert.match(e.message, /larger than the 100-byte cap/);
  });

  test('gzip (a .tar.gz download) is recognised', async () => {
    const gz = path.join(fx.dir, 'GeoLite2-Country.tar.gz');
    await writeFile(gz, gzipSync(await readFile(fx.country)));
    assert.match((await attributionError(() => MmdbDatabase.open(gz, 'geoip'))).message, /gzip-compressed .* extract the \.mmdb file/);
  });

  test('random bytes and a truncated file: no metadata marker', async () => {
    const junk = path.join(fx.dir, 'junk.mmdb');
    await writeFile(junk, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff)));
    assert.match((await attributionError(() => MmdbDatabase.open(junk, 'geoip'))).message, /not a MaxMind DB file, or truncated/);
    const cut = path.join(fx.dir, 'cut.mmdb');
    const whole = await readFile(fx.country);
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    assert.match((await attributionError(() => MmdbDatabase.open(cut, 'geoip'))).message, /not a MaxMind DB file, or truncated/);
  });

  test('corrupt metadata, search tree and separator', async () => {
    const good = await readFile(fx.country);
    const markerAt = good.lastIndexOf(Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'));

    /* Metadata garbled after the marker. */
    const meta = Buffer.from(good);
    meta.fill(0xee, markerAt + 14);
    assert.match((await attributionError(() => MmdbDatabase.fromBuffer(meta, 'meta.mmdb', 'geoip'))).message, /^GeoIP \(country\) database meta\.mmdb: corrupt MaxMind DB metadata: /);

    /* The root's left record points past the data section. */
    const tree = Buffer.from(good);
    tree.writeUIntBE(0xffffff, 0, 3);
    assert.match((await attributionError(() => MmdbDatabase.fromBuffer(tree, 'tree.mmdb', 'geoip'))).message, /corrupt search tree: node 0 points outside the data section/);

    /* The 16-byte separator after the tree is not zero. */
    const m = new (await import('maxmind')).Reader(good).metadata;
    const sep = Buffer.from(good);
    sep[m.searchTreeSize + 3] = 1;
    assert.match((await attributionError(() => MmdbDatabase.fromBuffer(sep, 'sep.mmdb', 'geoip'))).message, /no 16-byte zero separator/);

    /* A record whose data is garbage: found while sampling at open. */
    const data = Buffer.from(good);
    data.fill(0x00, m.searchTreeSize + 16, m.searchTreeSize + 16 + 64);
    assert.match((await attributionError(() => MmdbDatabase.fromBuffer(data, 'data.mmdb', 'geoip'))).message, /^GeoIP \(country\) database data\.mmdb: corrupt data section: the record for [0-9.]+ cannot be read/);
  });

  test('a database with no records, and one with unknown fields', async () => {
    const none = buildMmdb({ ipVersion: 6, databaseType: 'Empty', networks: [] });
    assert.match((await attributionError(() => MmdbDatabase.fromBuffer(none, 'none.mmdb', 'geoip'))).message, /holds no records/);
    const odd = buildMmdb({ ipVersion: 6, databaseType: 'GeoIP2-Connection-Type', networks: [{ network: '192.0.2.0/24', data: { connection_type: 'Corporate' } }] });
    assert.match((await attributionError(() => MmdbDatabase.fromBuffer(odd, 'odd.mmdb', 'asn'))).message, /none of the ASN fields we know/);
    const countryOnly = buildMmdb({ ipVersion: 4, databaseType: 'C', networks: [{ network: '192.0.2.0/24', data: { country_code: 'NL' } }] });
    assert.match((await attributionError(() => MmdbDatabase.fromBuffer(countryOnly, 'c.mmdb', 'asn'))).message, /looks like a country database \(pass it as the GeoIP database, --geoip\)/);
  });

  test('a corrupt record met at lookup time is an AttributionError too', async () => {
    /* 20 distinct records: opening samples (and caches) the first 16 by address; the data
       section is then overwritten, so the record of the last network is read from garbage. */
    const buf = buildMmdb({
      ipVersion: 4,
      databaseType: 'L',
      networks: Array.from({ length: 20 }, (_, i) => ({ network: `192.0.2.${i * 8}/29`, data: asnRecord(64496 + (i % 16), `AS ${i}`) })),
    });
    const db = MmdbDatabase.fromBuffer(buf, 'late.mmdb', 'asn');
    assert.deepEqual(db.lookup(ip('192.0.2.1')), { country: null, asn: 64496, asOrg: 'AS 0' });
    const m = new (await import('maxmind')).Reader(Buffer.from(buf)).metadata;
    buf.fill(0xff, m.searchTreeSize + 16);
    const e = await attributionError(() => db.lookup(ip('192.0.2.153')));
    assert.match(e.message, /^late\.mmdb: corrupt MaxMind DB \(the record for 192\.0\.2\.153 cannot be read/);
  });
});
