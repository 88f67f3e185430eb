/**
 * loadDiscovered as the scan calls it: files and stdin, the file hash, scope and exclusion
 * counts (kept, not dropped), the one-line summary, unreadable paths, and a fuzz test: any
 * mutation of any fixture is either read or refused with a DiscoveryFormatError, never
 * another exception.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import { IpSet } from '../ipset.js';
import { DiscoveryFormatError } from './errors.js';
import { type DiscoveryKind, describeDiscovery, loadDiscovered, parseDiscovered } from './load.js';
import { FIXTURES, fixture, pairs } from './testing.js';
import { textSource } from './text-source.js';

test('the report carries the SHA-256 of the file as read', async () => {
  const file = fixture('masscan-1.3.2.list');
  const { report } = await loadDiscovered('masscan', file);
  assert.equal(report.sha256, createHash('sha256').update(readFileSync(file)).digest('hex'));
  assert.equal(report.file, file);
});

test('- reads stdin', async () => {
  const stdin = Readable.from([Buffer.from('127.81.0.5:104\n'), Buffer.from('[2001:db8::5]:104\n')]);
  const { endpoints, report } = await loadDiscovered('list', '-', { stdin });
  assert.deepEqual(pairs(endpoints), ['127.81.0.5|104', '2001:db8::5|104']);
  assert.equal(report.file, 'stdin');
});

test('addresses outside the scope or in the exclusion list are kept and counted', async () => {
  const { endpoints, report } = await loadDiscovered('masscan', fixture('masscan-1.3.2.json'), {
    scope: IpSet.parse(['127.81.0.0/24']),
    exclude: IpSet.parse(['127.81.0.6']),
  });
  assert.equal(endpoints.size, 4);
  assert.deepEqual(report.outsideScope, { hosts: 1, endpoints: 1 });
  assert.deepEqual(report.excluded, { hosts: 1, endpoints: 2 });
  const line = describeDiscovery(report);
  assert.match(line, /masscan-1\.3\.2\.json \(masscan-json\): 4 open endpoint\(s\) on 3 host\(s\)/);
  assert.match(line, /1 repeat\(s\) merged/);
  assert.match(line, /not kept: (closed|udp|banner) 1/);
  assert.match(line, /1 host\(s\) outside the scope; 1 host\(s\) in the exclusion list/);
  assert.doesNotMatch(line, /interrupted/);
});

test('unreadable paths are DiscoveryFormatErrors naming the file', async () => {
  await assert.rejects(loadDiscovered('masscan', fixture('no-such-file.json')), (err: unknown) => {
    assert.ok(err instanceof DiscoveryFormatError);
    assert.match(err.message, /no-such-file\.json: cannot read the file: ENOENT/);
    return true;
  });
  await assert.rejects(loadDiscovered('nmap', FIXTURES), /fixtures: not a regular file or a pipe/);
});

test('a file refused part-way is closed at once (no descriptor left open)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-load-'));
  try {
    const file = path.join(dir, 'big.txt');
    writeFileSync(file, `not xml\n${'x'.repeat(4 * 1024 * 1024)}\n`);
    const listFile = path.join(dir, 'big.list');
    writeFileSync(listFile, `127.81.0.5:104\nnope:1\n${'127.81.0.6:104\n'.repeat(300_000)}`);
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    await assert.rejects(loadDiscovered('nmap', file), /not XML/);
    await assert.rejects(loadDiscovered('list', listFile), /big\.list:2: bad address "nope"/);
    /* destroy() closes asynchronously: give it a moment, not a whole file's read. */
    for (let i = 0; i < 50 && fds() !== before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(fds(), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a UTF-8 byte-order mark and CRLF line ends are accepted', async () => {
  const r = await parseDiscovered('list', textSource('bom', '\ufeff127.81.0.5:104\r\n127.81.0.6:104\r\n'));
  assert.deepEqual(pairs(r.endpoints), ['127.81.0.5|104', '127.81.0.6|104']);
  const x = await parseDiscovered('nmap', textSource('bom.xml', `\ufeff${readFileSync(fixture('nmap-7.93.xml'), 'utf8')}`));
  assert.equal(x.endpoints.size, 3);
});

const KIND_OF: Record<string, DiscoveryKind> = { masscan: 'masscan', zmap: 'zmap', nmap: 'nmap', endpoints: 'list' };

test('fuzz: mutated fixtures are read or refused with a DiscoveryFormatError', async () => {
  const files = readdirSync(FIXTURES).filter((f) => !f.endsWith('.md'));
  const inputs = files.map((f) => ({ kind: KIND_OF[f.split(/[-.]/)[0]!]!, text: readFileSync(fixture(f), 'utf8') }));
  const mutation = fc.record({
    input: fc.integer({ min: 0, max: inputs.length - 1 }),
    edits: fc.array(
      fc.record({
        at: fc.nat(),
        cut: fc.nat({ max: 12 }),
        insert: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('<', '>', '"', ',', '\n', '[', ']', '{', '}', ':', '#', '<!DOCTYPE x [', '&lol;', '\u0000')),
      }),
      { maxLength: 4 },
    ),
  });
  await fc.assert(
    fc.asyncProperty(mutation, async ({ input, edits }) => {
      const { kind, text: original } = inputs[input]!;
      let text = original;
      for (const e of edits) {
        const at = e.at % (text.length + 1);
        text = text.slice(0, at) + e.insert + text.slice(at + e.cut);
      }
      try {
        const r = await parseDiscovered(kind, textSource('fuzz', text), { ports: [104] });
        assert.ok(r.endpoints.size >= 0 && r.report.records >= 0);
      } catch (err) {
        if (!(err instanceof DiscoveryFormatError)) throw err;
      }
    }),
    { numRuns: 400 },
  );
});
