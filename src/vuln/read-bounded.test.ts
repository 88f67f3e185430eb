import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { importVulnFile } from './db.js';
import { VulnDataError } from './errors.js';
import { readNvdFeed } from './nvd.js';
import { jsonArrayItems, openBounded } from './read-bounded.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const orthancFeed = path.join(here, 'fixtures', 'nvd', 'nvdcve-2.0-sample-orthanc.json');
const dir = mkdtempSync(path.join(tmpdir(), 'medsurface-caps-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A real gzip whose ISIZE trailer (RFC 1952 §2.3.1) is rewritten to `isize`. */
function gzipWithDeclaredSize(payload: Buffer, isize: number): Buffer {
  const gz = Buffer.from(gzipSync(payload));
  gz.writeUInt32LE(isize >>> 0, gz.length - 4);
  return gz;
}

async function drain(file: string, caps: { inputFileBytes: number; decompressedBytes: number }): Promise<number> {
  const src = await openBounded(file, caps);
  let n = 0;
  for await (const c of src.chunks) n += c.length;
  return n;
}

describe('importer caps', () => {
  test('a gzip that declares 2 GB uncompressed is refused before inflating', async () => {
    const file = path.join(dir, 'nvdcve-2.0-2gb.json.gz');
    writeFileSync(file, gzipWithDeclaredSize(readFileSync(orthancFeed), 2 * 1024 * 1024 * 1024));
    await assert.rejects(openBounded(file), (err: Error) => err instanceof VulnDataError && /declares 2147483648 bytes uncompressed/.test(err.message));
    await assert.rejects(importVulnFile(file, path.join(dir, 'data-2gb')), VulnDataError);
  });

  test('a gzip that lies about its size is cut while it inflates', async () => {
    const file = path.join(dir, 'bomb.json.gz');
    // 8 MiB of spaces inflate from a few KiB; the trailer claims 100 bytes.
    writeFileSync(file, gzipWithDeclaredSize(Buffer.alloc(8 * 1024 * 1024, 0x20), 100));
    await assert.rejects(drain(file, { inputFileBytes: 1024 * 1024, decompressedBytes: 1024 * 1024 }), (err: Error) => err instanceof VulnDataError && /after gunzip; cut/.test(err.message));
  });

  test('the same stream under the cap reads to the end', async () => {
    const file = path.join(dir, 'ok.json.gz');
    writeFileSync(file, gzipSync(Buffer.alloc(512 * 1024, 0x20)));
    assert.equal(await drain(file, { inputFileBytes: 1024 * 1024, decompressedBytes: 1024 * 1024 }), 512 * 1024);
  });

  test('a file over the size cap is refused', async () => {
    await assert.rejects(drain(orthancFeed, { inputFileBytes: 1000, decompressedBytes: 1000 }), /more than the 1000-byte cap/);
  });

  test('a CVE item over the per-record cap stops the feed', async () => {
    const items = readNvdFeed(orthancFeed, { items: { maxItemBytes: 1000, maxItems: 100 } });
    await assert.rejects(
      (async () => {
        for await (const _ of items) {
          // drain
        }
      })(),
      /larger than 1000 bytes/,
    );
  });

  test('too many items, a truncated feed, a feed without the array', async () => {
    const count = async (file: string, maxItems = 100) => {
      let n = 0;
      for await (const _ of readNvdFeed(file, { items: { maxItemBytes: 1 << 20, maxItems } })) n++;
      return n;
    };
    await assert.rejects(count(orthancFeed, 5), /more than 5 items/);
    const text = readFileSync(orthancFeed, 'utf8');
    const truncated = path.join(dir, 'nvdcve-2.0-truncated.json');
    writeFileSync(truncated, text.slice(0, Math.floor(text.length / 2)));
    await assert.rejects(count(truncated), /truncated/);
    const empty = path.join(dir, 'nvdcve-2.0-empty.json');
    writeFileSync(empty, '{"format":"NVD_CVE","version":"2.0","totalResults":0}');
    await assert.rejects(count(empty), /no top-level "vulnerabilities" array/);
  });
});

describe('jsonArrayItems', () => {
  test('splits items whatever the chunk boundaries, strings with braces and escapes included', async () => {
    const items = [{ cve: { id: 'a', d: 'x } ] { [ " \\" y' } }, { cve: { id: 'b', n: [1, { z: '}' }] } }, { cve: {} }];
    const text = JSON.stringify({ format: 'NVD_CVE', note: 'vulnerabilities', vulnerabilities: items, tail: { vulnerabilities: [{ no: 1 }] } });
    const buf = Buffer.from(text);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: buf.length }), { maxLength: 20 }), async (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(buf.subarray(prev, p));
          prev = p;
        }
        chunks.push(buf.subarray(prev));
        const got: unknown[] = [];
        for await (const t of jsonArrayItems(Readable.from(chunks), 'vulnerabilities', { maxItemBytes: 10_000, maxItems: 10 })) got.push(JSON.parse(t));
        assert.deepEqual(got, items);
      }),
      { numRuns: 200 },
    );
  });

  test('never throws anything but VulnDataError on arbitrary bytes (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        try {
          for await (const _ of jsonArrayItems(Readable.from([Buffer.from(bytes)]), 'vulnerabilities', { maxItemBytes: 100, maxItems: 5 })) {
            // drain
          }
        } catch (err) {
          assert.ok(err instanceof VulnDataError, String(err));
        }
      }),
      { numRuns: 500 },
    );
  });
});
