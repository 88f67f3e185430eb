/**
 * The endpoint collector and its result: repeats merged, IPv4-mapped spellings folded into
 * IPv4, lookups by any spelling, the cap on distinct endpoints (with compaction of repeats
 * before it), and a property test against a plain Set of "ip|port" strings.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatIPv4, formatIPv6 } from '../ip.js';
import { IpSet } from '../ipset.js';
import { TargetSet } from '../targets.js';
import { DiscoveredEndpoints, EndpointCollector, TooManyEndpointsError } from './endpoints.js';

test('repeats are merged and ports are grouped by host, IPv4 before IPv6', () => {
  const c = new EndpointCollector();
  c.add('127.81.0.6', 11112);
  c.add('127.81.0.5', 104);
  c.add('127.81.0.6', 2575);
  c.add('127.81.0.5', 104);
  c.add('2001:db8::5', 4242);
  c.add('2001:DB8:0::5', 4242);
  const e = c.finish();
  assert.equal(c.added, 6);
  assert.equal(e.size, 4);
  assert.equal(e.hostCount, 3);
  assert.deepEqual(e.portsOf('127.81.0.6'), [2575, 11112]);
  assert.deepEqual(e.portsOf('127.81.0.5'), [104]);
  assert.deepEqual(e.portsOf('2001:db8::5'), [4242]);
  assert.deepEqual(e.portsOf('127.81.0.7'), []);
  assert.deepEqual(e.portsOf('not an address'), []);
  assert.deepEqual(e.ports(), [104, 2575, 4242, 11112]);
  assert.deepEqual(
    [...e.entries()],
    [
      { ip: '127.81.0.5', port: 104 },
      { ip: '127.81.0.6', port: 2575 },
      { ip: '127.81.0.6', port: 11112 },
      { ip: '2001:db8::5', port: 4242 },
    ],
  );
  assert.deepEqual(e.hosts.rangeTexts(), ['127.81.0.5-127.81.0.6', '2001:db8::5']);
});

test('an IPv4-mapped IPv6 address is its IPv4 host, found by either spelling', () => {
  const c = new EndpointCollector();
  assert.equal(c.add('::ffff:127.81.0.5', 104), true);
  assert.equal(c.add('127.81.0.5', 104), true);
  assert.equal(c.add('127.81.0.5x', 104), false);
  const e = c.finish();
  assert.equal(e.size, 1);
  assert.deepEqual(e.portsOf('::ffff:127.81.0.5'), [104]);
  assert.deepEqual(e.portsOf('127.81.0.5'), [104]);
  assert.equal(e.hosts.has('127.81.0.5'), true);
});

test('ports 1 and 65535 and the edges of the address space are exact', () => {
  const c = new EndpointCollector();
  c.add('255.255.255.255', 65535);
  c.add('0.0.0.0', 1);
  c.add('255.255.255.254', 1);
  c.add('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535);
  const e = c.finish();
  assert.deepEqual(e.portsOf('255.255.255.255'), [65535]);
  assert.deepEqual(e.portsOf('255.255.255.254'), [1]);
  assert.deepEqual(e.portsOf('0.0.0.0'), [1]);
  assert.deepEqual(e.portsOf('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), [65535]);
});

test('the cap counts distinct endpoints: repeats past it are compacted away, new ones refused', () => {
  const c = new EndpointCollector(10);
  /* 5000 adds of 10 distinct endpoints: far past the raw buffer, always compacted back. */
  for (let i = 0; i < 5000; i++) c.add(`127.81.0.${i % 10}`, 104);
  assert.equal(c.finish().size, 10);

  const d = new EndpointCollector(10);
  assert.throws(() => {
    for (let i = 0; i < 5000; i++) d.add(formatIPv4(0x7f510000 + i), 104);
  }, TooManyEndpointsError);
});

test('countIn counts hosts and endpoints inside a set', () => {
  const c = new EndpointCollector();
  for (const [ip, port] of [
    ['127.81.0.5', 104],
    ['127.81.0.5', 11112],
    ['127.81.1.5', 104],
    ['2001:db8::5', 104],
  ] as const) {
    c.add(ip, port);
  }
  const e = c.finish();
  assert.deepEqual(e.countIn(IpSet.parse(['127.81.0.0/24'])), { hosts: 1, endpoints: 2 });
  assert.deepEqual(e.countIn(IpSet.parse(['127.81.0.0/16', '2001:db8::/32'])), { hosts: 3, endpoints: 4 });
  assert.deepEqual(e.countIn(IpSet.empty()), { hosts: 0, endpoints: 0 });
  assert.equal(DiscoveredEndpoints.empty().size, 0);
});

test('the target set built from the hosts yields addresses whose ports are found (keys match the iterator text)', () => {
  const c = new EndpointCollector();
  const expected = new Map<string, number[]>();
  for (let i = 0; i < 300; i++) {
    const ip = i % 3 === 0 ? formatIPv6((0x20010db8n << 96n) | BigInt(i * 7)) : formatIPv4(0x7f510000 + i * 3);
    const port = 100 + (i % 5);
    c.add(ip, port);
    expected.set(ip, [...new Set([...(expected.get(ip) ?? []), port])].sort((a, b) => a - b));
  }
  const e = c.finish();
  const targets = TargetSet.fromIpSet(e.hosts);
  assert.equal(targets.size, expected.size);
  let seen = 0;
  for (const { target } of targets.iterate({ seed: 42n })) {
    assert.deepEqual(e.portsOf(target.ip), expected.get(target.ip), target.ip);
    seen++;
  }
  assert.equal(seen, expected.size);
});

test('property: the collector is a set of (address, port) pairs', () => {
  const v4 = fc.integer({ min: 0, max: 0xffffffff }).map(formatIPv4);
  const v6 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((v) => {
    const groups: string[] = [];
    for (let i = 7; i >= 0; i--) groups.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
    return groups.join(':');
  });
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.oneof(v4, v6), fc.integer({ min: 1, max: 65535 })), { maxLength: 300 }), fc.integer({ min: 1, max: 400 }), (pairs, cap) => {
      const c = new EndpointCollector(cap);
      const canon = (ip: string) => {
        const one = new EndpointCollector();
        one.add(ip, 1);
        return [...one.finish().entries()][0]!.ip;
      };
      const want = new Set(pairs.map(([ip, port]) => `${canon(ip)}|${port}`));
      if (want.size > cap) {
        assert.throws(() => {
          for (const [ip, port] of pairs) c.add(ip, port);
          c.finish();
        }, TooManyEndpointsError);
        return;
      }
      for (const [ip, port] of pairs) c.add(ip, port);
      const e = c.finish();
      const got = new Set([...e.entries()].map(({ ip, port }) => `${ip}|${port}`));
      assert.deepEqual(got, want);
      for (const [ip] of pairs) {
        const ports = [...want].filter((k) => k.startsWith(`${canon(ip)}|`)).map((k) => Number(k.split('|')[1])).sort((a, b) => a - b);
        assert.deepEqual(e.portsOf(ip), ports);
      }
    }),
    { numRuns: 150 },
  );
});
