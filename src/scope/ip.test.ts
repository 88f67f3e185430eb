import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { V6_MAX, formatIPv4, formatIPv6, parseAddress, parseIPv4, parseIPv6 } from './ip.js';

describe('IPv4 codec', () => {
  test('parses dotted quads to unsigned 32-bit numbers', () => {
    assert.equal(parseIPv4('127.0.0.1'), 0x7f000001);
    assert.equal(parseIPv4('0.0.0.0'), 0);
    assert.equal(parseIPv4('255.255.255.255'), 0xffffffff);
    assert.equal(parseIPv4('127.77.10.200'), 127 * 2 ** 24 + 77 * 2 ** 16 + 10 * 256 + 200);
  });

  test('refuses anything that is not four plain decimal octets', () => {
    for (const bad of ['127.0.0', '127.0.0.1.5', '127.0.0.256', '127.0.0.-1', '127.0.0.1 ', '127..0.1', '.127.0.0.1', '127.0.0.1.', '0x7f.0.0.1', '127.0.0.01', '010.0.0.1', '1270.0.0.1', '', 'localhost', '127.0.0.1/8']) {
      assert.equal(parseIPv4(bad), null, bad);
    }
  });

  test('format is the inverse of parse (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
        const text = formatIPv4(v);
        assert.equal(net.isIPv4(text), true);
        assert.equal(parseIPv4(text), v);
      }),
    );
  });
});

describe('IPv6 codec', () => {
  test('parses the three text forms of RFC 4291 §2.2', () => {
    assert.equal(parseIPv6('::1'), 1n);
    assert.equal(parseIPv6('::'), 0n);
    assert.equal(parseIPv6('2001:db8:0:0:8:800:200c:417a'), 0x20010db80000000000080800200c417an);
    assert.equal(parseIPv6('2001:DB8::8:800:200C:417A'), 0x20010db80000000000080800200c417an);
    assert.equal(parseIPv6('::ffff:127.0.0.1'), 0xffff7f000001n);
    assert.equal(parseIPv6('2001:db8::127.0.0.1'), 0x20010db8000000000000000000000000n | 0x7f000001n);
    assert.equal(parseIPv6('2001:db8::'), 0x20010db8n << 96n);
    assert.equal(parseIPv6('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), V6_MAX);
  });

  test('refuses malformed IPv6 text', () => {
    for (const bad of [':::', '1::2::3', '2001:db8:::1', '12345::1', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', ':1:2:3:4:5:6:7', '1::2:3:4:5:6:7:8', 'fe80::1%eth0', '[::1]', '::g', '1.2.3.4::', '::127.0.0.256', '2001:db8::/32']) {
      assert.equal(parseIPv6(bad), null, bad);
    }
  });

  test('formats canonically per RFC 5952 §4', () => {
    assert.equal(formatIPv6(parseIPv6('2001:0db8:0000:0000:0000:0000:0000:0001')!), '2001:db8::1');
    assert.equal(formatIPv6(parseIPv6('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1'); /* first of equal runs */
    assert.equal(formatIPv6(parseIPv6('2001:db8:0:1:1:1:1:1')!), '2001:db8:0:1:1:1:1:1'); /* no '::' for one group */
    assert.equal(formatIPv6(parseIPv6('2001:db8:0:0:1:0:0:0')!), '2001:db8:0:0:1::'); /* longest run wins */
    assert.equal(formatIPv6(0n), '::');
    assert.equal(formatIPv6(1n), '::1');
    assert.equal(formatIPv6(0xffff7f000001n), '::ffff:127.0.0.1');
    assert.equal(formatIPv6(parseIPv6('2001:DB8::ABCD')!), '2001:db8::abcd');
  });

  test('format then parse is the identity and Node agrees on validity (property)', () => {
    const big = fc.bigInt({ min: 0n, max: V6_MAX });
    /* Mix in values with long zero runs, which exercise '::' placement. */
    const sparse = fc
      .array(fc.constantFrom(0, 0, 0, 1, 0xffff, 0xdb8), { minLength: 8, maxLength: 8 })
      .map((g) => g.reduce((acc, x) => (acc << 16n) | BigInt(x), 0n));
    fc.assert(
      fc.property(fc.oneof(big, sparse), (v) => {
        const text = formatIPv6(v);
        assert.equal(net.isIPv6(text), true, text);
        assert.equal(parseIPv6(text), v);
      }),
      { numRuns: 500 },
    );
  });

  test('parseAddress picks the family', () => {
    assert.deepEqual(parseAddress('127.0.0.1'), { family: 4, value: 0x7f000001 });
    assert.deepEqual(parseAddress('::1'), { family: 6, value: 1n });
    assert.equal(parseAddress('localhost'), null);
  });
});
