/**
 * Test support (not used by the product): the text of each page of a PDF that Chromium (Skia)
 * printed, so the tests can look for the TLP label on every page and for patient canaries
 * anywhere, without poppler's pdftotext (not installed everywhere).
 *
 * Just enough PDF for Skia's output: indirect objects in the clear, Flate streams, Type0 fonts
 * with Identity-H encoding and a ToUnicode CMap (bfchar and bfrange), simple fonts with one-byte
 * codes, and the text operators Tf, Tj and TJ with hex or literal strings. Skia positions runs
 * (often single glyphs) one by one, so the runs are joined as they come and the spaces are the
 * glyphs the page shows: two neighbouring table cells run together. Compare with whitespace
 * removed. Ligatures (ﬁ) are unfolded (NFKC).
 */
import { inflateSync } from 'node:zlib';

interface PdfObject {
  dict: string;
  stream: Buffer | null;
}

function parseObjects(pdf: Buffer): Map<number, PdfObject> {
  const text = pdf.toString('latin1');
  const objects = new Map<number, PdfObject>();
  const re = /(\d+)\s+0\s+obj\b/g;
  let m: RegExpExecArray | null = re.exec(text);
  while (m !== null) {
    const start = m.index + m[0].length;
    const end = text.indexOf('endobj', start);
    if (end < 0) break;
    const body = text.slice(start, end);
    const s = body.search(/\bstream\r?\n/);
    let dict = body;
    let stream: Buffer | null = null;
    if (s >= 0) {
      dict = body.slice(0, s);
      const dataStart = start + s + (body.slice(s, s + 8) === 'stream\r\n' ? 8 : 7);
      const len = /\/Length\s+(\d+)(?!\s+\d+\s+R)/.exec(dict);
      const dataEnd = len ? dataStart + Number(len[1]) : text.indexOf('endstream', dataStart);
      let data = pdf.subarray(dataStart, dataEnd);
      if (/\/FlateDecode/.test(dict)) {
        try {
          data = inflateSync(data);
        } catch {
          data = Buffer.alloc(0);
        }
      }
      stream = data;
    }
    objects.set(Number(m[1]), { dict, stream });
    re.lastIndex = end;
    m = re.exec(text);
  }
  return objects;
}

function hexToCodes(hex: string, bytes: number): number[] {
  const h = hex.replace(/\s+/g, '');
  const out: number[] = [];
  for (let i = 0; i + 2 * bytes <= h.length; i += 2 * bytes) out.push(Number.parseInt(h.slice(i, i + 2 * bytes), 16));
  return out;
}

function utf16(hex: string): string {
  const h = hex.replace(/\s+/g, '');
  let s = '';
  for (let i = 0; i + 4 <= h.length; i += 4) s += String.fromCharCode(Number.parseInt(h.slice(i, i + 4), 16));
  return s;
}

function parseCmap(cmap: string): Map<number, string> {
  const map = new Map<number, string>();
  for (const block of cmap.matchAll(/beginbfchar([\s\S]*?)endbfchar/g)) {
    for (const e of block[1]!.matchAll(/<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>/g)) map.set(Number.parseInt(e[1]!, 16), utf16(e[2]!));
  }
  for (const block of cmap.matchAll(/beginbfrange([\s\S]*?)endbfrange/g)) {
    for (const e of block[1]!.matchAll(/<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<([0-9A-Fa-f]+)>|\[([^\]]*)\])/g)) {
      const lo = Number.parseInt(e[1]!, 16);
      const hi = Number.parseInt(e[2]!, 16);
      if (e[4] !== undefined) {
        const base = Number.parseInt(e[4], 16);
        for (let c = lo; c <= hi && c - lo < 65536; c++) map.set(c, String.fromCharCode(base + (c - lo)));
      } else {
        const list = [...(e[5] ?? '').matchAll(/<([0-9A-Fa-f]+)>/g)].map((x) => utf16(x[1]!));
        for (let c = lo; c <= hi && c - lo < list.length; c++) map.set(c, list[c - lo]!);
      }
    }
  }
  return map;
}

interface Font {
  bytes: number;
  map: Map<number, string>;
}

function fontOf(objects: Map<number, PdfObject>, id: number): Font {
  const dict = objects.get(id)?.dict ?? '';
  const bytes = /\/Subtype\s*\/Type0/.test(dict) ? 2 : 1;
  const tu = /\/ToUnicode\s+(\d+)\s+0\s+R/.exec(dict);
  const cmap = tu ? objects.get(Number(tu[1]))?.stream?.toString('latin1') : undefined;
  return { bytes, map: cmap ? parseCmap(cmap) : new Map() };
}

function literal(s: string): string {
  return s.replace(/\\([nrtbf()\\]|[0-7]{1,3})/g, (_, e: string) => {
    if (/^[0-7]+$/.test(e)) return String.fromCharCode(Number.parseInt(e, 8));
    return ({ n: '\n', r: '\r', t: '\t', b: '\b', f: '\f' } as Record<string, string>)[e] ?? e;
  });
}

function decode(font: Font | undefined, s: { hex?: string; lit?: string }): string {
  const bytes = font?.bytes ?? 1;
  const codes = s.hex !== undefined ? hexToCodes(s.hex, bytes) : [...literal(s.lit ?? '')].map((c) => c.charCodeAt(0));
  return codes.map((c) => font?.map.get(c) ?? (bytes === 1 ? String.fromCharCode(c) : '')).join('');
}

function pageText(content: string, fonts: Map<string, Font>): string {
  const parts: string[] = [];
  let font: Font | undefined;
  const re = /\/([^\s/<>[\]()]+)\s+[-\d.]+\s+Tf|<([0-9A-Fa-f\s]*)>\s*Tj|\(((?:\\.|[^\\)])*)\)\s*Tj|\[((?:[^\]\\]|\\.)*)\]\s*TJ/g;
  for (const m of content.matchAll(re)) {
    if (m[1] !== undefined) font = fonts.get(m[1]);
    else if (m[2] !== undefined) parts.push(decode(font, { hex: m[2] }));
    else if (m[3] !== undefined) parts.push(decode(font, { lit: m[3] }));
    else if (m[4] !== undefined) {
      let run = '';
      for (const e of m[4].matchAll(/<([0-9A-Fa-f\s]*)>|\(((?:\\.|[^\\)])*)\)/g)) {
        run += e[1] !== undefined ? decode(font, { hex: e[1] }) : decode(font, { lit: e[2] ?? '' });
      }
      parts.push(run);
    }
  }
  return parts.join('').normalize('NFKC');
}

function refs(text: string): number[] {
  return [...text.matchAll(/(\d+)\s+0\s+R/g)].map((m) => Number(m[1]));
}

/** The text of every page, in page-tree order. */
export function pdfPageTexts(pdf: Buffer): string[] {
  const objects = parseObjects(pdf);
  const catalog = [...objects.values()].find((o) => /\/Type\s*\/Catalog\b/.test(o.dict));
  const rootRef = catalog ? /\/Pages\s+(\d+)\s+0\s+R/.exec(catalog.dict) : null;
  const pages: number[] = [];
  const walk = (id: number, depth: number): void => {
    const o = objects.get(id);
    if (!o || depth > 32) return;
    if (/\/Type\s*\/Pages\b/.test(o.dict)) {
      const kids = /\/Kids\s*\[([^\]]*)\]/.exec(o.dict);
      for (const k of refs(kids?.[1] ?? '')) walk(k, depth + 1);
    } else if (/\/Type\s*\/Page\b/.test(o.dict)) pages.push(id);
  };
  if (rootRef) walk(Number(rootRef[1]), 0);
  return pages.map((id) => {
    const page = objects.get(id)!;
    let resources = page.dict;
    const resRef = /\/Resources\s+(\d+)\s+0\s+R/.exec(page.dict);
    if (resRef) resources = objects.get(Number(resRef[1]))?.dict ?? '';
    const fonts = new Map<string, Font>();
    const fontDict = /\/Font\s*<<([^>]*)>>/.exec(resources);
    for (const f of (fontDict?.[1] ?? '').matchAll(/\/([^\s/]+)\s+(\d+)\s+0\s+R/g)) fonts.set(f[1]!, fontOf(objects, Number(f[2])));
    const contents = /\/Contents\s*(\[[^\]]*\]|\d+\s+0\s+R)/.exec(page.dict);
    const streams = refs(contents?.[1] ?? '').map((r) => objects.get(r)?.stream?.toString('latin1') ?? '');
    return pageText(streams.join('\n'), fonts);
  });
}
