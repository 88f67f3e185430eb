/**
 * Captures real DICOM upper-layer replies from DCMTK's storescp (Debian dcmtk 3.6.7) into
 * src/probes/dicom/fixtures/, so the parser is tested against bytes a real peer sent, not
 * against our own encoder.
 *
 *   node --import tsx scripts/capture-dicom-fixtures.ts
 *
 * storescp has no bind option and listens on 0.0.0.0, so it is started under the
 * LD_PRELOAD shim of /work/shared/peers/bindshim.c (built into .tmp/bindshim.so if missing),
 * which moves the wildcard bind to PEER_BIND_ADDR (127.0.0.9) and refuses any non-loopback
 * bind. Every connection goes to 127.0.0.9 only. Each storescp is killed by its own pid.
 *
 * Files written:
 *   storescp-accept.bin      A-ASSOCIATE-AC to the request below
 *   storescp-echo-rsp.bin    P-DATA-TF carrying the C-ECHO-RSP to our C-ECHO-RQ
 *   storescp-release-rp.bin  A-RELEASE-RP
 *   storescp-reject.bin      A-ASSOCIATE-RJ from `storescp --refuse`
 *   truncated.bin            the first half of storescp-accept.bin
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIMITS } from '../src/core/limits.js';
import {
  CommandField,
  NO_DATA_SET,
  PDU_HEADER_LENGTH,
  encodeAssociateRq,
  encodeCommand,
  encodePData,
  encodeReleaseRq,
  parsePduHeader,
} from '../src/probes/dicom/parse.js';
import { UID, implementationVersionName } from '../src/probes/dicom/uids.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURES = join(ROOT, 'src/probes/dicom/fixtures');
const TMP = join(ROOT, '.tmp');
const SHIM_SRC = '/work/shared/peers/bindshim.c';
const SHIM = join(TMP, 'bindshim.so');
const STORESCP = '/usr/bin/storescp';
const HOST = '127.0.0.9';
const PORT = 11199;

const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The request we send: one context storescp accepts per kind of answer we want to see. */
const CAPTURE_RQ = {
  calledAe: 'STORESCP',
  callingAe: 'MEDSURFACE',
  implementationVersionName: implementationVersionName(version),
  contexts: [
    // Accepted (0).
    { id: 1, abstractSyntax: UID.Verification, transferSyntaxes: [UID.ImplicitVRLittleEndian, UID.ExplicitVRLittleEndian] },
    // Accepted (0): storescp prefers explicit VR little endian.
    { id: 3, abstractSyntax: UID.CTImageStorage, transferSyntaxes: [UID.ImplicitVRLittleEndian, UID.ExplicitVRLittleEndian] },
    // Abstract syntax not supported (3): storescp is no Q/R SCP.
    { id: 5, abstractSyntax: UID.StudyRootFind, transferSyntaxes: [UID.ImplicitVRLittleEndian] },
    // Transfer syntaxes not supported (4): JPEG 2000 only, which storescp refuses without +xa/+xv.
    { id: 7, abstractSyntax: UID.MRImageStorage, transferSyntaxes: [UID.JPEG2000] },
  ],
};

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function buildShim(): void {
  if (existsSync(SHIM)) return;
  mkdirSync(TMP, { recursive: true });
  execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-o', SHIM, SHIM_SRC, '-ldl'], { stdio: 'inherit' });
}

function startStorescp(extra: string[]): ChildProcess {
  const out = join(TMP, 'storescp-out');
  mkdirSync(out, { recursive: true });
  const child = spawn(STORESCP, ['--aetitle', 'STORESCP', '-dhl', '--output-directory', out, ...extra, String(PORT)], {
    env: { ...process.env, PEER_BIND_ADDR: HOST, LD_PRELOAD: SHIM },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** A socket with a bounded PDU reader: waits for one whole PDU, never more than LIMITS.dicomDataPdu. */
class Session {
  private chunks: Buffer[] = [];
  private have = 0;
  private waiter: (() => void) | null = null;
  private closed = false;
  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.have += d.length;
      if (this.have > LIMITS.sessionBytes) sock.destroy(new Error('session byte cap'));
      this.chunks.push(d);
      this.waiter?.();
    });
    sock.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    sock.on('error', () => {});
  }

  static async open(): Promise<Session> {
    for (let i = 0; i < 50; i++) {
      try {
        const sock = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect({ host: HOST, port: PORT });
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        return new Session(sock);
      } catch {
        await sleep(100);
      }
    }
    throw new Error(`storescp did not listen on ${HOST}:${PORT}`);
  }

  private buffered(): Buffer {
    const b = Buffer.concat(this.chunks);
    this.chunks = [b];
    return b;
  }

  async readPdu(timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const b = this.buffered();
      if (b.length >= PDU_HEADER_LENGTH) {
        const { length } = parsePduHeader(b);
        if (length > LIMITS.dicomDataPdu) throw new Error(`PDU of ${length} bytes exceeds the cap`);
        const total = PDU_HEADER_LENGTH + length;
        if (b.length >= total) {
          this.chunks = [b.subarray(total)];
          return Buffer.from(b.subarray(0, total));
        }
      }
      if (this.closed) throw new Error('peer closed before a whole PDU arrived');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a PDU');
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
      this.waiter = null;
    }
  }

  send(b: Buffer): void {
    this.sock.write(b);
  }

  close(): void {
    this.sock.destroy();
  }
}

function save(name: string, b: Buffer): void {
  writeFileSync(join(FIXTURES, name), b);
  console.log(`wrote ${name} (${b.length} bytes): ${b.subarray(0, 16).toString('hex')}...`);
}

async function main(): Promise<void> {
  if (!existsSync(STORESCP)) throw new Error(`${STORESCP} is missing: apt-get install dcmtk`);
  buildShim();
  mkdirSync(FIXTURES, { recursive: true });
  const rq = encodeAssociateRq(CAPTURE_RQ);

  let peer = startStorescp([]);
  try {
    const s = await Session.open();
    s.send(rq);
    const ac = await s.readPdu();
    if (ac[0] !== 0x02) throw new Error(`expected A-ASSOCIATE-AC, got PDU type ${ac[0]}`);
    save('storescp-accept.bin', ac);
    save('truncated.bin', ac.subarray(0, Math.floor(ac.length / 2)));
    const echo = encodeCommand({ commandField: CommandField.CEchoRq, affectedSopClass: UID.Verification, messageId: 1, dataSetType: NO_DATA_SET });
    s.send(encodePData([{ contextId: 1, isCommand: true, isLast: true, data: echo }]));
    save('storescp-echo-rsp.bin', await s.readPdu());
    s.send(encodeReleaseRq());
    save('storescp-release-rp.bin', await s.readPdu());
    s.close();
  } finally {
    await stop(peer);
  }

  peer = startStorescp(['--refuse']);
  try {
    const s = await Session.open();
    s.send(rq);
    const rj = await s.readPdu();
    if (rj[0] !== 0x03) throw new Error(`expected A-ASSOCIATE-RJ, got PDU type ${rj[0]}`);
    save('storescp-reject.bin', rj);
    s.close();
  } finally {
    await stop(peer);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
