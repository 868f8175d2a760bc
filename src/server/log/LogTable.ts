/**
 * The publish log in the SQL store: the `log_entries` table (`idx` 0, 1, 2, … without gaps, the
 * operation, name, version, SHA-256, size and time of every publish, yank, unyank and delete), the
 * append that runs inside the write's own transaction, and the reads the log service needs.
 *
 * Appends take the next index as `max(idx) + 1` after the dialect's log lock (PostgreSQL: a
 * transaction-scoped advisory lock), so replicas writing one database agree on one log and a
 * reader never sees index n+1 before n.
 * @since 0.1.0
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Schema } from "effect"
import type { ParseError } from "effect/ParseResult"
import type { LogEntryFields } from "../../shared/log/LogEntry.js"
import { LogEntry } from "../../shared/log/LogEntry.js"
import { CountRow, IntColumn, LogEntryRow } from "../storage/SqlRows.js"

/**
 * The portable DDL of the log, with the backend's integer type for indexes and sizes, and the
 * backfill that logs every release published before the log existed (publish entries in
 * publication order), so that every release has a log index.
 * @since 0.1.0
 */
export const createLogTable = (integer: "INTEGER" | "BIGINT") =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const type = sql.literal(integer)
    yield* sql`CREATE TABLE log_entries (
      idx ${type} PRIMARY KEY,
      operation TEXT NOT NULL,
      name TEXT NOT NULL,
      version TEXT NOT NULL,
      sha256 TEXT NOT NULL,
      size_bytes ${type} NOT NULL,
      at TEXT NOT NULL
    )`
    yield* sql`ALTER TABLE releases ADD COLUMN log_index ${type}`
    yield* sql`INSERT INTO log_entries (idx, operation, name, version, sha256, size_bytes, at)
      SELECT row_number() OVER (ORDER BY published_at, id) - 1, 'publish', name, version, checksum, size_bytes, published_at
      FROM releases`
    yield* sql`UPDATE releases SET log_index = (SELECT l.idx FROM log_entries l
      WHERE l.operation = 'publish' AND l.name = releases.name AND l.version = releases.version)`
  })

// built once: a schema made per call would compile its encoder and decoder on every append
const AppendRequest = LogEntryRow.omit("index")
const AppendResult = Schema.Struct({ idx: IntColumn })

/**
 * The append of one entry on `sql` (its statement built once: make it once per client), run
 * inside the caller's transaction, which must hold the dialect's log lock already (every write
 * takes it first); returns the entry's index.
 * @since 0.1.0
 */
export const makeAppendEntry = (
  sql: SqlClient.SqlClient
): (entry: LogEntryFields) => Effect.Effect<number, SqlError | ParseError> => {
  const append = SqlSchema.single({
    Request: AppendRequest,
    Result: AppendResult,
    execute: (e) =>
      sql`INSERT INTO log_entries (idx, operation, name, version, sha256, size_bytes, at)
        SELECT coalesce(max(idx) + 1, 0), ${e.operation}, ${e.name}, ${e.version}, ${e.sha256},
          ${e.size_bytes}, ${e.at} FROM log_entries RETURNING idx`
  })
  return (entry) =>
    Effect.map(
      append(entry).pipe(
        Effect.catchTag("NoSuchElementException", () => Effect.dieMessage("INSERT ... RETURNING returned no row"))
      ),
      (row) => row.idx
    )
}

/**
 * Entries `[start, end)` in index order.
 * @since 0.1.0
 */
export const readEntries = (
  sql: SqlClient.SqlClient,
  start: number,
  end: number
): Effect.Effect<ReadonlyArray<LogEntry>, SqlError | ParseError> =>
  SqlSchema.findAll({
    Request: Schema.Struct({ start: Schema.Number, end: Schema.Number }),
    Result: LogEntryRow,
    execute: (r) => sql`SELECT * FROM log_entries WHERE idx >= ${r.start} AND idx < ${r.end} ORDER BY idx`
  })({ start, end }).pipe(
    // the database's entries were checked when appended: not checked again on every read
    Effect.map((rows) => rows.map((r) => LogEntry.make(r, { disableValidation: true })))
  )

/**
 * The number of entries.
 * @since 0.1.0
 */
export const logSize = (sql: SqlClient.SqlClient): Effect.Effect<number, SqlError | ParseError> =>
  SqlSchema.single({
    Request: Schema.Void,
    Result: CountRow,
    execute: () => sql`SELECT coalesce(max(idx) + 1, 0) AS n FROM log_entries`
  })().pipe(
    Effect.map((row) => row.n),
    Effect.catchTag("NoSuchElementException", () => Effect.dieMessage("an aggregate returned no row"))
  )
