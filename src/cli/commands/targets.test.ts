/**
 * `medsurface targets export`: the files written for ZMap and masscan, read back the way each
 * tool reads them, equal the target set minus the exclusions (and, with --internet, minus the
 * special-purpose blocks); scope and input errors are UsageErrors and write nothing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { specialPurposeSet } from '../../scope/discovery/index.js';
import { readMasscanFile, readZmapFile, sameSet } from '../../scope/discovery/testing.js';
import { IpSet } from '../../scope/index.js';
import { executeTargetsExport, registerTargets, type TargetsExportOptions } from './targets.js';

const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-targets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function capture(): { io: { out: PassThrough; err: PassThrough }; out: () => string; err: () => string } {
  const out = new PassThrough();
  const err = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  out.on('data', (b: Buffer) => o.push(b));
  err.on('data', (b: Buffer) => e.push(b));
  return { io: { out, err }, out: () => Buffer.concat(o).toString('utf8'), err: () => Buffer.concat(e).toString('utf8') };
}

function opts(over: Partial<TargetsExportOptions>): TargetsExportOptions {
  return { format: 'zmap', targets: [], exclude: [], excludeFile: [], out: path.join(dir, 'out'), ...over };
}

test('ZMap: targets, --exclude and --exclude-file, inside the scope', async () => {
  const exFile = path.join(dir, 'exclude.txt');
  writeFileSync(exFile, '# opt-outs\n127.81.9.7\n127.81.10.0/25\n');
  const out = path.join(dir, 'zmap');
  const c = capture();
  const r = await executeTargetsExport(
    ['127.81.0.0/16'],
    opts({ out, targets: ['127.82.0.3-127.82.0.17'], exclude: ['127.81.5.0/24'], excludeFile: [exFile], scope: '127.80.0.0/12' }),
    c.io,
  );
  const allow = IpSet.parse(['127.81.0.0/16', '127.82.0.3-127.82.0.17']);
  const block = IpSet.parse(['127.81.5.0/24', '127.81.9.7', '127.81.10.0/25']);
  assert.ok(sameSet(readZmapFile(path.join(out, 'zmap-allowlist.txt')), allow.subtract(block)));
  assert.ok(sameSet(readZmapFile(path.join(out, 'zmap-blocklist.txt')), block));
  assert.equal(r.targetAddresses, allow.subtract(block).size);
  assert.match(c.err(), /zmap targets: \d+ line\(s\), 65166 address\(es\)/);
  assert.match(c.err(), /zmap -p [0-9,]+ --allowlist-file=.*zmap-allowlist\.txt --blocklist-file=.*zmap-blocklist\.txt/);
  assert.match(c.err(), /medsurface scan --from-zmap zmap\.csv/);
  assert.match(c.err(), /replaces ZMap's default blocklist/);
  assert.match(readFileSync(path.join(out, 'zmap-allowlist.txt'), 'utf8'), /^# targets: 127\.81\.0\.0\/16, 127\.82\.0\.3-127\.82\.0\.17$/m);
  assert.equal(c.out(), '');
});

test('masscan: @file targets with IPv6, --ports in the printed command', async () => {
  const list = path.join(dir, 'targets.txt');
  writeFileSync(list, '127.81.0.0/24\n2001:db8::/120  # lab v6\n');
  const out = path.join(dir, 'masscan');
  const c = capture();
  await executeTargetsExport([`@${list}`], opts({ format: 'masscan', out, exclude: ['2001:db8::10-2001:db8::1f'], ports: '104,11112' }), c.io);
  const allow = IpSet.parse(['127.81.0.0/24', '2001:db8::/120']);
  const block = IpSet.parse(['2001:db8::10-2001:db8::1f']);
  assert.ok(sameSet(readMasscanFile(path.join(out, 'masscan-include.txt')), allow.subtract(block)));
  assert.ok(sameSet(readMasscanFile(path.join(out, 'masscan-exclude.txt')), block));
  assert.match(c.err(), /masscan -p104,11112 --includefile .*masscan-include\.txt --excludefile .*masscan-exclude\.txt -oL masscan\.txt/);
});

test('--internet without targets: all of IPv4 minus the special-purpose blocks and the opt-outs', async () => {
  const out = path.join(dir, 'internet');
  const c = capture();
  await executeTargetsExport([], opts({ out, internet: true, exclude: ['198.51.100.0/24', '8.8.8.0/24'] }), c.io);
  const block = specialPurposeSet().union(IpSet.parse(['8.8.8.0/24']));
  const v4 = (s: IpSet) => s.subtract(IpSet.parse(['::/0']));
  assert.ok(sameSet(readZmapFile(path.join(out, 'zmap-allowlist.txt')), IpSet.parse(['0.0.0.0/0']).subtract(block)));
  assert.ok(sameSet(readZmapFile(path.join(out, 'zmap-blocklist.txt')), v4(block)));
  assert.doesNotMatch(c.err(), /replaces ZMap's default blocklist/);
  assert.match(readFileSync(path.join(out, 'zmap-blocklist.txt'), 'utf8'), /# --internet: IANA special-purpose blocks excluded/);
});

test('ZMap with IPv6 targets says what it could not write', async () => {
  const c = capture();
  const r = await executeTargetsExport(['127.81.0.0/30', '2001:db8::/126'], opts({ out: path.join(dir, 'v6') }), c.io);
  assert.deepEqual(r.droppedIpv6Targets, { ranges: 1, addresses: 4n });
  assert.match(c.err(), /ZMap scans IPv4 only: 1 IPv6 target range\(s\) \(4 addresses\) were not written; use --format masscan/);
});

test('errors are UsageErrors and write nothing', async () => {
  const out = path.join(dir, 'never');
  const cases: Array<[string[], Partial<TargetsExportOptions>, RegExp]> = [
    [[], {}, /no targets: give addresses, CIDRs, ranges or @file, or --scope, or --internet/],
    [['127.81.0.0/16'], { scope: '127.81.0.0/17' }, /32768 target address\(es\) are outside the authorised scope \(--scope\): 127\.81\.128\.0\/17; nothing was written/],
    [['127.81.0.0/24'], { format: 'nmap' }, /--format must be one of zmap, masscan \(got "nmap"\)/],
    [['pacs.example'], {}, /targets: "pacs\.example" is a host name/],
    [['127.81.0.0/24'], { exclude: ['127.81.0.0/16'] }, /nothing left to scan/],
    [['127.81.0.0/24'], { ports: '0' }, /--ports: "0" is outside 1-65535/],
  ];
  for (const [positional, over, pattern] of cases) {
    await assert.rejects(executeTargetsExport(positional, opts({ out, ...over }), capture().io), (err: unknown) => {
      assert.ok(err instanceof UsageError, String(err));
      assert.match(err.message, pattern);
      return true;
    });
  }
  assert.equal(existsSync(out), false);
});

test('as a command: options parsed by commander, --json summary on stdout', async () => {
  const c = capture();
  const program = new Command().exitOverride();
  registerTargets(program, c.io);
  const out = path.join(dir, 'cmd');
  await program.parseAsync(['targets', 'export', '--format', 'masscan', '127.81.0.0/24', '--targets', '127.81.1.0/24,127.81.2.0/24', '--exclude', '127.81.0.7', '--out', out, '--json'], { from: 'user' });
  const summary = JSON.parse(c.out()) as { format: string; targetAddresses: string; targetsFile: string };
  assert.equal(summary.format, 'masscan');
  assert.equal(summary.targetAddresses, String(3 * 256 - 1));
  assert.ok(sameSet(readMasscanFile(summary.targetsFile), IpSet.parse(['127.81.0.0-127.81.2.255']).subtract(IpSet.parse(['127.81.0.7']))));
  /* --format is required */
  const p2 = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  registerTargets(p2, capture().io);
  await assert.rejects(p2.parseAsync(['targets', 'export', '127.81.0.0/24', '--out', out], { from: 'user' }), /required option '--format <tool>'/);
});
