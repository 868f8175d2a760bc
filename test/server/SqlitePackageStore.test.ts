/**
 * The SQLite store's batched download counts (a read always sees every download counted; counts
 * still pending are written when the store closes) and the hot path's archive cache.
 */
import { Effect, ManagedRuntime, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"
import { BlobCache } from "../../src/server/storage/BlobCache.js"
import { PackageStore } from "../../src/server/storage/PackageStore.js"
import * as SqlitePackageStore from "../../src/server/storage/SqlitePackageStore.js"
import { newRelease } from "../helpers/releases.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

const release = (name: string, version: string) => newRelease(name, version, { checksum: "1".repeat(64) })

const open = () => {
  const dir = dirs[0] ?? fs.mkdtempSync(path.join(os.tmpdir(), "fm-sqlite-store-"))
  if (dirs.length === 0) dirs.push(dir)
  const runtime = ManagedRuntime.make(SqlitePackageStore.layer(path.join(dir, "registry.db")))
  return {
    run: <A, E>(f: (s: PackageStore["Type"]) => Effect.Effect<A, E>) =>
      runtime.runPromise(Effect.flatMap(PackageStore, f)),
    close: () => runtime.dispose()
  }
}

describe("download counts on SQLite", () => {
  it("every read sees every download counted, at once", async () => {
    const store = open()
    await store.run((s) => s.publish(release("counted", "1.0.0")))
    for (let i = 0; i < 7; i++) await store.run((s) => s.recordDownload("counted", "1.0.0"))
    const pkg = Option.getOrThrow(await store.run((s) => s.getPackage("counted")))
    assert.strictEqual(pkg.downloads, 7)
    assert.strictEqual(Option.getOrThrow(await store.run((s) => s.getRelease("Counted", "1.0.0"))).downloads, 7)
    await store.run((s) => s.recordDownload("counted", "1.0.0"))
    assert.strictEqual((await store.run((s) => s.listReleases("counted")))[0]!.downloads, 8)
    await store.run((s) => s.recordDownload("counted", "1.0.0"))
    assert.strictEqual((await store.run((s) => s.stats)).totalDownloads, 9)
    await store.run((s) => s.recordDownload("counted", "1.0.0"))
    assert.strictEqual(
      (await store.run((s) => s.search({ q: "counted", category: undefined, page: 1, pageSize: 5 }))).rows[0]!
        .downloads,
      10
    )
    await store.close()
  })

  it("counts not yet written are written when the store closes", async () => {
    const first = open()
    await first.run((s) => s.publish(release("closing", "1.0.0")))
    await Promise.all(Array.from({ length: 25 }, () => first.run((s) => s.recordDownload("closing", "1.0.0"))))
    await first.close() // well within the flush delay
    const second = open()
    assert.strictEqual(Option.getOrThrow(await second.run((s) => s.getPackage("closing"))).downloads, 25)
    await second.close()
  })

  it("a download of an unknown or deleted release counts nothing and breaks nothing", async () => {
    const store = open()
    await store.run((s) => s.publish(release("gone", "1.0.0")))
    await store.run((s) => s.recordDownload("gone", "1.0.0"))
    await store.run((s) => s.delete("gone", "1.0.0"))
    await store.run((s) => s.recordDownload("never-was", "9.9.9"))
    assert.strictEqual((await store.run((s) => s.stats)).totalDownloads, 0)
    await store.close()
  })
})

describe("BlobCache", () => {
  it("keeps small archives within its byte budget, least recently used out first", () => {
    const cache = new BlobCache(10, 4)
    const b = (n: number) => Buffer.alloc(n)
    cache.set("a", b(4))
    cache.set("b", b(4))
    assert.strictEqual(cache.get("a")?.byteLength, 4) // a is now the most recent
    cache.set("c", b(4)) // 12 > 10: b goes
    assert.isUndefined(cache.get("b"))
    assert.isDefined(cache.get("a"))
    assert.isDefined(cache.get("c"))
    assert.strictEqual(cache.size, 8)
    cache.set("big", b(5)) // over the entry limit: not kept
    assert.isUndefined(cache.get("big"))
    assert.strictEqual(cache.size, 8)
  })
})
