/**
 * Bounded reading of the files the vulnerability database imports: a size cap on the file, a
 * byte cap on what gunzip produces, and a streaming splitter that hands out the items of one
 * top-level JSON array one at a time, so a 300 MiB NVD feed never sits in memory whole.
 *
 * gzip (RFC 1952 §2.3.1) ends with ISIZE, the uncompressed length modulo 2^32. A file whose ISIZE
 * already exceeds the cap is refused before inflating anything; because ISIZE can lie (and wraps
 * past 4 GiB), the inflated bytes are also counted as they stream and the stream is cut at the cap.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { VulnDataError } from './errors.js';
import { VULN_LIMITS } from './limits.js';

export interface ReadCaps {
  /** Bytes of the file on disk. */
  inputFileBytes: number;
  /** Bytes after gunzip (equal to the file size for plain files). */
  decompressedBytes: number;
}

export const DEFAULT_READ_CAPS: ReadCaps = {
  inputFileBytes: VULN_LIMITS.inputFileBytes,
  decompressedBytes: VULN_LIMITS.decompressedBytes,
};

async function readAt(file: string, position: number, length: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, position);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export interface BoundedSource {
  gzip: boolean;
  /** File size on disk. */
  size: number;
  /** ISIZE of a gzip file (uncompressed length mod 2^32), as declared by the file. */
  declaredSize?: number;
  chunks: AsyncGenerator<Buffer>;
}

/**
 * Opens a file for bounded streaming. gzip is recognised by its magic bytes (1f 8b), whatever the
 * name. Throws VulnDataError when the file or its declared inflated size is over the caps; the
 * returned generator throws VulnDataError when the inflated bytes pass the cap.
 */
export async function openBounded(file: string, caps: ReadCaps = DEFAULT_READ_CAPS): Promise<BoundedSource> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(file);
  } catch (err) {
    throw new VulnDataError(`${file}: cannot read`, { cause: err });
  }
  if (!st.isFile()) throw new VulnDataError(`${file}: not a regular file`);
  if (st.size > caps.inputFileBytes) {
    throw new VulnDataError(`${file}: ${st.size} bytes, more than the ${caps.inputFileBytes}-byte cap`);
  }
  const magic = await readAt(file, 0, 2);
  const gzip = magic.length === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  let declaredSize: number | undefined;
  if (gzip) {
    if (st.size < 18) throw new VulnDataError(`${file}: truncated gzip file`);
    declaredSize = (await readAt(file, st.size - 4, 4)).readUInt32LE(0);
    if (declaredSize > caps.decompressedBytes) {
      throw new VulnDataError(
        `${file}: gzip declares ${declaredSize} bytes uncompressed, more than the ${caps.decompressedBytes}-byte cap`,
      );
    }
  }
  const limit = gzip ? caps.decompressedBytes : caps.inputFileBytes;
  async function* chunks(): AsyncGenerator<Buffer> {
    const src = createReadStream(file, { highWaterMark: 64 * 1024 });
    const gunzip = gzip ? createGunzip({ chunkSize: 64 * 1024 }) : null;
    if (gunzip) src.on('error', (err) => gunzip.destroy(err));
    const readable = gunzip ? src.pipe(gunzip) : src;
    let total = 0;
    try {
      for await (const chunk of readable as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > limit) {
          throw new VulnDataError(`${file}: more than ${limit} bytes${gzip ? ' after gunzip' : ''}; cut`);
        }
        yield chunk;
      }
    } catch (err) {
      if (err instanceof VulnDataError) throw err;
      throw new VulnDataError(`${file}: ${gzip ? 'gunzip' : 'read'} failed`, { cause: err });
    } finally {
      src.destroy();
      gunzip?.destroy();
    }
  }
  const out: BoundedSource = { gzip, size: st.size, chunks: chunks() };
  if (declaredSize !== undefined) out.declaredSize = declaredSize;
  return out;
}

/** Reads a whole (possibly gzipped) file as UTF-8, refusing more than `maxBytes` after gunzip. */
export async function readBoundedText(file: string, maxBytes: number, caps: ReadCaps = DEFAULT_READ_CAPS): Promise<string> {
  const src = await openBounded(file, { inputFileBytes: Math.min(caps.inputFileBytes, maxBytes), decompressedBytes: Math.min(caps.decompressedBytes, maxBytes) });
  const parts: Buffer[] = [];
  for await (const c of src.chunks) parts.push(c);
  return Buffer.concat(parts).toString('utf8');
}

/** The first `n` bytes (after gunzip) of a file, for telling feeds, catalogues and advisories apart. */
export async function readHead(file: string, n: number, caps: ReadCaps = DEFAULT_READ_CAPS): Promise<string> {
  const src = await openBounded(file, caps);
  const parts: Buffer[] = [];
  let got = 0;
  try {
    for await (const c of src.chunks) {
      parts.push(c);
      got += c.length;
      if (got >= n) break;
    }
  } finally {
    await src.chunks.return(undefined);
  }
  return Buffer.concat(parts).subarray(0, n).toString('utf8');
}

export interface ArrayItemCaps {
  maxItemBytes: number;
  maxItems: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Streams the items of the array held by top-level key `arrayKey` of a JSON object, as the raw
 * text of each item (each item must be an object). Only the structure is tracked (depth, strings,
 * escapes: multi-byte UTF-8 never contains these ASCII bytes), so memory is bounded by one item.
 * Throws VulnDataError on an item over `maxItemBytes`, more than `maxItems` items, a missing
 * array, or input that ends inside the array.
 */
export async function* jsonArrayItems(chunks: AsyncIterable<Buffer>, arrayKey: string, caps: ArrayItemCaps): AsyncGenerator<string> {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let expectKey = false;
  let keyBytes: number[] | null = null;
  let lastKey: string | null = null;
  let inArray = false;
  let arrayDone = false;
  let inItem = false;
  let parts: Buffer[] = [];
  let itemBytes = 0;
  let items = 0;

  for await (const chunk of chunks) {
    let segStart = inItem ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (b === BACKSLASH) escaped = true;
        else if (b === QUOTE) {
          inString = false;
          if (keyBytes) {
            lastKey = Buffer.from(keyBytes).toString('utf8');
            keyBytes = null;
            expectKey = false;
          }
        } else if (keyBytes && keyBytes.length < 256) keyBytes.push(b);
        continue;
      }
      switch (b) {
        case QUOTE:
          inString = true;
          if (depth === 1 && expectKey) keyBytes = [];
          break;
        case 0x7b: // {
        case 0x5b: // [
          if (inArray && depth === 2 && !inItem) {
            if (b !== 0x7b) throw new VulnDataError(`items of "${arrayKey}" must be objects`);
            inItem = true;
            segStart = i;
            parts = [];
            itemBytes = 0;
          }
          if (depth === 1 && b === 0x5b && lastKey === arrayKey && !arrayDone) inArray = true;
          depth++;
          if (depth === 1) expectKey = true;
          if (depth > 10_000) throw new VulnDataError('JSON nested too deeply');
          break;
        case 0x7d: // }
        case 0x5d: // ]
          depth--;
          if (depth < 0) throw new VulnDataError('unbalanced JSON');
          if (inItem && depth === 2) {
            const tail = chunk.subarray(segStart, i + 1);
            itemBytes += tail.length;
            if (itemBytes > caps.maxItemBytes) throw new VulnDataError(`an item of "${arrayKey}" is larger than ${caps.maxItemBytes} bytes`);
            parts.push(tail);
            const text = Buffer.concat(parts).toString('utf8');
            parts = [];
            inItem = false;
            segStart = -1;
            items++;
            if (items > caps.maxItems) throw new VulnDataError(`more than ${caps.maxItems} items in "${arrayKey}"`);
            yield text;
          } else if (inArray && depth === 1) {
            inArray = false;
            arrayDone = true;
          }
          break;
        case 0x2c: // ,
          if (depth === 1) {
            expectKey = true;
            lastKey = null;
          }
          break;
        default:
          break;
      }
    }
    if (inItem && segStart >= 0) {
      const rest = chunk.subarray(segStart);
      itemBytes += rest.length;
      if (itemBytes > caps.maxItemBytes) throw new VulnDataError(`an item of "${arrayKey}" is larger than ${caps.maxItemBytes} bytes`);
      parts.push(rest);
    }
  }
  if (inArray || inItem) throw new VulnDataError(`input ends inside "${arrayKey}" (truncated file)`);
  if (!arrayDone) throw new VulnDataError(`no top-level "${arrayKey}" array`);
}
