/**
 * Where an export's bytes go: stdout, or a file written atomically. Text is gathered into
 * chunks of about 64 KiB and each chunk is awaited (the file handle's write, or stdout's
 * 'drain'), so a large export streams with bounded memory however fast the inventory reads.
 *
 * A file export is written to a temporary file beside the target (same directory, so the final
 * rename is atomic on POSIX file systems), mode 0600 like the inventory itself (an export says
 * which hosts run exposed medical systems), fsynced, then renamed over the target. A failed
 * export removes its temporary file and leaves any earlier file at the target untouched.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { type FileHandle, open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { messageOf, UsageError } from '../core/errors.js';

/** Bytes gathered before one write. */
export const SINK_CHUNK_CHARS = 64 * 1024;

export interface ExportSink {
  /** Queues text; resolves once any full chunk has been handed to the destination. */
  write(text: string): Promise<void>;
  /** Flushes, and for a file makes it appear at its target. */
  commit(): Promise<void>;
  /** Drops a half-written file (no-op for stdout). */
  abort(): Promise<void>;
  /** Where the export went, for messages. */
  readonly where: string;
}

/** Collects text into chunks and hands each full one to `flush`. */
function buffered(flush: (chunk: string) => Promise<void>): { write(text: string): Promise<void>; drain(): Promise<void> } {
  let parts: string[] = [];
  let size = 0;
  const drain = async (): Promise<void> => {
    if (size === 0) return;
    const chunk = parts.join('');
    parts = [];
    size = 0;
    await flush(chunk);
  };
  return {
    async write(text) {
      parts.push(text);
      size += text.length;
      if (size >= SINK_CHUNK_CHARS) await drain();
    },
    drain,
  };
}

/** An export to a writable stream (stdout): writes wait for 'drain' when the stream is full. */
export function streamSink(stream: NodeJS.WritableStream, where = 'stdout'): ExportSink {
  const buf = buffered(async (chunk) => {
    if (!stream.write(chunk)) await once(stream, 'drain');
  });
  return { where, write: buf.write, commit: buf.drain, abort: async () => {} };
}

/**
 * An export to `file`, atomically. Throws UsageError when the target's directory does not exist
 * or the target is a directory, before anything is written.
 */
export async function fileSink(file: string): Promise<ExportSink> {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  const dirStat = await stat(dir).catch(() => null);
  if (!dirStat?.isDirectory()) throw new UsageError(`--out: the directory ${dir} does not exist`);
  const targetStat = await stat(target).catch(() => null);
  if (targetStat?.isDirectory()) throw new UsageError(`--out: ${target} is a directory; give a file name`);

  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle;
  try {
    fh = await open(tmp, 'wx', 0o600);
  } catch (err) {
    throw new UsageError(`--out: cannot create a file in ${dir}: ${messageOf(err)}`, { cause: err });
  }
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await fh.close();
  };
  const buf = buffered(async (chunk) => {
    await fh.write(chunk, null, 'utf8');
  });
  return {
    where: target,
    write: buf.write,
    async commit() {
      await buf.drain();
      await fh.sync();
      await close();
      await rename(tmp, target);
    },
    async abort() {
      await close().catch(() => {});
      await unlink(tmp).catch(() => {});
    },
  };
}
