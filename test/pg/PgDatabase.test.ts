import { Effect, Layer } from "effect"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import * as PgDatabase from "../../src/server/pg/PgDatabase.js"
import { migrations } from "../../src/server/pg/PgMigrations.js"
import { pgEnabled, usePgDatabase, withPg } from "../helpers/pg.js"

const enabled = await pgEnabled()

describe("PgDatabase: helpers without a server", () => {
  it("redacts the password of a database URL and recognises postgres URLs", () => {
    assert.strictEqual(
      PgDatabase.redactUrl("postgres://fm:s3cret@db.example:5432/fm"),
      "postgres://fm:***@db.example:5432/fm"
    )
    assert.strictEqual(PgDatabase.redactUrl("postgres://postgres@127.0.0.1/x"), "postgres://postgres@127.0.0.1/x")
    assert.isTrue(PgDatabase.isPostgresUrl("postgresql://h/db"))
    assert.isTrue(PgDatabase.isPostgresUrl("postgres://h/db"))
    assert.isFalse(PgDatabase.isPostgresUrl("/tmp/registry.db"))
  })

  it("fails to connect to an unreachable server with a StoreError that names the URL but not the password", async () => {
    const error = await Effect.runPromise(
      Effect.flip(
        PgDatabase.migrateDatabase({ url: "postgres://fm:hunter2@127.0.0.1:1/nowhere", connectTimeout: "2 seconds" })
      )
    )
    assert.strictEqual(error._tag, "StoreError")
    assert.include(error.message, "postgres://fm:***@127.0.0.1:1/nowhere")
    assert.include(error.message, "ECONNREFUSED")
    assert.notInclude(error.message, "hunter2")
  })
})

describe.skipIf(!enabled)("PgDatabase on PostgreSQL", () => {
  const { db } = usePgDatabase({ beforeAll, afterAll }, "migr")

  it("three replicas migrating at once apply each migration exactly once", async () => {
    const runs = await Promise.all(
      [1, 2, 3].map(() => Effect.runPromise(PgDatabase.migrateDatabase({ url: db().url })))
    )
    const applied = runs.flat().map(([id]) => id).sort()
    assert.deepStrictEqual(applied, Object.keys(migrations).map((key) => Number(key.slice(0, 4))))
    const again = await Effect.runPromise(PgDatabase.migrateDatabase({ url: db().url }))
    assert.deepStrictEqual(again, [])
    const tables = await withPg(
      db().url,
      (sql) =>
        sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`
    )
    assert.deepStrictEqual(tables.map((t) => t.tablename), [
      "blob_chunks",
      "blobs",
      "effect_sql_migrations",
      "log_entries",
      "packages",
      "packages_search",
      "release_deps",
      "release_keys",
      "releases",
      "tokens"
    ])
    const indexes = await withPg(
      db().url,
      (sql) => sql<{ indexname: string }>`SELECT indexname FROM pg_indexes WHERE schemaname = 'public'`
    )
    const names = indexes.map((i) => i.indexname)
    assert.include(names, "packages_name_trgm")
    assert.include(names, "packages_search_document")
  })

  it("ping answers through the migrated layer", async () => {
    await Effect.runPromise(
      PgDatabase.ping().pipe(Effect.provide(Layer.fresh(PgDatabase.layer({ url: db().url }))))
    )
  })
})
