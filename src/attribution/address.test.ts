import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSpecialRange, parseCidr, parseIp } from './address.js';

describe('parseIp', () => {
  test('IPv4 and IPv6 to numbers, with canonical text and range', () => {
    assert.deepEqual(parseIp('192.0.2.10'), { family: 4, value: 0xc000020a, text: '192.0.2.10', range: 'reserved' });
    assert.deepEqual(parseIp('127.77.1.2'), { family: 4, value: 0x7f4d0102, text: '127.77.1.2', range: 'loopback' });
    const v6 = parseIp('2001:DB8:0:0::1');
    assert.equal(v6?.family, 6);
    assert.equal(v6?.value, (0x20010db8n << 96n) | 1n);
    assert.equal(v6?.text, '2001:db8::1');
  });

  test('an IPv4-mapped IPv6 address is the IPv4 host', () => {
    assert.deepEqual(parseIp('::ffff:192.0.2.10'), { family: 4, value: 0xc000020a, text: '192.0.2.10', range: 'reserved' });
  });

  test('refuses ambiguous and malformed text', () => {
    for (const bad of ['127.1', '010.0.0.1', '192.0.2.256', '1.2.3', 'fe80::1%eth0', '[::1]', 'example.org', '', '2001:db8::g']) {
      assert.equal(parseIp(bad), null, bad);
    }
  });

  test('special ranges', () => {
    for (const ip of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.1.1', '100.64.0.1', '192.0.2.1', '::1', 'fc00::1', 'fe80::1', '2001:db8::1', '224.0.0.1']) {
      assert.equal(isSpecialRange(parseIp(ip)!.range), true, ip);
    }
    for (const ip of ['81.2.69.142', '2a00:1450::1']) assert.equal(isSpecialRange(parseIp(ip)!.range), false, ip);
  });
});

describe('parseCidr', () => {
  test('blocks and single addresses', () => {
    assert.deepEqual(parseCidr('192.0.2.0/24'), { family: 4, start: 0xc0000200n, end: 0xc00002ffn, prefix: 24, text: '192.0.2.0/24' });
    assert.deepEqual(parseCidr('192.0.2.7'), { family: 4, start: 0xc0000207n, end: 0xc0000207n, prefix: 32, text: '192.0.2.7/32' });
    assert.deepEqual(parseCidr('0.0.0.0/0'), { family: 4, start: 0n, end: 0xffffffffn, prefix: 0, text: '0.0.0.0/0' });
    const v6 = parseCidr('2001:db8:0::/32');
    assert.ok(!('error' in v6));
    assert.equal(v6.text, '2001:db8::/32');
    assert.equal(v6.end - v6.start, (1n << 96n) - 1n);
  });

  test('an IPv4-mapped block is the IPv4 block', () => {
    assert.deepEqual(parseCidr('::ffff:192.0.2.0/120'), { family: 4, start: 0xc0000200n, end: 0xc00002ffn, prefix: 24, text: '192.0.2.0/24' });
  });

  test('reasons for bad blocks', () => {
    const reason = (t: string) => {
      const c = parseCidr(t);
      assert.ok('error' in c, t);
      return c.error;
    };
    assert.match(reason('192.0.2.7/24'), /host bits are set; the block is 192\.0\.2\.0\/24/);
    assert.match(reason('2001:db8::1/32'), /host bits are set; the block is 2001:db8::\/32/);
    assert.match(reason('192.0.2.0/33'), /prefix length \(0-32/);
    assert.match(reason('2001:db8::/129'), /prefix length \(0-128/);
    assert.match(reason('192.0.2.0/'), /prefix length/);
    assert.match(reason('192.0.2.0/-1'), /prefix length/);
    assert.match(reason('300.0.2.0/24'), /not a valid IPv4/);
    assert.match(reason('010.0.2.0/24'), /leading zeros/);
    assert.match(reason('2001:db8::zz/48'), /not a valid IPv6/);
    assert.match(reason('fe80::%eth0/64'), /zone/);
    assert.match(reason('::ffff:192.0.2.0/64'), /at least 96/);
  });
});
