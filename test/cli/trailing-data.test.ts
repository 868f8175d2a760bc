/**
 * `fm publish FILE.fmpkg --dry-run` (the built binary) checks the archive locally before anything
 * is sent: data after a ZIP's end record or after a tar's end marker is refused with the file's name
 * and the reason; zero padding after either end is allowed. (`fm pack` reads a directory, so it has
 * no archive of its own to check; the archives it writes end at their end record or marker.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { trailingData, zeroPadded } from "../helpers/archives.js"
import { assertBuilt, makeTempDir, removeDir, removeFmBinSnapshot, runFm } from "../helpers/cli.js"

/** A home for fm (and the archives) removed when the test's scope closes. */
const home = Effect.acquireRelease(
  Effect.sync(() => {
    assertBuilt()
    return makeTempDir("fm-trailing-")
  }),
  (dir) =>
    Effect.sync(() => {
      removeDir(dir)
      removeFmBinSnapshot()
    })
)

const dryRun = (dir: string, name: string, archive: Buffer) =>
  Effect.promise(async () => {
    const file = path.join(dir, name)
    fs.writeFileSync(file, archive)
    return { file, result: await runFm(["publish", file, "--dry-run"], { home: dir }) }
  })

describe("fm publish --dry-run of an archive with data after its end (built binary)", () => {
  it.scopedLive(
    "refuses a ZIP with data after its end record and a tar with bytes after its end marker",
    () =>
      Effect.gen(function*() {
        const dir = yield* home
        const archives = trailingData("trailing")
        for (
          const [name, archive, reason] of [
            ["zip-trailing.fmpkg", archives.zip, "data after the end of the ZIP archive"],
            ["tar-trailing.fmpkg", archives.tar, "data after the end of the tar archive"]
          ] as const
        ) {
          const { file, result } = yield* dryRun(dir, name, archive)
          assert.strictEqual(result.code, 1, result.stdout + result.stderr)
          assert.include(result.stderr, `${file}: ${reason}`)
          assert.notInclude(result.stdout, "Would publish")
        }
      }),
    60_000
  )

  it.scopedLive("accepts zero padding after either end", () =>
    Effect.gen(function*() {
      const dir = yield* home
      const archives = zeroPadded("padded")
      for (const [name, archive] of [["zip-padded.fmpkg", archives.zip], ["tar-padded.fmpkg", archives.tar]] as const) {
        const { result } = yield* dryRun(dir, name, archive)
        assert.strictEqual(result.code, 0, result.stdout + result.stderr)
        assert.include(result.stdout, "Would publish padded@1.0.0")
      }
    }), 60_000)
})
