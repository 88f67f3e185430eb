/**
 * The per-run device-safety log (DESIGN.md): what was sent to which address and when, so
 * clinical engineering can correlate a device fault with a scan. One JSON line per action;
 * it names protocol actions, never payload values.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { SendLog } from '../core/bounded-socket.js';

export class SendLogFile {
  private readonly stream: WriteStream;
  readonly path: string;
  entries = 0;

  constructor(file: string) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.path = file;
    this.stream = createWriteStream(file, { flags: 'a', mode: 0o600 });
  }

  readonly log: SendLog = (e) => {
    this.entries++;
    this.stream.write(`{"t":"${new Date().toISOString()}","ip":"${e.ip}","port":${e.port},"sent":${JSON.stringify(e.what)}}\n`);
  };

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}
