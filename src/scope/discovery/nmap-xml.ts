/**
 * nmap `-oX` XML (and masscan `-oX`, which borrows nmap's shape: out-xml.c), read as a stream
 * of `<host>` elements so that memory is one element, whatever the size of the file.
 *
 * The file is walked by a small tokenizer that knows just enough XML to find the boundaries of
 * the children of `<nmaprun>`: comments, processing instructions, CDATA and quoted attribute
 * values cannot fool it, start and end tags must balance. Each complete `<host>` element (at
 * most MAX_HOST_ELEMENT_CHARS) is then checked and parsed by fast-xml-parser, and its open TCP
 * ports kept: host/address[@addrtype=ipv4|ipv6]/@addr, ports/port[@protocol=tcp]/@portid with
 * state/@state = "open" (nmap's "open|filtered" is not an open port).
 *
 * No DTD is ever processed: nmap writes `<!DOCTYPE nmaprun>` (no internal subset, no
 * entities), which is the one DOCTYPE allowed; any other, and any `<!ENTITY`, is refused. The
 * elements given to fast-xml-parser never hold a DOCTYPE, and entity processing is off
 * (addresses and port numbers never need one).
 *
 * Address family comes from the address text: masscan writes addrtype="ipv4" for IPv6 hosts
 * too (out-xml.c prints a constant `addrtype=\"ipv4\"`).
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { ParseContext } from './context.js';
import type { TextSource } from './text-source.js';

/** Largest `<host>` element. nmap hosts with every script output run to tens of KB. */
export const MAX_HOST_ELEMENT_CHARS = 4 * 1024 * 1024;
/** Largest single token (tag, comment, PI) outside a host. */
const MAX_TOKEN_CHARS = 1024 * 1024;
/** Deepest element nesting (nmap's is 6: nmaprun/host/ports/port/script/table...). */
const MAX_DEPTH = 64;

/** The only DOCTYPE accepted, as nmap writes it (output.cc: `<!DOCTYPE nmaprun>`). */
const NMAP_DOCTYPE = /^<!DOCTYPE\s+nmaprun\s*>$/;

interface HostXml {
  /** Line of `<host` in the file. */
  line: number;
  xml: string;
}

/** Counts `\n` in s[from, to). */
function newlines(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = s.indexOf('\n', from); i !== -1 && i < to; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

/** End (exclusive) of the tag starting at `lt`, skipping quoted attribute values; -1 if not in `buf` yet. */
function tagEnd(buf: string, lt: number): number {
  let quote = '';
  for (let i = lt + 1; i < buf.length; i++) {
    const c = buf[i];
    if (quote !== '') {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '>') {
      return i + 1;
    }
  }
  return -1;
}

type Token =
  | { kind: 'skip' }
  | { kind: 'cdata' }
  | { kind: 'doctype'; text: string }
  | { kind: 'end'; name: string }
  | { kind: 'start'; name: string; selfClosing: boolean };

/**
 * Streams the `<host>` elements of an nmaprun document. Throws DiscoveryFormatError (with the
 * line) for anything that is not a well-formed nmaprun document of bounded parts.
 */
export async function* hostElements(src: TextSource, ctx: ParseContext): AsyncGenerator<HostXml> {
  let buf = '';
  let line = 1; /* line of buf[0] */
  const stack: string[] = [];
  let rootSeen = false;
  let rootClosed = false;
  let doctypeSeen = false;
  let capture: { parts: string[]; size: number; line: number } | null = null;
  const fail = (at: number, message: string) => ctx.error(at, message);

  /** Processes complete tokens of `buf`; returns the number of characters consumed. */
  const step = (final: boolean, out: HostXml[]): number => {
    let pos = 0;
    let at = line; /* line of buf[pos] */
    const text = (from: number, to: number) => {
      if (from >= to) return;
      if (capture !== null) {
        capture.parts.push(buf.slice(from, to));
        capture.size += to - from;
        if (capture.size > MAX_HOST_ELEMENT_CHARS) throw fail(capture.line, `<host> element longer than ${MAX_HOST_ELEMENT_CHARS} characters`);
      } else if (stack.length === 0) {
        const piece = buf.slice(from, to);
        const k = piece.search(/\S/);
        if (k !== -1) {
          throw fail(at + newlines(piece, 0, k), rootClosed ? 'text after </nmaprun>' : 'text outside the <nmaprun> element: not an nmap XML file');
        }
      }
    };
    for (;;) {
      const lt = buf.indexOf('<', pos);
      if (lt === -1) {
        text(pos, buf.length);
        at += newlines(buf, pos, buf.length);
        pos = buf.length;
        break;
      }
      text(pos, lt);
      at += newlines(buf, pos, lt);
      pos = lt;
      if (!final && buf.length - lt < 9) break; /* not enough to tell `<!--` from `<![CDATA[` */
      let end: number;
      let token: Token;
      if (buf.startsWith('<!--', lt)) {
        const e = buf.indexOf('-->', lt + 4);
        end = e === -1 ? -1 : e + 3;
        token = { kind: 'skip' };
      } else if (buf.startsWith('<![CDATA[', lt)) {
        const e = buf.indexOf(']]>', lt + 9);
        end = e === -1 ? -1 : e + 3;
        token = { kind: 'cdata' };
      } else if (buf.startsWith('<?', lt)) {
        const e = buf.indexOf('?>', lt + 2);
        end = e === -1 ? -1 : e + 2;
        token = { kind: 'skip' };
      } else if (buf.startsWith('<!', lt)) {
        end = buf.indexOf('>', lt);
        if (end !== -1) end++;
        token = { kind: 'doctype', text: end === -1 ? '' : buf.slice(lt, end) };
      } else if (buf.startsWith('</', lt)) {
        end = buf.indexOf('>', lt);
        if (end !== -1) end++;
        token = { kind: 'end', name: end === -1 ? '' : buf.slice(lt + 2, end - 1).trim() };
      } else {
        end = tagEnd(buf, lt);
        const m = end === -1 ? null : /^<([A-Za-z_][\w.:-]*)/.exec(buf.slice(lt, Math.min(end, lt + 256)));
        if (end !== -1 && m === null) throw fail(at, 'malformed tag: not well-formed XML');
        token = { kind: 'start', name: m?.[1] ?? '', selfClosing: end !== -1 && buf[end - 2] === '/' };
      }
      if (end === -1) {
        if (buf.length - lt > (capture !== null ? MAX_HOST_ELEMENT_CHARS - capture.size : MAX_TOKEN_CHARS)) {
          throw fail(at, capture !== null ? `<host> element longer than ${MAX_HOST_ELEMENT_CHARS} characters` : `markup longer than ${MAX_TOKEN_CHARS} characters`);
        }
        break; /* wait for more text */
      }
      if (capture === null && end - lt > MAX_TOKEN_CHARS) throw fail(at, `markup longer than ${MAX_TOKEN_CHARS} characters`);
      switch (token.kind) {
        case 'skip':
          /* Not kept, but part of the element's size: a host cannot hide its bulk in comments. */
          if (capture !== null) capture.size += end - lt;
          break;
        case 'cdata':
          if (stack.length === 0) throw fail(at, 'CDATA outside the <nmaprun> element');
          text(lt, end);
          break;
        case 'doctype':
          if (!NMAP_DOCTYPE.test(token.text)) {
            throw fail(at, 'DTD declarations are refused (no entities are ever expanded); nmap writes only <!DOCTYPE nmaprun>');
          }
          if (rootSeen || doctypeSeen) throw fail(at, '<!DOCTYPE> after the start of the document');
          doctypeSeen = true;
          break;
        case 'end': {
          const open = stack.pop();
          if (open === undefined) throw fail(at, `unexpected </${token.name.slice(0, 40)}>`);
          if (open !== token.name) throw fail(at, `</${token.name.slice(0, 40)}> closes <${open}>: not well-formed XML`);
          if (capture !== null) {
            capture.parts.push(buf.slice(lt, end));
            capture.size += end - lt;
            if (stack.length === 1) {
              out.push({ line: capture.line, xml: capture.parts.join('') });
              capture = null;
            }
          }
          if (stack.length === 0) rootClosed = true;
          break;
        }
        case 'start': {
          if (stack.length === 0) {
            if (rootClosed) throw fail(at, 'a second root element after </nmaprun>');
            if (token.name !== 'nmaprun') throw fail(at, `root element <${token.name.slice(0, 40)}>, not <nmaprun>: not an nmap or masscan XML file`);
            rootSeen = true;
            /* masscan -oX: <nmaprun scanner="masscan" ...> (out-xml.c). */
            ctx.stats.format = /\sscanner\s*=\s*["']masscan["']/.test(buf.slice(lt, end)) ? 'masscan-xml' : 'nmap-xml';
          }
          const startsHost = capture === null && stack.length === 1 && token.name === 'host';
          if (startsHost) capture = { parts: [], size: 0, line: at };
          if (capture !== null) {
            capture.parts.push(buf.slice(lt, end));
            capture.size += end - lt;
          }
          if (token.selfClosing) {
            if (startsHost && capture !== null) {
              out.push({ line: capture.line, xml: capture.parts.join('') });
              capture = null;
            }
            if (stack.length === 0) rootClosed = true;
          } else {
            if (stack.length >= MAX_DEPTH) throw fail(at, `elements nested deeper than ${MAX_DEPTH}`);
            stack.push(token.name);
          }
          break;
        }
      }
      if (capture !== null && capture.size > MAX_HOST_ELEMENT_CHARS) {
        throw fail(capture.line, `<host> element longer than ${MAX_HOST_ELEMENT_CHARS} characters`);
      }
      at += newlines(buf, lt, end);
      pos = end;
    }
    line = at;
    return pos;
  };

  let trailingNewline = false;
  for await (const chunk of src.chunks) {
    trailingNewline = chunk.endsWith('\n');
    buf += chunk;
    const out: HostXml[] = [];
    buf = buf.slice(step(false, out));
    yield* out;
  }
  const out: HostXml[] = [];
  buf = buf.slice(step(true, out));
  yield* out;
  ctx.stats.lines = trailingNewline ? line - 1 : line;
  if (buf.trim() !== '') throw fail(line, 'the file ends inside a tag, comment or declaration (truncated?)');
  if (capture !== null) throw fail((capture as { line: number }).line, 'the file ends inside this <host> element (truncated?)');
  if (!rootSeen) throw fail(0, 'no <nmaprun> element: not an nmap or masscan XML file');
  ctx.stats.complete = rootClosed;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: false,
  htmlEntities: false,
  isArray: (name) => name === 'address' || name === 'port' || name === 'ports',
});

interface XmlNode {
  [key: string]: unknown;
}

function nodes(v: unknown): XmlNode[] {
  if (Array.isArray(v)) return v.filter((x): x is XmlNode => x !== null && typeof x === 'object');
  return v !== null && typeof v === 'object' ? [v as XmlNode] : [];
}

/** The open TCP ports of one `<host>` element go to the collector. */
function readHost(ctx: ParseContext, h: HostXml): void {
  const valid = XMLValidator.validate(h.xml);
  if (valid !== true) throw ctx.error(h.line + valid.err.line - 1, `not well-formed XML: ${valid.err.msg}`);
  const host = nodes((parser.parse(h.xml) as XmlNode).host)[0];
  if (host === undefined) return; /* <host/>: nothing to read */
  const address = nodes(host.address).find((a) => a.addrtype === 'ipv4' || a.addrtype === 'ipv6');
  const ports = nodes(host.ports).flatMap((p) => nodes(p.port));
  if (address === undefined) {
    if (ports.length > 0) throw ctx.error(h.line, '<host> with ports but no IPv4 or IPv6 <address>');
    return;
  }
  for (const p of ports) {
    ctx.stats.records++;
    const proto = typeof p.protocol === 'string' ? p.protocol : '';
    if (proto !== 'tcp') {
      ctx.skip(/^[a-z]{1,8}$/.test(proto) ? proto : 'unknown-protocol');
      continue;
    }
    const state = nodes(p.state)[0]?.state;
    if (state !== 'open') {
      ctx.skip(typeof state === 'string' && /^[a-z|-]{1,24}$/.test(state) ? state : 'unknown-state');
      continue;
    }
    ctx.open(address.addr, ctx.port(p.portid, h.line), h.line);
  }
}

/** Reads an nmap or masscan `-oX` file into the collector. */
export async function parseNmapXml(src: TextSource, ctx: ParseContext): Promise<void> {
  for await (const h of hostElements(src, ctx)) readHost(ctx, h);
}
