/**
 * Reading a discovery file as a stream (STYLE.md §3: count as you read). A file is never read
 * whole: text arrives in 64 KiB chunks, lines are cut from them with a cap on each line's length,
 * and the file's SHA-256 is computed on the way, so a run that keeps the file's name can later
 * tell whether the file it re-reads (on --resume) is still the same one.
 *
 * Memory per file is one chunk plus one line (MAX_LINE_CHARS); the number of lines is not capped
 * here: what a parser keeps is capped by the endpoint collector (endpoints.ts).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { messageOf } from '../../core/errors.js';
import { DiscoveryFormatError } from './errors.js';

/**
 * Longest line accepted. masscan's longest record is a banner line, whose banner it cuts to
 * 64 KiB before escaping (out-json.c `banner_buffer[65536]`); every other record of every
 * format is under 200 characters. Past this cap the file is not a discovery file.
 */
export const MAX_LINE_CHARS = 256 * 1024;

/** Bytes read at a time. */
const CHUNK_BYTES = 64 * 1024;

export interface TextSource {
  /** The file as the user named it, used in every message. */
  readonly name: string;
  /** The text, in order, UTF-8 decoded, a leading byte-order mark removed. Iterate it once. */
  readonly chunks: AsyncIterable<string>;
  /** Hex SHA-256 of the bytes read so far (of the whole file once `chunks` is exhausted). */
  sha256(): string;
  /** Releases the file at once (after an error, before the end); stdin is left open. */
  close(): void;
}

async function* decode(stream: AsyncIterable<Buffer | string>, hash: ReturnType<typeof createHash>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let first = true;
  for await (const raw of stream) {
    const buf = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
    hash.update(buf);
    let text = decoder.write(buf);
    if (first && text.length > 0) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (text.length > 0) yield text;
  }
  const rest = decoder.end();
  if (rest.length > 0) yield rest;
}

function sourceOf(name: string, stream: AsyncIterable<Buffer | string>, close: () => void = () => {}): TextSource {
  const hash = createHash('sha256');
  let digest: string | null = null;
  const chunks = decode(stream, hash);
  return {
    name,
    chunks: {
      async *[Symbol.asyncIterator]() {
        yield* chunks;
        digest = hash.digest('hex');
      },
    },
    sha256: () => digest ?? hash.copy().digest('hex'),
    close,
  };
}

/** A source over text already in memory (tests, callers that hold the text). */
export function textSource(name: string, text: string | string[]): TextSource {
  const parts = typeof text === 'string' ? [text] : text;
  return sourceOf(
    name,
    (async function* () {
      for (const p of parts) yield Buffer.from(p, 'utf8');
    })(),
  );
}

/**
 * Opens a discovery file: a regular file or a pipe (`<(masscan ...)`), or `-` for `stdin`.
 * Directories, devices and missing files are refused with a DiscoveryFormatError.
 */
export async function openTextSource(file: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<TextSource> {
  if (file === '-') return sourceOf('stdin', stdin as AsyncIterable<Buffer | string>);
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(file);
  } catch (err) {
    throw new DiscoveryFormatError(file, 0, `cannot read the file: ${messageOf(err)}`, { cause: err });
  }
  if (!st.isFile() && !st.isFIFO()) throw new DiscoveryFormatError(file, 0, 'not a regular file or a pipe');
  const stream = fs.createReadStream(file, { highWaterMark: CHUNK_BYTES });
  /* Open errors (permissions) surface on the first read: give them the file's name. */
  return sourceOf(
    file,
    (async function* () {
      try {
        yield* stream as AsyncIterable<Buffer>;
      } catch (err) {
        throw new DiscoveryFormatError(file, 0, `cannot read the file: ${messageOf(err)}`, { cause: err });
      } finally {
        stream.destroy();
      }
    })(),
    () => stream.destroy(),
  );
}

/**
 * Calls `fn` with each line (without its `\n` or `\r\n`) and its 1-based number. A line longer
 * than `maxChars` is refused as soon as it passes the cap, before the rest of it is read.
 */
export async function forEachLine(
  src: TextSource,
  fn: (text: string, line: number) => void,
  maxChars: number = MAX_LINE_CHARS,
): Promise<number> {
  let partial = '';
  let line = 0;
  const tooLong = () =>
    new DiscoveryFormatError(src.name, line + 1, `line longer than ${maxChars} characters: this is not a scanner's output file`);
  const emit = (text: string) => {
    line++;
    fn(text.endsWith('\r') ? text.slice(0, -1) : text, line);
  };
  for await (const chunk of src.chunks) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl === -1) {
        if (partial.length + chunk.length - start > maxChars) throw tooLong();
        partial += chunk.slice(start);
        break;
      }
      if (partial.length + nl - start > maxChars) throw tooLong();
      const text = partial === '' ? chunk.slice(start, nl) : partial + chunk.slice(start, nl);
      partial = '';
      emit(text);
      start = nl + 1;
    }
  }
  if (partial !== '') emit(partial);
  return line;
}

/**
 * Reads the start of a source without consuming it, until `enough(head)` holds, the head passes
 * `maxChars`, or the source ends: the returned source yields the whole text again. Used to
 * tell formats apart by their first line.
 */
export async function peekSource(
  src: TextSource,
  enough: (head: string) => boolean,
  maxChars: number = MAX_LINE_CHARS,
): Promise<{ head: string; source: TextSource }> {
  const it = src.chunks[Symbol.asyncIterator]();
  const seen: string[] = [];
  let head = '';
  let done = false;
  while (!enough(head) && head.length <= maxChars) {
    const n = await it.next();
    if (n.done) {
      done = true;
      break;
    }
    seen.push(n.value);
    head += n.value;
  }
  return {
    head,
    source: {
      name: src.name,
      sha256: src.sha256,
      close: src.close,
      chunks: {
        async *[Symbol.asyncIterator]() {
          yield* seen;
          if (done) return;
          for (;;) {
            const n = await it.next();
            if (n.done) return;
            yield n.value;
          }
        },
      },
    },
  };
}
