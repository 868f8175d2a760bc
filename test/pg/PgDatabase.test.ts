import { Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as PgDatabase from "../../src/server/pg/PgDatabase.js"
import { migrations } from "../../src/server/pg/PgMigrations.js"
import { pgEnabled, usePgDatabase, withPg } from "../helpers/pg.js"

const enabled = await pgEnabled()

describe("PgDatabase: helpers without a server", () => {
  it("redacts the password of a database URL and recognises postgres URLs", () => {
    expect(PgDatabase.redactUrl("postgres://fm:s3cret@db.example:5432/fm")).toBe("postgres://fm:***@db.example:5432/fm")
    expect(PgDatabase.redactUrl("postgres://postgres@127.0.0.1/x")).toBe("postgres://postgres@127.0.0.1/x")
    expect(PgDatabase.isPostgresUrl("postgresql://h/db")).toBe(true)
    expect(PgDatabase.isPostgresUrl("postgres://h/db")).toBe(true)
    expect(PgDatabase.isPostgresUrl("/tmp/registry.db")).toBe(false)
  })

  it("fails to connect to an unreachable server with a StoreError that names the URL but not the password", async () => {
    const error = await Effect.runPromise(
      Effect.flip(
        PgDatabase.migrateDatabase({ url: "postgres://fm:hunter2@127.0.0.1:1/nowhere", connectTimeout: "2 seconds" })
      )
    )
    expect(error._tag).toBe("StoreError")
    expect(error.message).toContain("postgres://fm:***@127.0.0.1:1/nowhere")
    expect(error.message).toContain("ECONNREFUSED")
    expect(error.message).not.toContain("hunter2")
  })
})

describe.skipIf(!enabled)("PgDatabase on PostgreSQL", () => {
  const { db } = usePgDatabase({ beforeAll, afterAll }, "migr")

  it("three replicas migrating at once apply each migration exactly once", async () => {
    const runs = await Promise.all(
      [1, 2, 3].map(() => Effect.runPromise(PgDatabase.migrateDatabase({ url: db().url })))
    )
    const applied = runs.flat().map(([id]) => id).sort()
    expect(applied).toEqual(Object.keys(migrations).map((key) => Number(key.slice(0, 4))))
    const again = await Effect.runPromise(PgDatabase.migrateDatabase({ url: db().url }))
    expect(again).toEqual([])
    const tables = await withPg(
      db().url,
      (sql) =>
        sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`
    )
    expect(tables.map((t) => t.tablename)).toEqual([
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
    expect(names).toContain("packages_name_trgm")
    expect(names).toContain("packages_search_document")
  })

  it("ping answers through the migrated layer", async () => {
    await Effect.runPromise(
      PgDatabase.ping().pipe(Effect.provide(Layer.fresh(PgDatabase.layer({ url: db().url }))))
    )
  })
})
