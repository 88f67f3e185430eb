/**
 * Translates a Rapid7 Recog pattern (a Ruby regular expression plus Recog's `flags` attribute)
 * into a JavaScript RegExp source and flags that our engine accepts: anchored `^...$`, flags from
 * `i` and `s` only. Anything whose meaning would change in translation is refused with a reason,
 * never approximated.
 *
 * Ruby → JavaScript:
 * - `\A` → `^`; `\z` and `\Z` → `$` (our values are trimmed, so "before a final newline" is moot);
 * - `\h` / `\H` (hex digit) → `[0-9a-fA-F]` / `[^0-9a-fA-F]`; `\e` → `\x1b`; `\a` → `\x07`;
 *   POSIX brackets `[[:alpha:]]` etc. → the equivalent ASCII class;
 * - Recog flags (lib/recog/fingerprint/regexp_factory.rb): REG_ICASE → `i`; REG_DOT_NEWLINE,
 *   REG_MULTILINE, REG_LINE_ANY_CRLF → Ruby's Regexp::MULTILINE, which makes `.` match a newline:
 *   JavaScript's `s`;
 * - inline `(?i)` / `(?m)` (Ruby's m is JS's s) at the start of the pattern (after anchors only)
 *   become flags; anywhere else they would change only part of the pattern: refused;
 * - refused: possessive quantifiers (`a++`, `a*+`), atomic groups `(?>...)`, option groups
 *   `(?i:...)`, named groups, `(?x)`, `\G \K \R \X \p{..}`, nested classes and `&&` in classes.
 *
 * Anchoring: Recog matches by search. A pattern anchored at both ends (and with no top-level `|`)
 * is kept as is; otherwise it is wrapped as `^[\s\S]*?(?:P)[\s\S]*$`, which matches exactly the
 * strings a search for P finds (inside the wrapper P's own `^`/`$` still only match at the ends).
 * One difference remains and is intended: Ruby's `^`/`$` are line anchors, ours string anchors.
 */

/** A Recog pattern that cannot be translated faithfully. */
export class RecogRegexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecogRegexError';
  }
}

/** Recog flag names (regexp_factory.rb FLAG_MAP) and the JavaScript flag each means. */
const RECOG_FLAGS: Readonly<Record<string, string>> = {
  REG_ICASE: 'i',
  REG_DOT_NEWLINE: 's',
  REG_MULTILINE: 's',
  REG_LINE_ANY_CRLF: 's',
};

const POSIX: Readonly<Record<string, string>> = {
  alpha: 'a-zA-Z',
  digit: '0-9',
  alnum: 'a-zA-Z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: '\\s',
  xdigit: '0-9a-fA-F',
  word: '\\w',
  punct: '!-\\/:-@\\[-`{-~',
  blank: ' \\t',
  cntrl: '\\x00-\\x1f\\x7f',
  print: '\\x20-\\x7e',
  graph: '\\x21-\\x7e',
};

export interface TranslatedRegex {
  source: string;
  /** `''`, `'i'`, `'s'` or `'is'`. */
  flags: string;
}

/** True when the `$` at the end of `s` is an anchor, not an escaped dollar. */
function endsWithAnchor(s: string): boolean {
  if (!s.endsWith('$')) return false;
  let slashes = 0;
  for (let i = s.length - 2; i >= 0 && s[i] === '\\'; i--) slashes++;
  return slashes % 2 === 0;
}

function flagsOf(set: Set<string>): string {
  return ['i', 's'].filter((f) => set.has(f)).join('');
}

/**
 * Translates one Recog pattern. `recogFlags` is the `flags` attribute split on `,` or `|`
 * (Recog's own files use both). Throws RecogRegexError with a reason a user understands.
 */
export function translateRecogPattern(pattern: string, recogFlags: readonly string[] = []): TranslatedRegex {
  const flags = new Set<string>();
  for (const f of recogFlags.map((x) => x.trim()).filter(Boolean)) {
    const js = RECOG_FLAGS[f];
    if (!js) throw new RecogRegexError(`unsupported Recog flag ${f}`);
    flags.add(js);
  }
  let out = '';
  let onlyAnchors = true;
  let depth = 0;
  let topLevelAlternation = false;
  let inClass = false;
  const emit = (s: string, anchor = false) => {
    out += s;
    if (!anchor) onlyAnchors = false;
  };
  const quantifierEnd = (i: number) => {
    if (pattern[i + 1] === '+') throw new RecogRegexError(`possessive quantifier at offset ${i} (no JavaScript equivalent)`);
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n === undefined) throw new RecogRegexError('pattern ends with a lone backslash');
      i++;
      if ('GKRXpPgk'.includes(n)) throw new RecogRegexError(`\\${n} at offset ${i - 1} has no JavaScript equivalent`);
      if (inClass) {
        if ('AzZH'.includes(n)) throw new RecogRegexError(`\\${n} inside a character class at offset ${i - 1}`);
        if (n === 'h') out += '0-9a-fA-F';
        else if (n === 'e') out += '\\x1b';
        else if (n === 'a') out += '\\x07';
        else out += `\\${n}`;
        continue;
      }
      if (n === 'A') emit('^', true);
      else if (n === 'z' || n === 'Z') emit('$', true);
      else if (n === 'h') emit('[0-9a-fA-F]');
      else if (n === 'H') emit('[^0-9a-fA-F]');
      else if (n === 'e') emit('\\x1b');
      else if (n === 'a') emit('\\x07');
      else emit(`\\${n}`);
      continue;
    }
    if (inClass) {
      if (c === '[') {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(pattern.slice(i));
        if (!m) throw new RecogRegexError(`nested character class at offset ${i}`);
        const cls = POSIX[m[2]!];
        if (!cls || m[1]) throw new RecogRegexError(`POSIX bracket [:${m[1]}${m[2]}:] at offset ${i} is not supported`);
        out += cls;
        i += m[0].length - 1;
        continue;
      }
      if (c === '&' && pattern[i + 1] === '&') throw new RecogRegexError(`class intersection && at offset ${i}`);
      out += c;
      if (c === ']') inClass = false;
      continue;
    }
    switch (c) {
      case '[': {
        inClass = true;
        emit('[');
        // A `]` right after `[` or `[^` is a literal in Ruby; JavaScript needs it escaped.
        if (pattern[i + 1] === '^') {
          out += '^';
          i++;
        }
        if (pattern[i + 1] === ']') {
          out += '\\]';
          i++;
        }
        break;
      }
      case '(': {
        if (pattern[i + 1] !== '?') {
          depth++;
          emit('(');
          break;
        }
        const rest = pattern.slice(i + 2);
        if (rest.startsWith(':') || rest.startsWith('=') || rest.startsWith('!') || rest.startsWith('<=') || rest.startsWith('<!')) {
          depth++;
          emit('(?');
          i++;
          break;
        }
        if (rest.startsWith('>')) throw new RecogRegexError(`atomic group (?> at offset ${i} (no JavaScript equivalent)`);
        if (rest.startsWith('<') || rest.startsWith("'")) throw new RecogRegexError(`named group at offset ${i} (Recog params are positional)`);
        if (rest.startsWith('#')) {
          const end = pattern.indexOf(')', i);
          if (end < 0) throw new RecogRegexError(`unterminated comment group at offset ${i}`);
          i = end;
          break;
        }
        const opt = /^([imx]*)(?:-([imx]*))?([:)])/.exec(rest);
        if (!opt) throw new RecogRegexError(`unsupported group syntax at offset ${i}`);
        if (opt[3] === ':') throw new RecogRegexError(`option group (?${opt[1]}${opt[2] ? `-${opt[2]}` : ''}: at offset ${i} (options for part of a pattern)`);
        if (opt[1]!.includes('x') || (opt[2] ?? '').includes('x')) throw new RecogRegexError(`extended mode (?x) at offset ${i}`);
        if (opt[2]) {
          // Turning an option off is a no-op when it was never on; anything else changes part of the pattern.
          for (const o of opt[2]) if (flags.has(o === 'm' ? 's' : o)) throw new RecogRegexError(`(?-${opt[2]}) at offset ${i} turns an option off mid-pattern`);
        }
        if (opt[1]) {
          if (!onlyAnchors || depth > 0) throw new RecogRegexError(`inline option (?${opt[1]}) at offset ${i} applies to part of the pattern only`);
          for (const o of opt[1]) flags.add(o === 'm' ? 's' : o);
        }
        i += 1 + opt[0].length;
        break;
      }
      case ')':
        if (depth === 0) throw new RecogRegexError(`unbalanced ) at offset ${i}`);
        depth--;
        emit(')');
        break;
      case '|':
        if (depth === 0) topLevelAlternation = true;
        emit('|');
        break;
      case '^':
        emit('^', true);
        break;
      case '$':
        emit('$', true);
        break;
      case '*':
      case '+':
      case '?':
        emit(c);
        // A lazy quantifier (`*?`) is the same in both languages; a `+` after a quantifier is possessive.
        if (pattern[i + 1] === '?') {
          out += '?';
          i++;
        }
        quantifierEnd(i);
        break;
      case '{': {
        const q = /^\{(\d+(?:,\d*)?|,\d+)\}/.exec(pattern.slice(i));
        if (!q) {
          emit('\\{');
          break;
        }
        const body = q[1]!.startsWith(',') ? `0${q[1]}` : q[1]!;
        emit(`{${body}}`);
        i += q[0].length - 1;
        if (pattern[i + 1] === '?') {
          out += '?';
          i++;
        }
        quantifierEnd(i);
        break;
      }
      default:
        emit(c);
    }
  }
  if (inClass) throw new RecogRegexError('unterminated character class');
  if (depth !== 0) throw new RecogRegexError('unbalanced ( in pattern');
  const startAnchored = out.startsWith('^') && !topLevelAlternation;
  const endAnchored = endsWithAnchor(out) && !topLevelAlternation;
  const source = startAnchored && endAnchored ? out : `^${startAnchored ? '' : '[\\s\\S]*?'}(?:${out})${endAnchored ? '' : '[\\s\\S]*'}$`;
  const js = flagsOf(flags);
  try {
    new RegExp(source, js);
  } catch (err) {
    throw new RecogRegexError(`not a valid regular expression: ${(err as Error).message}`);
  }
  return { source, flags: js };
}
