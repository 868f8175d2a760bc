/**
 * SQLite checkpoints off the main thread (`WalCheckpointer`): once the store has written, a worker
 * thread copies the `-wal` file into the database file and the store's connection checkpoints only
 * past a high threshold; a worker that fails gives the checkpoints back to the store's connection.
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { PackageStore } from "../../src/server/storage/PackageStore.js"
import * as SqlitePackageStore from "../../src/server/storage/SqlitePackageStore.js"
import * as WalCheckpointer from "../../src/server/storage/WalCheckpointer.js"
import { newRelease } from "../helpers/releases.js"
import { tempDir } from "../helpers/scoped.js"

/** Polls `cond` every 20 ms for at most 10 s. */
const eventually = (cond: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500 && !cond(); i++) yield* Effect.sleep("20 millis")
    return cond()
  })

describe("WAL checkpoints by a worker thread", () => {
  it.live("after a publish the worker copies the -wal into the database file; the store's connection checkpoints only past the fallback", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("fm-wal-checkpoint-")
      const file = path.join(dir, "registry.db")
      const client = SqlitePackageStore.clientLayer(file)
      const layer = Layer.merge(SqlitePackageStore.layerFromClient.pipe(Layer.provide(client)), client)
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const store = yield* PackageStore
        // the migrations are in the -wal only: nothing checkpointed them into the database file yet
        const before = fs.statSync(file).size
        assert.isAbove(fs.statSync(`${file}-wal`).size, 0)
        yield* store.publish(newRelease("checkpointed", "1.0.0"))
        assert.isTrue(yield* eventually(() => fs.statSync(file).size > before + 4096))
        const rows = yield* sql<{ readonly wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`
        assert.strictEqual(rows[0]?.wal_autocheckpoint, WalCheckpointer.FALLBACK_AUTOCHECKPOINT)
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped))

  it.live("writes one after another: past the drain threshold the -wal file starts over instead of growing", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("fm-wal-checkpoint-")
      const file = path.join(dir, "test.db")
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE t (b BLOB)`
        const checkpointer = yield* WalCheckpointer.make(
          file,
          (pages) => sql`PRAGMA wal_autocheckpoint = ${sql.literal(String(pages))}`.pipe(Effect.ignore),
          { drainFrames: 50, intervalMs: 0 }
        )
        const page = new Uint8Array(4000)
        // the worker up and answering first (its start is not what this test is about: on a loaded
        // machine it can take longer than the writes below, and the -wal file keeps its largest size)
        yield* sql.withTransaction(sql`INSERT INTO t (b) VALUES (${page})`)
        yield* checkpointer.wrote
        assert.isTrue(yield* eventually(() => checkpointer.checkpoints() > 0))
        // 1000 writes of a page or two each: 6 MB or more of -wal if it never started over
        for (let i = 0; i < 1000; i++) {
          yield* sql.withTransaction(sql`INSERT INTO t (b) VALUES (${page})`)
          // the store's write ends with an fsync by the thread pool: the event loop turns
          yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
          yield* checkpointer.wrote
        }
        assert.isAbove(checkpointer.checkpoints(), 0)
        assert.isBelow(fs.statSync(`${file}-wal`).size, 2 * 1024 * 1024)
      }).pipe(Effect.provide(SqliteClient.layer({ filename: file })))
    }).pipe(Effect.scoped))

  it.live("a worker that cannot open the database gives the checkpoints back to the store's connection", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("fm-wal-checkpoint-")
      const set: Array<number> = []
      const checkpointer = yield* WalCheckpointer.make(
        path.join(dir, "missing.db"),
        (pages) => Effect.sync(() => void set.push(pages))
      )
      yield* checkpointer.wrote
      assert.deepStrictEqual(set, [WalCheckpointer.FALLBACK_AUTOCHECKPOINT])
      // the worker fails on its own; the next write hands the checkpoints back
      let tries = 0
      const handedBack = yield* Effect.gen(function*() {
        while (set.length < 2 && tries++ < 500) {
          yield* checkpointer.wrote
          if (set.length < 2) yield* Effect.sleep("20 millis")
        }
        return set
      })
      assert.deepStrictEqual(handedBack, [WalCheckpointer.FALLBACK_AUTOCHECKPOINT, 1000])
      assert.strictEqual(checkpointer.checkpoints(), 0)
    }).pipe(Effect.scoped))
})
