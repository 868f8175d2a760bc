/**
 * Durable blob writes: the atomic write of `shared/AtomicFile.ts` (`writeBytesDurable`: `open(wx)`,
 * `write`, `fsync`, `rename`, `close`) plus the directory's `fsync` (through a descriptor of the
 * directory kept open), run by libuv's thread pool (so `fsync` never blocks the event loop, and
 * several writes proceed side by side), with errors naming the step.
 * @since 0.1.0
 */
import { Data, Effect } from "effect"
import type { Scope } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { writeBytesDurable } from "../../shared/AtomicFile.js"
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

/** A shard directory as known: `pending` while it is being made and opened, then its descriptor (or none). */
type Directory =
  | { readonly state: "pending"; readonly waiting: Array<(error: unknown, fd: number | undefined) => void> }
  | { readonly state: "open"; readonly fd: number | undefined }

/**
 * A {@link BlobWriter} through `AtomicFile.writeBytesDurable` (with the directory's fsync).
 * Directories it has made (or found) are remembered with an open descriptor, closed with the
 * scope: a write into a known shard costs no `mkdir`, and its directory fsync no `open` and
 * `close`. The file mode is set again after the write only when the process's umask would take
 * bits of it away (read once, here).
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<BlobWriter, never, Scope.Scope> = Effect.gen(function*() {
  const made = new Map<string, Directory>()
  yield* Effect.addFinalizer(() =>
    Effect.async<void>((resume) => {
      const fds = [...made.values()].flatMap((d) => d.state === "open" && d.fd !== undefined ? [d.fd] : [])
      made.clear()
      let left = fds.length
      if (left === 0) return resume(Effect.void)
      for (const fd of fds) Fs.close(fd, () => --left === 0 && resume(Effect.void))
    })
  )
  // the umask only ever removes bits: when it removes none of the mode's, the mode given at create holds
  const chmod = (process.umask() & FILE_MODE) !== 0
  const failed = (operation: string, file: string, cause: unknown) =>
    new WriteFailed({ operation, file, message: cause instanceof Error ? cause.message : String(cause) })
  /** The directory's descriptor once it exists (undefined: it could not be opened; each write opens it for its fsync). */
  const directoryOf = (dir: string, then: (error: unknown, fd: number | undefined) => void): void => {
    const known = made.get(dir)
    if (known !== undefined) {
      if (known.state === "open") return then(null, known.fd)
      known.waiting.push(then)
      return
    }
    const waiting = [then]
    made.set(dir, { state: "pending", waiting })
    Fs.mkdir(dir, { recursive: true, mode: DIR_MODE }, (e) => {
      if (e !== null) {
        // a failed mkdir is not remembered: the next write tries again
        made.delete(dir)
        for (const f of waiting) f(e, undefined)
        return
      }
      Fs.open(dir, "r", (opened, fd) => {
        const kept = opened === null ? fd : undefined
        made.set(dir, { state: "open", fd: kept })
        for (const f of waiting) f(null, kept)
      })
    })
  }
  return (bytes, part, target) =>
    Effect.async<void, WriteFailed>((resume) => {
      const dir = Path.dirname(target)
      directoryOf(dir, (e, directory) => {
        if (e !== null) return resume(Effect.fail(failed("create", dir, e)))
        writeBytesDurable(target, bytes, { temp: part, mode: FILE_MODE, chmod, directory }, (error) =>
          resume(error === null ? Effect.void : Effect.fail(failed(error.operation, error.file, error.cause))))
      })
    })
})
