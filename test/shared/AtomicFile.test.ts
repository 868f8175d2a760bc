/**
 * AtomicFile's synchronous write (cache index entries, metadata answers): the target holds the new
 * bytes or the old ones, never a temp file beside them; missing directories are created on request.
 * Real files in a temp directory.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { writeFileAtomicSync } from "../../src/shared/AtomicFile.js"
import { tempDir } from "../helpers/scoped.js"

describe("writeFileAtomicSync", () => {
  it.scoped("writes through a temp file, creates missing directories on request, replaces an old file", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("fm-atomic-")
      const target = path.join(dir, "a", "b", "entry.json")
      const temp = path.join(dir, "tmp", "entry.json.1.tmp")
      assert.throws(() => writeFileAtomicSync(target, "x", { temp }), /ENOENT/)
      writeFileAtomicSync(target, "first", { temp, createDirectories: true, fsync: false })
      assert.strictEqual(fs.readFileSync(target, "utf8"), "first")
      writeFileAtomicSync(target, new TextEncoder().encode("second"), { temp, createDirectories: true })
      assert.strictEqual(fs.readFileSync(target, "utf8"), "second")
      assert.deepStrictEqual(fs.readdirSync(path.join(dir, "tmp")), [])
    }))

  it.scoped("a failed rename leaves the target as it was and no temp file", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("fm-atomic-")
      // a non-empty directory where the file should go: the rename fails
      const target = path.join(dir, "entry.json")
      fs.mkdirSync(target)
      fs.writeFileSync(path.join(target, "keep"), "kept")
      const temp = path.join(dir, ".entry.json.1.tmp")
      assert.throws(() => writeFileAtomicSync(target, "new", { temp, createDirectories: true }))
      assert.deepStrictEqual(fs.readdirSync(dir), ["entry.json"])
      assert.strictEqual(fs.readFileSync(path.join(target, "keep"), "utf8"), "kept")
      // an existing temp file is never overwritten (exclusive create)
      fs.writeFileSync(temp, "someone else's")
      assert.throws(() => writeFileAtomicSync(path.join(dir, "other.json"), "new", { temp }), /EEXIST/)
    }))
})
