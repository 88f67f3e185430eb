/**
 * Multi-row inserts whose SQL Kysely compiles once per statement shape (a name for the statement
 * and its row count); later calls send the same text with new values. Building a 400-row
 * insert through the query builder (parsing every row object, then compiling thousands of
 * placeholders) was about a tenth of the ingest time (bench/inventory, profile of 1.2 M
 * services); the text is what the builder gives, for either dialect, so SQLite's statement
 * cache (db.ts) and PostgreSQL see the same statements as before.
 *
 * Values are bound in the order of a fixed column list; a column a row does not have is NULL.
 * The first compile of each shape checks that the builder's parameters are exactly those
 * values in that order, so a statement whose clauses carry parameters of their own is refused
 * at once instead of being sent with shifted values.
 */
import { type Compilable, CompiledQuery, type Kysely } from 'kysely';

/** Statement texts kept (a batch's chunks share a few shapes: full chunks, and one remainder). */
const TEXTS_MAX = 256;

export class CompiledInserts {
  private readonly texts = new Map<string, string>();

  /**
   * Runs `build(rows)` (an insert of `rows`, with whatever conflict and returning clauses) with
   * `rows`' values, compiling it only for a shape not seen yet; returns the rows it returns.
   */
  async execute<R>(
    // biome-ignore lint/suspicious/noExplicitAny: any database or transaction of any schema runs a compiled query
    db: Kysely<any>,
    name: string,
    columns: readonly string[],
    rows: readonly object[],
    build: (rows: Record<string, unknown>[]) => Compilable,
  ): Promise<R[]> {
    if (rows.length === 0) return [];
    const params: unknown[] = new Array(rows.length * columns.length);
    let i = 0;
    for (const row of rows as readonly Record<string, unknown>[]) {
      for (const c of columns) params[i++] = row[c] ?? null;
    }
    const key = `${name}/${rows.length}`;
    let text = this.texts.get(key);
    if (text === undefined) {
      const ordered = (rows as readonly Record<string, unknown>[]).map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? null])));
      const compiled = build(ordered).compile();
      if (compiled.parameters.length !== params.length || compiled.parameters.some((p, j) => !Object.is(p, params[j]))) {
        throw new Error(`compiled insert ${name}: the statement's parameters are not its rows' values in column order`);
      }
      text = compiled.sql;
      if (this.texts.size >= TEXTS_MAX) this.texts.delete(this.texts.keys().next().value as string);
      this.texts.set(key, text);
    }
    const result = await db.executeQuery<R>(CompiledQuery.raw(text, params));
    return result.rows;
  }
}
