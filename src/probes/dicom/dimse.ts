/**
 * Reading PDUs and DIMSE messages from a bounded socket. A peer may split a PDU across any
 * number of TCP segments or put several in one (PS3.8 §9.3.1): we read by length, and every
 * length is checked against a cap before a single byte of the body is awaited.
 */
import type { BoundedSocket } from '../../core/bounded-socket.js';
import { ProtocolError } from '../../core/errors.js';
import {
  type Abort,
  type Command,
  NO_DATA_SET,
  PDU_HEADER_LENGTH,
  PduType,
  type Pdv,
  parseAbort,
  parseCommand,
  parsePData,
  parsePduHeader,
} from './parse.js';

export interface RawPdu {
  type: number;
  body: Buffer;
}

export async function readPdu(sock: BoundedSocket, maxLength: number, timeoutMs?: number): Promise<RawPdu> {
  const header = await sock.read(PDU_HEADER_LENGTH, timeoutMs);
  const { type, length } = parsePduHeader(header);
  if (length > maxLength) {
    throw new ProtocolError(`PDU type ${type} declares ${length} bytes, more than the cap of ${maxLength}`);
  }
  const body = await sock.read(length, timeoutMs);
  return { type, body };
}

export type DimseEvent =
  | { kind: 'message'; contextId: number; command: Command; dataSet: Buffer | null }
  | { kind: 'abort'; abort: Abort }
  | { kind: 'release-rq' };

/** Command sets are a few hundred bytes; a larger one is hostile. */
const MAX_COMMAND_BYTES = 16 * 1024;

/**
 * Assembles DIMSE messages (command fragments, then data-set fragments when the command
 * says one follows) from P-DATA-TF PDUs, keeping PDVs that belong to the next message.
 */
export class DimseReader {
  private readonly queue: Pdv[] = [];

  constructor(
    private readonly sock: BoundedSocket,
    private readonly maxPdu: number,
    private readonly maxDataSet = 256 * 1024,
  ) {}

  private async nextPdv(): Promise<Pdv | { kind: 'abort'; abort: Abort } | { kind: 'release-rq' }> {
    for (;;) {
      const q = this.queue.shift();
      if (q) return q;
      const pdu = await readPdu(this.sock, this.maxPdu);
      if (pdu.type === PduType.PData) this.queue.push(...parsePData(pdu.body));
      else if (pdu.type === PduType.Abort) return { kind: 'abort', abort: parseAbort(pdu.body) };
      else if (pdu.type === PduType.ReleaseRq) return { kind: 'release-rq' };
      else throw new ProtocolError(`unexpected PDU type ${pdu.type} during DIMSE exchange`);
    }
  }

  async next(): Promise<DimseEvent> {
    const cmdParts: Buffer[] = [];
    let cmdBytes = 0;
    let contextId = -1;
    for (;;) {
      const p = await this.nextPdv();
      if (!('data' in p)) return p;
      if (!p.isCommand) throw new ProtocolError('data-set fragment where a command was expected');
      contextId = p.contextId;
      cmdBytes += p.data.length;
      if (cmdBytes > MAX_COMMAND_BYTES) throw new ProtocolError(`command set larger than ${MAX_COMMAND_BYTES} bytes`);
      cmdParts.push(p.data);
      if (p.isLast) break;
    }
    const command = parseCommand(cmdParts.length === 1 ? cmdParts[0]! : Buffer.concat(cmdParts));
    if (command.dataSetType === NO_DATA_SET) return { kind: 'message', contextId, command, dataSet: null };
    const dsParts: Buffer[] = [];
    let dsBytes = 0;
    for (;;) {
      const p = await this.nextPdv();
      if (!('data' in p)) return p;
      if (p.isCommand) throw new ProtocolError('command fragment inside a data set');
      dsBytes += p.data.length;
      if (dsBytes > this.maxDataSet) throw new ProtocolError(`data set larger than ${this.maxDataSet} bytes`);
      dsParts.push(p.data);
      if (p.isLast) break;
    }
    return { kind: 'message', contextId, command, dataSet: dsParts.length === 1 ? dsParts[0]! : Buffer.concat(dsParts) };
  }
}
