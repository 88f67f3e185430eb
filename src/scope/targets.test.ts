import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { UsageError } from '../core/errors.js';
import { formatIPv6, parseIPv4, parseIPv6 } from './ip.js';
import { IpSet } from './ipset.js';
import { MAX_LIST_BYTES } from './lists.js';
import { TargetSet } from './targets.js';

/** Asserts that `fn` rejects with a UsageError whose message matches `re`. */
async function rejectsUsage(fn: () => Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof UsageError, `expected UsageError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

function ipsOf(t: TargetSet, seed: bigint | number = 1n): string[] {
  return [...t.iterate({ seed })].map((r) => r.target.ip);
}

describe('TargetSet.fromSpecs parsing', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'medsurface-scope-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('mixes addresses, CIDRs, ranges, short ranges and IPv6, merging duplicates', async () => {
    const t = await TargetSet.fromSpecs([
      '127.0.0.1',
      '127.0.1.0/30,127.0.0.1-3',
      '127.0.2.250-127.0.3.1 ::1',
      '2001:db8::/126',
      '2001:db8::2-2001:db8::5',
      '127.0.1.2',
    ]);
    assert.deepEqual(t.addresses().ranges(), [
      { start: '127.0.0.1', end: '127.0.0.3' },
      { start: '127.0.1.0', end: '127.0.1.3' },
      { start: '127.0.2.250', end: '127.0.3.1' },
      { start: '::1', end: '::1' },
      { start: '2001:db8::', end: '2001:db8::5' },
    ]);
    assert.equal(t.size, 3 + 4 + 8 + 1 + 6);
    const ips = ipsOf(t);
    assert.equal(ips.length, t.size);
    assert.equal(new Set(ips).size, t.size);
    for (const ip of ['127.0.3.0', '2001:db8::5', '::1']) assert.ok(ips.includes(ip), ip);
  });

  test('reads @file lists: comments, blank lines, several targets per line', async () => {
    const file = path.join(dir, 'targets.txt');
    await fs.writeFile(
      file,
      ['# lab hosts', '', '127.77.0.10, 127.77.0.11   # two PACS', '\t127.77.1.0/29 2001:db8::7', '127.77.2.1-3\r', '   '].join('\n'),
    );
    const t = await TargetSet.fromSpecs([`@${file}`, '127.0.0.9']);
    assert.deepEqual(t.addresses().rangeTexts(), [
      '127.0.0.9',
      '127.77.0.10/31',
      '127.77.1.0/29',
      '127.77.2.1-127.77.2.3',
      '2001:db8::7',
    ]);
    assert.equal(t.size, 1 + 2 + 8 + 3 + 1);
  });

  test('names file and line of a bad entry', async () => {
    const file = path.join(dir, 'bad.txt');
    await fs.writeFile(file, '127.0.0.1\n# ok so far\n127.0.0.2, 127.0.0.300\n');
    await rejectsUsage(() => TargetSet.fromSpecs([`@${file}`]), /bad\.txt:3: bad target "127\.0\.0\.300": not a valid IPv4 address/);
    await fs.writeFile(file, '127.0.0.1\n@other.txt\n');
    await rejectsUsage(() => TargetSet.fromSpecs([`@${file}`]), /bad\.txt:2: bad target "@other\.txt": lists cannot include other lists/);
    await rejectsUsage(() => TargetSet.fromSpecs([`@${path.join(dir, 'missing.txt')}`]), /cannot read list ".*missing\.txt": .*ENOENT/);
    await rejectsUsage(() => TargetSet.fromSpecs([`@${dir}`]), /not a regular file/);
    await rejectsUsage(() => TargetSet.fromSpecs(['@']), /'@' must be followed by a file name/);
  });

  test('reads @file through the injected reader and enforces the size cap', async () => {
    const files: Record<string, string> = { 'a.txt': '127.0.0.1\n127.0.0.2', 'huge.txt': 'x'.repeat(MAX_LIST_BYTES + 1) };
    const readFile = async (p: string) => {
      const text = files[p];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return text;
    };
    const t = await TargetSet.fromSpecs(['@a.txt'], { readFile });
    assert.equal(t.size, 2);
    await rejectsUsage(() => TargetSet.fromSpecs(['@huge.txt'], { readFile }), /over the .*-byte cap/);
  });

  test('reads - from stdin, once, mixed with other targets', async () => {
    const stdin = Readable.from([Buffer.from('127.0.0.5\n# from a pipe\n127.0.0.6,'), Buffer.from('127.0.0.7\n')]);
    const t = await TargetSet.fromSpecs(['-', '127.0.0.8', '-'], { stdin });
    assert.deepEqual(t.addresses().rangeTexts(), ['127.0.0.5-127.0.0.8']);
    const bad = Readable.from(['127.0.0.1\n\n127.0.0.1/40\n']);
    await rejectsUsage(() => TargetSet.fromSpecs(['-'], { stdin: bad }), /^stdin:3: bad target "127\.0\.0\.1\/40": bad CIDR prefix length/);
  });

  test('a long list (200,000 scattered addresses on stdin) is read without one object per line', async () => {
    const lines: string[] = [];
    let state = 7;
    for (let i = 0; i < 200_000; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      lines.push(`127.${(state >>> 16) & 255}.${(state >>> 8) & 255}.${state & 255}`);
      if (i % 1000 === 0) lines.push(`# block ${i}`, '');
    }
    const listed = new Set(lines.filter((l) => l !== '' && !l.startsWith('#')));
    const t = await TargetSet.fromSpecs(['-'], { stdin: Readable.from([lines.join('\n')]) });
    assert.equal(t.size, listed.size);
    const produced = new Set([...t.iterate({ seed: 9n })].map((r) => r.target.ip));
    assert.equal(produced.size, listed.size);
    for (const ip of listed) assert.ok(produced.has(ip), ip);
  });

  test('names the bad token on the command line', async () => {
    await rejectsUsage(() => TargetSet.fromSpecs(['127.0.0.1', '127.0.0.0/8/x']), /^bad target "127\.0\.0\.0\/8\/x": bad CIDR prefix/);
    await rejectsUsage(() => TargetSet.fromSpecs(['127.0.0.5-2']), /^bad target "127\.0\.0\.5-2": range end is before its start/);
    await rejectsUsage(() => TargetSet.fromSpecs(['bad host!']), /^bad target "host!": not an address, CIDR, range or host name/);
    await rejectsUsage(() => TargetSet.fromSpecs([]), /no targets given/);
    await rejectsUsage(() => TargetSet.fromSpecs([' , ']), /no targets given/);
  });

  test('refuses sets over 2^32 addresses before any DNS query, and says why for IPv6', async () => {
    /* The host name would fail to resolve if it were tried: the size check comes first. */
    await rejectsUsage(
      () => TargetSet.fromSpecs(['2001:db8::/64', 'never-resolved.invalid']),
      /more than 2\^32.*IPv6 prefixes shorter than \/96 cannot be scanned by enumeration/,
    );
    await rejectsUsage(() => TargetSet.fromSpecs(['0.0.0.0/0', '2001:db8::1']), /more than 2\^32.*split the run/);
    const all = await TargetSet.fromSpecs(['0.0.0.0/0']);
    assert.equal(all.size, 2 ** 32);
    assert.equal(all.at(2 ** 32 - 1, 5n).ip.split('.').length, 4);
    const v6 = await TargetSet.fromSpecs(['2001:db8::/96']);
    assert.equal(v6.size, 2 ** 32);
  });

  test('resolves localhost through the system resolver and labels its entries', async () => {
    const t = await TargetSet.fromSpecs(['localhost', '127.0.0.2']);
    const entries = [...t.iterate({ seed: 3n })].map((r) => r.target);
    const named = entries.filter((e) => e.hostname !== undefined);
    assert.ok(named.length >= 1, 'localhost yields at least one named entry');
    for (const e of named) {
      assert.equal(e.hostname, 'localhost');
      assert.ok(e.ip === '::1' || e.ip.startsWith('127.'), e.ip);
    }
    assert.deepEqual(
      entries.find((e) => e.ip === '127.0.0.2'),
      { ip: '127.0.0.2' },
    );
  });
});

describe('TargetSet order', () => {
  test('iterates a /16 with every address exactly once', async () => {
    const t = await TargetSet.fromSpecs(['127.42.0.0/16']);
    assert.equal(t.size, 65536);
    const seen = new Uint8Array(65536);
    const positions = new Uint8Array(65536);
    let count = 0;
    for (const { position, target } of t.iterate({ seed: 0x5eedn })) {
      const v = parseIPv4(target.ip);
      assert.ok(v !== null && v >>> 16 === 0x7f2a, target.ip);
      const low = v & 0xffff;
      assert.equal(seen[low], 0, `${target.ip} produced twice`);
      seen[low] = 1;
      assert.equal(positions[position], 0);
      positions[position] = 1;
      count++;
    }
    assert.equal(count, 65536);
    assert.ok(seen.every((b) => b === 1) && positions.every((b) => b === 1), 'every address and position once');
  });

  test('the order is pseudo-random, deterministic per seed, and at() agrees with iterate()', async () => {
    const t = await TargetSet.fromSpecs(['127.42.0.0/24']);
    const a = ipsOf(t, 11n);
    assert.deepEqual(ipsOf(t, 11n), a);
    assert.notDeepEqual(ipsOf(t, 12n), a);
    const sorted = [...a].sort((x, y) => parseIPv4(x)! - parseIPv4(y)!);
    assert.notDeepEqual(a, sorted);
    a.forEach((ip, i) => {
      assert.equal(t.at(i, 11n).ip, ip);
    });
    assert.throws(() => t.at(256, 11n), RangeError);
    assert.throws(() => t.at(-1, 11n), RangeError);
  });

  test('a /8: at() at random positions without expanding the range', async () => {
    const heapBefore = process.memoryUsage().heapUsed;
    const t = await TargetSet.fromSpecs(['127.0.0.0/8']);
    assert.equal(t.size, 2 ** 24);
    const seen = new Set<string>();
    let state = 12345;
    for (let k = 0; k < 20000; k++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      const pos = state % t.size;
      const ip = t.at(pos, 0xabcdefn).ip;
      assert.ok(ip.startsWith('127.'), ip);
      seen.add(`${pos}>${ip}`);
    }
    /* Same position, same address; distinct positions give distinct addresses (bijection). */
    const byIp = new Map<string, string>();
    for (const key of seen) {
      const [pos, ip] = key.split('>') as [string, string];
      const prev = byIp.get(ip);
      assert.ok(prev === undefined || prev === pos, `${ip} at positions ${prev} and ${pos}`);
      byIp.set(ip, pos);
    }
    /* 16.7M addresses as strings would be hundreds of MB; the set and 20,000 samples use far less. */
    const grown = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(grown < 32 * 1024 * 1024, `heap grew by ${grown} bytes`);
    const first = t.iterate({ seed: 0xabcdefn, start: 9_999_999 }).next();
    assert.equal(first.done, false);
    assert.deepEqual(first.value, { position: 9_999_999, target: t.at(9_999_999, 0xabcdefn) });
  });

  test('a whole /10 (4 million addresses) streams each address once', async () => {
    const t = await TargetSet.fromSpecs(['127.64.0.0/10']);
    const bitmap = new Uint8Array(2 ** 22 / 8);
    let count = 0;
    for (const { target } of t.iterate({ seed: 77n })) {
      const v = parseIPv4(target.ip)! & 0x3fffff;
      const bit = 1 << (v & 7);
      if (bitmap[v >>> 3]! & bit) assert.fail(`${target.ip} produced twice`);
      bitmap[v >>> 3]! |= bit;
      count++;
    }
    assert.equal(count, 2 ** 22);
    assert.ok(bitmap.every((b) => b === 0xff), 'every address of the /10 produced');
    /* Speed is bench/dicom-sweep's business (rule: no timed unit tests). */
  });

  test('shards partition the order: i % n === k', async () => {
    const t = await TargetSet.fromSpecs(['127.9.0.0/22', '2001:db8::/120']);
    const all = [...t.iterate({ seed: 5n })];
    const union: string[] = [];
    for (let k = 0; k < 3; k++) {
      const shard = [...t.iterate({ seed: 5n, shard: { index: k, count: 3 } })];
      for (const { position, target } of shard) {
        assert.equal(position % 3, k);
        assert.deepEqual(target, all[position]!.target);
      }
      union.push(...shard.map((r) => r.target.ip));
    }
    assert.equal(union.length, t.size);
    assert.equal(new Set(union).size, t.size);
    assert.throws(() => t.iterate({ seed: 5n, shard: { index: 3, count: 3 } }), UsageError);
    assert.throws(() => t.iterate({ seed: 5n, shard: { index: 0, count: 0 } }), UsageError);
    assert.throws(() => t.iterate({ seed: 5n, start: -1 }), UsageError);
    assert.throws(() => t.iterate({ seed: 0.5 }), UsageError);
  });

  test('resume: starting at a position yields the rest of the same order', async () => {
    const t = await TargetSet.fromSpecs(['127.9.0.0/24']);
    const all = [...t.iterate({ seed: 8n })];
    assert.deepEqual([...t.iterate({ seed: 8n, start: 100 })], all.slice(100));
    assert.deepEqual([...t.iterate({ seed: 8n, start: 256 })], []);
    /* Resuming inside a shard: the first shard position at or after start. */
    const resumed = [...t.iterate({ seed: 8n, start: 102, shard: { index: 1, count: 4 } })];
    assert.equal(resumed[0]!.position, 105);
    assert.deepEqual(resumed, all.filter((r) => r.position >= 102 && r.position % 4 === 1));
    assert.equal([...t.iterate({ seed: 8n, start: 101, shard: { index: 1, count: 4 } })][0]!.position, 101);
  });

  test('excluded addresses are skipped and the others keep their positions', async () => {
    const t = await TargetSet.fromSpecs(['127.9.0.0/24', '2001:db8::/124']);
    const exclude = IpSet.parse(['127.9.0.0/26', '127.9.0.200', '::ffff:127.9.0.201', '2001:db8::8/125']);
    const all = [...t.iterate({ seed: 4n })];
    const kept = [...t.iterate({ seed: 4n, exclude })];
    assert.equal(kept.length, 256 - 64 - 2 + 16 - 8);
    for (const r of kept) assert.equal(exclude.has(r.target.ip), false);
    assert.deepEqual(
      kept,
      all.filter((r) => !exclude.has(r.target.ip)),
    );
  });

  test('IPv6 ranges whose low word carries are produced exactly once', async () => {
    const start = parseIPv6('2001:db8::ffff:fff8')!;
    const t = await TargetSet.fromSpecs(['2001:db8::ffff:fff8-2001:db8::1:0:7']);
    assert.equal(t.size, 16);
    const expected = Array.from({ length: 16 }, (_, i) => formatIPv6(start + BigInt(i))).sort();
    assert.deepEqual(ipsOf(t, 2n).sort(), expected);
    assert.ok(expected.includes('2001:db8::1:0:0'), 'range crosses the 32-bit word boundary');
  });

  test('fromIpSet keeps host-name labels per address', () => {
    const t = TargetSet.fromIpSet(IpSet.parse(['127.0.0.1-2']), new Map([['127.0.0.2', 'pacs.hospital.test']]));
    const entries = [...t.iterate({ seed: 1 })].map((r) => r.target).sort((a, b) => a.ip.localeCompare(b.ip));
    assert.deepEqual(entries, [{ ip: '127.0.0.1' }, { ip: '127.0.0.2', hostname: 'pacs.hospital.test' }]);
    assert.deepEqual([...TargetSet.fromIpSet(IpSet.empty()).iterate({ seed: 1 })], []);
  });
});
