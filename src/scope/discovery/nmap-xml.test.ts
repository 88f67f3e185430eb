/**
 * nmap -oX: the captured fixture and its IPv6 twin (a file written by the real nmap is parsed in
 * test/interop/discovery-nmap.test.ts, where nmap is installed), then
 * the hostile side: DTDs and entities refused (one harmless `<!DOCTYPE nmaprun>` allowed),
 * elements past the cap, broken nesting, truncation, and every chunking of the input.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DiscoveryFormatError } from './errors.js';
import { loadDiscovered, parseDiscovered } from './load.js';
import { MAX_HOST_ELEMENT_CHARS } from './nmap-xml.js';
import { chunked, fixture, pairs } from './testing.js';
import { textSource } from './text-source.js';

test('the captured nmap 7.93 fixture and its IPv6 twin', async () => {
  const v4 = await loadDiscovered('nmap', fixture('nmap-7.93.xml'));
  assert.deepEqual(pairs(v4.endpoints), ['127.81.0.5|40104', '127.81.0.6|40104', '127.81.0.6|42575']);
  assert.deepEqual(v4.report.skipped, { closed: 6 });
  assert.equal(v4.report.lines, 41);
  const v6 = await loadDiscovered('nmap', fixture('nmap-7.93-ipv6.xml'));
  assert.deepEqual(pairs(v6.endpoints), ['2001:db8::5|40104', '2001:db8::6|40104', '2001:db8::6|42575']);
});

test('every chunking of the file gives the same endpoints', async () => {
  const text = readFileSync(fixture('nmap-7.93.xml'), 'utf8');
  for (const size of [1, 2, 3, 5, 8, 9, 10, 13, 100]) {
    const r = await parseDiscovered('nmap', chunked('x', text, size));
    assert.deepEqual(pairs(r.endpoints), ['127.81.0.5|40104', '127.81.0.6|40104', '127.81.0.6|42575'], `chunks of ${size}`);
  }
});

const HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n<nmaprun scanner="nmap">\n';
const HOST = (ip: string, port: number, state = 'open', proto = 'tcp') =>
  `<host><status state="up"/>\n<address addr="${ip}" addrtype="ipv4"/>\n<ports><port protocol="${proto}" portid="${port}"><state state="${state}"/></port>\n</ports>\n</host>\n`;

async function refused(text: string, pattern: RegExp): Promise<void> {
  await assert.rejects(parseDiscovered('nmap', textSource('n.xml', text)), (err: unknown) => {
    assert.ok(err instanceof DiscoveryFormatError, String(err));
    assert.match(err.message, pattern);
    return true;
  });
}

test('DTDs and entities are refused; only <!DOCTYPE nmaprun> passes', async () => {
  const laughs =
    '<?xml version="1.0"?>\n<!DOCTYPE nmaprun [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n<nmaprun>&lol2;</nmaprun>\n';
  await refused(laughs, /^n\.xml:2: DTD declarations are refused/);
  await refused('<?xml version="1.0"?>\n<!DOCTYPE nmaprun SYSTEM "file:///etc/passwd">\n<nmaprun/>\n', /^n\.xml:2: DTD declarations are refused/);
  await refused(`${HEAD}<!ENTITY x "y">\n</nmaprun>\n`, /^n\.xml:4: DTD declarations are refused/);
  await refused(`<nmaprun>\n<!DOCTYPE nmaprun>\n</nmaprun>\n`, /^n\.xml:2: <!DOCTYPE> after the start of the document/);
  await refused(`<!DOCTYPE nmaprun>\n<!DOCTYPE nmaprun>\n<nmaprun/>\n`, /^n\.xml:2: <!DOCTYPE> after the start/);
  /* The allowed form, with and without the XML declaration. */
  const ok = await parseDiscovered('nmap', textSource('ok', `${HEAD}${HOST('127.81.0.5', 104)}</nmaprun>\n`));
  assert.deepEqual(pairs(ok.endpoints), ['127.81.0.5|104']);
});

test('only open TCP ports count; open|filtered, udp and hosts without ports do not', async () => {
  const text = `${HEAD}<hosthint><status state="up"/><address addr="127.81.0.9" addrtype="ipv4"/></hosthint>\n${HOST('127.81.0.5', 104)}${HOST('127.81.0.6', 104, 'open|filtered')}${HOST('127.81.0.7', 161, 'open', 'udp')}<host><status state="down"/><address addr="127.81.0.8" addrtype="ipv4"/></host>\n<host><address addr="00:11:22:33:44:55" addrtype="mac"/><address addr="127.81.0.10" addrtype="ipv4"/><ports><port protocol="tcp" portid="2762"><state state="open"/></port></ports></host>\n</nmaprun>\n`;
  const { endpoints, report } = await parseDiscovered('nmap', textSource('s', text));
  assert.deepEqual(pairs(endpoints), ['127.81.0.5|104', '127.81.0.10|2762']);
  assert.deepEqual(report.skipped, { 'open|filtered': 1, udp: 1 });
});

test('comments, CDATA and quoted ">" cannot fake element boundaries', async () => {
  const text = `${HEAD}<!-- <host><address addr="127.81.0.66" addrtype="ipv4"/></host> -->\n<host comment="a > b"><address addr="127.81.0.5" addrtype="ipv4"/><ports><port protocol="tcp" portid="104"><state state="open"/><script id="x" output="&lt;/host&gt;"><![CDATA[</host></nmaprun>]]></script></port></ports></host>\n</nmaprun>\n`;
  const { endpoints } = await parseDiscovered('nmap', textSource('c', text));
  assert.deepEqual(pairs(endpoints), ['127.81.0.5|104']);
});

test('structure errors name the line', async () => {
  await refused('hello\n', /^n\.xml:1: not XML: --from-nmap reads nmap -oX output/);
  await refused('<?xml version="1.0"?>\n<html></html>\n', /^n\.xml:2: root element <html>, not <nmaprun>/);
  await refused(`${HEAD}<host><ports></host>\n</nmaprun>\n`, /^n\.xml:4: <\/host> closes <ports>/);
  await refused(`${HEAD}</nmaprun>\n<nmaprun/>\n`, /^n\.xml:5: a second root element/);
  await refused(`${HEAD}</nmaprun>\ntrailing\n`, /^n\.xml:5: text after <\/nmaprun>/);
  await refused(`${HEAD}${HOST('127.81.0.5', 104)}<host><address addr="127.81.0.6" addrtype="ipv4"/>\n`, /^n\.xml:9: the file ends inside this <host> element/);
  await refused(`${HEAD}<host><address addr="127.81.0.6" addrtype="ipv4" addrtype="ipv6"/></host>\n</nmaprun>\n`, /^n\.xml:4: not well-formed XML: .*addrtype/);
  await refused(`${HEAD}${HOST('127.81.0.300', 104)}</nmaprun>\n`, /^n\.xml:4: bad address "127\.81\.0\.300"/);
  await refused(`${HEAD}${HOST('127.81.0.5', 0)}</nmaprun>\n`, /^n\.xml:4: bad port "0"/);
  await refused(`${HEAD}<host><ports><port protocol="tcp" portid="1"><state state="open"/></port></ports></host>\n</nmaprun>`, /^n\.xml:4: <host> with ports but no IPv4 or IPv6 <address>/);
  await refused(`${HEAD}${'<a>'.repeat(70)}`, /^n\.xml:4: elements nested deeper than 64/);
  await refused(`${HEAD}<1host>\n</nmaprun>\n`, /^n\.xml:4: malformed tag/);
  await refused('', /^n\.xml:1: not XML/);
});

test('a file cut after a complete host is read and marked incomplete', async () => {
  const { endpoints, report } = await parseDiscovered('nmap', textSource('t', `${HEAD}${HOST('127.81.0.5', 104)}`));
  assert.deepEqual(pairs(endpoints), ['127.81.0.5|104']);
  assert.equal(report.complete, false);
});

test('a <host> element past the cap is refused while it streams', async () => {
  const big = 'x'.repeat(MAX_HOST_ELEMENT_CHARS + 1);
  await refused(`${HEAD}<host><address addr="127.81.0.5" addrtype="ipv4"/>${big}</host></nmaprun>\n`, /^n\.xml:4: <host> element longer than 4194304 characters/);
  await assert.rejects(
    parseDiscovered('nmap', chunked('n2', `${HEAD}<host><!-- ${big} --></host></nmaprun>\n`, 65536)),
    /n2:4: <host> element longer than/,
  );
  await assert.rejects(parseDiscovered('nmap', chunked('n3', `${HEAD}<!-- ${'y'.repeat(2 * 1024 * 1024)} -->`, 65536)), /n3:4: markup longer than 1048576 characters/);
});
