/**
 * RDAP abuse contacts: RFC 9083 parsing (nested entities, bounds, error objects, bad ranges),
 * the import of a file (one object, an array, JSON lines) into the cache, and lookups against a
 * local RDAP stub on 127.80.3.1x: cached per network, redirects followed, 404 and hostile answers
 * (oversized, not JSON, a network that does not hold the address, a redirect outside the guard)
 * reported without a contact.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loopbackOnly } from '../alerts/test-support.js';
import { openKyselyInventory } from '../inventory/db.js';
import type { KyselyInventory } from '../inventory/kysely-store.js';
import { DisclosureError } from './errors.js';
import { importRdapFile } from './import-rdap.js';
import { RDAP_LIMITS, parseRdapDocument, parseRdapNetwork } from './rdap.js';
import { RDAP_RESPONSE_BYTES, RdapResolver, cachedNetworks } from './rdap-client.js';
import { disclosureDb, type DisclosureDb } from './tables.js';
import { rdapNetwork, rdapStub } from './test-support.js';

const ctx = { guard: loopbackOnly, resolve: async () => [] as string[], now: Date.now, hostname: os.hostname() };

describe('RFC 9083 parsing', () => {
  test('an abuse contact nested under the registrant (ARIN style) and one at the top (RIPE style)', () => {
    const arin = parseRdapNetwork(rdapNetwork('192.0.2.0', '192.0.2.255', 'Abuse@Example.NET'));
    assert.equal(arin.startAddress, '192.0.2.0');
    assert.equal(arin.country, 'NL');
    assert.deepEqual(arin.abuseEmails, ['abuse@example.net']);
    const ripe = parseRdapNetwork({
      objectClassName: 'ip network',
      startAddress: '2001:db8::',
      endAddress: '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff',
      name: 'EXAMPLE-V6',
      entities: [
        { roles: ['technical'], vcardArray: ['vcard', [['email', {}, 'text', 'noc@example.org']]] },
        { roles: ['abuse'], vcardArray: ['vcard', [['email', {}, 'text', 'abuse@example.org'], ['email', {}, 'text', 'not an address']]] },
      ],
    });
    assert.deepEqual(ripe.abuseEmails, ['abuse@example.org'], 'only the abuse role, only valid addresses');
    assert.equal(parseRdapNetwork(rdapNetwork('192.0.2.0', '192.0.2.255', null)).abuseEmails.length, 0);
  });

  test('bad objects are refused with the reason', () => {
    const bad: [unknown, RegExp][] = [
      [{ errorCode: 404, objectClassName: 'error' }, /expected "ip network"/],
      [{ objectClassName: 'ip network', startAddress: '192.0.2.0' }, /startAddress and endAddress are required/],
      [{ objectClassName: 'ip network', startAddress: '192.0.2.9', endAddress: '192.0.2.1' }, /is after/],
      [{ objectClassName: 'ip network', startAddress: '192.0.2.0', endAddress: '2001:db8::1' }, /different families/],
      [{ objectClassName: 'ip network', startAddress: 'x', endAddress: '192.0.2.1' }, /not an IP address/],
      [[1, 2], /not a JSON object/],
    ];
    for (const [obj, re] of bad) assert.throws(() => parseRdapNetwork(obj), (e: unknown) => e instanceof DisclosureError && re.test(e.message), JSON.stringify(obj));
  });

  test('nesting and entity counts are bounded', () => {
    let deep: Record<string, unknown> = { roles: ['abuse'], vcardArray: ['vcard', [['email', {}, 'text', 'deep@example.org']]] };
    for (let i = 0; i < 10; i++) deep = { roles: ['registrant'], entities: [deep] };
    const many = Array.from({ length: 1000 }, (_, i) => ({ roles: ['abuse'], vcardArray: ['vcard', [['email', {}, 'text', `a${i}@example.org`]]] }));
    const n1 = parseRdapNetwork({ objectClassName: 'ip network', startAddress: '192.0.2.0', endAddress: '192.0.2.255', entities: [deep] });
    assert.deepEqual(n1.abuseEmails, [], 'deeper than the limit is not searched');
    const n2 = parseRdapNetwork({ objectClassName: 'ip network', startAddress: '192.0.2.0', endAddress: '192.0.2.255', entities: many, name: 'x'.repeat(5000) });
    assert.equal(n2.abuseEmails.length, RDAP_LIMITS.emails);
    assert.equal(n2.name!.length, RDAP_LIMITS.textChars);
  });

  test('documents: one object, an array, JSON lines; garbage is refused with the line', () => {
    const a = rdapNetwork('192.0.2.0', '192.0.2.255', 'a@example.org');
    const b = rdapNetwork('198.51.100.0', '198.51.100.255', 'b@example.org');
    assert.equal(parseRdapDocument(JSON.stringify(a), 'f').length, 1);
    assert.equal(parseRdapDocument(JSON.stringify([a, b]), 'f').length, 2);
    assert.equal(parseRdapDocument(`${JSON.stringify(a)}\n\n${JSON.stringify(b)}\n`, 'f').length, 2);
    assert.throws(() => parseRdapDocument(`${JSON.stringify(a)}\n{oops\n`, 'f.json'), /f\.json: not JSON .* line 2/);
    assert.throws(() => parseRdapDocument('[]', 'f.json'), /no RDAP object/);
    assert.throws(() => parseRdapDocument(JSON.stringify([a, { objectClassName: 'entity' }]), 'f.json'), /f\.json: object 2: objectClassName is "entity"/);
  });
});

describe('import and lookups', () => {
  let dir: string;
  let inv: KyselyInventory;
  let db: DisclosureDb;
  let stub: Awaited<ReturnType<typeof rdapStub>>;
  let other: Awaited<ReturnType<typeof rdapStub>>;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'medsurface-rdap-'));
    inv = await openKyselyInventory(path.join(dir, 'inv.sqlite'));
    db = disclosureDb(inv.db);
    stub = await rdapStub('127.80.3.10', (ip, p) => {
      if (p.startsWith('/moved/')) return { status: 301, body: '', headers: { location: `/registry/ip/${ip}` } };
      if (ip.startsWith('127.214.40.')) return { status: 200, body: rdapNetwork('127.214.40.0', '127.214.40.255', 'abuse@net40.example') };
      if (ip.startsWith('127.214.41.')) return { status: 200, body: 'x'.repeat(RDAP_RESPONSE_BYTES + 10) };
      if (ip.startsWith('127.214.42.')) return { status: 200, body: '<html>not json</html>' };
      if (ip.startsWith('127.214.43.')) return { status: 200, body: rdapNetwork('127.214.99.0', '127.214.99.255', 'wrong@example.org') };
      if (ip.startsWith('127.214.44.')) return { status: 302, body: '', headers: { location: 'http://10.0.0.1/ip/x' } };
      return null;
    });
    other = await rdapStub('127.80.3.11', (ip) => (ip.startsWith('127.214.45.') ? { status: 200, body: rdapNetwork('127.214.45.0', '127.214.45.127', 'abuse@net45.example') } : null));
  });

  after(async () => {
    await stub.close();
    await other.close();
    await inv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('import-rdap stores networks; the most specific one holding an address answers', async () => {
    const file = path.join(dir, 'rdap.jsonl');
    writeFileSync(file, [rdapNetwork('127.214.50.0', '127.214.51.255', 'abuse@big.example'), rdapNetwork('127.214.50.128', '127.214.50.191', 'abuse@small.example'), rdapNetwork('127.214.52.0', '127.214.52.255', null)].map((o) => JSON.stringify(o)).join('\n'));
    assert.deepEqual(await importRdapFile(db, file), { networks: 3, withAbuse: 2 });
    assert.deepEqual((await cachedNetworks(db, '127.214.50.130')).map((n) => n.abuseEmails[0]), ['abuse@small.example', 'abuse@big.example']);
    const offline = new RdapResolver(db, null);
    assert.equal((await offline.contactFor('127.214.51.7'))?.abuseEmails[0], 'abuse@big.example');
    assert.equal(await offline.contactFor('127.214.52.7'), null, 'a network without an abuse contact');
    assert.equal(await offline.contactFor('127.214.53.7'), null);
    // Importing again replaces, never duplicates.
    await importRdapFile(db, file);
    assert.equal((await cachedNetworks(db, '127.214.50.130')).length, 2);
    await assert.rejects(importRdapFile(db, path.join(dir, 'missing.json')), /file not found/);
  });

  test('a lookup is made once per network, then the cache answers', async () => {
    const r = new RdapResolver(db, { baseUrl: stub.url, ctx, delayMs: 0 });
    assert.equal((await r.contactFor('127.214.40.5'))?.abuseEmails[0], 'abuse@net40.example');
    assert.equal((await r.contactFor('127.214.40.200'))?.abuseEmails[0], 'abuse@net40.example');
    assert.deepEqual(stub.requests, ['/ip/127.214.40.5']);
    assert.equal(r.lookups, 1);
    const again = new RdapResolver(db, { baseUrl: stub.url, ctx, delayMs: 0 });
    await again.contactFor('127.214.40.9');
    assert.equal(again.lookups, 0, 'cached across runs');
  });

  test('redirects are followed; 404 is no contact, not an error', async () => {
    const r = new RdapResolver(db, { baseUrl: `${stub.url}/moved`, ctx, delayMs: 0 });
    assert.equal((await r.contactFor('127.214.40.77'))?.abuseEmails[0], 'abuse@net40.example', 'answered from the cache');
    const second = new RdapResolver(db, { baseUrl: other.url, ctx, delayMs: 0 });
    assert.equal((await second.contactFor('127.214.45.3'))?.abuseEmails[0], 'abuse@net45.example');
    const moved = new RdapResolver(db, { baseUrl: `${stub.url}/moved`, ctx, delayMs: 0 });
    stub.requests.length = 0;
    assert.equal(await moved.contactFor('127.214.46.1'), null);
    assert.deepEqual(stub.requests, ['/moved/ip/127.214.46.1', '/registry/ip/127.214.46.1']);
    assert.deepEqual(moved.errors, []);
  });

  test('hostile answers give no contact and a reason', async () => {
    const r = new RdapResolver(db, { baseUrl: stub.url, ctx, delayMs: 0, timeoutMs: 3000 });
    for (const ip of ['127.214.41.1', '127.214.42.1', '127.214.43.1', '127.214.44.1']) assert.equal(await r.contactFor(ip), null, ip);
    assert.equal(r.errors.length, 4);
    assert.match(r.errors[0]!, /larger than 524288 bytes|broke off/);
    assert.match(r.errors[1]!, /not JSON/);
    assert.match(r.errors[2]!, /does not contain the address/);
    assert.match(r.errors[3]!, /refused by the scope guard/);
    assert.equal((await cachedNetworks(db, '127.214.99.5')).length, 0, 'a network that does not hold the asked address is not cached');
  });

  test('the number of lookups per run is capped', async () => {
    const r = new RdapResolver(db, { baseUrl: stub.url, ctx, delayMs: 0, maxLookups: 1 });
    await r.contactFor('127.214.60.1');
    await r.contactFor('127.214.61.1');
    assert.equal(r.lookups, 1);
  });
});
