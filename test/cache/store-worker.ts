/**
 * A separate process filling the package cache (used by PackageCache.test.ts to check that two
 * processes storing at once never tear a file). Usage:
 *   node --import tsx test/cache/store-worker.ts <home> <rounds> <registry:name:version:file>...
 * Stores every job `rounds` times (64 KiB chunks, yielding between chunks), looking each one up
 * after storing. Exits 0 only when every store and lookup succeeded and verified.
 */
import { Effect, Layer, Logger, Option, Stream } from "effect"
import * as fs from "node:fs"
import { PackageCacheLive } from "../../src/client/ClientLayers.js"
import { PackageCache } from "../../src/client/PackageCache.js"
import { sha256Hex } from "../../src/shared/Checksum.js"
import { layerAt } from "../../src/shared/FlowmasonHome.js"

const [home, roundsText, ...jobs] = process.argv.slice(2)
const rounds = Number(roundsText)

const warnings: Array<string> = []
const logger = Logger.make(({ message }) => {
  warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
})

const program = Effect.gen(function*() {
  const cache = yield* PackageCache
  const parsed = jobs.map((job) => {
    const [registry, name, version, file] = job.split(":") as [string, string, string, string]
    return { key: { registry, name, version }, file, sha: sha256Hex(fs.readFileSync(file)) }
  })
  for (let round = 0; round < rounds; round++) {
    for (const { file, key, sha } of parsed) {
      const bytes = Stream.fromAsyncIterable(
        fs.createReadStream(file, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>,
        (e) => new Error(String(e))
      ).pipe(Stream.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.length)), Stream.tap(() => Effect.yieldNow()))
      const stored = yield* cache.store(key, sha, bytes)
      if (stored.sha256 !== sha) return yield* Effect.fail(new Error(`stored ${stored.sha256}, wanted ${sha}`))
      const hit = yield* cache.lookup(key)
      if (Option.isNone(hit) || hit.value.sha256 !== sha) {
        return yield* Effect.fail(new Error(`lookup of ${key.name}@${key.version} after store missed`))
      }
    }
  }
})

Effect.runPromise(
  program.pipe(
    Effect.provide(PackageCacheLive.pipe(Layer.provide(layerAt(home!)))),
    Effect.provide(Logger.replace(Logger.defaultLogger, logger))
  )
).then(
  () => {
    if (warnings.length > 0) {
      console.error(`warnings:\n${warnings.join("\n")}`)
      process.exit(3)
    }
    process.exit(0)
  },
  (e) => {
    console.error(String(e))
    process.exit(1)
  }
)
