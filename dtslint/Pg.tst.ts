import type { SqlClient } from "@effect/sql"
import type { Effect, Layer } from "effect"
import { expect, test } from "tstyche"
import * as PgBlobStore from "../src/server/pg/PgBlobStore.js"
import * as PgDatabase from "../src/server/pg/PgDatabase.js"
import * as PgPackageStore from "../src/server/pg/PgPackageStore.js"
import * as Storage from "../src/server/selection/Storage.js"
import type { BlobError, BlobStore } from "../src/server/storage/BlobStore.js"
import type { PackageStore, StoreError } from "../src/server/storage/PackageStore.js"

test("the PostgreSQL store layer needs nothing and fails only with StoreError", () => {
  expect(PgPackageStore.layer({ url: "postgres://h/db" })).type.toBe<Layer.Layer<PackageStore, StoreError, never>>()
  expect(PgPackageStore.layerFromClient).type.toBe<Layer.Layer<PackageStore, StoreError, SqlClient.SqlClient>>()
})

test("storage selection yields both stores with typed failures", () => {
  expect(Storage.layer({ dataDir: "/d", databaseUrl: "postgres://h/db" })).type.toBe<
    Layer.Layer<PackageStore | BlobStore, StoreError | BlobError, never>
  >()
  expect(Storage.layer).type.not.toBeCallableWith({ databaseUrl: "postgres://h/db" })
})

test("migrations and ping are typed effects over the SQL client", () => {
  expect(PgDatabase.migrateDatabase({ url: "postgres://h/db" })).type.toBe<
    Effect.Effect<ReadonlyArray<readonly [id: number, name: string]>, StoreError, never>
  >()
  expect(PgDatabase.ping()).type.toBe<Effect.Effect<void, StoreError, SqlClient.SqlClient>>()
  expect(PgBlobStore.layerFromClient("/tmp")).type.toBe<Layer.Layer<BlobStore, BlobError, SqlClient.SqlClient>>()
})
