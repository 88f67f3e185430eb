/**
 * The discovery handoff against the real nmap (Debian's 7.93, connect scan, no root): a file nmap
 * writes about listeners on 127.81.1.0/24 parses to exactly its open endpoints, and
 * `medsurface scan --from-nmap` probes only the ports nmap found open on a lab node.
 * Describe names start with the peer family: .ci/run counts tests per family.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { executeScan, scanOptions } from '../../src/cli/commands/scan.js';
import { type RunningLab, startLab } from '../../src/lab/index.js';
import { loadDiscovered } from '../../src/scope/discovery/load.js';
import { pairs } from '../../src/scope/discovery/testing.js';

const BLOCK = '127.215.0.0/16';
let lab: RunningLab;
const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-disc-'));
before(async () => {
  lab = await startLab({ block: BLOCK, quiet: true });
});
after(async () => {
  await lab?.stop();
});
const io = () => ({ stdout: process.stdout, stderr: { write: () => true } as unknown as NodeJS.WriteStream, collect: true, writer: { count: 0, write() {}, close: async () => {} } });

function listen(host: string, port = 0): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer((c) => c.destroy());
    s.once('error', reject);
    s.listen(port, host, () => resolve(s));
  });
}

function portOf(s: net.Server): number {
  return (s.address() as net.AddressInfo).port;
}

function runNmap(args: string[]): Promise<void> {
  for (const a of args) {
    /* Loopback only: every target of this test is in 127.81.1.0/24. */
    if (/^\d/.test(a) && a.includes('.') && !a.startsWith('127.81.1.')) throw new Error(`refusing nmap target ${a}`);
  }
  return new Promise((resolve, reject) => {
    execFile('nmap', args, { timeout: 60_000, maxBuffer: 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`nmap failed (install Debian's nmap to run this test): ${err.message} ${stderr}`));
      else resolve();
    });
  });
}

describe('nmap: discovery handoff', () => {
  test('nmap: a file written by the real nmap against loopback listeners parses to its open endpoints', async () => {
  const a = await listen('127.81.1.5');
  const b = await listen('127.81.1.6');
  const closedProbe = await listen('127.81.1.6');
  const closed = portOf(closedProbe);
  await new Promise<void>((r) => closedProbe.close(() => r()));
  const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-nmap-'));
  try {
    const out = path.join(dir, 'scan.xml');
    const ports = [portOf(a), portOf(b), closed].join(',');
    await runNmap(['-Pn', '-sT', '-n', '-p', ports, '-oX', out, '127.81.1.5-7']);
    const text = readFileSync(out, 'utf8');
    assert.match(text, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<!DOCTYPE nmaprun>\n/);
    const { endpoints, report } = await loadDiscovered('nmap', out);
    assert.deepEqual(pairs(endpoints), [`127.81.1.5|${portOf(a)}`, `127.81.1.6|${portOf(b)}`]);
    assert.equal(report.format, 'nmap-xml');
    assert.equal(report.complete, true);
    /* 3 hosts x 3 ports, each listed: 2 open, the rest closed (no listener) */
    assert.equal(report.records, 9);
    assert.equal(report.skipped.closed, 7);
    assert.equal(report.hosts, 2);
  } finally {
    a.close();
    b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});


  test('nmap: scan --from-nmap reads a real nmap -oX of lab nodes and probes the open ports it lists', async () => {
  const orthanc = lab.nodes.find((n) => n.name === 'web-orthanc')!;
  const xml = path.join(dir, 'nmap.xml');
  execFileSync('nmap', ['-Pn', '-sT', '-n', '-p', `${orthanc.port},1`, '-oX', xml, orthanc.ip], { timeout: 60_000, stdio: 'ignore' });
  const s = await executeScan([], scanOptions({ fromNmap: xml, hostDelay: 0, quiet: true, inventory: false, emitClosed: true, scope: BLOCK }), io());
  assert.deepEqual(
    s.records.map((r) => `${r.ip}:${r.port}`),
    [`${orthanc.ip}:${orthanc.port}`],
    'port 1 was closed in nmap\'s view and is not probed',
  );
});
});
