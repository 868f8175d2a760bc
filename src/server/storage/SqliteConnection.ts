/**
 * The SQLite client of the store: @effect/sql's `SqlClient` over one better-sqlite3 connection in
 * WAL mode (as `@effect/sql-sqlite-node` makes it: one connection, writes and transactions
 * serialized by a semaphore), with its prepared statements kept in a plain map, and
 * {@link SqliteStatements}: the statements of a transaction run as one synchronous call each.
 *
 * A statement through `SqlClient` is an Effect with a tracing span, a scope, a connection
 * acquisition and a cache lookup: several times the cost of the statement itself for the small
 * writes of a publish. Inside a transaction the fiber holds the one connection already, so
 * `SqliteStatements.run` compiles the very same statement and runs it on that connection at once.
 * Outside a transaction it is the statement's own Effect (which waits for a transaction to end).
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import Sqlite from "better-sqlite3"
import type { Statement as SqliteStatement } from "better-sqlite3"
import { Context, Effect, Layer, Option, Scope } from "effect"

/** Most prepared statements kept; past it the map starts again empty (fm has a few dozen). */
const PREPARED_LIMIT = 256

/**
 * Runs statements of the SQL client: synchronously on the connection when the fiber is inside a
 * transaction, else as the statement's own Effect.
 * @since 0.1.0
 * @category models
 */
export interface SqliteStatementsService {
  readonly run: <A extends object>(statement: Statement.Statement<A>) => Effect.Effect<ReadonlyArray<A>, SqlError>
}

/**
 * The synchronous runner of statements of the store's SQLite connection.
 * @since 0.1.0
 * @category tags
 */
export class SqliteStatements extends Context.Tag("fm/server/SqliteStatements")<
  SqliteStatements,
  SqliteStatementsService
>() {}

/**
 * The client and its runner on the database file `filename` (`:memory:` for none), closed with
 * the layer.
 * @since 0.1.0
 * @category layers
 */
export const layer = (filename: string): Layer.Layer<SqlClient.SqlClient | SqliteStatements> =>
  Layer.scopedContext(Effect.gen(function*() {
    const db = yield* Effect.acquireRelease(
      Effect.sync(() => new Sqlite(filename)),
      (db) => Effect.sync(() => db.close())
    )
    db.pragma("journal_mode = WAL")
    const prepared = new Map<string, SqliteStatement>()
    const prepare = (sql: string): SqliteStatement => {
      const known = prepared.get(sql)
      if (known !== undefined) return known
      if (prepared.size >= PREPARED_LIMIT) prepared.clear()
      const statement = db.prepare(sql)
      prepared.set(sql, statement)
      return statement
    }
    /** Runs `sql` now: its rows (none for a statement that returns none). */
    const runNow = <R>(sql: string, params: ReadonlyArray<unknown>): ReadonlyArray<R> => {
      const statement = prepare(sql)
      if (statement.reader) return statement.all<R>(...params)
      statement.run(...params)
      return []
    }
    const attempt = <A>(f: () => A): Effect.Effect<A, SqlError> =>
      Effect.try({ try: f, catch: (cause) => new SqlError({ cause, message: "Failed to execute statement" }) })
    const connection: Connection = {
      execute: (sql, params, transformRows) =>
        attempt(() => {
          // rows are objects (better-sqlite3 gives arrays only in raw mode, `executeValues`)
          const rows = runNow<object>(sql, params)
          return transformRows === undefined ? rows : transformRows(rows)
        }),
      executeRaw: (sql, params) =>
        attempt(() => {
          const statement = prepare(sql)
          return statement.reader ? statement.all(...params) : statement.run(...params)
        }),
      executeValues: (sql, params) =>
        attempt(() => {
          const statement = prepare(sql)
          if (!statement.reader) {
            statement.run(...params)
            return []
          }
          statement.raw(true)
          try {
            return statement.all<ReadonlyArray<unknown>>(...params)
          } finally {
            statement.raw(false)
          }
        }),
      executeUnprepared: (sql, params, transformRows) => connection.execute(sql, params ?? [], transformRows),
      executeStream: () => Effect.dieMessage("executeStream not implemented")
    }
    const semaphore = yield* Effect.makeSemaphore(1)
    const acquirer = semaphore.withPermits(1)(Effect.succeed(connection))
    const transactionAcquirer = Effect.uninterruptibleMask((restore) =>
      Effect.as(
        Effect.zipRight(
          restore(semaphore.take(1)),
          Effect.tap(Effect.scope, (scope) => Scope.addFinalizer(scope, semaphore.release(1)))
        ),
        connection
      )
    )
    const client = yield* SqlClient.make({
      acquirer,
      compiler: Statement.makeCompilerSqlite(),
      transactionAcquirer,
      spanAttributes: [["db.system.name", "sqlite"]]
    })
    const run = <A extends object>(statement: Statement.Statement<A>): Effect.Effect<ReadonlyArray<A>, SqlError> =>
      Effect.withFiberRuntime((fiber) => {
        // the fiber holds this connection only inside a transaction of this client
        const held = Context.getOption(fiber.currentContext, SqlClient.TransactionConnection)
        if (Option.isNone(held) || held.value[0] !== connection) return statement
        const [sql, params] = statement.compile()
        try {
          // the rows, as the statement's own Effect gives them (no row transform is configured)
          return Effect.succeed(runNow<A>(sql, params))
        } catch (cause) {
          return Effect.fail(new SqlError({ cause, message: "Failed to execute statement" }))
        }
      })
    return Context.make(SqlClient.SqlClient, client).pipe(Context.add(SqliteStatements, { run }))
  })).pipe(Layer.provide(Reactivity.layer))
