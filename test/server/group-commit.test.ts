/**
 * Group commit of publishes (issue #13): concurrent publishes share transactions and fsyncs,
 * each is answered only after the fsync of its group, and a conflict fails only its own publish.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { PackageStore } from "../../src/server/storage/PackageStore.js"
import * as SqlitePackageStore from "../../src/server/storage/SqlitePackageStore.js"
import { makeSql } from "../../src/server/storage/SqlPackageStore.js"
import { newRelease } from "../helpers/releases.js"

/** The SQLite store on `file`, its group fsyncs recorded in `events` once each is done. */
const storeLayer = (file: string, events: Array<string>) =>
  Layer.scoped(
    PackageStore,
    Effect.flatMap(SqlitePackageStore.dialect, (dialect) =>
      makeSql({
        ...dialect,
        syncCommitted: Effect.zipRight(
          dialect.syncCommitted ?? Effect.void,
          Effect.sync(() => void events.push("sync"))
        )
      }))
  ).pipe(Layer.provide(SqlitePackageStore.migratorLayer), Layer.provide(SqlitePackageStore.clientLayer(file)))

describe("group commit of publishes (SQLite)", () => {
  it.live("30 concurrent publishes share fsyncs; each is answered after its group's fsync; a duplicate fails alone", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-group-commit-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const file = path.join(dir, "registry.db")
      const events: Array<string> = []
      const releases = [
        ...Array.from({ length: 25 }, (_, i) => newRelease(`grouped-${i}`, "1.0.0")),
        ...Array.from({ length: 5 }, () => newRelease("twice", "1.0.0"))
      ]
      const outcomes = yield* Effect.flatMap(PackageStore, (store) =>
        Effect.forEach(
          releases,
          (r) => Effect.either(store.publish(r)).pipe(Effect.tap(() => Effect.sync(() => void events.push("ack")))),
          { concurrency: "unbounded" }
        )).pipe(Effect.provide(storeLayer(file, events)))

      // the 25 distinct ones and exactly one of the five identical ones were published
      assert.strictEqual(outcomes.slice(0, 25).filter(Either.isRight).length, 25)
      const twice = outcomes.slice(25)
      assert.strictEqual(twice.filter(Either.isRight).length, 1)
      for (const o of twice.filter(Either.isLeft)) assert.strictEqual(o.left._tag, "VersionExists")
      // grouped: fewer fsyncs than publishes; none answered before the first fsync was done
      const syncs = events.filter((e) => e === "sync").length
      assert.isAtLeast(syncs, 1)
      assert.isBelow(syncs, releases.length / 2)
      assert.strictEqual(events[0], "sync")
      assert.strictEqual(events.filter((e) => e === "ack").length, releases.length)

      // all of it is in the database for the next store
      const found = yield* Effect.flatMap(PackageStore, (store) => store.stats).pipe(
        Effect.provide(storeLayer(file, []))
      )
      assert.strictEqual(found.versions, 26)
    }).pipe(Effect.scoped))
})
