/**
 * Checksum: streaming SHA-256 of real files and streams, checked against sha256sum and node:crypto;
 * typed verification errors.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Checksum, ChecksumMismatch, isSha256Hex, sha256Hex } from "../../src/shared/Checksum.js"
import { makeTempDir, removeDir } from "../helpers/archives.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => makeTempDir("fm-checksum-")),
  (dir) => Effect.sync(() => removeDir(dir))
)

const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

describe("Checksum", () => {
  it("sha256Hex and isSha256Hex", () => {
    assert.strictEqual(sha256Hex(""), EMPTY)
    assert.strictEqual(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert.strictEqual(sha256Hex(new Uint8Array([0x61, 0x62, 0x63])), sha256Hex("abc"))
    assert.isTrue(isSha256Hex(EMPTY))
    assert.isFalse(isSha256Hex(EMPTY.toUpperCase()))
    assert.isFalse(isSha256Hex(EMPTY.slice(1)))
    assert.isFalse(isSha256Hex(`${EMPTY.slice(1)}g`))
  })

  it.scoped("hashFile matches sha256sum on files around the 1 MiB read size, and an empty file", () =>
    Effect.gen(function*() {
      const checksum = yield* Checksum
      const dir = yield* tempDir
      for (const size of [0, 1, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024 + 17]) {
        const file = path.join(dir, `f${size}`)
        fs.writeFileSync(file, crypto.randomBytes(size))
        const expected = execFileSync("sha256sum", [file], { encoding: "utf8" }).split(" ")[0]
        assert.strictEqual(yield* checksum.hashFile(file), expected, `size ${size}`)
      }
    }).pipe(Effect.provide(Checksum.Default)))

  it.effect("hashFile of a missing file is a FileError naming it", () =>
    Effect.gen(function*() {
      const checksum = yield* Checksum
      const error = yield* Effect.flip(checksum.hashFile("/nonexistent/pkg.fmpkg"))
      assert.strictEqual(error._tag, "FileError")
      assert.strictEqual(error.file, "/nonexistent/pkg.fmpkg")
      assert.match(error.message, /^hash \/nonexistent\/pkg\.fmpkg: ENOENT/)
    }).pipe(Effect.provide(Checksum.Default)))

  it.effect("hashStream hashes what the stream emits, whatever the chunking, and keeps its error", () =>
    Effect.gen(function*() {
      const checksum = yield* Checksum
      const data = crypto.randomBytes(100_000)
      const chunks = [data.subarray(0, 1), data.subarray(1, 50_000), data.subarray(50_000)]
      assert.strictEqual(yield* checksum.hashStream(Stream.fromIterable(chunks)), sha256Hex(data))
      assert.strictEqual(yield* checksum.hashStream(Stream.empty), EMPTY)
      const failing = Stream.concat(Stream.fromChunk(Chunk.of(data)), Stream.fail("boom" as const))
      assert.strictEqual(yield* Effect.flip(checksum.hashStream(failing)), "boom")
    }).pipe(Effect.provide(Checksum.Default)))

  it.effect("hashing() is incremental", () =>
    Effect.gen(function*() {
      const checksum = yield* Checksum
      const h = checksum.hashing()
      h.update(Buffer.from("ab"))
      h.update(Buffer.from("c"))
      assert.strictEqual(h.digest(), sha256Hex("abc"))
    }).pipe(Effect.provide(Checksum.Default)))

  it.scoped("verifyFile accepts the right digest (any case) and fails with a typed ChecksumMismatch", () =>
    Effect.gen(function*() {
      const checksum = yield* Checksum
      const dir = yield* tempDir
      const file = path.join(dir, "demo-1.0.0.fmpkg")
      fs.writeFileSync(file, "package bytes")
      const right = sha256Hex("package bytes")
      yield* checksum.verifyFile(file, right)
      yield* checksum.verifyFile(file, right.toUpperCase())
      const error = yield* Effect.flip(checksum.verifyFile(file, EMPTY, { package: "demo@1.0.0", registry: "mirror" }))
      assert.instanceOf(error, ChecksumMismatch)
      assert.strictEqual(error._tag, "ChecksumMismatch")
      if (error._tag !== "ChecksumMismatch") return
      assert.strictEqual(error.file, file)
      assert.strictEqual(error.expected, EMPTY)
      assert.strictEqual(error.actual, right)
      assert.strictEqual(error.package, "demo@1.0.0")
      assert.strictEqual(error.registry, "mirror")
      for (const part of [file, EMPTY, right, "demo@1.0.0", "mirror"]) assert.include(error.message, part)
      const bare = yield* Effect.flip(checksum.verifyFile(file, "not-a-digest"))
      assert.strictEqual(bare._tag, "ChecksumMismatch")
      assert.notInclude(bare.message, "registry")
      const missing = yield* Effect.flip(checksum.verifyFile(path.join(dir, "nope"), right))
      assert.strictEqual(missing._tag, "FileError")
    }).pipe(Effect.provide(Checksum.Default)))
})
