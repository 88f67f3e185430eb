import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { UsageError } from '../core/errors.js';
import { formatIPv4 } from './ip.js';
import { IpSet, parseToken } from './ipset.js';

describe('parseToken', () => {
  test('classifies addresses, CIDRs, ranges, short ranges and host names', () => {
    assert.deepEqual(parseToken('127.0.0.1'), { kind: 'range', family: 4, start: 0x7f000001n, end: 0x7f000001n });
    assert.deepEqual(parseToken('127.0.0.0/30'), { kind: 'range', family: 4, start: 0x7f000000n, end: 0x7f000003n });
    assert.deepEqual(parseToken('127.0.0.1-127.0.3.255'), { kind: 'range', family: 4, start: 0x7f000001n, end: 0x7f0003ffn });
    assert.deepEqual(parseToken('127.0.0.1-20'), { kind: 'range', family: 4, start: 0x7f000001n, end: 0x7f000014n });
    assert.deepEqual(parseToken('2001:db8::/126'), {
      kind: 'range',
      family: 6,
      start: 0x20010db8n << 96n,
      end: (0x20010db8n << 96n) | 3n,
    });
    assert.deepEqual(parseToken('2001:db8::1-2001:db8::ff'), {
      kind: 'range',
      family: 6,
      start: (0x20010db8n << 96n) | 1n,
      end: (0x20010db8n << 96n) | 0xffn,
    });
    assert.deepEqual(parseToken('pacs-01.hospital.test'), { kind: 'name', name: 'pacs-01.hospital.test' });
    assert.deepEqual(parseToken('localhost.'), { kind: 'name', name: 'localhost' });
    assert.deepEqual(parseToken('10-0-0-1.hospital.test'), { kind: 'name', name: '10-0-0-1.hospital.test' });
  });

  test('clears host bits of a CIDR, as nmap and ZMap do', () => {
    assert.deepEqual(parseToken('127.0.0.77/24'), { kind: 'range', family: 4, start: 0x7f000000n, end: 0x7f0000ffn });
  });

  test('stores IPv4-mapped IPv6 as IPv4', () => {
    assert.deepEqual(parseToken('::ffff:127.0.0.1'), { kind: 'range', family: 4, start: 0x7f000001n, end: 0x7f000001n });
    assert.deepEqual(parseToken('::ffff:127.0.0.0/120'), { kind: 'range', family: 4, start: 0x7f000000n, end: 0x7f0000ffn });
    /* A block wider than the mapped /96 stays IPv6. */
    assert.equal((parseToken('::/64') as { family: number }).family, 6);
  });

  test('gives a reason for each kind of bad token', () => {
    const reason = (t: string) => {
      const p = parseToken(t);
      assert.equal(p.kind, 'error', t);
      return (p as { reason: string }).reason;
    };
    assert.match(reason('127.0.0.256'), /not a valid IPv4/);
    assert.match(reason('127.0.0'), /not a valid IPv4/);
    assert.match(reason('127.0.0.010'), /leading zeros/);
    assert.match(reason('127.0.0.0/33'), /prefix length \(0-32/);
    assert.match(reason('2001:db8::/129'), /prefix length \(0-128/);
    assert.match(reason('127.0.0.0/'), /prefix/);
    assert.match(reason('127.0.0.0/8/9'), /prefix/);
    assert.match(reason('300.0.0.0/8'), /CIDR base/);
    assert.match(reason('127.0.0.9-3'), /before its start/);
    assert.match(reason('127.0.0.9-127.0.0.1'), /before its start/);
    assert.match(reason('127.0.0.1-256'), /last octet/);
    assert.match(reason('127.0.0.1-::1'), /different address families/);
    assert.match(reason('127.0.0.1-foo'), /bad range end/);
    assert.match(reason('127.0.0.999-127.0.1.1'), /bad range start/);
    assert.match(reason('2001:db8::g'), /IPv6/);
    assert.match(reason('fe80::1%eth0'), /zone/);
    assert.match(reason('[::1]'), /brackets/);
    assert.match(reason('host_name!'), /not an address, CIDR, range or host name/);
    assert.match(reason('-foo'), /not an address/);
    assert.match(reason(`${'a'.repeat(64)}.test`), /not an address/);
  });
});

describe('IpSet', () => {
  test('merges overlapping and adjacent entries into sorted ranges', () => {
    const s = IpSet.parse(['127.0.1.0/24,127.0.0.0/24', '127.0.2.5 127.0.2.0-127.0.2.4', '127.9.9.9', '2001:db8::2', '2001:db8::1']);
    assert.deepEqual(s.ranges(), [
      { start: '127.0.0.0', end: '127.0.2.5' },
      { start: '127.9.9.9', end: '127.9.9.9' },
      { start: '2001:db8::1', end: '2001:db8::2' },
    ]);
    assert.equal(s.size, 512n + 6n + 1n + 2n);
    assert.deepEqual(s.rangeTexts(), ['127.0.0.0-127.0.2.5', '127.9.9.9', '2001:db8::1-2001:db8::2']);
  });

  test('has() answers by binary search, IPv4-mapped included', () => {
    const s = IpSet.parse(['127.0.0.0/24', '127.5.0.0/16', '2001:db8::/64']);
    assert.equal(s.has('127.0.0.0'), true);
    assert.equal(s.has('127.0.0.255'), true);
    assert.equal(s.has('127.0.1.0'), false);
    assert.equal(s.has('127.5.200.1'), true);
    assert.equal(s.has('127.4.255.255'), false);
    assert.equal(s.has('::ffff:127.0.0.9'), true);
    assert.equal(s.has('::ffff:127.0.1.9'), false);
    assert.equal(s.has('2001:db8::abcd'), true);
    assert.equal(s.has('2001:db8:0:1::'), false);
    assert.equal(s.has('not-an-ip'), false);
    assert.equal(IpSet.empty().has('127.0.0.1'), false);
    assert.equal(IpSet.empty().size, 0n);
  });

  test('refuses host names and bad entries with the token in the message', () => {
    assert.throws(() => IpSet.parse(['127.0.0.0/8', 'pacs.hospital.test']), (e: unknown) => {
      assert.ok(e instanceof UsageError, 'UsageError');
      assert.match(e.message, /"pacs\.hospital\.test" is a host name/);
      return true;
    });
    assert.throws(() => IpSet.parse(['127.0.0.1,127.0.0.300'], '--exclude'), (e: unknown) => {
      assert.ok(e instanceof UsageError, 'UsageError');
      assert.match(e.message, /^--exclude: bad entry "127\.0\.0\.300": not a valid IPv4/);
      return true;
    });
  });

  test('union, subtract and containsAll work on ranges', () => {
    const a = IpSet.parse(['127.0.0.0/24']);
    const b = IpSet.parse(['127.0.0.10-127.0.0.19', '127.0.0.250-127.0.1.5']);
    assert.deepEqual(a.subtract(b).ranges(), [
      { start: '127.0.0.0', end: '127.0.0.9' },
      { start: '127.0.0.20', end: '127.0.0.249' },
    ]);
    assert.deepEqual(a.union(b).ranges(), [{ start: '127.0.0.0', end: '127.0.1.5' }]);
    assert.equal(a.containsAll(IpSet.parse(['127.0.0.10-127.0.0.19'])), true);
    assert.equal(a.containsAll(b), false);
    assert.equal(a.containsAll(IpSet.empty()), true);
    assert.equal(IpSet.empty().containsAll(a), false);
    /* Adjacent scope ranges merge, so a target spanning them is contained. */
    assert.equal(IpSet.parse(['127.0.0.0/25', '127.0.0.128/25']).containsAll(a), true);
    assert.equal(IpSet.parse(['2001:db8::/32']).containsAll(IpSet.parse(['2001:db8:1::/48', '127.0.0.1'])), false);
    assert.deepEqual(IpSet.parse(['2001:db8::/126']).subtract(IpSet.parse(['2001:db8::1-2001:db8::2'])).rangeTexts(), [
      '2001:db8::',
      '2001:db8::3',
    ]);
    assert.deepEqual(IpSet.parse(['2001:db8::/127', '2001:db8::2/127', '::1']).rangeTexts(), ['::1', '2001:db8::/126']);
  });

  test('a /8 and the whole IPv4 space cost one range each', () => {
    const all = IpSet.parse(['0.0.0.0/0']);
    assert.equal(all.size, 2n ** 32n);
    assert.equal(all.ranges().length, 1);
    assert.equal(IpSet.parse(['::/0']).size, 2n ** 128n);
  });

  test('random CIDRs round-trip through ranges() (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffff }), fc.integer({ min: 8, max: 32 }), (host, prefix) => {
        const base = (0x7f000000 + host) >>> 0; /* inside 127.0.0.0/8 */
        const size = 2 ** (32 - prefix);
        const start = base - (base % size);
        const s = IpSet.parse([`${formatIPv4(base)}/${prefix}`]);
        assert.deepEqual(s.ranges(), [{ start: formatIPv4(start), end: formatIPv4(start + size - 1) }]);
        assert.equal(s.size, BigInt(size));
        /* And the range text parses back to the same set. */
        const r = s.ranges()[0]!;
        assert.deepEqual(IpSet.parse([`${r.start}-${r.end}`]).ranges(), s.ranges());
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 96n) - 1n }), fc.integer({ min: 32, max: 128 }), (low, prefix) => {
        const base = (0x20010db8n << 96n) | low; /* inside 2001:db8::/32 */
        const s = IpSet.parse([`${IpSet.fromSpans([], [{ start: base, end: base }]).ranges()[0]!.start}/${prefix}`]);
        const hostBits = BigInt(128 - prefix);
        const start = (base >> hostBits) << hostBits;
        const r = s.ranges();
        assert.equal(r.length, 1);
        assert.equal(s.size, 1n << hostBits);
        assert.deepEqual(IpSet.parse([`${r[0]!.start}-${r[0]!.end}`]).ranges(), r);
        assert.equal(s.has(r[0]!.start), true);
        assert.equal(IpSet.fromSpans([], [{ start, end: start }]).ranges()[0]!.start, r[0]!.start);
      }),
      { numRuns: 300 },
    );
  });

  test('set algebra agrees with a brute-force model on a small universe (property)', () => {
    /* Ranges inside 127.0.0.0/24 so that membership can be enumerated. */
    const range = fc
      .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }))
      .map(([a, b]) => (a <= b ? `127.0.0.${a}-${b}` : `127.0.0.${b}-${a}`));
    const model = (tokens: string[]) => {
      const m = new Set<number>();
      for (const t of tokens) {
        const [a, b] = t.slice('127.0.0.'.length).split('-').map(Number) as [number, number];
        for (let i = a; i <= b; i++) m.add(i);
      }
      return m;
    };
    fc.assert(
      fc.property(fc.array(range, { maxLength: 6 }), fc.array(range, { maxLength: 6 }), (ta, tb) => {
        const a = IpSet.parse(ta);
        const b = IpSet.parse(tb);
        const ma = model(ta);
        const mb = model(tb);
        const diff = a.subtract(b);
        const uni = a.union(b);
        for (let i = 0; i < 256; i++) {
          const ip = `127.0.0.${i}`;
          assert.equal(a.has(ip), ma.has(i));
          assert.equal(diff.has(ip), ma.has(i) && !mb.has(i));
          assert.equal(uni.has(ip), ma.has(i) || mb.has(i));
        }
        assert.equal(a.size, BigInt(ma.size));
        assert.equal(b.containsAll(a), [...ma].every((i) => mb.has(i)));
        /* Ranges are sorted, disjoint and non-adjacent. */
        const r = uni.ranges().map((x) => [Number(x.start.split('.')[3]), Number(x.end.split('.')[3])] as const);
        for (let k = 1; k < r.length; k++) assert.ok(r[k]![0] > r[k - 1]![1] + 1, 'ranges sorted, disjoint, non-adjacent');
      }),
      { numRuns: 200 },
    );
  });
});
