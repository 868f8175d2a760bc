/**
 * The part of better-sqlite3's API fm calls itself (`SqliteConnection.ts`): better-sqlite3 ships
 * no types, and `@effect/sql-sqlite-node` (which depends on it) uses it untyped.
 */
declare module "better-sqlite3" {
  /** A prepared statement. */
  export interface Statement {
    /** True when the statement returns rows (a SELECT, or a write with RETURNING). */
    readonly reader: boolean
    /** Runs the statement; its rows (objects, or arrays of values in raw mode), as the caller knows them. */
    all<R>(...params: ReadonlyArray<unknown>): Array<R>
    /** Runs a statement that returns no rows. */
    run(...params: ReadonlyArray<unknown>): { readonly changes: number; readonly lastInsertRowid: number | bigint }
    /** Rows as arrays of values (`true`) instead of objects. */
    raw(on: boolean): this
  }
  /** A connection to a database file. */
  class Database {
    constructor(filename: string, options?: { readonly readonly?: boolean; readonly fileMustExist?: boolean })
    /** Compiles `sql` (one statement). */
    prepare(sql: string): Statement
    /** Runs a PRAGMA; its rows. */
    pragma(source: string): Array<unknown>
    /** The database as bytes (`serialize`). */
    serialize(): Uint8Array
    /** Closes the connection. */
    close(): void
  }
  export default Database
}
