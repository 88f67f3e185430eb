import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { ipKey, ipKeyRange } from './ip-key.js';

test('keys are fixed-width hex, IPv4 before IPv6, junk last', () => {
  assert.equal(ipKey('127.77.0.10'), '4:7f4d000a');
  assert.equal(ipKey('::1'), `6:${'0'.repeat(31)}1`);
  assert.equal(ipKey('::1'), ipKey('0:0:0:0:0:0:0:1'), 'one key per address, whatever its spelling');
  assert.ok(ipKey('255.255.255.255') < ipKey('::'));
  assert.equal(ipKey('127.1'), 'x:127.1', 'short IPv4 forms are not addresses here');
  assert.ok(ipKey('ffff::') < ipKey('example'));
});

test('CIDR ranges are inclusive network..broadcast', () => {
  assert.deepEqual(ipKeyRange('127.77.0.0/16'), { lo: '4:7f4d0000', hi: '4:7f4dffff' });
  assert.deepEqual(ipKeyRange('127.77.3.9/16'), { lo: '4:7f4d0000', hi: '4:7f4dffff' }, 'host bits ignored');
  assert.deepEqual(ipKeyRange('10.1.2.3'), { lo: '4:0a010203', hi: '4:0a010203' });
  assert.deepEqual(ipKeyRange('0.0.0.0/0'), { lo: '4:00000000', hi: '4:ffffffff' });
  assert.deepEqual(ipKeyRange('2001:db8::/32'), {
    lo: `6:20010db8${'0'.repeat(24)}`,
    hi: `6:20010db8${'f'.repeat(24)}`,
  });
  for (const bad of ['127.77.0.0/33', '::/129', '127.77.0.0/', '127.77.0.0/x', 'host.example', '1.2.3/8', '']) {
    assert.throws(() => ipKeyRange(bad), /not an IP address or CIDR prefix/, bad);
  }
});

const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
const v4num = ([a, b, c, d]: [number, number, number, number]) => ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;

test('property: key order is numeric order (IPv4)', () => {
  fc.assert(
    fc.property(v4, v4, (x, y) => {
      const cmp = Math.sign(v4num(x) - v4num(y));
      const kx = ipKey(x.join('.'));
      const ky = ipKey(y.join('.'));
      return Math.sign(kx < ky ? -1 : kx > ky ? 1 : 0) === cmp;
    }),
  );
});

test('property: an address is in a CIDR range exactly when its prefix matches (IPv4)', () => {
  fc.assert(
    fc.property(v4, v4, fc.integer({ min: 0, max: 32 }), (net, addr, bits) => {
      const { lo, hi } = ipKeyRange(`${net.join('.')}/${bits}`);
      const k = ipKey(addr.join('.'));
      const inRange = k >= lo && k <= hi;
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      const matches = ((v4num(net) & mask) >>> 0) === ((v4num(addr) & mask) >>> 0);
      return inRange === matches;
    }),
  );
});

test('property: IPv6 ranges contain their network address and exclude the next block', () => {
  fc.assert(
    fc.property(fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }), fc.integer({ min: 1, max: 127 }), (parts, bits) => {
      const addr = parts.map((p) => p.toString(16)).join(':');
      const { lo, hi } = ipKeyRange(`${addr}/${bits}`);
      const k = ipKey(addr);
      return lo <= k && k <= hi && lo.length === 34 && hi.length === 34;
    }),
  );
});

/** The key as ipaddr.js gives it (ipKey's IPv4 fast path must agree with it on every string). */
function referenceKey(ip: string): string {
  if (ipaddr.IPv4.isValidFourPartDecimal(ip)) return `4:${ipaddr.IPv4.parse(ip).toByteArray().map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  if (ipaddr.IPv6.isValid(ip)) return `6:${ipaddr.IPv6.parse(ip).toByteArray().map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  return `x:${ip}`;
}

test('property: the IPv4 fast path gives ipaddr.js keys for dotted strings of every shape', () => {
  for (const s of ['0.0.0.0', '255.255.255.255', '01.2.3.4', '1.2.3.04', '1.2.3.256', '1.2.3.4.', '.1.2.3.4', '1..2.3', '1.2.3', '1.2.3.4.5', '1000.1.1.1', '1.2.3.-4', '1.2.3.4 ', '', '...', '0.00.0.0', '::ffff:1.2.3.4']) {
    assert.equal(ipKey(s), referenceKey(s), JSON.stringify(s));
  }
  const part = fc.oneof(fc.nat(300).map(String), fc.stringMatching(/^[0-9]{0,4}$/));
  fc.assert(
    fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), (parts) => {
      const s = parts.join('.');
      return ipKey(s) === referenceKey(s);
    }),
    { numRuns: 5000 },
  );
  fc.assert(fc.property(v4, (x) => ipKey(x.join('.')) === referenceKey(x.join('.'))), { numRuns: 2000 });
});
