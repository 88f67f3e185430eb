/**
 * The syslog sink against real listeners on 127.80.1.3x: a node:dgram UDP socket and a node:net TCP
 * server with RFC 6587 octet-counting framing. Each message is parsed here, independently of the
 * sender's code: the RFC 5424 header fields, then the CEF payload with its escaping undone.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { test } from 'node:test';
import { VERSION } from '../core/version.js';
import { AlertOutbox, parseSinksConfig } from './index.js';
import { fakeClock, loopbackOnly, sampleEvent, tempDir } from './test-support.js';

interface Syslog5424 {
  pri: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sd: string;
  msg: string;
}

function parse5424(raw: string): Syslog5424 {
  const m = /^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) (.*)$/s.exec(raw);
  assert.ok(m, `not an RFC 5424 message: ${raw.slice(0, 120)}`);
  return {
    pri: Number(m[1]),
    version: Number(m[2]),
    timestamp: m[3]!,
    hostname: m[4]!,
    appName: m[5]!,
    procId: m[6]!,
    msgId: m[7]!,
    sd: m[8]!,
    msg: m[9]!,
  };
}

interface Cef {
  header: string[];
  ext: Record<string, string>;
}

/** Splits the 7 CEF header fields on unescaped pipes, then reads key=value extensions. */
function parseCef(s: string): Cef {
  const header: string[] = [];
  let cur = '';
  let i = 0;
  for (; i < s.length && header.length < 7; i++) {
    const c = s[i]!;
    if (c === '\\' && (s[i + 1] === '|' || s[i + 1] === '\\')) {
      cur += s[++i];
    } else if (c === '|') {
      header.push(cur);
      cur = '';
    } else cur += c;
  }
  assert.equal(header.length, 7, 'seven header fields');
  const rest = s.slice(i);
  const keys = [...rest.matchAll(/(?:^| )([A-Za-z0-9_.]+)=/g)];
  const ext: Record<string, string> = {};
  keys.forEach((k, n) => {
    const start = k.index! + k[0].length;
    const end = n + 1 < keys.length ? keys[n + 1]!.index! : rest.length;
    ext[k[1]!] = rest.slice(start, end).replace(/\\(\\|=|n|r)/g, (_m, e: string) => (e === 'n' ? '\n' : e === 'r' ? '\r' : e));
  });
  return { header, ext };
}

const tricky = sampleEvent({
  product: 'PACS|Pro',
  version: '2.0',
  title: 'Admin | panel = open \\ C:\\temp\nsecond line',
  tags: ['radiology', 'ward-3'],
});

test('syslog over UDP: RFC 5424 header fields and a CEF payload with | = \\ and newlines escaped', async (t) => {
  const listener = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  listener.on('message', (m) => got.push(m));
  await new Promise<void>((resolve) => listener.bind(0, '127.80.1.30', resolve));
  const port = listener.address().port;
  const spool = await tempDir();
  t.after(async () => {
    listener.close();
    await spool.cleanup();
  });
  const clock = fakeClock();
  const sinks = parseSinksConfig([{ name: 'siem', type: 'syslog', host: '127.80.1.30', port, transport: 'udp', facility: 'local4' }], { guard: loopbackOnly });
  const box = await AlertOutbox.open(spool.dir, sinks, { guard: loopbackOnly, now: clock.now, hostname: 'scanner-01', onWarning: () => {} });
  await box.enqueue([tricky]);
  assert.equal((await box.flush()).delivered, 1);
  await box.close();
  for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(got.length, 1);

  const s = parse5424(got[0]!.toString('utf8'));
  assert.equal(s.pri, 20 * 8 + 2, 'local4 (20) × 8 + critical (2)');
  assert.equal(s.version, 1);
  assert.equal(s.timestamp, new Date(clock.t).toISOString());
  assert.equal(s.hostname, 'scanner-01');
  assert.equal(s.appName, 'medsurface');
  assert.equal(s.procId, String(process.pid));
  assert.equal(s.msgId, 'finding-opened');
  assert.equal(s.sd, '-');

  const cef = parseCef(s.msg);
  assert.deepEqual(cef.header, [
    'CEF:0',
    'medsurface',
    'medsurface',
    VERSION,
    'dicom-any-ae',
    'NEW critical finding dicom-any-ae on 127.77.0.10:104 (PACS|Pro 2.0, pacs)',
    '10',
  ]);
  assert.ok(s.msg.includes('(PACS\\|Pro 2.0, pacs)'), 'the pipe in the name is escaped');
  assert.equal(cef.ext.msg, 'Admin | panel = open \\ C:\\temp\nsecond line', 'title round-trips through extension escaping');
  assert.ok(s.msg.includes('msg=Admin | panel \\= open \\\\ C:\\\\temp\\nsecond line'), 'exact escaped form');
  assert.ok(!s.msg.includes('\n'), 'no raw newline in the message');
  assert.equal(cef.ext.dst, '127.77.0.10');
  assert.equal(cef.ext.dpt, '104');
  assert.equal(cef.ext.app, 'dicom');
  assert.equal(cef.ext.cat, 'finding-opened');
  assert.equal(cef.ext.rt, String(Date.parse(tricky.at)));
  assert.equal(cef.ext.cs1Label, 'deviceType');
  assert.equal(cef.ext.cs1, 'pacs');
  assert.equal(cef.ext.cs2, 'PACS|Pro');
  assert.equal(cef.ext.cs4, 'radiology,ward-3');
  assert.equal(cef.ext.externalId, tricky.key);
});

test('syslog over TCP: octet-counting frames (RFC 6587), severity and facility mapping', async (t) => {
  const frames: string[] = [];
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      for (;;) {
        const sp = buf.indexOf(0x20);
        if (sp < 0) break;
        const lenText = buf.subarray(0, sp).toString('ascii');
        assert.match(lenText, /^[1-9]\d*$/, 'MSG-LEN is a decimal without leading zeros');
        const len = Number(lenText);
        if (buf.length < sp + 1 + len) break;
        frames.push(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
        buf = buf.subarray(sp + 1 + len);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.80.1.31', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const spool = await tempDir();
  t.after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await spool.cleanup();
  });
  const clock = fakeClock();
  const sinks = parseSinksConfig([{ name: 'siem-tcp', type: 'syslog', host: '127.80.1.31', port, transport: 'tcp', hostname: 'soc-relay' }], {
    guard: loopbackOnly,
  });
  const box = await AlertOutbox.open(spool.dir, sinks, { guard: loopbackOnly, now: clock.now, onWarning: () => {} });
  const events = [
    tricky,
    sampleEvent({ key: 'resolved', kind: 'finding-resolved', severity: 'critical' }),
    sampleEvent({ key: 'svc', kind: 'service-new', checkId: null, title: null, severity: null, ip: '::1', port: 11112 }),
    sampleEvent({ key: 'med', severity: 'medium' }),
  ];
  await box.enqueue(events);
  assert.equal((await box.flush()).delivered, 4);
  await box.close();
  for (let i = 0; i < 50 && frames.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(frames.length, 4);

  const parsed = frames.map(parse5424);
  // Default facility user (1): critical 2, resolved → notice 5, no severity → informational 6, medium → warning 4.
  assert.deepEqual(
    parsed.map((p) => p.pri),
    [8 + 2, 8 + 5, 8 + 6, 8 + 4],
  );
  assert.ok(parsed.every((p) => p.version === 1 && p.hostname === 'soc-relay' && p.appName === 'medsurface'));
  assert.deepEqual(
    parsed.map((p) => p.msgId),
    ['finding-opened', 'finding-resolved', 'service-new', 'finding-opened'],
  );
  const svc = parseCef(parsed[2]!.msg);
  assert.equal(svc.header[4], 'service-new', 'service events use the kind as signature id');
  assert.equal(svc.header[5], 'NEW dicom service on [::1]:11112 (Orthanc 1.12.3, pacs)');
  assert.equal(svc.header[6], '0');
  assert.equal(svc.ext.c6a3, '::1', 'IPv6 destination in c6a3');
  assert.equal(svc.ext.dst, undefined);
  assert.equal(parseCef(parsed[1]!.msg).header[5], 'RESOLVED critical finding dicom-any-ae on 127.77.0.10:104 (Orthanc 1.12.3, pacs)');
});
