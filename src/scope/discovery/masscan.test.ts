/**
 * masscan output in every shape it has written (fixtures/README.md says where each comes
 * from): the same scan read from -oJ (three generations), -oD, -oL, -oG and -oX gives the
 * same endpoints; closed, UDP and banner records are not kept; errors name the line.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DiscoveryFormatError } from './errors.js';
import { describeDiscovery, loadDiscovered, parseDiscovered } from './load.js';
import { quoteBareKeys } from './masscan.js';
import { chunked, fixture, pairs } from './testing.js';
import { MAX_LINE_CHARS, textSource } from './text-source.js';

const V4 = ['127.81.0.5|104', '127.81.0.6|2575', '127.81.0.6|11112'];
const ALL = [...V4, '2001:db8::5|4242'];

test('-oJ as masscan 1.3.2 writes it (comma lines before records, [ and ])', async () => {
  const { endpoints, report } = await loadDiscovered('masscan', fixture('masscan-1.3.2.json'));
  assert.deepEqual(pairs(endpoints), ALL);
  assert.equal(report.format, 'masscan-json');
  assert.equal(report.records, 8);
  assert.equal(report.open, 5);
  assert.equal(report.duplicates, 1);
  assert.deepEqual(report.skipped, { closed: 1, udp: 1, banner: 1 });
  assert.equal(report.complete, true);
  assert.equal(report.hosts, 3);
  assert.equal(report.lines, 17);
});

test('-oJ of masscan 1.0.4-1.0.6, with the trailing comma after the last record', async () => {
  const { endpoints, report } = await loadDiscovered('masscan', fixture('masscan-1.0.5.json'));
  assert.deepEqual(pairs(endpoints), V4);
  assert.deepEqual(report.skipped, { closed: 1, udp: 1, banner: 1 });
  assert.equal(report.complete, true);
});

test('-oJ of masscan 1.0.3: bare keys, no brackets, {finished: 1}', async () => {
  const { endpoints, report } = await loadDiscovered('masscan', fixture('masscan-1.0.3.json'));
  assert.deepEqual(pairs(endpoints), V4);
  assert.deepEqual(report.skipped, { closed: 1, udp: 1, banner: 1 });
  assert.equal(report.format, 'masscan-json');
  assert.equal(report.complete, true);
});

test('-oD (NDJSON), -oL and -oG give the same endpoints', async () => {
  const nd = await loadDiscovered('masscan', fixture('masscan-1.3.2.ndjson'));
  assert.deepEqual(pairs(nd.endpoints), ALL);
  assert.equal(nd.report.format, 'masscan-ndjson');
  assert.deepEqual(nd.report.skipped, { closed: 1, udp: 1, banner: 1 });

  const list = await loadDiscovered('masscan', fixture('masscan-1.3.2.list'));
  assert.deepEqual(pairs(list.endpoints), ALL);
  assert.equal(list.report.format, 'masscan-list');
  assert.deepEqual(list.report.skipped, { closed: 1, udp: 1, banner: 1 });
  assert.equal(list.report.complete, true);

  const grep = await loadDiscovered('masscan', fixture('masscan-1.3.2.grepable'));
  assert.deepEqual(pairs(grep.endpoints), V4);
  assert.equal(grep.report.format, 'masscan-grepable');
  assert.deepEqual(grep.report.skipped, { closed: 1, udp: 1, banner: 1 });
  assert.equal(grep.report.complete, true);
});

test('-oX (CRLF, addrtype="ipv4" on an IPv6 host) is read by the XML reader', async () => {
  const { endpoints, report } = await loadDiscovered('masscan', fixture('masscan-1.3.2.xml'));
  assert.deepEqual(pairs(endpoints), ALL);
  assert.equal(report.format, 'masscan-xml');
  /* The banner host says state="open": one more repeat of 127.81.0.6:11112. */
  assert.equal(report.open, 6);
  assert.equal(report.duplicates, 2);
  assert.deepEqual(report.skipped, { closed: 1, udp: 1 });
  assert.equal(report.complete, true);
});

test('every chunking of a file gives the same result (lines cut across chunks, CRLF split)', async () => {
  for (const name of ['masscan-1.3.2.json', 'masscan-1.3.2.list', 'masscan-1.3.2.xml', 'masscan-1.0.3.json']) {
    const text = readFileSync(fixture(name), 'utf8');
    const whole = await parseDiscovered('masscan', textSource(name, text));
    for (const size of [1, 2, 3, 7, 64]) {
      const r = await parseDiscovered('masscan', chunked(name, text, size));
      assert.deepEqual(pairs(r.endpoints), pairs(whole.endpoints), `${name} in ${size}-char chunks`);
      assert.deepEqual(r.report.skipped, whole.report.skipped);
      assert.equal(r.report.sha256, whole.report.sha256);
    }
  }
});

test('a -oJ file without its closing ] (masscan interrupted) is read but marked incomplete', async () => {
  const text = readFileSync(fixture('masscan-1.3.2.json'), 'utf8').replace(/\]\n$/, '');
  const { endpoints, report } = await parseDiscovered('masscan', textSource('cut.json', text));
  assert.deepEqual(pairs(endpoints), ALL);
  assert.equal(report.complete, false);
  assert.match(describeDiscovery(report), /no end marker: the scanner was probably interrupted/);
  const list = readFileSync(fixture('masscan-1.3.2.list'), 'utf8').replace('# end\n', '');
  assert.equal((await parseDiscovered('masscan', textSource('cut.list', list))).report.complete, false);
});

test('--ports filter: only the selected ports are kept, the rest counted', async () => {
  const { endpoints, report } = await loadDiscovered('masscan', fixture('masscan-1.3.2.json'), { onlyPorts: [104, 4242] });
  assert.deepEqual(pairs(endpoints), ['127.81.0.5|104', '2001:db8::5|4242']);
  assert.equal(report.skipped['port-not-selected'], 2);
});

async function refused(text: string, pattern: RegExp): Promise<void> {
  await assert.rejects(parseDiscovered('masscan', textSource('bad.json', text)), (err: unknown) => {
    assert.ok(err instanceof DiscoveryFormatError, String(err));
    assert.match(err.message, pattern);
    return true;
  });
}

const REC = (ip: string, port: number | string) =>
  `{   "ip": "${ip}",   "timestamp": "1732828800", "ports": [ {"port": ${port}, "proto": "tcp", "status": "open", "reason": "syn-ack", "ttl": 64} ] }`;

test('errors name the file and line', async () => {
  await refused(`[\n${REC('127.81.0.5', 104)}\n,\n{   "ip": "127.81.0.6", "ports": [ {"port": 1\n]\n`, /^bad\.json:4: not a masscan JSON record: invalid JSON/);
  await refused(`[\n${REC('127.81.0.5', 104)}\n,\n${REC('127.81.0.300', 104)}\n]\n`, /^bad\.json:4: bad address "127\.81\.0\.300"/);
  await refused(`[\n${REC('127.81.0.5', 70000)}\n]\n`, /^bad\.json:2: bad port 70000/);
  await refused(`[\n${REC('127.81.0.5', '"x"')}\n]\n`, /^bad\.json:2: bad port "x"/);
  await refused(`[\n${REC('127.81.0.5', 0)}\n]\n`, /^bad\.json:2: bad port 0/);
  await refused(`[\n${REC('127.81.0.5', 104)}\n]\n${REC('127.81.0.6', 104)}\n`, /^bad\.json:4: content after the end/);
  await refused('[\n{"ip": "127.81.0.5", "port": 104}\n]\n', /^bad\.json:2: bad masscan record: neither "ports"/);
  await refused('#masscan\nopen tcp 104\n# end\n', /^bad\.json:2: expected "<status> <protocol> <port> <address> <time>"/);
  await refused('#masscan\n# end\nopen tcp 104 127.81.0.5 1\n', /^bad\.json:3: content after "# end"/);
  await refused('hello\n', /^bad\.json:1: not a masscan output file/);
  await refused('<html></html>\n', /^bad\.json:1: root element <html>, not <nmaprun>/);
});

test('a line past the cap is refused before the rest of it is read', async () => {
  const long = `[\n{ "ip": "${'1'.repeat(MAX_LINE_CHARS)}"\n]\n`;
  await refused(long, /^bad\.json:2: line longer than 262144 characters/);
  /* No newline at all (a binary file): refused at line 1. */
  await assert.rejects(parseDiscovered('masscan', chunked('bin', `open tcp 104 ${'\u0000'.repeat(MAX_LINE_CHARS + 10)}`, 65536)), /bin:1: line longer than/);
});

test('bare keys are quoted outside strings only', () => {
  assert.equal(quoteBareKeys('{   ip: "127.81.0.5",   ports: [ {port: 104, proto: "tcp"} ] }'), '{   "ip": "127.81.0.5",   "ports": [ {"port": 104, "proto": "tcp"} ] }');
  assert.equal(quoteBareKeys('{banner: "Server: x, y: z \\u0022q: 1"}'), '{"banner": "Server: x, y: z \\u0022q: 1"}');
  assert.equal(quoteBareKeys('{a: true, b: null}'), '{"a": true, "b": null}');
});

test('an empty file and a file of blank lines hold no endpoints', async () => {
  for (const text of ['', '\n\n  \n']) {
    const r = await parseDiscovered('masscan', textSource('empty', text));
    assert.equal(r.endpoints.size, 0);
    assert.equal(r.report.format, null);
  }
});
