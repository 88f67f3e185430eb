/**
 * A small RFC 4180 CSV reader for the files users hand to the inventory (the known-asset list of
 * `medsurface inventory import`). No CSV library is installed and the format is small enough to
 * read by hand, strictly: a field is either plain (no quote inside) or wholly quoted, with `""`
 * for a quote and line breaks allowed inside; anything else is an error naming the line, never a
 * guess. Records end at CRLF, LF or a lone CR; blank lines are skipped; a UTF-8 BOM is ignored.
 * Every field and the number of fields per record are bounded.
 */
import { UsageError } from '../core/errors.js';

/** Longest field kept, in characters (a notes cell is the longest legitimate one). */
export const CSV_MAX_FIELD_CHARS = 8192;
/** Fields per record at most. */
export const CSV_MAX_FIELDS = 64;

/** Malformed CSV; `line` is the 1-based line where the bad record (or field) starts. */
export class CsvError extends UsageError {
  readonly line: number;
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'CsvError';
    this.line = line;
  }
}

export interface CsvRecord {
  /** 1-based line on which the record starts (a quoted field may span several lines). */
  line: number;
  fields: string[];
}

/**
 * The records of `text`, in order. Throws CsvError for a quoting error, an over-long field or
 * too many fields: those make the rest of the file unreadable, so they are never skipped.
 */
export function* parseCsv(text: string): Generator<CsvRecord> {
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const n = s.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let sawQuote = false;
    // One record: fields separated by commas, up to a line break or the end.
    for (;;) {
      let value = '';
      if (s[i] === '"') {
        sawQuote = true;
        const fieldLine = line;
        i++;
        for (;;) {
          if (i >= n) throw new CsvError(fieldLine, 'unterminated quoted field (a " opens it and none closes it)');
          const c = s[i]!;
          if (c === '"') {
            if (s[i + 1] === '"') {
              value += '"';
              i += 2;
            } else {
              i++;
              break;
            }
          } else {
            if (c === '\n' || (c === '\r' && s[i + 1] !== '\n')) line++;
            value += c;
            i++;
          }
          if (value.length > CSV_MAX_FIELD_CHARS) throw new CsvError(fieldLine, `a field is longer than ${CSV_MAX_FIELD_CHARS} characters`);
        }
        const after = s[i];
        if (after !== undefined && after !== ',' && after !== '\n' && after !== '\r') {
          throw new CsvError(line, 'characters after a closing quote (a quoted field must end at a comma or a line break)');
        }
      } else {
        const from = i;
        while (i < n) {
          const c = s[i];
          if (c === ',' || c === '\n' || c === '\r') break;
          if (c === '"') throw new CsvError(line, 'a quote inside an unquoted field (quote the whole field and double the quotes inside: "a ""b"" c")');
          i++;
        }
        if (i - from > CSV_MAX_FIELD_CHARS) throw new CsvError(line, `a field is longer than ${CSV_MAX_FIELD_CHARS} characters`);
        value = s.slice(from, i);
      }
      fields.push(value);
      if (fields.length > CSV_MAX_FIELDS) throw new CsvError(start, `more than ${CSV_MAX_FIELDS} fields in one record`);
      if (s[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    // End of record: consume one line break (CRLF, LF or CR).
    if (s[i] === '\r') i++;
    if (s[i] === '\n') i++;
    line++;
    if (fields.length === 1 && fields[0] === '' && !sawQuote) continue;
    yield { line: start, fields };
  }
}
