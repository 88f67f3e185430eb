/**
 * The PDF document-information update (pdf-info.ts) on hand-made PDFs: the new Info object,
 * cross-reference section and trailer are where they say they are, the old bytes untouched,
 * text strings round-trip (non-ASCII included), and a file it cannot update safely is refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PdfMetadataError, pdfDate, pdfHexString, pdfPageCount, readPdfInfo, setPdfInfo } from './pdf-info.js';

/** A minimal one-page PDF with a classic xref table and correct offsets. */
function minimalPdf(): Buffer {
  const objs = [
    '1 0 obj\n<</Title (old title)\n/Producer (Skia/PDF m156)>>\nendobj\n',
    '2 0 obj\n<</Type /Catalog\n/Pages 3 0 R>>\nendobj\n',
    '3 0 obj\n<</Type /Pages\n/Count 1\n/Kids [4 0 R]>>\nendobj\n',
    '4 0 obj\n<</Type /Page\n/MediaBox [0 0 595 842]\n/Parent 3 0 R>>\nendobj\n',
  ];
  let body = '%PDF-1.4\n';
  const offsets: number[] = [];
  for (const o of objs) {
    offsets.push(body.length);
    body += o;
  }
  const xref = body.length;
  body += `xref\n0 5\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  body += `trailer\n<</Size 5\n/Root 2 0 R\n/Info 1 0 R>>\nstartxref\n${xref}\n%%EOF`;
  return Buffer.from(body, 'latin1');
}

test('setPdfInfo appends an Info object, a one-entry xref section and a trailer chained to the old one', () => {
  const pdf = minimalPdf();
  const out = setPdfInfo(pdf, { Title: 'TLP:AMBER | Report', Subject: 'TLP:AMBER: assessment', Keywords: 'TLP:AMBER' }, '2026-03-10T12:00:00.000Z');
  assert.deepEqual(out.subarray(0, pdf.length), pdf, 'the original bytes are kept');
  const text = out.toString('latin1');
  const tail = text.slice(pdf.length);
  const startxref = Number(/startxref\n(\d+)\n%%EOF\n$/.exec(tail)![1]);
  assert.equal(text.slice(startxref, startxref + 9), 'xref\n5 1\n');
  const entry = text.slice(startxref + 9, startxref + 29);
  assert.match(entry, /^\d{10} 00000 n\r\n$/, 'a 20-byte entry');
  const objAt = Number(entry.slice(0, 10));
  assert.equal(text.slice(objAt, objAt + 8), '5 0 obj\n');
  const oldXref = Number(/startxref\n(\d+)/.exec(pdf.toString('latin1'))![1]);
  assert.match(tail, new RegExp(`trailer\\n<< /Size 6 /Root 2 0 R /Info 5 0 R /Prev ${oldXref} >>`));
  assert.deepEqual(readPdfInfo(out), {
    Title: 'TLP:AMBER | Report',
    Subject: 'TLP:AMBER: assessment',
    Keywords: 'TLP:AMBER',
    CreationDate: 'D:20260310120000Z',
    ModDate: 'D:20260310120000Z',
  });
  assert.deepEqual(readPdfInfo(pdf), { Title: 'old title', Producer: 'Skia/PDF m156' });
  assert.equal(pdfPageCount(out), 1);
});

test('text strings are UTF-16BE hex: any title round-trips, parentheses and backslashes need no escaping', () => {
  assert.equal(pdfHexString('A'), '<FEFF0041>');
  const title = 'TLP:RED | Klinik Müller (Zürich) \\ 病院 🏥';
  const out = setPdfInfo(minimalPdf(), { Title: title }, '2026-01-02T03:04:05Z');
  assert.equal(readPdfInfo(out).Title, title);
  assert.equal(pdfDate('2026-01-02T03:04:05Z'), 'D:20260102030405Z');
});

test('a file whose last cross-reference section is not a classic table, or without a trailer, is refused', () => {
  const stream = Buffer.from('%PDF-1.7\n1 0 obj\n<</Type /XRef /Size 2 /Root 2 0 R>>\nstream\nxx\nendstream\nendobj\nstartxref\n9\n%%EOF', 'latin1');
  assert.throws(() => setPdfInfo(stream, { Title: 'x' }, '2026-01-01T00:00:00Z'), PdfMetadataError);
  assert.throws(() => setPdfInfo(Buffer.from('%PDF-1.4\nnothing here'), { Title: 'x' }, '2026-01-01T00:00:00Z'), PdfMetadataError);
  const noRoot = Buffer.from(minimalPdf().toString('latin1').replace('/Root 2 0 R\n', ''), 'latin1');
  assert.throws(() => setPdfInfo(noRoot, { Title: 'x' }, '2026-01-01T00:00:00Z'), /without \/Size or \/Root/);
});
