import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type Cidr, type ParsedIp, formatV4, formatV6, parseCidr, parseIp } from './address.js';
import { PrefixTable } from './prefix-table.js';

function cidr(t: string): Cidr {
  const c = parseCidr(t);
  if ('error' in c) throw new Error(c.error);
  return c;
}

function ip(t: string): ParsedIp {
  const p = parseIp(t);
  if (p === null) throw new Error(t);
  return p;
}

/** The obvious algorithm: every block, most specific containing one wins, earlier on ties. */
function naive<T>(entries: ReadonlyArray<{ cidr: Cidr; value: T }>, a: ParsedIp): T | null {
  let best: { cidr: Cidr; value: T } | null = null;
  const x = BigInt(a.value);
  for (const e of entries) {
    if (e.cidr.family !== a.family || x < e.cidr.start || x > e.cidr.end) continue;
    if (best === null || e.cidr.prefix > best.cidr.prefix) best = e;
  }
  return best === null ? null : best.value;
}

describe('PrefixTable', () => {
  test('the most specific block wins, whatever the order given', () => {
    const entries = [
      { cidr: cidr('192.0.2.0/26'), value: 'small' },
      { cidr: cidr('192.0.0.0/16'), value: 'wide' },
      { cidr: cidr('192.0.2.0/24'), value: 'medium' },
      { cidr: cidr('192.0.2.0/32'), value: 'host' },
    ];
    const t = PrefixTable.build(entries);
    assert.equal(t.lookup(ip('192.0.2.0'))?.value, 'host');
    assert.equal(t.lookup(ip('192.0.2.1'))?.value, 'small');
    assert.equal(t.lookup(ip('192.0.2.63'))?.value, 'small');
    assert.equal(t.lookup(ip('192.0.2.64'))?.value, 'medium');
    assert.equal(t.lookup(ip('192.0.2.255'))?.value, 'medium');
    assert.equal(t.lookup(ip('192.0.3.0'))?.value, 'wide');
    assert.equal(t.lookup(ip('192.0.255.255'))?.value, 'wide');
    assert.equal(t.lookup(ip('192.1.0.0')), null);
    assert.equal(t.lookup(ip('191.255.255.255')), null);
    assert.equal(t.lookup(ip('192.0.2.64'))?.cidr.text, '192.0.2.0/24');
  });

  test('identical blocks: the first entry wins and the later one is reported', () => {
    const t = PrefixTable.build([
      { cidr: cidr('198.51.100.0/24'), value: 'first' },
      { cidr: cidr('198.51.100.0/24'), value: 'second' },
    ]);
    assert.equal(t.lookup(ip('198.51.100.9'))?.value, 'first');
    assert.equal(t.duplicates.length, 1);
    assert.equal(t.duplicates[0]?.kept, 'first');
    assert.equal(t.duplicates[0]?.ignored, 'second');
  });

  test('IPv6 and IPv4 are separate, edges of the address space included', () => {
    const t = PrefixTable.build([
      { cidr: cidr('::/0'), value: 'all6' },
      { cidr: cidr('2001:db8::/32'), value: 'doc' },
      { cidr: cidr('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/128'), value: 'last' },
      { cidr: cidr('255.255.255.255/32'), value: 'bcast' },
      { cidr: cidr('0.0.0.0/8'), value: 'zero' },
    ]);
    assert.equal(t.lookup(ip('2001:db8::1'))?.value, 'doc');
    assert.equal(t.lookup(ip('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'))?.value, 'last');
    assert.equal(t.lookup(ip('2001:db9::'))?.value, 'all6');
    assert.equal(t.lookup(ip('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'))?.value, 'all6');
    assert.equal(t.lookup(ip('::'))?.value, 'all6');
    assert.equal(t.lookup(ip('255.255.255.255'))?.value, 'bcast');
    assert.equal(t.lookup(ip('0.0.0.0'))?.value, 'zero');
    assert.equal(t.lookup(ip('1.0.0.0')), null);
    assert.equal(t.segmentCount, 6);
  });

  test('an empty table matches nothing', () => {
    const t = PrefixTable.build<string>([]);
    assert.equal(t.lookup(ip('192.0.2.1')), null);
    assert.equal(t.lookup(ip('2001:db8::1')), null);
  });

  /* Random blocks drawn in a small part of the space so that they nest and collide often. */
  const v4Block = fc
    .record({ base: fc.integer({ min: 0, max: 0xffff }), prefix: fc.integer({ min: 16, max: 32 }) })
    .map(({ base, prefix }) => {
      const start = (0xc0000000 + base) & Number((0xffffffffn << BigInt(32 - prefix)) & 0xffffffffn);
      return `${formatV4(start >>> 0)}/${prefix}`;
    });
  const v6Block = fc
    .record({ base: fc.bigInt({ min: 0n, max: (1n << 24n) - 1n }), prefix: fc.integer({ min: 104, max: 128 }) })
    .map(({ base, prefix }) => {
      const full = (0x20010db8n << 96n) | base;
      const mask = ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);
      return `${formatV6(full & mask)}/${prefix}`;
    });

  test('property: agrees with a linear scan for random block sets (IPv4 and IPv6)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(v4Block, v6Block), { minLength: 0, maxLength: 40 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 0x1ffff }).map((o) => formatV4((0xbfff0000 + o) >>> 0)), fc.bigInt({ min: 0n, max: (1n << 25n) - 1n }).map((o) => formatV6((0x20010db8n << 96n) - (1n << 24n) + o))), { minLength: 1, maxLength: 40 }),
        (blocks, probes) => {
          const entries = blocks.map((b, i) => ({ cidr: cidr(b), value: i }));
          const t = PrefixTable.build(entries);
          /* Probe every block's edges and the addresses next to them, plus random ones. */
          const edges = entries.flatMap((e) => {
            const f = e.cidr.family === 4 ? (v: bigint) => formatV4(Number(v)) : formatV6;
            const max = e.cidr.family === 4 ? 0xffffffffn : (1n << 128n) - 1n;
            return [e.cidr.start, e.cidr.end, e.cidr.start - 1n, e.cidr.end + 1n].filter((v) => v >= 0n && v <= max).map(f);
          });
          for (const p of [...probes, ...edges]) {
            const a = ip(p);
            assert.equal(t.lookup(a)?.value ?? null, naive(entries, a), `${p} in ${blocks.join(' ')}`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
