/**
 * SHA-256 of files and streams in constant memory (lowercase hex), and typed verification.
 * @since 0.1.0
 */
import { Effect, Schema, Stream } from "effect"
import * as fs from "node:fs"
import type { FileError } from "./FileError.js"
import { fileError } from "./FileError.js"
import { type Hashing, sha256Hashing, sha256Hex } from "./Hash.js"

export {
  /**
   * An incremental SHA-256 (re-exported from `Hash`).
   * @since 0.1.0
   * @category models
   */
  type Hashing,
  /**
   * SHA-256 of bytes or a UTF-8 string, as 64 lowercase hex digits (re-exported from `Hash`).
   * @since 0.1.0
   */
  sha256Hex
}

/**
 * A file's SHA-256 is not the one expected. Names the file, the expected and actual digests, and
 * (when known) the package and the registry it came from.
 * @since 0.1.0
 * @category errors
 */
export class ChecksumMismatch extends Schema.TaggedError<ChecksumMismatch>()("ChecksumMismatch", {
  file: Schema.String,
  expected: Schema.String,
  actual: Schema.String,
  package: Schema.optional(Schema.String),
  registry: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const what = this.package === undefined ? "" : ` of package ${this.package}`
    const from = this.registry === undefined ? "" : ` from registry ${this.registry}`
    return `SHA-256 mismatch for ${this.file}${what}${from}: expected ${this.expected}, got ${this.actual}. ` +
      `The file is corrupt or was tampered with; delete it and download it again.`
  }
}

/**
 * Whether `s` is a SHA-256 digest written as exactly 64 lowercase hex digits.
 * @since 0.1.0
 */
export const isSha256Hex = (s: string): boolean => /^[0-9a-f]{64}$/.test(s)

/** Read size for file hashing: large enough to amortise syscalls, small enough to stay constant. */
const CHUNK = 1024 * 1024

const hashFileAsync = async (file: string, signal: AbortSignal): Promise<string> => {
  const hash = sha256Hashing()
  const handle = await fs.promises.open(file, "r")
  try {
    const buffer = Buffer.allocUnsafe(CHUNK)
    for (;;) {
      if (signal.aborted) throw new Error("interrupted")
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, null)
      if (bytesRead === 0) break
      hash.update(bytesRead === CHUNK ? buffer : buffer.subarray(0, bytesRead))
    }
  } finally {
    await handle.close()
  }
  return hash.digest()
}

/**
 * Hashing and verification of files and streams. No requirements; memory use is constant.
 * @since 0.1.0
 * @category services
 */
export class Checksum extends Effect.Service<Checksum>()("fm/Checksum", {
  succeed: {
    /** SHA-256 of a file, read in 1 MiB chunks (constant memory), as lowercase hex. */
    hashFile: Effect.fn("Checksum.hashFile")(function*(file: string) {
      return yield* Effect.tryPromise({
        try: (signal) => hashFileAsync(file, signal),
        catch: (cause): FileError => fileError(file, "hash", cause)
      })
    }),
    /** SHA-256 of everything a byte stream emits, as lowercase hex. Fails with the stream's error. */
    hashStream: <E>(stream: Stream.Stream<Uint8Array, E>): Effect.Effect<string, E> =>
      Effect.suspend(() => {
        const hash = sha256Hashing()
        return Stream.runForEach(stream, (chunk) => Effect.sync(() => hash.update(chunk))).pipe(
          Effect.map(() => hash.digest())
        )
      }).pipe(Effect.withSpan("Checksum.hashStream")),
    /**
     * Checks that a file's SHA-256 equals `expected` (hex, case-insensitive). Fails with
     * {@link ChecksumMismatch} naming the file, both digests and the optional package/registry.
     */
    verifyFile: (
      file: string,
      expected: string,
      context?: { readonly package?: string | undefined; readonly registry?: string | undefined }
    ): Effect.Effect<void, ChecksumMismatch | FileError> =>
      Effect.tryPromise({
        try: (signal) => hashFileAsync(file, signal),
        catch: (cause): FileError => fileError(file, "hash", cause)
      }).pipe(
        Effect.flatMap((actual) =>
          actual === expected.trim().toLowerCase()
            ? Effect.void
            : Effect.fail(
              new ChecksumMismatch({
                file,
                expected: expected.trim(),
                actual,
                ...(context?.package === undefined ? {} : { package: context.package }),
                ...(context?.registry === undefined ? {} : { registry: context.registry })
              })
            )
        ),
        Effect.withSpan("Checksum.verifyFile")
      ),
    /** A fresh incremental SHA-256, for hashing bytes while writing them. */
    hashing: (): Hashing => sha256Hashing()
  }
}) {}
