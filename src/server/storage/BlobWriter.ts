/**
 * Durable blob writes: the atomic write of `shared/AtomicFile.ts` (`open(wx)`, `write`, `fsync`,
 * `close`, `rename`) plus the directory's `fsync` (through a handle of the directory kept open), run by libuv's thread pool (so `fsync` never
 * blocks the event loop, and several writes proceed side by side), with errors naming the step.
 * @since 0.1.0
 */
import { Data, Effect } from "effect"
import type { Scope } from "effect"
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
 * Directories it has made (or found) are remembered with an open handle, closed with the scope:
 * a write into a known shard costs no `mkdir`, and its directory fsync no `open` and `close`.
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<BlobWriter, never, Scope.Scope> = Effect.gen(function*() {
  // a shard's directory handle once it is known to exist (undefined: it could not be opened, and
  // each write opens the directory for its fsync, as without a handle)
  const made = new Map<string, Promise<Fs.promises.FileHandle | undefined>>()
  yield* Effect.addFinalizer(() =>
    Effect.promise(() =>
      Promise.all([...made.values()].map((h) => h.then((handle) => handle?.close()).catch(() => undefined)))
    )
  )
  const failed = (operation: string, file: string) => (cause: unknown) =>
    new WriteFailed({ operation, file, message: cause instanceof Error ? cause.message : String(cause) })
  const directoryOf = (dir: string): Promise<Fs.promises.FileHandle | undefined> => {
    const known = made.get(dir)
    if (known !== undefined) return known
    const opened = Fs.promises.mkdir(dir, { recursive: true, mode: DIR_MODE }).then(() =>
      Fs.promises.open(dir, "r").catch(() => undefined)
    )
    made.set(dir, opened)
    // a failed mkdir is not remembered: the next write tries again
    opened.catch(() => made.delete(dir))
    return opened
  }
  return (bytes, part, target) => {
    const dir = Path.dirname(target)
    return Effect.flatMap(
      Effect.tryPromise({ try: () => directoryOf(dir), catch: failed("create", dir) }),
      (directory) =>
        Effect.tryPromise({
          try: () =>
            writeFileAtomicWith(
              target,
              { temp: part, mode: FILE_MODE, syncDirectory: true, directory },
              (handle) => handle.writeFile(bytes)
            ),
          catch: (e) => e instanceof AtomicWriteFailed ? failed(e.operation, e.file)(e.cause) : failed("write", part)(e)
        })
    )
  }
})
