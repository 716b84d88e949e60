/**
 * How the storage modules read rows. D1 answers a row under its column names (`tenant_id`); a
 * record holds the same values under field names (`tenantId`). `fieldsOf` renames every column, so
 * a mapper spells out only the columns it decodes (JSON, 0/1, nano-USD), and the compiler checks
 * that the row's columns and the record's fields still match.
 */

/** `previous_expires_at` → `previousExpiresAt`. */
type FieldName<C extends string> = C extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<FieldName<Tail>>}` : C;

/** A row with each column under its field name, its value as D1 read it. */
export type Fields<Row> = { [C in keyof Row & string as FieldName<C>]: Row[C] };

/** The row's values under field names, in the row's column order. */
export function fieldsOf<Row extends object>(row: Row): Fields<Row> {
  const entries = Object.entries(row).map(([column, value]) => [column.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase()), value]);
  return Object.fromEntries(entries) as Fields<Row>;
}

/** A table whose records are read whole: its name, the columns a record is made of, and how. */
export interface Table<Row, T> {
  name: string;
  columns: string;
  fromRow: (row: Row) => T;
}

/** The record with this id, or null. */
export async function recordById<Row, T>(db: D1Database, table: Table<Row, T>, id: string): Promise<T | null> {
  const row = await db.prepare(`SELECT ${table.columns} FROM ${table.name} WHERE id = ?`).bind(id).first<Row>();
  return row ? table.fromRow(row) : null;
}

/** Every record, or those `where` (an SQL condition on `binds`) matches, oldest first. */
export async function recordsOldestFirst<Row, T>(db: D1Database, table: Table<Row, T>, where?: string, ...binds: unknown[]): Promise<T[]> {
  const filter = where === undefined ? '' : ` WHERE ${where}`;
  const { results } = await db
    .prepare(`SELECT ${table.columns} FROM ${table.name}${filter} ORDER BY created_at, id`)
    .bind(...binds)
    .all<Row>();
  return results.map(table.fromRow);
}
