/**
 * The lockfile fast path of the package cache: lookups by a known SHA-256 (no index reads, each
 * blob hashed once) and hard links from the cache into an install directory. Real files in a
 * temp FLOWMASON_HOME.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger, Option, Stream } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { PackageCacheLive } from "../../src/client/ClientLayers.js"
import { PackageCache } from "../../src/client/PackageCache.js"
import { layerAt } from "../../src/shared/FlowmasonHome.js"

const withCache =
  (logs: Array<string> = []) => <A, E>(eff: (home: string) => Effect.Effect<A, E, PackageCache>): Effect.Effect<A, E> =>
    Effect.suspend(() => {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), "fm-cache-sha-"))
      return eff(home).pipe(
        Effect.provide(PackageCacheLive.pipe(Layer.provide(layerAt(home)))),
        Effect.provide(Logger.replace(
          Logger.defaultLogger,
          Logger.make(({ message }) => {
            logs.push(Array.isArray(message) ? message.join(" ") : String(message))
          })
        )),
        Effect.ensuring(Effect.sync(() => fs.rmSync(home, { recursive: true, force: true })))
      )
    })

const bytes = (seed: string, size = 3000) => {
  const out = Buffer.alloc(size)
  for (let i = 0; i < size; i += 32) crypto.createHash("sha256").update(`${seed}-${i}`).digest().copy(out, i)
  return new Uint8Array(out)
}
const sha = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex")

describe("PackageCache lookups by SHA-256", () => {
  it.effect("hits verify the blob, touch the index entry, and miss on unknown or corrupt blobs (evicting them)", () => {
    const logs: Array<string> = []
    return withCache(logs)((home) =>
      Effect.gen(function*() {
        const cache = yield* PackageCache
        const a = bytes("a")
        const b = bytes("b", 2 * 1024 * 1024 + 17) // larger than the 1 MiB read buffer
        const keyA = { registry: "r1", name: "Pkg_A", version: "1.0.0" }
        const keyB = { registry: "r1", name: "pkg-b", version: "2.0.0" }
        yield* cache.store(keyA, sha(a), Stream.make(a))
        yield* cache.store(keyB, sha(b), Stream.make(b))
        const indexA = path.join(home, "cache", "packages", "index", "r1", "pkg-a", "1.0.0.json")
        const old = new Date(Date.now() - 30 * 24 * 3600 * 1000)
        fs.utimesSync(indexA, old, old)

        const missing = "0".repeat(64)
        const [hitA, hitB, miss, notHex] = yield* cache.lookupShaMany([
          { key: keyA, sha256: sha(a).toUpperCase() },
          { key: keyB, sha256: sha(b) },
          { key: { registry: "r1", name: "other", version: "1.0.0" }, sha256: missing },
          { key: keyA, sha256: "not-a-sha" }
        ])
        assert.isTrue(
          Option.isSome(hitA!) && hitA.value.sha256 === sha(a) && hitA.value.size === a.length &&
            hitA.value.name === "pkg-a"
        )
        assert.isTrue(Option.isSome(hitB!) && hitB.value.size === b.length)
        assert.isTrue(Option.isNone(miss!))
        assert.isTrue(Option.isNone(notHex!))
        assert.isAbove(fs.statSync(indexA).mtimeMs, Date.now() - 60_000, "last use touched")

        // corrupt blob B in place (as a user writing into an installed hard link would)
        const blobB = Option.getOrThrow(hitB!).path
        fs.appendFileSync(blobB, "x")
        const after = yield* cache.lookupSha(keyB, sha(b))
        assert.isTrue(Option.isNone(after))
        assert.isFalse(fs.existsSync(blobB), "corrupt blob evicted")
        assert.isTrue(logs.some((l) => l.includes("was corrupt") && l.includes("pkg-b@2.0.0")))
      })
    )
  })

  it.effect("a blob stored under another registry is found by SHA-256 and gets its own index entry", () =>
    withCache()((home) =>
      Effect.gen(function*() {
        const cache = yield* PackageCache
        const a = bytes("shared")
        yield* cache.store({ registry: "mirror", name: "pkg", version: "1.0.0" }, sha(a), Stream.make(a))
        const hit = yield* cache.lookupSha({ registry: "main", name: "pkg", version: "1.0.0" }, sha(a))
        assert.isTrue(Option.isSome(hit))
        const entry = JSON.parse(
          fs.readFileSync(path.join(home, "cache", "packages", "index", "main", "pkg", "1.0.0.json"), "utf8")
        )
        assert.strictEqual(entry.sha256, sha(a))
        assert.strictEqual((yield* cache.stats).packages, 2)
      })
    ))

  it.effect("linkOrCopyMany puts byte-identical files in place (hard links) and refuses to overwrite", () =>
    withCache()((home) =>
      Effect.gen(function*() {
        const cache = yield* PackageCache
        const a = bytes("link")
        const stored = yield* cache.store({ registry: "r", name: "pkg", version: "1.0.0" }, sha(a), Stream.make(a))
        const out = path.join(home, "project", "fm_packages")
        fs.mkdirSync(out, { recursive: true })
        const target = path.join(out, "pkg-1.0.0.fmpkg")
        yield* cache.linkOrCopyMany([{ blob: stored.path, target }])
        assert.deepStrictEqual(new Uint8Array(fs.readFileSync(target)), a)
        assert.strictEqual(fs.statSync(target).ino, fs.statSync(stored.path).ino, "a hard link on the same device")
        const again = yield* Effect.flip(cache.linkOrCopyMany([{ blob: stored.path, target }]))
        assert.strictEqual(again._tag, "CacheError")
        assert.include(again.message, target)
        const gone = yield* Effect.flip(
          cache.linkOrCopyMany([{ blob: path.join(home, "nope.fmpkg"), target: path.join(out, "x.fmpkg") }])
        )
        assert.include(gone.message, "nope.fmpkg")
      })
    ))

  it.effect("storeBytes: a mismatch writes nothing; a match is a blob, an index entry and a hit, as store gives", () =>
    withCache()((home) =>
      Effect.gen(function*() {
        const cache = yield* PackageCache
        const root = path.join(home, "cache", "packages")
        const a = bytes("whole")
        const key = { registry: "r1", name: "Whole_Pkg", version: "1.0.0" }
        const wrong = yield* Effect.flip(cache.storeBytes(key, "f".repeat(64), a))
        assert.strictEqual(wrong._tag, "ChecksumMismatch")
        const files = (d: string): Array<string> =>
          fs.existsSync(d) ? fs.readdirSync(d, { recursive: true, encoding: "utf8" }) : []
        assert.deepStrictEqual(files(root), [])
        const stored = yield* cache.storeBytes(key, sha(a).toUpperCase(), a)
        assert.strictEqual(stored.sha256, sha(a))
        assert.strictEqual(stored.size, a.length)
        assert.deepStrictEqual(new Uint8Array(fs.readFileSync(stored.path)), a)
        assert.deepStrictEqual(files(path.join(root, "tmp")), [])
        const index = JSON.parse(fs.readFileSync(path.join(root, "index", "r1", "whole-pkg", "1.0.0.json"), "utf8"))
        assert.strictEqual(index.sha256, sha(a))
        const hit = yield* cache.lookup(key)
        assert.isTrue(Option.isSome(hit))
        assert.strictEqual(Option.getOrThrow(hit).path, stored.path)
      })
    ))
})
