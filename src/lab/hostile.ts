/**
 * Hostile peers: listeners that break the DICOM upper layer (PS3.8 §9) on purpose, so that
 * tests and the demo prove the scanner bounds every byte and every wait (STYLE.md §3).
 *
 * - `garbage`: random bytes as soon as the connection opens (the first byte is never a PDU type);
 * - `oversized`: answers the A-ASSOCIATE-RQ with a PDU header declaring 0xFFFFFFFF bytes
 *   (4 GiB), then drips one byte every 500 ms for ever: a reader that trusts the length waits
 *   or allocates without bound;
 * - `slow-drip`: a valid A-ASSOCIATE-AC, one byte every 500 ms;
 * - `split`: a valid, permissive SCP whose PDUs are written 3 bytes per TCP write with small
 *   delays: a correct reader (by length, never by `data` event) still completes;
 * - `reset`: resets every connection at once (RST, socket.resetAndDestroy());
 * - `silent`: accepts and never answers;
 * - `http-on-dicom-port`: an HTTP server where DICOM was expected: HTTP/1.1 400 to the RQ.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { UID } from '../probes/dicom/uids.js';
import { DicomScpNode, type NodeStats, ScpProfile, newStats } from './dicom-scp.js';
import type { HostileMode } from './layout.js';
import { closeServer, listen } from './listen.js';

/** Interval of the drips (`oversized`, `slow-drip`). */
export const DRIP_INTERVAL_MS = 500;
/** `split`: bytes per write and the pause between writes. */
export const SPLIT_BYTES = 3;
export const SPLIT_DELAY_MS = 1;
/** Bytes `garbage` sends. */
export const GARBAGE_BYTES = 512;
/** Hostile connections are closed after this long, so a forgotten client cannot pin one for ever. */
const HOSTILE_MAX_LIFE_MS = 10 * 60_000;

const HTTP_400 = Buffer.from(
  'HTTP/1.1 400 Bad Request\r\nServer: lab-httpd/1.0\r\nContent-Type: text/html\r\nContent-Length: 50\r\nConnection: close\r\n\r\n' +
    '<html><body><h1>400 Bad Request</h1></body></html>',
  'latin1',
);

/** A permissive profile (echo and find accepted) with a lab implementation UID, for `split` and `slow-drip`. */
function hostileProfile(mode: 'split' | 'slow-drip'): ScpProfile {
  return new ScpProfile({
    aeTitle: mode === 'split' ? 'SPLIT' : 'DRIP',
    calledAes: 'any',
    abstractSyntaxes: [UID.Verification, UID.PatientRootFind, UID.StudyRootFind],
    // DCMTK's UID and name, so that fingerprints work through the fragmentation.
    implementationClassUid: '1.2.276.0.7230010.3.0.3.6.7',
    implementationVersionName: 'OFFIS_DCMTK_367',
    maxPduLength: 16384,
    records: [],
    writeShaping:
      mode === 'split' ? { bytes: SPLIT_BYTES, delayMs: SPLIT_DELAY_MS } : { bytes: 1, delayMs: DRIP_INTERVAL_MS },
  });
}

export interface LabListener {
  readonly name: string;
  readonly ip: string;
  readonly port: number;
  readonly stats: NodeStats;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A raw hostile listener (every mode except the shaped SCPs). */
class RawHostile implements LabListener {
  readonly stats = newStats();
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly name: string,
    readonly ip: string,
    readonly port: number,
    private readonly mode: Exclude<HostileMode, 'split' | 'slow-drip'>,
  ) {
    this.server = net.createServer({ noDelay: true }, (s) => this.onConnection(s));
    this.server.on('error', () => {});
  }

  private onConnection(s: net.Socket): void {
    this.stats.connections++;
    this.stats.open++;
    this.sockets.add(s);
    let clientClosed = true;
    const life = setTimeout(() => {
      clientClosed = false;
      this.stats.idleTimeouts++;
      s.destroy();
    }, HOSTILE_MAX_LIFE_MS);
    this.timers.add(life);
    s.on('error', () => {});
    s.on('data', (d: Buffer) => {
      this.stats.bytesIn += d.length;
    });
    s.once('close', () => {
      this.stats.open--;
      if (clientClosed) this.stats.closed++;
      clearTimeout(life);
      this.timers.delete(life);
      this.sockets.delete(s);
    });
    switch (this.mode) {
      case 'reset':
        clientClosed = false;
        if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
        else s.destroy();
        return;
      case 'garbage': {
        const junk = randomBytes(GARBAGE_BYTES);
        // 0x00 and 0x08-0xFF are no PDU type (PS3.8 §9.3.1): the reader must fail at once, not wait for a length.
        junk[0] = 0x80 | junk[0]!;
        s.write(junk);
        return;
      }
      case 'silent':
        return;
      case 'http-on-dicom-port':
        s.once('data', () => {
          clientClosed = false;
          s.end(HTTP_400);
        });
        return;
      case 'oversized':
        s.once('data', () => {
          // A-ASSOCIATE-AC header with PDU length 0xFFFFFFFF, then the body that never ends.
          s.write(Buffer.from([0x02, 0x00, 0xff, 0xff, 0xff, 0xff]));
          const drip = setInterval(() => {
            if (s.destroyed) return;
            s.write(Buffer.from([0x00]));
          }, DRIP_INTERVAL_MS);
          this.timers.add(drip);
          s.once('close', () => {
            clearInterval(drip);
            this.timers.delete(drip);
          });
        });
        return;
    }
  }

  start(): Promise<void> {
    return listen(this.server, this.name, this.ip, this.port);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await closeServer(this.server, [...this.sockets]);
  }
}

/** Starts nothing yet: returns a listener for `mode` on ip:port. */
export function createHostile(mode: HostileMode, name: string, ip: string, port: number): LabListener {
  if (mode === 'split' || mode === 'slow-drip') {
    return new DicomScpNode({ name, ip, port, profile: hostileProfile(mode) });
  }
  return new RawHostile(name, ip, port, mode);
}
