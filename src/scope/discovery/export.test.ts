/**
 * Target and blocklist files for ZMap and masscan, read back the way each tool reads them
 * (ZMap: first whitespace-separated token of a line, `#` comments, IPv4 address or CIDR;
 * masscan: one address, CIDR or range a line, `#` lines skipped) and compared with the sets
 * they were written from. CIDR covers are exact and minimal. The special-purpose list.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { formatIPv4, formatIPv6 } from '../ip.js';
import { IpSet } from '../ipset.js';
import { cidrCover, writeTargetExport } from './export.js';
import { SPECIAL_PURPOSE_V4, SPECIAL_PURPOSE_V6, specialPurposeSet } from './special-purpose.js';
import { readMasscanFile, readZmapFile, sameSet as same } from './testing.js';

const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-export-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('ZMap files: IPv4 CIDRs, allow-list minus blocklist, IPv6 counted as not written', async () => {
  const allow = IpSet.parse(['127.81.0.0/16', '127.82.0.3-127.82.0.17', '2001:db8::/120']);
  const block = IpSet.parse(['127.81.5.0/24', '127.81.9.7', '2001:db8::/126']);
  const r = await writeTargetExport({ format: 'zmap', dir, allow, block, note: ['test'] });
  assert.equal(path.basename(r.targetsFile), 'zmap-allowlist.txt');
  assert.equal(path.basename(r.blocklistFile), 'zmap-blocklist.txt');
  const v4only = (s: IpSet) => s.subtract(IpSet.parse(['::/0']));
  assert.ok(same(readZmapFile(r.targetsFile), v4only(allow.subtract(block))));
  assert.ok(same(readZmapFile(r.blocklistFile), v4only(block)));
  assert.deepEqual(r.droppedIpv6Targets, { ranges: 1, addresses: 252n });
  assert.equal(r.targetAddresses, 65536n - 256n - 1n + 15n);
  assert.match(readFileSync(r.targetsFile, 'utf8'), /^# medsurface targets export: zmap targets \(--allowlist-file\), blocklist already subtracted\n# test\n/);
  assert.equal(r.targetLines, readFileSync(r.targetsFile, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#')).length);
});

test('masscan files: ranges of both families, one a line', async () => {
  const allow = IpSet.parse(['127.81.0.0/16', '127.82.0.3-127.82.0.17', '2001:db8::/120', '2001:db8:1::5-2001:db8:1::9']);
  const block = IpSet.parse(['127.81.5.0/24', '2001:db8::/126']);
  const r = await writeTargetExport({ format: 'masscan', dir, allow, block });
  assert.equal(path.basename(r.targetsFile), 'masscan-include.txt');
  assert.ok(same(readMasscanFile(r.targetsFile), allow.subtract(block)));
  assert.ok(same(readMasscanFile(r.blocklistFile), block));
  assert.equal(r.targetAddresses, allow.subtract(block).size);
  assert.deepEqual(r.droppedIpv6Targets, { ranges: 0, addresses: 0n });
  const lines = readFileSync(r.targetsFile, 'utf8').split('\n');
  assert.ok(lines.includes('127.82.0.3-127.82.0.17'));
  assert.ok(lines.includes('2001:db8:1::5-2001:db8:1::9'));
});

test('an internet-wide ZMap export: 0.0.0.0/0 minus the special-purpose blocks', async () => {
  const sub = path.join(dir, 'internet');
  const r = await writeTargetExport({ format: 'zmap', dir: sub, allow: IpSet.parse(['0.0.0.0/0']), block: specialPurposeSet() });
  const allowed = readZmapFile(r.targetsFile);
  assert.ok(same(allowed, IpSet.parse(['0.0.0.0/0']).subtract(specialPurposeSet())));
  assert.ok(same(readZmapFile(r.blocklistFile), IpSet.parse(SPECIAL_PURPOSE_V4.map((b) => b.cidr))));
  assert.equal(allowed.has('8.8.8.8'), true);
  assert.equal(allowed.has('10.0.0.1'), false);
  assert.ok(r.targetLines > 16 && r.targetLines < 200, `${r.targetLines} lines`);
});

test('the special-purpose set: the blocks it lists, not the rest of the space', () => {
  const s = specialPurposeSet();
  for (const ip of ['0.1.2.3', '10.1.2.3', '100.64.0.1', '127.0.0.1', '169.254.1.1', '172.31.255.255', '192.0.0.9', '192.0.2.1', '192.88.99.1', '192.168.1.1', '198.19.255.255', '198.51.100.1', '203.0.113.9', '224.0.0.1', '239.255.255.255', '240.0.0.1', '255.255.255.255', '::', '::1', '100::1', '2001:db8::1', '3fff::1', 'fd00::1', 'fe80::1', 'ff02::1', '64:ff9b:1::1', '2001:2::1', '5f00::1']) {
    assert.equal(s.has(ip), true, ip);
  }
  for (const ip of ['1.1.1.1', '8.8.8.8', '100.128.0.1', '172.32.0.1', '192.0.3.1', '198.20.0.1', '223.255.255.255', '2a00:1450::1', '64:ff9b::808:808', '2001:4860::1']) {
    assert.equal(s.has(ip), false, ip);
  }
  /* The IPv4-mapped block is not listed: in scope sets it would stand for all of IPv4. */
  assert.equal(SPECIAL_PURPOSE_V6.some((b) => b.cidr.startsWith('::ffff')), false);
  assert.ok(s.subtract(IpSet.parse(['::/0'])).size < 1n << 30n, 'the IPv4 part is a fraction of the space');
});

/** Start and size of a CIDR text. */
function block(cidr: string): { family: 4 | 6; start: bigint; size: bigint; prefix: number } {
  const [addr, len] = cidr.split('/') as [string, string];
  const set = IpSet.parse([cidr]);
  const family = addr.includes(':') ? 6 : 4;
  const bits = family === 4 ? 32 : 128;
  const r = family === 4 ? set.v4Ranges() : set.v6Ranges();
  return { family, start: BigInt(r.starts[0]!), size: 1n << BigInt(bits - Number(len)), prefix: Number(len) };
}

test('property: the CIDR cover of a range is exact, aligned and minimal', () => {
  const range = (bits: number) =>
    fc.tuple(fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }), fc.bigInt({ min: 0n, max: 1n << 20n })).map(([s, len]) => {
      const max = (1n << BigInt(bits)) - 1n;
      return { start: s, end: s + len > max ? max : s + len };
    });
  const check = (family: 4 | 6, start: bigint, end: bigint) => {
    const cidrs = [...cidrCover(family, start, end)];
    const fmt = family === 4 ? (v: bigint) => formatIPv4(Number(v)) : formatIPv6;
    assert.ok(same(IpSet.parse(cidrs), IpSet.parse([`${fmt(start)}-${fmt(end)}`])));
    let next = start;
    for (let i = 0; i < cidrs.length; i++) {
      const b = block(cidrs[i]!);
      assert.equal(b.start, next, 'contiguous, in order');
      assert.equal(b.start % b.size, 0n, 'aligned');
      next = b.start + b.size;
      const n = cidrs[i + 1];
      if (n !== undefined) {
        const c = block(n);
        /* Two equal neighbours forming an aligned block of twice the size would be one CIDR. */
        assert.ok(!(c.prefix === b.prefix && b.start % (b.size * 2n) === 0n), `${cidrs[i]} and ${n} merge`);
      }
    }
    assert.equal(next, end + 1n);
  };
  fc.assert(
    fc.property(range(32), ({ start, end }) => check(4, start, end)),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(range(128), ({ start, end }) => check(6, start, end)),
    { numRuns: 300 },
  );
  assert.deepEqual([...cidrCover(4, 0n, 0xffffffffn)], ['0.0.0.0/0']);
  assert.deepEqual([...cidrCover(6, 0n, (1n << 128n) - 1n)], ['::/0']);
  assert.deepEqual([...cidrCover(4, 1n, 6n)], ['0.0.0.1/32', '0.0.0.2/31', '0.0.0.4/31', '0.0.0.6/32']);
});
