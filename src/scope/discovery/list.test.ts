/**
 * `--from-list`: ip:port and [IPv6]:port entries, comments, several a line, default ports for
 * bare addresses, and the errors for ambiguous or malformed entries.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DiscoveryFormatError } from './errors.js';
import { loadDiscovered, parseDiscovered } from './load.js';
import { fixture, pairs } from './testing.js';
import { textSource } from './text-source.js';

test('the fixture list: comments, two entries on a line, IPv6 in brackets, a repeat', async () => {
  const { endpoints, report } = await loadDiscovered('list', fixture('endpoints.list'));
  assert.deepEqual(pairs(endpoints), ['127.81.0.5|104', '127.81.0.6|2575', '127.81.0.6|11112', '2001:db8::5|4242']);
  assert.equal(report.format, 'endpoint-list');
  assert.equal(report.records, 5);
  assert.equal(report.duplicates, 1);
});

test('entries without a port take the given ports; a bare IPv6 address is an address, never addr:port', async () => {
  const r = await parseDiscovered('list', textSource('l', '127.81.0.5\n2001:db8::1:104\n[2001:db8::7]\n::ffff:127.81.0.9\n'), { ports: [104, 2762] });
  assert.deepEqual(pairs(r.endpoints), [
    '127.81.0.5|104',
    '127.81.0.5|2762',
    '127.81.0.9|104',
    '127.81.0.9|2762',
    '2001:db8::7|104',
    '2001:db8::7|2762',
    '2001:db8::1:104|104',
    '2001:db8::1:104|2762',
  ]);
});

test('errors name the line', async () => {
  const bad = async (text: string, pattern: RegExp) =>
    assert.rejects(parseDiscovered('list', textSource('l.txt', text)), (err: unknown) => {
      assert.ok(err instanceof DiscoveryFormatError, String(err));
      assert.match(err.message, pattern);
      return true;
    });
  await bad('127.81.0.5:104\n127.81.0.5\n', /^l\.txt:2: "127\.81\.0\.5" has no port/);
  await bad('# c\n2001:db8::1:104\n', /^l\.txt:2: "2001:db8::1:104" has no port/);
  await bad('[2001:db8::1:104\n', /^l\.txt:1: bad entry "\[2001:db8::1:104": "\[" without "\]"/);
  await bad('[2001:db8::1]104\n', /^l\.txt:1: bad entry .*expected \[address\]:port/);
  await bad('127.81.0.5:104:1\n', /^l\.txt:1: bad entry .*write an IPv6 endpoint as \[address\]:port/);
  await bad('127.81.0.5:\n', /^l\.txt:1: bad port ""/);
  await bad('host.example:104\n', /^l\.txt:1: bad address "host\.example"/);
  await bad('[127.81.0.5]:0\n', /^l\.txt:1: bad port "0"/);
});
