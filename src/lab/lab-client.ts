/**
 * A raw DICOM upper-layer client for the lab's own tests: reads PDUs by length (PS3.8
 * §9.3.1) however the peer splits them, with a byte cap and a timeout on every read. Not
 * the scanner's probe: it lets tests send malformed or partial PDUs on purpose.
 */
import net from 'node:net';
import tls from 'node:tls';
import {
  type AssociateAc,
  type AssociateRj,
  type Command,
  CommandField,
  type Element,
  NO_DATA_SET,
  PduType,
  type RequestedContext,
  encodeAssociateRq,
  encodeCommand,
  encodeDataSet,
  encodePData,
  encodeReleaseRq,
  parseAbort,
  parseAssociateAc,
  parseAssociateRj,
  parseCommand,
  parseDataSet,
  parsePData,
} from '../probes/dicom/parse.js';
import { UID } from '../probes/dicom/uids.js';

const CLIENT_CAP = 4 * 1024 * 1024;

export class LabClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LabClientError';
  }
}

export interface RawPdu {
  type: number;
  body: Buffer;
}

export class LabClient {
  private buffered: Buffer = Buffer.alloc(0);
  private total = 0;
  private waiter: (() => void) | null = null;
  private ended = false;
  private error: Error | null = null;
  /** Number of `data` events seen (tests of split writes). */
  chunks = 0;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.chunks++;
      this.total += d.length;
      if (this.total > CLIENT_CAP) {
        this.error = new LabClientError(`more than ${CLIENT_CAP} bytes from the peer`);
        socket.destroy();
      } else {
        this.buffered = this.buffered.length === 0 ? d : Buffer.concat([this.buffered, d]);
      }
      this.wake();
    });
    socket.on('error', (e) => {
      this.error = e;
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  static connect(ip: string, port: number, opts: { tls?: tls.ConnectionOptions; timeoutMs?: number } = {}): Promise<LabClient> {
    return new Promise((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? 3000;
      const sock = opts.tls
        ? tls.connect({ host: ip, port, rejectUnauthorized: false, ...opts.tls })
        : net.connect({ host: ip, port });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new LabClientError(`connect to ${ip}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      sock.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        sock.setNoDelay(true);
        resolve(new LabClient(sock));
      });
      sock.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  write(buf: Buffer): void {
    this.socket.write(buf);
  }

  /** Waits until `n` bytes are buffered; rejects on close, error or timeout. */
  async need(n: number, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffered.length < n) {
      if (this.error) throw this.error;
      if (this.ended) throw new LabClientError(`connection closed with ${this.buffered.length} of ${n} bytes`);
      const left = deadline - Date.now();
      if (left <= 0) throw new LabClientError(`timeout: ${this.buffered.length} of ${n} bytes after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.waiter = null;
          resolve();
        }, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  async readBytes(n: number, timeoutMs = 3000): Promise<Buffer> {
    await this.need(n, timeoutMs);
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  /** Whatever has arrived so far (after waiting `ms`). */
  async drain(ms: number): Promise<Buffer> {
    await new Promise((r) => setTimeout(r, ms));
    const out = this.buffered;
    this.buffered = Buffer.alloc(0);
    return out;
  }

  async readPdu(timeoutMs = 3000, cap = 1024 * 1024): Promise<RawPdu> {
    await this.need(6, timeoutMs);
    const type = this.buffered[0]!;
    const length = this.buffered.readUInt32BE(2);
    if (length > cap) throw new LabClientError(`PDU type ${type} declares ${length} bytes (cap ${cap})`);
    const all = await this.readBytes(6 + length, timeoutMs);
    return { type, body: all.subarray(6) };
  }

  /** Resolves true when the peer closes within `ms`. */
  async closesWithin(ms: number): Promise<boolean> {
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((resolve) => {
        t = setTimeout(() => resolve(false), ms);
      }),
    ]);
    clearTimeout(t);
    return r;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export const STANDARD_CONTEXTS: RequestedContext[] = [
  { id: 1, abstractSyntax: UID.Verification, transferSyntaxes: [UID.ExplicitVRLittleEndian, UID.ImplicitVRLittleEndian] },
  { id: 3, abstractSyntax: UID.PatientRootFind, transferSyntaxes: [UID.ExplicitVRLittleEndian, UID.ImplicitVRLittleEndian] },
  { id: 5, abstractSyntax: UID.StudyRootFind, transferSyntaxes: [UID.ExplicitVRLittleEndian, UID.ImplicitVRLittleEndian] },
];

export type AssociateOutcome =
  | { kind: 'accepted'; ac: AssociateAc }
  | { kind: 'rejected'; rj: AssociateRj }
  | { kind: 'aborted'; source: number; reason: number };

export async function associate(
  c: LabClient,
  opts: { calledAe?: string; callingAe?: string; contexts?: RequestedContext[]; maxPduLength?: number } = {},
): Promise<AssociateOutcome> {
  c.write(
    encodeAssociateRq({
      calledAe: opts.calledAe ?? 'ANY-SCP',
      callingAe: opts.callingAe ?? 'LABTEST',
      contexts: opts.contexts ?? STANDARD_CONTEXTS,
      ...(opts.maxPduLength !== undefined ? { maxPduLength: opts.maxPduLength } : {}),
    }),
  );
  const pdu = await c.readPdu();
  if (pdu.type === PduType.AssociateAc) return { kind: 'accepted', ac: parseAssociateAc(pdu.body) };
  if (pdu.type === PduType.AssociateRj) return { kind: 'rejected', rj: parseAssociateRj(pdu.body) };
  if (pdu.type === PduType.Abort) return { kind: 'aborted', ...parseAbort(pdu.body) };
  throw new LabClientError(`unexpected PDU type ${pdu.type} in answer to A-ASSOCIATE-RQ`);
}

export type DimseAnswer =
  | { kind: 'message'; command: Command; dataSet: Buffer | null }
  | { kind: 'abort'; source: number; reason: number }
  | { kind: 'release-rp' };

/** Reads one DIMSE message (command plus optional data set), collecting fragments across PDUs. */
export async function readMessage(c: LabClient, timeoutMs = 3000, onPdu?: (p: RawPdu) => void): Promise<DimseAnswer> {
  const cmd: Buffer[] = [];
  const ds: Buffer[] = [];
  let command: Command | null = null;
  for (;;) {
    const pdu = await c.readPdu(timeoutMs);
    onPdu?.(pdu);
    if (pdu.type === PduType.Abort) return { kind: 'abort', ...parseAbort(pdu.body) };
    if (pdu.type === PduType.ReleaseRp) return { kind: 'release-rp' };
    if (pdu.type !== PduType.PData) throw new LabClientError(`unexpected PDU type ${pdu.type}`);
    for (const p of parsePData(pdu.body)) {
      if (command === null) {
        if (!p.isCommand) throw new LabClientError('data set before command');
        cmd.push(p.data);
        if (p.isLast) {
          command = parseCommand(Buffer.concat(cmd));
          if (command.dataSetType === NO_DATA_SET) return { kind: 'message', command, dataSet: null };
        }
      } else {
        ds.push(p.data);
        if (p.isLast) return { kind: 'message', command, dataSet: Buffer.concat(ds) };
      }
    }
  }
}

export function sendEcho(c: LabClient, contextId = 1, messageId = 1): void {
  const cmd = encodeCommand({
    commandField: CommandField.CEchoRq,
    affectedSopClass: UID.Verification,
    messageId,
    dataSetType: NO_DATA_SET,
  });
  c.write(encodePData([{ contextId, isCommand: true, isLast: true, data: cmd }]));
}

export function sendFind(
  c: LabClient,
  opts: { contextId: number; sopClass: string; messageId?: number; elements: Element[]; explicit: boolean },
): void {
  const cmd = encodeCommand({
    commandField: CommandField.CFindRq,
    affectedSopClass: opts.sopClass,
    messageId: opts.messageId ?? 1,
    priority: 0,
    dataSetType: 0x0000,
  });
  const ds = encodeDataSet(opts.elements, opts.explicit);
  c.write(
    Buffer.concat([
      encodePData([{ contextId: opts.contextId, isCommand: true, isLast: true, data: cmd }]),
      encodePData([{ contextId: opts.contextId, isCommand: false, isLast: true, data: ds }]),
    ]),
  );
}

export function sendCancel(c: LabClient, contextId: number, messageId: number): void {
  const cmd = encodeCommand({ commandField: CommandField.CCancelRq, messageIdRespondedTo: messageId, dataSetType: NO_DATA_SET });
  c.write(encodePData([{ contextId, isCommand: true, isLast: true, data: cmd }]));
}

/** Sends A-RELEASE-RQ and waits for A-RELEASE-RP. */
export async function release(c: LabClient): Promise<void> {
  c.write(encodeReleaseRq());
  const pdu = await c.readPdu();
  if (pdu.type !== PduType.ReleaseRp) throw new LabClientError(`expected A-RELEASE-RP, got PDU type ${pdu.type}`);
}

/** Reads C-FIND responses until the final one: the pending identifiers (decoded) and the final status. */
export async function collectFind(
  c: LabClient,
  explicit: boolean,
  onPending?: (n: number) => void,
): Promise<{ pending: Element[][]; status: number | null; aborted: boolean }> {
  const pending: Element[][] = [];
  for (;;) {
    const m = await readMessage(c);
    if (m.kind !== 'message') return { pending, status: null, aborted: m.kind === 'abort' };
    const status = m.command.status ?? -1;
    if (status === 0xff00 || status === 0xff01) {
      pending.push(m.dataSet ? parseDataSet(m.dataSet, explicit) : []);
      onPending?.(pending.length);
      continue;
    }
    return { pending, status, aborted: false };
  }
}
