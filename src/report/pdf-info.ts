/**
 * The PDF's document information (ISO 32000-1 §14.3.3: Title, Subject, Keywords...), where the
 * TLP marking belongs in file metadata. Chromium sets only the Title (from <title>), so the
 * full dictionary is added as an incremental update (§7.5.6): a new Info object, a one-entry
 * cross-reference section and a trailer pointing back to the previous one. The original bytes
 * stay as they are; readers take the newest trailer.
 *
 * Only a file whose last cross-reference section is a classic `xref` table (what Chromium's
 * Skia writes) is updated; anything else is refused with PdfMetadataError and the caller keeps
 * the file as Chromium made it. Strings are written as UTF-16BE hex strings, so no title
 * character needs escaping.
 */

export class PdfMetadataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PdfMetadataError';
  }
}

export interface PdfInfo {
  Title?: string;
  Subject?: string;
  Keywords?: string;
  Author?: string;
  Creator?: string;
  Producer?: string;
}

/** How far from the end the last `startxref` and trailer are looked for. */
const TAIL_BYTES = 4096;

/** A PDF text string as UTF-16BE hex with a byte order mark: `<FEFF...>`. */
export function pdfHexString(s: string): string {
  let hex = 'FEFF';
  for (let i = 0; i < s.length; i++) hex += s.charCodeAt(i).toString(16).padStart(4, '0').toUpperCase();
  return `<${hex}>`;
}

/** `D:20260310120000Z` for a PDF date. */
export function pdfDate(iso: string): string {
  const d = new Date(iso);
  const t = Number.isNaN(d.getTime()) ? new Date() : d;
  return `D:${t.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

function lastTrailer(pdf: Buffer): { prevXref: number; size: number; root: string; id: string | null } {
  const tail = pdf.subarray(Math.max(0, pdf.length - TAIL_BYTES)).toString('latin1');
  const sx = /startxref\s+(\d+)\s+%%EOF\s*$/.exec(tail);
  if (!sx) throw new PdfMetadataError('no startxref at the end of the file');
  const prevXref = Number(sx[1]);
  if (prevXref >= pdf.length || pdf.subarray(prevXref, prevXref + 4).toString('latin1') !== 'xref') {
    throw new PdfMetadataError('the last cross-reference section is not a classic xref table');
  }
  const t = tail.lastIndexOf('trailer');
  if (t < 0) throw new PdfMetadataError('no trailer');
  const trailer = tail.slice(t, tail.lastIndexOf('startxref'));
  const size = /\/Size\s+(\d+)/.exec(trailer);
  const root = /\/Root\s+(\d+\s+\d+\s+R)/.exec(trailer);
  if (!size || !root) throw new PdfMetadataError('trailer without /Size or /Root');
  const id = /\/ID\s*(\[[^\]]*\])/.exec(trailer);
  return { prevXref, size: Number(size[1]), root: root[1]!, id: id ? id[1]! : null };
}

/** The PDF with a new document information dictionary (the given entries, plus creation and modification dates). */
export function setPdfInfo(pdf: Buffer, info: PdfInfo, createdAt: string): Buffer {
  const { prevXref, size, root, id } = lastTrailer(pdf);
  const date = pdfDate(createdAt);
  const entries = Object.entries(info)
    .filter(([, v]) => typeof v === 'string')
    .map(([k, v]) => `/${k} ${pdfHexString(v as string)}`);
  entries.push(`/CreationDate (${date})`, `/ModDate (${date})`);
  const lead = pdf[pdf.length - 1] === 0x0a ? '' : '\n';
  const objOffset = pdf.length + lead.length;
  const obj = `${size} 0 obj\n<< ${entries.join('\n')} >>\nendobj\n`;
  const xrefOffset = objOffset + obj.length;
  const xref = `xref\n${size} 1\n${String(objOffset).padStart(10, '0')} 00000 n\r\n`;
  const trailer = `trailer\n<< /Size ${size + 1} /Root ${root} /Info ${size} 0 R /Prev ${prevXref}${id ? ` /ID ${id}` : ''} >>\nstartxref\n${xrefOffset}\n%%EOF\n`;
  return Buffer.concat([pdf, Buffer.from(lead + obj + xref + trailer, 'latin1')]);
}

function decodeHexString(hex: string): string {
  const h = hex.replace(/\s+/g, '');
  const bytes = Buffer.from(h.length % 2 === 0 ? h : `${h}0`, 'hex');
  if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    let s = '';
    for (let i = 2; i + 1 < bytes.length; i += 2) s += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
    return s;
  }
  return bytes.toString('latin1');
}

/** The newest document information dictionary's text entries (hex or plain literal strings without escapes). */
export function readPdfInfo(pdf: Buffer): Record<string, string> {
  const tail = pdf.subarray(Math.max(0, pdf.length - TAIL_BYTES)).toString('latin1');
  const t = tail.lastIndexOf('trailer');
  const ref = t < 0 ? null : /\/Info\s+(\d+)\s+(\d+)\s+R/.exec(tail.slice(t));
  if (!ref) return {};
  const text = pdf.toString('latin1');
  const start = text.lastIndexOf(`\n${ref[1]} ${ref[2]} obj`);
  if (start < 0) return {};
  const end = text.indexOf('endobj', start);
  const dict = text.slice(start, end < 0 ? undefined : end);
  const out: Record<string, string> = {};
  for (const m of dict.matchAll(/\/([A-Za-z]+)\s*(?:<([0-9A-Fa-f\s]*)>|\(([^()\\]*)\))/g)) {
    out[m[1]!] = m[2] !== undefined ? decodeHexString(m[2]) : m[3]!;
  }
  return out;
}

/** Pages of a PDF: the largest /Count of its page-tree nodes (the root's). 0 when none is found. */
export function pdfPageCount(pdf: Buffer): number {
  let max = 0;
  for (const m of pdf.toString('latin1').matchAll(/\/Type\s*\/Pages\b[^>]*?\/Count\s+(\d+)/g)) max = Math.max(max, Number(m[1]));
  return max;
}
