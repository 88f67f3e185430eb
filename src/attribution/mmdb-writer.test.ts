/**
 * The test-only writer, proved against an independent reader: every database here is written
 * by mmdb-writer.ts and read back by the `maxmind` package (mmdb-lib).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Reader } from 'maxmind';
import { formatV4, formatV6, parseCidr, parseIp } from './address.js';
import { type MmdbNetwork, MmdbWriteError, type MmdbValue, buildMmdb, mmdbType } from './mmdb-writer.js';

const read = (db: Buffer) => new Reader<Record<string, unknown>>(db);

describe('mmdb-writer', () => {
  test('every data type reads back through the maxmind reader', () => {
    const record: MmdbValue = {
      text: 'Ünïcödé text',
      empty: '',
      long: 'x'.repeat(300),
      longer: 'y'.repeat(70_000),
      u16: mmdbType.uint16(65535),
      u32: mmdbType.uint32(4294967295),
      zero: mmdbType.uint32(0),
      plainInt: 64496,
      negative: -12345,
      i32: mmdbType.int32(2147483647),
      u64: mmdbType.uint64(18446744073709551615n),
      u128: mmdbType.uint128((1n << 128n) - 1n),
      double: 52.3676,
      float: mmdbType.float(1.5),
      yes: true,
      no: false,
      bytes: new Uint8Array([0, 1, 254, 255]),
      list: ['a', 'bcd', ['nested'], { k: 'v' }],
      map: { inner: { deeper: 'bcd' } },
    };
    const db = read(buildMmdb({ ipVersion: 6, databaseType: 'Types-Test', networks: [{ network: '2001:db8::/32', data: record }] }));
    const got = db.get('2001:db8::1')!;
    assert.equal(got.text, 'Ünïcödé text');
    assert.equal(got.empty, '');
    assert.equal(got.long, 'x'.repeat(300));
    assert.equal(got.longer, 'y'.repeat(70_000));
    assert.equal(got.u16, 65535);
    assert.equal(got.u32, 4294967295);
    assert.equal(got.zero, 0);
    assert.equal(got.plainInt, 64496);
    assert.equal(got.negative, -12345);
    assert.equal(got.i32, 2147483647);
    assert.equal(got.u64, 18446744073709551615n);
    assert.equal(got.u128, (1n << 128n) - 1n);
    assert.equal(got.double, 52.3676);
    assert.equal(got.float, 1.5);
    assert.equal(got.yes, true);
    assert.equal(got.no, false);
    assert.deepEqual([...(got.bytes as Uint8Array)], [0, 1, 254, 255]);
    assert.deepEqual(got.list, ['a', 'bcd', ['nested'], { k: 'v' }]);
    assert.deepEqual(got.map, { inner: { deeper: 'bcd' } });
  });

  test('metadata reads back', () => {
    const db = read(
      buildMmdb({
        ipVersion: 4,
        databaseType: 'GeoLite2-Country',
        languages: ['de', 'en'],
        description: { en: 'fixture', de: 'Testdaten' },
        buildEpoch: 1_700_000_000n,
        networks: [{ network: '192.0.2.0/24', data: { country_code: 'NL' } }],
      }),
    );
    const m = db.metadata;
    assert.equal(m.binaryFormatMajorVersion, 2);
    assert.equal(m.binaryFormatMinorVersion, 0);
    assert.equal(m.databaseType, 'GeoLite2-Country');
    assert.deepEqual(m.languages, ['de', 'en']);
    assert.deepEqual(m.description, { en: 'fixture', de: 'Testdaten' });
    assert.equal(m.buildEpoch.toISOString(), '2023-11-14T22:13:20.000Z');
    assert.equal(m.ipVersion, 4);
    assert.equal(m.recordSize, 24);
    assert.equal(m.nodeCount, 24);
  });

  test('pointers: repeated values are written once and read back whole', () => {
    const rec = (cc: string) => ({ country: { iso_code: cc, names: { en: 'Shared name', de: 'Gemeinsamer Name' } } });
    const networks = Array.from({ length: 50 }, (_, i) => ({ network: `198.51.100.${i * 4}/30`, data: rec(i % 2 === 0 ? 'NL' : 'BE') }));
    const withPointers = buildMmdb({ ipVersion: 4, databaseType: 'P', networks, usePointers: true });
    const without = buildMmdb({ ipVersion: 4, databaseType: 'P', networks, usePointers: false });
    assert.ok(withPointers.length < without.length, `${withPointers.length} < ${without.length}`);
    for (const db of [read(withPointers), read(without)]) {
      assert.deepEqual(db.get('198.51.100.0'), rec('NL'));
      assert.deepEqual(db.get('198.51.100.5'), rec('BE'));
      assert.equal(db.get('198.51.100.200'), null);
    }
  });

  test('28- and 32-bit records, with record values above 2^24 (the 28-bit high nibbles)', () => {
    /* A first record of 16.8 MB pushes every later data offset past 2^24. */
    const big = new Uint8Array(16_800_000);
    const networks: MmdbNetwork[] = [
      { network: '192.0.2.0/24', data: { pad: big } },
      { network: '198.51.100.0/25', data: { country_code: 'NL' } },
      { network: '198.51.100.128/25', data: { country_code: 'BE' } },
      { network: '2001:db8::/32', data: { country_code: 'SE' } },
    ];
    const auto = buildMmdb({ ipVersion: 6, databaseType: 'Big', networks });
    for (const [size, db] of [
      [28, auto],
      [32, buildMmdb({ ipVersion: 6, databaseType: 'Big', networks, recordSize: 32 })],
    ] as const) {
      const r = read(db);
      assert.equal(r.metadata.recordSize, size);
      assert.equal(r.get('198.51.100.1')?.country_code, 'NL');
      assert.equal(r.get('198.51.100.129')?.country_code, 'BE');
      assert.equal(r.get('2001:db8:1::1')?.country_code, 'SE');
      assert.equal((r.get('192.0.2.1')?.pad as Uint8Array | undefined)?.length, 16_800_000);
    }
    assert.throws(() => buildMmdb({ ipVersion: 6, databaseType: 'Big', networks, recordSize: 24 }), MmdbWriteError);
  });

  test('a /0 network, IPv4 in an IPv6 tree, and refused input', () => {
    const r = read(buildMmdb({ ipVersion: 6, databaseType: 'All', networks: [{ network: '::/0', data: 'everything' }, { network: '192.0.2.1', data: 'host' }] }));
    assert.equal(r.get('2001:db8::1'), 'everything');
    assert.equal(r.get('192.0.2.1'), 'host');
    assert.deepEqual(r.getWithPrefixLength('192.0.2.1'), ['host', 32]);
    assert.equal(r.get('192.0.2.2'), 'everything');
    assert.throws(() => buildMmdb({ ipVersion: 4, databaseType: 'X', networks: [{ network: '2001:db8::/32', data: 'x' }] }), /IPv6 network/);
    assert.throws(() => buildMmdb({ ipVersion: 4, databaseType: 'X', networks: [{ network: '192.0.2.1/24', data: 'x' }] }), /host bits/);
    assert.throws(() => buildMmdb({ ipVersion: 4, databaseType: 'X', networks: [{ network: 'nope', data: 'x' }] }), /bad network/);
  });

  /* Random overlapping networks; the reader must return the data of the most specific one. */
  test('property: the reader finds the most specific network, IPv4 and IPv6 trees, all record sizes', () => {
    const v4 = fc.record({ base: fc.integer({ min: 0, max: 0xffff }), prefix: fc.integer({ min: 12, max: 32 }) }).map(({ base, prefix }) => {
      const mask = Number((0xffffffffn << BigInt(32 - prefix)) & 0xffffffffn);
      return `${formatV4(((0xc6330000 + base) & mask) >>> 0)}/${prefix}`;
    });
    const v6 = fc.record({ base: fc.bigInt({ min: 0n, max: 0xffffn }), prefix: fc.integer({ min: 100, max: 128 }) }).map(({ base, prefix }) => {
      const mask = ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);
      return `${formatV6(((0x20010db8n << 96n) | (base << 12n)) & mask)}/${prefix}`;
    });
    fc.assert(
      fc.property(
        fc.constantFrom(4 as const, 6 as const),
        fc.constantFrom(24 as const, 28 as const, 32 as const),
        fc.uniqueArray(fc.oneof(v4, v6), { minLength: 1, maxLength: 25 }),
        (ipVersion, recordSize, blocks) => {
          const usable = ipVersion === 4 ? blocks.filter((b) => !b.includes(':')) : blocks;
          const networks = usable.map((network, i) => ({ network, data: { id: i } }));
          const r = read(buildMmdb({ ipVersion, recordSize, databaseType: 'Prop', networks }));
          const cidrs = usable.map((b) => parseCidr(b)).map((c) => ('error' in c ? assert.fail(c.error) : c));
          const probes = cidrs.flatMap((c) => {
            const f = c.family === 4 ? (v: bigint) => formatV4(Number(v)) : formatV6;
            return [c.start, c.end, c.start - 1n, c.end + 1n].map(f);
          });
          for (const p of probes) {
            const a = parseIp(p)!;
            let best = -1;
            cidrs.forEach((c, i) => {
              if (c.family === a.family && BigInt(a.value) >= c.start && BigInt(a.value) <= c.end && (best < 0 || c.prefix > cidrs[best]!.prefix)) best = i;
            });
            const got = r.get(p) as { id: number } | null;
            assert.equal(got?.id ?? -1, best, `${p} in ${usable.join(' ')}`);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
