/**
 * The store's SQLite client (`SqliteConnection`): statements run synchronously inside the fiber's
 * own transaction (a failing one fails with a `SqlError` and the transaction rolls back whole), and
 * a statement outside any transaction never runs inside another fiber's transaction.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import * as path from "node:path"
import * as SqliteConnection from "../../src/server/storage/SqliteConnection.js"
import { tempDir } from "../helpers/scoped.js"

const withClient = <A, E>(
  body: (sql: SqlClient.SqlClient, run: SqliteConnection.SqliteStatementsService["run"]) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const dir = yield* tempDir("fm-sqlite-connection-")
    return yield* Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const { run } = yield* SqliteConnection.SqliteStatements
      yield* sql`CREATE TABLE t (k TEXT PRIMARY KEY)`
      return yield* body(sql, run)
    }).pipe(Effect.provide(SqliteConnection.layer(path.join(dir, "test.db"))))
  }).pipe(Effect.scoped)

describe("SqliteConnection", () => {
  it.live("inside a transaction: rows come back, a failing statement fails, and the transaction rolls back", () =>
    withClient((sql, run) =>
      Effect.gen(function*() {
        const inserted = yield* sql.withTransaction(run(sql`INSERT INTO t (k) VALUES (${"a"}) RETURNING k`))
        assert.deepStrictEqual(inserted, [{ k: "a" }])
        const failed = yield* Effect.exit(sql.withTransaction(Effect.gen(function*() {
          yield* run(sql`INSERT INTO t (k) VALUES (${"b"})`)
          yield* run(sql`INSERT INTO t (k) VALUES (${"a"})`)
        })))
        assert.isTrue(Exit.isFailure(failed))
        if (Exit.isFailure(failed)) assert.include(String(failed.cause), "SqlError")
        const rows = yield* sql<{ readonly k: string }>`SELECT k FROM t ORDER BY k`
        assert.deepStrictEqual(rows.map((r) => r.k), ["a"])
      })
    ))

  it.live("outside a transaction a statement waits for another fiber's transaction to end", () =>
    withClient((sql, run) =>
      Effect.gen(function*() {
        // another fiber's transaction: writes, waits, then fails (rolls back)
        const other = yield* Effect.fork(Effect.exit(sql.withTransaction(Effect.gen(function*() {
          yield* run(sql`INSERT INTO t (k) VALUES (${"theirs"})`)
          yield* Effect.sleep("100 millis")
          return yield* Effect.fail("rolled back")
        }))))
        yield* Effect.sleep("20 millis")
        // while it is open: this write must not land inside it (and vanish with its rollback)
        yield* run(sql`INSERT INTO t (k) VALUES (${"mine"})`)
        assert.isTrue(Exit.isFailure(yield* Fiber.join(other)))
        const rows = yield* sql<{ readonly k: string }>`SELECT k FROM t ORDER BY k`
        assert.deepStrictEqual(rows.map((r) => r.k), ["mine"])
      })
    ))
})
