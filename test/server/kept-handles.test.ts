/**
 * The publish path's kept descriptors (issue #13): the WAL fsync and the blob shard's directory
 * fsync go through one descriptor opened once and kept, instead of an `open` and a `close` per
 * publish, and both are closed with their scope. Counted in /proc/self/fd (Linux).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as BlobWriter from "../../src/server/storage/BlobWriter.js"
import { fileSyncer } from "../../src/server/storage/SqlitePackageStore.js"

/** How many of this process's descriptors are open on `target`. */
const openOn = (target: string): number =>
  fs.readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return fs.readlinkSync(path.join("/proc/self/fd", fd)) === target
    } catch {
      return false // closed meanwhile
    }
  }).length

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "fm-kept-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

describe.runIf(fs.existsSync("/proc/self/fd"))("kept descriptors of the publish path", () => {
  it.live("fileSyncer: nothing to sync before the file exists; then one descriptor for every fsync, closed with the scope", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "registry.db-wal")
      const scope = yield* Scope.make()
      const sync = yield* Scope.extend(fileSyncer(file), scope)
      yield* sync // no file yet: nothing to sync, nothing opened
      fs.writeFileSync(file, "a")
      for (let i = 0; i < 5; i++) {
        fs.appendFileSync(file, "b")
        yield* sync
      }
      assert.strictEqual(openOn(file), 1)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(openOn(file), 0)
    }).pipe(Effect.scoped))

  it.live("BlobWriter: one directory handle per shard for every write's directory fsync, closed with the scope", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const shard = path.join(dir, "blobs", "ab")
      const scope = yield* Scope.make()
      const write = yield* Scope.extend(BlobWriter.make, scope)
      for (let i = 0; i < 5; i++) {
        const bytes = crypto.randomBytes(1000)
        const target = path.join(shard, `blob-${i}`)
        yield* write(bytes, `${target}.part`, target)
        assert.deepStrictEqual(fs.readFileSync(target), bytes)
      }
      assert.deepStrictEqual(fs.readdirSync(shard).sort(), [0, 1, 2, 3, 4].map((i) => `blob-${i}`))
      assert.strictEqual(openOn(shard), 1)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(openOn(shard), 0)
    }).pipe(Effect.scoped))
})
