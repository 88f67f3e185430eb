/**
 * bench/dicom-sweep: the user-facing CLI (default profile, no bench-only code path) against
 * nmap (-T4 -Pn -sT --script dicom-ping) and minimal Node loops, on the same loopback targets,
 * in one command. Prints wall times, rates and ratios.
 *
 *   (a) sweep: 127.64.0.0/16 × (104, 4242, 11112) with a few live lab peers;
 *   (b) app-layer heavy: 4,000 live DICOM endpoints on 127.65.0.0/16:104 (one lab process),
 *       time to full verdicts, and our verdicts compared with nmap's record by record.
 *
 * Usage: npm run bench:dicom-sweep [-- --only a|b] [--count 4000] [--concurrency N]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { encodeAssociateRq } from '../src/probes/dicom/parse.js';
import { UID } from '../src/probes/dicom/uids.js';
import { nmapDicomPing } from '../test/interop/nmap.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const CLI = path.join(ROOT, 'bin/medsurface.js');

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    count: { type: 'string', default: '4000' },
    concurrency: { type: 'string' },
  },
});

interface LabNode {
  name: string;
  ip: string;
  port: number;
  expected: { anyAeAccepted?: boolean };
}

function assertLoopback(targets: string[]) {
  for (const t of targets) if (!t.startsWith('127.')) throw new Error(`refusing non-loopback target ${t}`);
}

/** Starts `medsurface lab --bench N --json` in its own process and reads its node list. */
async function startLabProcess(count: number, block: string, live: number): Promise<{ proc: ChildProcess; nodes: LabNode[] }> {
  const proc = spawn(process.execPath, [CLI, 'lab', '--bench', String(count), '--block', block, '--json', ...(live ? [] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buf = '';
  const nodes = await new Promise<LabNode[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('lab did not start within 60 s')), 60_000);
    proc.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      try {
        const parsed = JSON.parse(buf) as LabNode[];
        clearTimeout(timer);
        resolve(parsed);
      } catch {
        /* not complete yet */
      }
    });
    proc.on('exit', (code) => reject(new Error(`lab exited with ${code}`)));
  });
  return { proc, nodes };
}

async function stopProcess(proc: ChildProcess) {
  if (proc.exitCode !== null) return;
  proc.kill('SIGINT');
  await new Promise((r) => {
    const t = setTimeout(() => {
      proc.kill('SIGKILL');
      r(null);
    }, 10_000);
    proc.once('exit', () => {
      clearTimeout(t);
      r(null);
    });
  });
}

interface CliResult {
  wallMs: number;
  lines: { ip: string; port: number; status: string; data?: { dicom?: { anyAeAccepted: boolean | null } } }[];
  stderr: string;
}

function runCli(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('exit', (code) => {
      const wallMs = performance.now() - t0;
      if (code !== 0) return reject(new Error(`medsurface exited ${code}: ${err.slice(-2000)}`));
      resolve({ wallMs, lines: out.split('\n').filter(Boolean).map((l) => JSON.parse(l)), stderr: err });
    });
  });
}

/** The minimal connect loop: N in flight, connect then destroy; counts open and refused. */
async function connectLoop(pairs: Generator<[string, number]>, inFlight = 64): Promise<{ wallMs: number; probes: number; open: number }> {
  const t0 = performance.now();
  let probes = 0;
  let open = 0;
  const one = (ip: string, port: number) =>
    new Promise<void>((resolve) => {
      const s = net.connect({ host: ip, port });
      s.once('connect', () => {
        open++;
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        resolve();
      });
    });
  const worker = async () => {
    for (;;) {
      const n = pairs.next();
      if (n.done) return;
      probes++;
      await one(n.value[0], n.value[1]);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { wallMs: performance.now() - t0, probes, open };
}

/** A bare association loop: A-ASSOCIATE-RQ with a random called AE, read the reply header, destroy. No C-ECHO. */
async function associationLoop(targets: { ip: string; port: number }[], inFlight = 128): Promise<{ wallMs: number; verdicts: number }> {
  const rq = encodeAssociateRq({
    calledAe: 'MSBENCHRANDOM01',
    callingAe: 'MEDSURFACE',
    contexts: [{ id: 1, abstractSyntax: UID.Verification, transferSyntaxes: [UID.ImplicitVRLittleEndian] }],
  });
  const t0 = performance.now();
  let verdicts = 0;
  let i = 0;
  const one = (ip: string, port: number) =>
    new Promise<void>((resolve) => {
      const s = net.connect({ host: ip, port }, () => s.write(rq));
      s.once('data', (d: Buffer) => {
        if (d[0] === 2 || d[0] === 3) verdicts++;
        s.destroy();
        resolve();
      });
      s.once('error', () => resolve());
      s.once('close', () => resolve());
    });
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (i < targets.length) {
        const t = targets[i++]!;
        await one(t.ip, t.port);
      }
    }),
  );
  return { wallMs: performance.now() - t0, verdicts };
}

function* pairsOf16(prefix: string, ports: number[]): Generator<[string, number]> {
  for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) for (const p of ports) yield [`${prefix}.${a}.${b}`, p];
}

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

function table(rows: { tool: string; wallMs: number; units: number; unit: string; note?: string }[], refTool: string) {
  const ref = rows.find((r) => r.tool.startsWith(refTool));
  const lines = rows.map((r) => {
    const rate = (r.units * 1000) / r.wallMs;
    const refRate = ref ? (ref.units * 1000) / ref.wallMs : rate;
    return `  ${r.tool.padEnd(34)} ${fmt(r.wallMs / 1000, 2).padStart(8)} s  ${fmt(rate).padStart(9)} ${r.unit}/s  ${(rate / refRate).toFixed(2).padStart(6)}× ${refTool}${r.note ? `  (${r.note})` : ''}`;
  });
  console.log(lines.join('\n'));
}

async function caseA() {
  const ports = [104, 4242, 11112];
  console.log('\n(a) sweep of 127.64.0.0/16 × (104, 4242, 11112), a few live lab peers');
  const lab = await startLabProcess(8, '127.64.0.0/16', 8);
  const work = mkdtempSync(path.join(tmpdir(), 'medsurface-bench-'));
  try {
    const probes = 65536 * ports.length;
    const conc = args.concurrency ?? '256';
    const ours = await runCli(['scan', '127.64.0.0/16', '--ports', ports.join(','), '--json', '--quiet', '--db', path.join(work, 'a.sqlite'), '-c', conc]);
    const nm = await nmapDicomPing(['127.64.0.0/16'], ports);
    const loop = await connectLoop(pairsOf16('127.64', ports));
    table(
      [
        { tool: 'nmap -T4 -Pn -sT --script dicom-ping', wallMs: nm.wallMs, units: probes, unit: 'probes', note: `${nm.verdicts.filter((v) => v.anyAeAccepted !== null).length} verdicts` },
        { tool: `medsurface scan (-c ${conc})`, wallMs: ours.wallMs, units: probes, unit: 'probes', note: `${ours.lines.length} open services` },
        { tool: 'Node connect loop (64 in flight)', wallMs: loop.wallMs, units: loop.probes, unit: 'probes', note: `${loop.open} open` },
      ],
      'nmap',
    );
  } finally {
    await stopProcess(lab.proc);
    rmSync(work, { recursive: true, force: true });
  }
}

async function caseB() {
  const count = Number(args.count);
  console.log(`\n(b) ${fmt(count)} live DICOM endpoints on 127.65.0.0/16 port 104: time to full verdicts`);
  const lab = await startLabProcess(count, '127.65.0.0/16', count);
  const work = mkdtempSync(path.join(tmpdir(), 'medsurface-bench-'));
  try {
    const nodes = lab.nodes;
    const ips = nodes.map((n) => n.ip);
    assertLoopback(ips);
    const list = path.join(work, 'targets.txt');
    writeFileSync(list, `${ips.join('\n')}\n`);
    const conc = args.concurrency ?? '256';
    const ours = await runCli(['scan', `@${list}`, '--ports', '104', '--json', '--quiet', '--db', path.join(work, 'b.sqlite'), '-c', conc]);
    const nm = await nmapDicomPing(ips, [104]);
    const bare = await associationLoop(nodes.map((n) => ({ ip: n.ip, port: n.port })));
    const oursV = ours.lines
      .filter((l) => l.data?.dicom && l.data.dicom.anyAeAccepted !== null)
      .map((l) => `${l.ip}:${l.port} ${l.data!.dicom!.anyAeAccepted}`)
      .sort();
    const nmapV = nm.verdicts
      .filter((v) => v.anyAeAccepted !== null)
      .map((v) => `${v.ip}:${v.port} ${v.anyAeAccepted}`)
      .sort();
    table(
      [
        { tool: 'nmap -T4 -Pn -sT --script dicom-ping', wallMs: nm.wallMs, units: nmapV.length, unit: 'verdicts' },
        { tool: `medsurface scan (-c ${conc})`, wallMs: ours.wallMs, units: oursV.length, unit: 'verdicts', note: 'assoc + C-ECHO + release' },
        { tool: 'bare association loop (no C-ECHO)', wallMs: bare.wallMs, units: bare.verdicts, unit: 'verdicts' },
      ],
      'nmap',
    );
    const nmapSet = new Set(nmapV);
    const oursSet = new Set(oursV);
    const onlyOurs = oursV.filter((x) => !nmapSet.has(x));
    const onlyNmap = nmapV.filter((x) => !oursSet.has(x));
    const accepted = oursV.filter((v) => v.endsWith('true')).length;
    console.log(
      `  verdicts: medsurface ${oursV.length} (${accepted} any-AE), nmap ${nmapV.length}; ` +
        (onlyOurs.length + onlyNmap.length === 0 ? 'EQUAL record by record' : `DIFFER: only medsurface ${onlyOurs.length}, only nmap ${onlyNmap.length}`),
    );
    for (const x of onlyOurs.slice(0, 10)) console.log(`    only medsurface: ${x}`);
    for (const x of onlyNmap.slice(0, 10)) console.log(`    only nmap:       ${x}`);
    if (onlyOurs.length + onlyNmap.length > 0) process.exitCode = 1;
  } finally {
    await stopProcess(lab.proc);
    rmSync(work, { recursive: true, force: true });
  }
}

console.log(`bench/dicom-sweep on ${new Date().toISOString()}, node ${process.version}, ${(await import('node:os')).cpus().length} cores`);
if (!args.only || args.only === 'b') await caseB();
if (!args.only || args.only === 'a') await caseA();
