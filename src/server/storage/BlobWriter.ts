/**
 * Durable blob writes: the atomic write of `shared/AtomicFile.ts` (`open(wx)`, `write`, `fsync`,
 * `close`, `rename`) plus the directory's `fsync`, run by libuv's thread pool (so `fsync` never
 * blocks the event loop, and several writes proceed side by side), with errors naming the step.
 * @since 0.1.0
 */
import { Data, Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { AtomicWriteFailed, writeFileAtomicWith } from "../../shared/AtomicFile.js"
import { DIR_MODE, FILE_MODE } from "./FileModes.js"

/**
 * A failed step of a blob write, naming the file.
 * @since 0.1.0
 * @category errors
 */
export class WriteFailed extends Data.TaggedError("WriteFailed")<{
  readonly file: string
  readonly operation: string
  readonly message: string
}> {}

/**
 * Writes `bytes` to `part` (created exclusively), fsyncs it, renames it onto `target`, and fsyncs
 * the directory of `target` (created when missing). `part` must be in that same directory. On
 * failure `part` is removed.
 * @since 0.1.0
 * @category models
 */
export type BlobWriter = (bytes: Uint8Array, part: string, target: string) => Effect.Effect<void, WriteFailed>

/**
 * A {@link BlobWriter} through `AtomicFile.writeFileAtomicWith` (with the directory's fsync).
 * Directories it has made (or found) are remembered, so a write into a known shard costs no
 * `mkdir`.
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<BlobWriter> = Effect.sync(() => {
  const made = new Set<string>()
  const failed = (operation: string, file: string) => (cause: unknown) =>
    new WriteFailed({ operation, file, message: cause instanceof Error ? cause.message : String(cause) })
  return (bytes, part, target) => {
    const dir = Path.dirname(target)
    const mkdir = made.has(dir) ? Effect.void : Effect.tryPromise({
      try: () => Fs.promises.mkdir(dir, { recursive: true, mode: DIR_MODE }).then(() => void made.add(dir)),
      catch: failed("create", dir)
    })
    return Effect.zipRight(
      mkdir,
      Effect.tryPromise({
        try: () =>
          writeFileAtomicWith(
            target,
            { temp: part, mode: FILE_MODE, syncDirectory: true },
            (handle) => handle.writeFile(bytes)
          ),
        catch: (e) => e instanceof AtomicWriteFailed ? failed(e.operation, e.file)(e.cause) : failed("write", part)(e)
      })
    )
  }
})
