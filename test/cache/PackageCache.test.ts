import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Logger, Option, Stream } from "effect"
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { PackageCacheLive } from "../../src/client/ClientLayers.js"
import { type CacheKey, PackageCache } from "../../src/client/PackageCache.js"
import { ChecksumMismatch, sha256Hex } from "../../src/shared/Checksum.js"
import { homePaths, layerAt } from "../../src/shared/FlowmasonHome.js"

const tempHome = () => fs.mkdtempSync(path.join(os.tmpdir(), "fm-cache-"))

/** Runs `eff` with a PackageCache over `home`, collecting log lines into `logs`. */
const withCache =
  (home: string, logs: Array<string> = []) => <A, E>(eff: Effect.Effect<A, E, PackageCache>): Effect.Effect<A, E> =>
    eff.pipe(
      Effect.provide(PackageCacheLive.pipe(Layer.provide(layerAt(home)))),
      Effect.provide(Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ logLevel, message }) => {
          logs.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
        })
      )),
      Effect.ensuring(Effect.sync(() => fs.rmSync(home, { recursive: true, force: true })))
    )

const bytesOf = (size: number, seed: string) => {
  const out = Buffer.alloc(size)
  let block = crypto.createHash("sha256").update(seed).digest()
  for (let i = 0; i < size; i += block.length) {
    block.copy(out, i)
    block = crypto.createHash("sha256").update(block).digest()
  }
  return new Uint8Array(out)
}

/** A stream of `data` in chunks of `chunk` bytes. */
const streamOf = (data: Uint8Array, chunk = 4096) =>
  Stream.fromChunk(
    Chunk.fromIterable(
      Array.from({ length: Math.ceil(data.length / chunk) }, (_, i) => data.subarray(i * chunk, (i + 1) * chunk))
    )
  )

const cacheDirOf = (home: string) => homePaths(path.resolve(home)).cacheDir
const indexFile = (home: string, k: CacheKey) =>
  path.join(cacheDirOf(home), "index", k.registry, k.name, `${k.version}.json`)
const filesUnder = (dir: string): Array<string> =>
  fs.existsSync(dir)
    ? (fs.readdirSync(dir, { recursive: true }) as Array<string>).filter((f) => fs.statSync(path.join(dir, f)).isFile())
    : []

const keyA: CacheKey = { registry: "main", name: "pkg-a", version: "1.0.0" }
const keyB: CacheKey = { registry: "main", name: "pkg-b", version: "2.1.0" }

describe("PackageCache", () => {
  it.live("verifiedOnce runs a check until it passes once per SHA-256, name and version; clear forgets", () => {
    const home = tempHome()
    const sha = sha256Hex(bytesOf(10, "v"))
    return Effect.gen(function*() {
      const cache = yield* PackageCache
      let runs = 0
      const pass = Effect.sync(() => void runs++)
      const fail = Effect.zipRight(pass, Effect.fail("refused" as const))
      assert.strictEqual(yield* Effect.flip(cache.verifiedOnce(sha, "Pkg_A", "1.0.0", fail)), "refused")
      yield* cache.verifiedOnce(sha, "Pkg_A", "1.0.0", pass) // a failure was not remembered
      yield* cache.verifiedOnce(sha, "pkg-a", "1.0.0", pass) // the same name, spelled differently
      assert.strictEqual(runs, 2)
      yield* cache.verifiedOnce(sha, "pkg-a", "1.0.1", pass) // another version, another answer
      yield* cache.verifiedOnce(sha256Hex(bytesOf(10, "w")), "pkg-a", "1.0.0", pass) // other bytes
      assert.strictEqual(runs, 4)
      yield* cache.clear()
      yield* cache.verifiedOnce(sha, "pkg-a", "1.0.0", pass)
      assert.strictEqual(runs, 5)
    }).pipe(withCache(home))
  })

  it.live("stores a stream, verifies it, and finds it again (also by a differently spelled name)", () => {
    const home = tempHome()
    const data = bytesOf(300_000, "a")
    const sha = sha256Hex(data)
    return Effect.gen(function*() {
      const cache = yield* PackageCache
      assert.strictEqual(cache.dir, cacheDirOf(home))
      assert.isTrue(Option.isNone(yield* cache.lookup(keyA)))
      const stored = yield* cache.store({ ...keyA, name: "PKG_A" }, sha.toUpperCase(), streamOf(data))
      assert.strictEqual(stored.name, "pkg-a")
      assert.strictEqual(stored.sha256, sha)
      assert.strictEqual(stored.size, data.length)
      assert.isTrue(Buffer.from(fs.readFileSync(stored.path)).equals(Buffer.from(data)))
      assert.strictEqual(path.basename(stored.path), `${sha}.fmpkg`)
      const hit = yield* cache.lookup({ ...keyA, name: "pkg.a" })
      assert.isTrue(Option.isSome(hit))
      assert.deepStrictEqual(Option.getOrThrow(hit), stored)
      // another registry's key for the same version is a different entry
      assert.isTrue(Option.isNone(yield* cache.lookup({ ...keyA, registry: "other" })))
      const any = yield* cache.lookupAnyRegistry("pkg-a", "1.0.0")
      assert.strictEqual(Option.getOrThrow(any).registry, "main")
      // no temp files left
      assert.deepStrictEqual(filesUnder(path.join(cache.dir, "tmp")), [])
      // index entry is one small JSON file per key
      const rec = JSON.parse(fs.readFileSync(indexFile(home, keyA), "utf8"))
      assert.strictEqual(rec.sha256, sha)
      assert.strictEqual(rec.size, data.length)
    }).pipe(withCache(home))
  })

  it.live("storeFile copies a local file; without an expected checksum it is computed", () => {
    const home = tempHome()
    const src = path.join(home, "x.fmpkg")
    const data = bytesOf(2_500_000, "file")
    fs.writeFileSync(src, data)
    return Effect.gen(function*() {
      const cache = yield* PackageCache
      const stored = yield* cache.storeFile(keyB, src)
      assert.strictEqual(stored.sha256, sha256Hex(data))
      assert.strictEqual(stored.size, data.length)
      const again = yield* cache.storeFile({ ...keyB, registry: "mirror" }, src, sha256Hex(data))
      assert.strictEqual(again.path, stored.path) // content-addressed: one blob
      assert.deepStrictEqual(yield* cache.stats, { packages: 2, total_size_bytes: data.length, cache_dir: cache.dir })
      const missing = yield* Effect.flip(cache.storeFile(keyA, path.join(home, "nope.fmpkg")))
      assert.strictEqual(missing._tag, "CacheError")
      assert.include(missing.message, "nope.fmpkg")
    }).pipe(withCache(home))
  })

  it.live("a wrong checksum fails with ChecksumMismatch and keeps nothing", () => {
    const home = tempHome()
    const data = bytesOf(100_000, "bad")
    const wrong = sha256Hex("something else")
    return Effect.gen(function*() {
      const cache = yield* PackageCache
      const err = yield* Effect.flip(cache.store(keyA, wrong, streamOf(data)))
      assert.instanceOf(err, ChecksumMismatch)
      if (err instanceof ChecksumMismatch) {
        assert.strictEqual(err.expected, wrong)
        assert.strictEqual(err.actual, sha256Hex(data))
        assert.strictEqual(err.registry, "main")
        assert.include(err.message, "pkg-a@1.0.0")
      }
      assert.deepStrictEqual(filesUnder(cache.dir), [])
      assert.isTrue(Option.isNone(yield* cache.lookup(keyA)))
      assert.strictEqual((yield* cache.stats).packages, 0)
    }).pipe(withCache(home))
  })

  it.live("a failing download stream propagates its error and leaves no temp file", () => {
    const home = tempHome()
    const data = bytesOf(50_000, "x")
    return Effect.gen(function*() {
      const cache = yield* PackageCache
      const broken = Stream.concat(streamOf(data), Stream.fail("connection reset" as const))
      const err = yield* Effect.flip(cache.store(keyA, undefined, broken))
      assert.strictEqual(err, "connection reset")
      assert.deepStrictEqual(filesUnder(cache.dir), [])
    }).pipe(withCache(home))
  })

  it.live("refuses keys that could escape the cache directory", () => {
    const home = tempHome()
    return Effect.gen(function*() {
      const cache = yield* PackageCache
      for (
        const key of [
          { registry: "../x", name: "a", version: "1.0.0" },
          { registry: "r", name: "../../etc", version: "1.0.0" },
          { registry: "r", name: "a", version: "../../1.0.0" },
          { registry: "r", name: "a", version: "latest" }
        ]
      ) {
        const err = yield* Effect.flip(cache.lookup(key))
        assert.strictEqual(err._tag, "CacheError")
        const err2 = yield* Effect.flip(cache.store(key, undefined, streamOf(new Uint8Array(3))))
        assert.strictEqual(err2._tag, "CacheError")
      }
      assert.deepStrictEqual(filesUnder(path.dirname(cache.dir)), [])
    }).pipe(withCache(home))
  })

  it.live("a blob corrupted on disk is reported, evicted and not returned", () => {
    const home = tempHome()
    const logs: Array<string> = []
    const data = bytesOf(70_000, "c")
    return Effect.gen(function*() {
      const cache = yield* PackageCache
      const stored = yield* cache.store(keyA, sha256Hex(data), streamOf(data))
      const bytes = fs.readFileSync(stored.path)
      bytes[1234] = bytes[1234]! ^ 0xff
      fs.writeFileSync(stored.path, bytes)
      const hit = yield* cache.lookup(keyA)
      assert.isTrue(Option.isNone(hit))
      assert.isFalse(fs.existsSync(stored.path))
      assert.isFalse(fs.existsSync(indexFile(home, keyA)))
      const warning = logs.find((l) => l.startsWith("WARN"))
      assert.isDefined(warning)
      assert.notInclude(warning!, stored.path, "no internal paths in warnings")
      assert.include(warning!, "was corrupt")
      assert.include(warning!, "pkg-a@1.0.0")
      // a truncated blob too
      const again = yield* cache.store(keyA, sha256Hex(data), streamOf(data))
      fs.truncateSync(again.path, 10)
      assert.isTrue(Option.isNone(yield* cache.lookupAnyRegistry("pkg-a", "1.0.0")))
      assert.strictEqual((yield* cache.stats).packages, 0)
      // a corrupt index entry is removed, not trusted
      yield* cache.store(keyB, undefined, streamOf(data))
      fs.writeFileSync(indexFile(home, keyB), "{not json")
      assert.isTrue(Option.isNone(yield* cache.lookup(keyB)))
      assert.isFalse(fs.existsSync(indexFile(home, keyB)))
    }).pipe(withCache(home, logs))
  })

  it.live("stats and clear everything", () => {
    const home = tempHome()
    const a = bytesOf(10_000, "a")
    const b = bytesOf(20_000, "b")
    return Effect.gen(function*() {
      const cache = yield* PackageCache
      assert.deepStrictEqual(yield* cache.stats, { packages: 0, total_size_bytes: 0, cache_dir: cache.dir })
      yield* cache.store(keyA, undefined, streamOf(a))
      yield* cache.store(keyB, undefined, streamOf(b))
      yield* cache.store({ ...keyB, registry: "mirror" }, undefined, streamOf(b))
      assert.deepStrictEqual(yield* cache.stats, { packages: 3, total_size_bytes: 30_000, cache_dir: cache.dir })
      // stray files in the index tree are ignored, not fatal
      fs.writeFileSync(path.join(cache.dir, "index", ".DS_Store"), "x")
      fs.writeFileSync(path.join(cache.dir, "index", "main", "notes.txt"), "x")
      assert.strictEqual((yield* cache.stats).packages, 3)
      assert.isTrue(Option.isSome(yield* cache.lookupAnyRegistry("pkg-b", "2.1.0")))
      assert.deepStrictEqual(yield* cache.clear(), { removed: 3, freed_bytes: 30_000 })
      assert.deepStrictEqual(yield* cache.stats, { packages: 0, total_size_bytes: 0, cache_dir: cache.dir })
      assert.deepStrictEqual(filesUnder(cache.dir), [])
      assert.deepStrictEqual(yield* cache.clear(), { removed: 0, freed_bytes: 0 })
    }).pipe(withCache(home))
  })

  it.live("clear --older-than removes what was not USED for N days, keeping shared blobs", () => {
    const home = tempHome()
    const a = bytesOf(10_000, "a")
    const b = bytesOf(20_000, "b")
    const c = bytesOf(40_000, "c")
    const old = new Date(Date.now() - 40 * 24 * 3600 * 1000)
    const keyC: CacheKey = { registry: "main", name: "pkg-c", version: "0.1.0" }
    const keyBm: CacheKey = { ...keyB, registry: "mirror" }
    return Effect.gen(function*() {
      const cache = yield* PackageCache
      const sa = yield* cache.store(keyA, undefined, streamOf(a))
      const sb = yield* cache.store(keyB, undefined, streamOf(b))
      yield* cache.store(keyBm, undefined, streamOf(b))
      const sc = yield* cache.store(keyC, undefined, streamOf(c))
      // everything stored 40 days ago
      for (const k of [keyA, keyB, keyBm, keyC]) fs.utimesSync(indexFile(home, k), old, old)
      for (const s of [sa, sb, sc]) fs.utimesSync(s.path, old, old)
      // ...but A and the mirror's B were used just now
      assert.isTrue(Option.isSome(yield* cache.lookup(keyA)))
      assert.isTrue(Option.isSome(yield* cache.lookup(keyBm)))
      const result = yield* cache.clear(30)
      // main/pkg-b and main/pkg-c entries go; B's blob stays (the mirror entry uses it); C's blob goes
      assert.deepStrictEqual(result, { removed: 2, freed_bytes: 40_000 })
      assert.isTrue(Option.isSome(yield* cache.lookup(keyA)))
      assert.isTrue(Option.isSome(yield* cache.lookup(keyBm)))
      assert.isTrue(Option.isNone(yield* cache.lookup(keyB)))
      assert.isTrue(Option.isNone(yield* cache.lookup(keyC)))
      assert.isFalse(fs.existsSync(sc.path))
      assert.deepStrictEqual(yield* cache.stats, { packages: 2, total_size_bytes: 30_000, cache_dir: cache.dir })
      // a recent blob without an index entry (another process mid-store) is left alone
      const orphan = path.join(cache.dir, "blobs", `${sha256Hex("orphan")}.fmpkg`)
      fs.writeFileSync(orphan, "orphan")
      assert.deepStrictEqual(yield* cache.clear(30), { removed: 0, freed_bytes: 0 })
      assert.isTrue(fs.existsSync(orphan))
    }).pipe(withCache(home))
  })

  it("two processes storing the same and different packages at once never tear a file", async () => {
    const home = tempHome()
    try {
      const files = ["shared", "only-1", "only-2"].map((seed, i) => {
        const file = path.join(home, `${seed}.bin`)
        fs.writeFileSync(file, bytesOf(1_500_000 + i * 77_777, seed))
        return file
      })
      const [shared, only1, only2] = files as [string, string, string]
      const worker = fileURLToPath(new URL("./store-worker.ts", import.meta.url))
      const run = (jobs: Array<string>) =>
        new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
          const child = spawn(process.execPath, ["--import", "tsx", worker, home, "4", ...jobs], {
            cwd: fileURLToPath(new URL("../..", import.meta.url)),
            env: { PATH: process.env.PATH ?? "", HOME: home },
            stdio: ["ignore", "ignore", "pipe"]
          })
          let stderr = ""
          child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
          const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, "SIGKILL"), 50_000)
          child.on("error", reject)
          child.on("close", (code) => {
            clearTimeout(timer)
            resolve({ code, stderr })
          })
        })
      const results = await Promise.all([
        run([`main:shared:1.0.0:${shared}`, `main:only-one:1.0.0:${only1}`, `mirror:shared:1.0.0:${shared}`]),
        run([`main:shared:1.0.0:${shared}`, `main:only-two:3.0.0:${only2}`, `mirror:shared:1.0.0:${shared}`])
      ])
      for (const r of results) assert.strictEqual(r.code, 0, r.stderr)

      const cacheDir = cacheDirOf(home)
      const blobs = fs.readdirSync(path.join(cacheDir, "blobs")).sort()
      assert.deepStrictEqual(blobs, files.map((f) => `${sha256Hex(fs.readFileSync(f))}.fmpkg`).sort())
      for (const blob of blobs) {
        assert.strictEqual(`${sha256Hex(fs.readFileSync(path.join(cacheDir, "blobs", blob)))}.fmpkg`, blob)
      }
      assert.deepStrictEqual(filesUnder(path.join(cacheDir, "tmp")), [])
      const index = filesUnder(path.join(cacheDir, "index")).sort()
      assert.deepStrictEqual(index, [
        path.join("main", "only-one", "1.0.0.json"),
        path.join("main", "only-two", "3.0.0.json"),
        path.join("main", "shared", "1.0.0.json"),
        path.join("mirror", "shared", "1.0.0.json")
      ])
      for (const f of index) JSON.parse(fs.readFileSync(path.join(cacheDir, "index", f), "utf8"))
      const stats = await Effect.runPromise(
        Effect.flatMap(PackageCache, (c) => c.stats).pipe(
          Effect.provide(PackageCacheLive.pipe(Layer.provide(layerAt(home))))
        )
      )
      assert.strictEqual(stats.packages, 4)
      assert.strictEqual(stats.total_size_bytes, files.reduce((n, f) => n + fs.statSync(f).size, 0))
    } finally {
      fs.rmSync(home, { recursive: true, force: true })
    }
  })
})
