/**
 * Bounded JSON for replies from FHIR and DICOMweb servers (RFC 8259). Every byte comes from a
 * server we do not trust, and some of those servers hold patient records, so two readers:
 *
 * - JsonScanner: an iterative tokenizer over a Buffer that never recurses and never decodes a
 *   string unless asked. Callers that only count (entries of a FHIR Bundle, objects of a QIDO-RS
 *   reply) walk its tokens and skip every value, so no patient value is ever turned into a
 *   JavaScript string.
 * - parseJson: builds a value tree from the scanner's tokens (for CapabilityStatements and SMART
 *   configurations, which describe servers, not patients), with caps on bytes, nesting depth and
 *   node count checked before anything is allocated.
 *
 * Both accept a body cut at a byte cap (`partial`): the scanner reports `truncated`, the builder
 * closes what is open and drops the value that was cut (a CapabilityStatement puts software and
 * fhirVersion first, so a cut body still identifies the server).
 *
 * Every failure is a ProtocolError; nothing else escapes.
 */
import { ProtocolError } from '../../core/errors.js';

/** Caps for one JSON body. */
export interface JsonLimits {
  /** Bytes accepted at all, checked before the first byte is scanned. */
  maxBytes: number;
  /** Arrays and objects open at once. */
  maxDepth: number;
  /** Values built by parseJson (each scalar, array and object counts one). */
  maxNodes?: number;
  /** Accept a body that ends inside a value (cut at a byte cap): report it instead of failing. */
  partial?: boolean;
}

/** Named caps (STYLE.md §3). */
export const JSON_LIMITS = {
  /** Largest JSON body read from any server: the HTTP client's hard cap. */
  maxBytes: 1024 * 1024,
  /** Real CapabilityStatements nest about 8 deep, DICOM JSON about 6 (sequences more): 64 is generous. */
  maxDepth: 64,
  /** Values parseJson builds from one body (a 1 MiB HAPI CapabilityStatement holds about 60,000). */
  maxNodes: 262_144,
} as const;

export type JsonTokenType =
  | 'begin-object'
  | 'end-object'
  | 'begin-array'
  | 'end-array'
  | 'key'
  | 'string'
  | 'number'
  | 'true'
  | 'false'
  | 'null';

/** One token. `start`/`end` span the raw bytes (strings and keys include their quotes). */
export interface JsonToken {
  type: JsonTokenType;
  start: number;
  end: number;
  /** Nesting depth after this token (a begin token counts its own container). */
  depth: number;
}

// Scanner states: what the grammar allows next.
const S_VALUE = 0; // a value (top level, after ':' or after ',' in an array)
const S_VALUE_OR_END = 1; // a value or ']' (just after '[')
const S_KEY = 2; // a key (after ',' in an object)
const S_KEY_OR_END = 3; // a key or '}' (just after '{')
const S_COLON = 4;
const S_COMMA = 5; // ',' or the closer of the current container
const S_DONE = 6; // the top-level value is complete

const OBJ = 1;
const ARR = 2;

const HEX = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;

/**
 * An iterative JSON tokenizer. `next()` returns the next token, or null at the end of the input
 * (then `truncated` says whether the input ended inside a value, which only `partial` allows).
 */
export class JsonScanner {
  private pos = 0;
  private state = S_VALUE;
  private readonly stack: Uint8Array;
  private depthNow = 0;
  /** True when the input ended inside a value (only with `partial`). */
  truncated = false;

  constructor(
    private readonly buf: Buffer,
    private readonly limits: JsonLimits,
  ) {
    if (buf.length > limits.maxBytes) {
      throw new ProtocolError(`JSON body of ${buf.length} bytes exceeds the cap of ${limits.maxBytes}`);
    }
    this.stack = new Uint8Array(limits.maxDepth + 1);
    // A UTF-8 byte order mark is tolerated (RFC 8259 §8.1 allows parsers to ignore it).
    if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) this.pos = 3;
  }

  get depth(): number {
    return this.depthNow;
  }

  private fail(message: string): never {
    throw new ProtocolError(`${message} at byte ${this.pos}`);
  }

  private end(): null {
    if (this.state === S_DONE) return null;
    if (this.limits.partial && (this.depthNow > 0 || this.state !== S_VALUE)) {
      this.truncated = true;
      return null;
    }
    if (this.state === S_VALUE && this.depthNow === 0) this.fail('empty JSON body');
    this.fail('truncated JSON');
  }

  /** End of input inside a token: truncated (partial) or an error. */
  private cut(): null {
    if (this.limits.partial) {
      this.truncated = true;
      this.pos = this.buf.length;
      return null;
    }
    this.fail('truncated JSON');
  }

  private skipSpace(): void {
    const b = this.buf;
    let p = this.pos;
    for (;;) {
      const c = b[p];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  /** After a complete value: what comes next depends on the container it sits in. */
  private valueDone(): void {
    this.state = this.depthNow === 0 ? S_DONE : S_COMMA;
  }

  next(): JsonToken | null {
    for (;;) {
      this.skipSpace();
      const c = this.buf[this.pos];
      if (c === undefined) return this.end();
      const start = this.pos;
      const state = this.state;
      if (state === S_DONE) this.fail('trailing bytes after the JSON value');
      if (state === S_COLON) {
        if (c !== 0x3a) this.fail('expected ":"');
        this.pos++;
        this.state = S_VALUE;
        continue;
      }
      if (state === S_COMMA) {
        const top = this.stack[this.depthNow]!;
        if (c === 0x2c) {
          this.pos++;
          this.state = top === OBJ ? S_KEY : S_VALUE;
          continue;
        }
        if ((c === 0x7d && top === OBJ) || (c === 0x5d && top === ARR)) return this.close(start, top);
        this.fail('expected "," or the end of the container');
      }
      if (state === S_KEY_OR_END && c === 0x7d) return this.close(start, OBJ);
      if (state === S_KEY || state === S_KEY_OR_END) {
        if (c !== 0x22) this.fail('expected a string key');
        const end = this.scanString(start);
        if (end < 0) return this.cut();
        this.state = S_COLON;
        return { type: 'key', start, end, depth: this.depthNow };
      }
      if (state === S_VALUE_OR_END && c === 0x5d) return this.close(start, ARR);
      return this.value(c, start);
    }
  }

  private close(start: number, kind: number): JsonToken {
    this.pos = start + 1;
    this.depthNow--;
    this.valueDone();
    return { type: kind === OBJ ? 'end-object' : 'end-array', start, end: start + 1, depth: this.depthNow };
  }

  private open(start: number, kind: number): JsonToken {
    if (this.depthNow >= this.limits.maxDepth) this.fail(`JSON nested deeper than ${this.limits.maxDepth}`);
    this.depthNow++;
    this.stack[this.depthNow] = kind;
    this.pos = start + 1;
    this.state = kind === OBJ ? S_KEY_OR_END : S_VALUE_OR_END;
    return { type: kind === OBJ ? 'begin-object' : 'begin-array', start, end: start + 1, depth: this.depthNow };
  }

  private value(c: number, start: number): JsonToken | null {
    switch (c) {
      case 0x7b:
        return this.open(start, OBJ);
      case 0x5b:
        return this.open(start, ARR);
      case 0x22: {
        const end = this.scanString(start);
        if (end < 0) return this.cut();
        this.valueDone();
        return { type: 'string', start, end, depth: this.depthNow };
      }
      case 0x74:
        return this.literal(start, 'true');
      case 0x66:
        return this.literal(start, 'false');
      case 0x6e:
        return this.literal(start, 'null');
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number(start);
        this.fail(`unexpected byte 0x${c.toString(16).padStart(2, '0')}`);
    }
  }

  private literal(start: number, word: 'true' | 'false' | 'null'): JsonToken | null {
    const b = this.buf;
    for (let i = 0; i < word.length; i++) {
      const c = b[start + i];
      if (c === undefined) return this.cut();
      if (c !== word.charCodeAt(i)) this.fail(`bad literal, expected ${word}`);
    }
    this.pos = start + word.length;
    this.valueDone();
    return { type: word, start, end: this.pos, depth: this.depthNow };
  }

  /** RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
  private number(start: number): JsonToken | null {
    const b = this.buf;
    let p = start;
    const digit = (x: number | undefined) => x !== undefined && x >= 0x30 && x <= 0x39;
    if (b[p] === 0x2d) p++;
    if (b[p] === undefined) return this.cut();
    if (b[p] === 0x30) p++;
    else if (digit(b[p])) while (digit(b[p])) p++;
    else this.fail('bad number');
    if (b[p] === 0x2e) {
      p++;
      if (b[p] === undefined) return this.cut();
      if (!digit(b[p])) this.fail('bad number fraction');
      while (digit(b[p])) p++;
    }
    if (b[p] === 0x65 || b[p] === 0x45) {
      p++;
      if (b[p] === 0x2b || b[p] === 0x2d) p++;
      if (b[p] === undefined) return this.cut();
      if (!digit(b[p])) this.fail('bad number exponent');
      while (digit(b[p])) p++;
    }
    // A number that runs into the end of a cut body may itself be cut: only a top-level number may end the input.
    if (p === b.length && this.depthNow > 0) return this.cut();
    this.pos = p;
    this.valueDone();
    return { type: 'number', start, end: p, depth: this.depthNow };
  }

  /** Scans a string starting at the quote; returns the index after the closing quote, -1 when the input ends first. */
  private scanString(start: number): number {
    const b = this.buf;
    let p = start + 1;
    for (;;) {
      const c = b[p];
      if (c === undefined) return -1;
      if (c === 0x22) {
        this.pos = p + 1;
        return p + 1;
      }
      if (c === 0x5c) {
        const e = b[p + 1];
        if (e === undefined) return -1;
        if (e === 0x75) {
          for (let i = 2; i < 6; i++) {
            const h = b[p + i];
            if (h === undefined) return -1;
            if (!HEX[h]) {
              this.pos = p;
              this.fail('bad \\u escape');
            }
          }
          p += 6;
          continue;
        }
        // " \ / b f n r t
        if (e !== 0x22 && e !== 0x5c && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) {
          this.pos = p;
          this.fail('bad escape');
        }
        p += 2;
        continue;
      }
      if (c < 0x20) {
        this.pos = p;
        this.fail('control character in string');
      }
      p++;
    }
  }

  /** Decodes a string or key token (escapes resolved). Only call it for values you mean to keep. */
  text(t: JsonToken): string {
    try {
      return JSON.parse(this.buf.toString('utf8', t.start, t.end)) as string;
    } catch (err) {
      throw new ProtocolError('bad JSON string', { cause: err });
    }
  }

  /** Raw byte length of a string token's content (without the quotes, escapes not resolved). */
  static rawLength(t: JsonToken): number {
    return t.end - t.start - 2;
  }

  /** The numeric value of a number token. */
  numberValue(t: JsonToken): number {
    return Number(this.buf.toString('latin1', t.start, t.end));
  }
}

interface Frame {
  container: Record<string, unknown> | unknown[];
  key: string | null;
}

/**
 * Parses a whole JSON body into values, within the caps. Objects have no prototype, so a key
 * named `__proto__` is just a key. With `partial`, a body cut at a byte cap yields what was
 * complete (`truncated: true`).
 */
export function parseJson(buf: Buffer, limits: JsonLimits): { value: unknown; truncated: boolean } {
  const sc = new JsonScanner(buf, limits);
  const maxNodes = limits.maxNodes ?? JSON_LIMITS.maxNodes;
  let nodes = 0;
  const stack: Frame[] = [];
  let root: unknown;
  let haveRoot = false;
  const attach = (v: unknown) => {
    if (++nodes > maxNodes) throw new ProtocolError(`JSON holds more than ${maxNodes} values`);
    const top = stack[stack.length - 1];
    if (!top) {
      root = v;
      haveRoot = true;
      return;
    }
    if (Array.isArray(top.container)) top.container.push(v);
    else if (top.key !== null) {
      top.container[top.key] = v;
      top.key = null;
    }
  };
  for (let t = sc.next(); t !== null; t = sc.next()) {
    switch (t.type) {
      case 'begin-object':
      case 'begin-array': {
        const c: Frame['container'] = t.type === 'begin-object' ? (Object.create(null) as Record<string, unknown>) : [];
        attach(c);
        stack.push({ container: c, key: null });
        break;
      }
      case 'end-object':
      case 'end-array':
        stack.pop();
        break;
      case 'key':
        stack[stack.length - 1]!.key = sc.text(t);
        break;
      case 'string':
        attach(sc.text(t));
        break;
      case 'number':
        attach(sc.numberValue(t));
        break;
      case 'true':
        attach(true);
        break;
      case 'false':
        attach(false);
        break;
      case 'null':
        attach(null);
        break;
    }
  }
  if (!haveRoot) throw new ProtocolError('truncated JSON: no complete value');
  return { value: root, truncated: sc.truncated };
}

/** A plain (prototype-free or ordinary) JSON object, else null. */
export function asObject(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** A JSON array, else an empty one. */
export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Own property of a parsed object (never inherited). */
export function field(o: Record<string, unknown> | null, key: string): unknown {
  return o !== null && Object.hasOwn(o, key) ? o[key] : undefined;
}

/**
 * A server-chosen string reduced to what we may keep: printable characters only (control and
 * format characters become spaces), whitespace collapsed, bounded to `max` characters. Null for
 * anything that is not a non-empty string.
 */
export function boundedText(v: unknown, max: number): string | null {
  if (typeof v !== 'string') return null;
  const clean = v
    .slice(0, max * 4)
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (!clean) return null;
  return clean.length > max ? clean.slice(0, max) : clean;
}
