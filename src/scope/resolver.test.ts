/**
 * Host-name targets through `--resolver`, against a DNS stub on loopback. The stub parses
 * and encodes the minimal DNS message by hand (RFC 1035 §4.1: header, question, answer RRs
 * with a compression pointer to the question name) and answers A (type 1, RFC 1035 §3.4.1)
 * and AAAA (type 28, RFC 3596 §2.2) for a few fixed names with loopback addresses only.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { UsageError } from '../core/errors.js';
import { assertInScope } from './guard.js';
import { parseIPv4, parseIPv6 } from './ip.js';
import { IpSet } from './ipset.js';
import { createHostResolver, parseResolverSpec } from './resolver.js';
import { TargetSet } from './targets.js';

interface Zone {
  [name: string]: { a?: string[]; aaaa?: string[]; rcode?: number };
}

interface DnsStub {
  spec: string;
  queries: Array<{ name: string; type: number }>;
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;

/** Reads the question of a query; null when the message is malformed (the stub then stays silent). */
function parseQuestion(msg: Buffer): { name: string; type: number; end: number } | null {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return null;
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= msg.length) return null;
    const len = msg[off]!;
    off++;
    if (len === 0) break;
    if (len > 63 || off + len > msg.length) return null; /* no compression in questions we send */
    labels.push(msg.toString('ascii', off, off + len));
    off += len;
  }
  if (off + 4 > msg.length) return null;
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(off), end: off + 4 };
}

function answer(query: Buffer, zone: Zone, log: DnsStub['queries']): Buffer | null {
  const q = parseQuestion(query);
  if (q === null) return null;
  log.push({ name: q.name, type: q.type });
  const entry = zone[q.name];
  const rdatas: Buffer[] = [];
  if (entry !== undefined && entry.rcode === undefined) {
    if (q.type === TYPE_A) {
      for (const ip of entry.a ?? []) {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(parseIPv4(ip)!);
        rdatas.push(b);
      }
    } else if (q.type === TYPE_AAAA) {
      for (const ip of entry.aaaa ?? []) {
        const v = parseIPv6(ip)!;
        const b = Buffer.alloc(16);
        b.writeBigUInt64BE(v >> 64n, 0);
        b.writeBigUInt64BE(v & ((1n << 64n) - 1n), 8);
        rdatas.push(b);
      }
    }
  }
  const rcode = entry === undefined ? 3 /* NXDOMAIN */ : (entry.rcode ?? 0);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); /* ID */
  const qflags = query.readUInt16BE(2);
  /* QR=1, opcode copied, AA=1, RD copied, RA=1, RCODE. */
  header.writeUInt16BE(0x8000 | (qflags & 0x7800) | 0x0400 | (qflags & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(rdatas.length, 6);
  const question = query.subarray(12, q.end);
  const rrs = rdatas.map((rdata) => {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); /* pointer to the question name at offset 12 */
    rr.writeUInt16BE(q.type, 2);
    rr.writeUInt16BE(1, 4); /* class IN */
    rr.writeUInt32BE(60, 6); /* TTL */
    rr.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([rr, rdata]);
  });
  return Buffer.concat([header, question, ...rrs]);
}

async function startDnsStub(zone: Zone, family: 'udp4' | 'udp6' = 'udp4'): Promise<DnsStub> {
  const host = family === 'udp4' ? '127.0.0.53' : '::1';
  const socket = dgram.createSocket(family);
  const queries: DnsStub['queries'] = [];
  socket.on('message', (msg, rinfo) => {
    const reply = answer(msg, zone, queries);
    if (reply !== null) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => resolve());
  });
  const { port } = socket.address();
  return {
    spec: family === 'udp4' ? `${host}:${port}` : `[${host}]:${port}`,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

const ZONE: Zone = {
  'pacs.hospital.test': { a: ['127.77.0.10', '127.77.0.11'], aaaa: ['::1'] },
  'ris.hospital.test': { a: ['127.77.0.20'] },
  'mapped.hospital.test': { aaaa: ['::ffff:127.77.0.30'] },
  'alias.hospital.test': { a: ['127.77.0.10'] },
  'broken.hospital.test': { rcode: 2 /* SERVFAIL */ },
};

async function rejectsUsage(fn: () => Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof UsageError, `expected UsageError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

describe('--resolver', () => {
  let stub: DnsStub;
  before(async () => {
    stub = await startDnsStub(ZONE);
  });
  after(async () => {
    await stub.close();
  });

  test('a host name yields one entry per address, each carrying the name', async () => {
    const t = await TargetSet.fromSpecs(['pacs.hospital.test', '127.0.0.9'], { resolver: stub.spec });
    const entries = [...t.iterate({ seed: 1n })].map((r) => r.target).sort((a, b) => a.ip.localeCompare(b.ip));
    assert.deepEqual(entries, [
      { ip: '::1', hostname: 'pacs.hospital.test' },
      { ip: '127.0.0.9' },
      { ip: '127.77.0.10', hostname: 'pacs.hospital.test' },
      { ip: '127.77.0.11', hostname: 'pacs.hospital.test' },
    ]);
    assert.ok(
      stub.queries.some((q) => q.name === 'pacs.hospital.test' && q.type === TYPE_A) &&
        stub.queries.some((q) => q.name === 'pacs.hospital.test' && q.type === TYPE_AAAA),
      'the stub saw both the A and the AAAA query',
    );
  });

  test('names are deduplicated case-insensitively; an address keeps the first name given', async () => {
    stub.queries.length = 0;
    const t = await TargetSet.fromSpecs(['PACS.hospital.test', 'pacs.hospital.test.', 'alias.hospital.test', 'ris.hospital.test'], {
      resolver: stub.spec,
    });
    assert.equal(t.size, 4);
    assert.equal(stub.queries.filter((q) => q.name === 'pacs.hospital.test' && q.type === TYPE_A).length, 1);
    const byIp = new Map([...t.iterate({ seed: 2n })].map((r) => [r.target.ip, r.target.hostname]));
    assert.equal(byIp.get('127.77.0.10'), 'PACS.hospital.test');
    assert.equal(byIp.get('127.77.0.20'), 'ris.hospital.test');
  });

  test('an IPv4-mapped AAAA answer becomes the IPv4 target', async () => {
    const t = await TargetSet.fromSpecs(['mapped.hospital.test'], { resolver: stub.spec });
    assert.deepEqual([...t.iterate({ seed: 3n })].map((r) => r.target), [{ ip: '127.77.0.30', hostname: 'mapped.hospital.test' }]);
  });

  test('a name that does not resolve is a UsageError naming it', async () => {
    await rejectsUsage(
      () => TargetSet.fromSpecs(['127.0.0.1', 'nosuch.hospital.test'], { resolver: stub.spec }),
      /host name "nosuch\.hospital\.test" did not resolve via 127\.0\.0\.53:\d+: no A or AAAA records/,
    );
    await rejectsUsage(
      () => TargetSet.fromSpecs(['broken.hospital.test'], { resolver: stub.spec }),
      /host name "broken\.hospital\.test" did not resolve via .*SERVFAIL/,
    );
  });

  test('resolved addresses are checked against the scope before the scan', async () => {
    const t = await TargetSet.fromSpecs(['pacs.hospital.test'], { resolver: stub.spec });
    assertInScope(t, IpSet.parse(['127.77.0.0/16', '::1']));
    assert.throws(
      () => assertInScope(t, IpSet.parse(['127.77.0.0/16'])),
      (e: unknown) => e instanceof UsageError && /1 target address\(es\) are outside the authorised scope \(--scope\): ::1;/.test(e.message),
    );
  });

  test('an IPv6 resolver address in brackets works', async () => {
    const stub6 = await startDnsStub(ZONE, 'udp6');
    try {
      const t = await TargetSet.fromSpecs(['ris.hospital.test'], { resolver: stub6.spec });
      assert.deepEqual([...t.iterate({ seed: 1 })].map((r) => r.target), [{ ip: '127.77.0.20', hostname: 'ris.hospital.test' }]);
      assert.ok(stub6.queries.length >= 1, 'the IPv6 stub was queried');
    } finally {
      await stub6.close();
    }
  });

  test('createHostResolver returns canonical, deduplicated addresses', async () => {
    const resolve = createHostResolver(stub.spec);
    assert.deepEqual(await resolve('pacs.hospital.test'), ['127.77.0.10', '127.77.0.11', '::1']);
  });
});

describe('parseResolverSpec', () => {
  test('accepts IP, IP:PORT, bare IPv6 and [IPv6]:PORT', () => {
    assert.equal(parseResolverSpec('127.0.0.53'), '127.0.0.53');
    assert.equal(parseResolverSpec('127.0.0.53:5353'), '127.0.0.53:5353');
    assert.equal(parseResolverSpec('::1'), '::1');
    assert.equal(parseResolverSpec('[::1]:5353'), '[::1]:5353');
    assert.equal(parseResolverSpec('[::1]'), '::1');
  });

  test('refuses names, bad ports and malformed values', () => {
    for (const [bad, re] of [
      ['dns.hospital.test', /host names cannot name the resolver/],
      ['127.0.0.1:0', /port must be 1-65535/],
      ['127.0.0.1:65536', /port must be 1-65535/],
      ['[zz::q]:53', /not an IPv6 address/],
      ['127.0.0.1:53:53', /not an IP address/],
      ['', /not an IP address/],
    ] as const) {
      assert.throws(
        () => parseResolverSpec(bad),
        (e: unknown) => e instanceof UsageError && re.test(e.message) && e.message.startsWith('--resolver '),
        bad,
      );
    }
  });
});

describe('system resolver', () => {
  test('resolves localhost (the only name tests may send to it)', async () => {
    const addresses = await createHostResolver()('localhost');
    assert.ok(addresses.length >= 1, 'localhost has an address');
    for (const a of addresses) assert.ok(a === '::1' || a.startsWith('127.'), a);
  });
});
