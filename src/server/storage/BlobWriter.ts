/**
 * Durable small-file writes: `open(wx)`, `write`, `fsync`, `close`, `rename`, directory `fsync`,
 * as one sequence of `node:fs` calls run off the event loop by libuv's thread pool (so `fsync`
 * never blocks the event loop, and several writes proceed side by side), resumed once at the end.
 * @since 0.1.0
 */
import { Data, Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
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

/** One step of a write: the callback-style `node:fs` call, what it is, and on which file. */
type Step = (done: (error: NodeJS.ErrnoException | null) => void) => void

/**
 * A {@link BlobWriter} over `node:fs`. Directories it has made (or found) are remembered, so a
 * write into a known shard costs no `mkdir`.
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<BlobWriter> = Effect.sync(() => {
  const made = new Set<string>()
  return (bytes, part, target) =>
    Effect.async<void, WriteFailed>((resume) => {
      const dir = Path.dirname(target)
      let fd: number | undefined
      const steps: Array<{ readonly operation: string; readonly file: string; readonly run: Step }> = [
        ...(made.has(dir) ? [] : [{
          operation: "create",
          file: dir,
          run: (done: (e: NodeJS.ErrnoException | null) => void) =>
            Fs.mkdir(dir, { recursive: true, mode: DIR_MODE }, (e) => {
              if (e === null) made.add(dir)
              done(e)
            })
        }]),
        {
          operation: "create",
          file: part,
          run: (done) =>
            Fs.open(part, "wx", FILE_MODE, (e, opened) => {
              fd = opened
              done(e)
            })
        },
        { operation: "write", file: part, run: (done) => writeAll(fd ?? -1, bytes, 0, done) },
        { operation: "fsync", file: part, run: (done) => Fs.fsync(fd ?? -1, done) },
        {
          operation: "close",
          file: part,
          run: (done) =>
            Fs.close(fd ?? -1, (e) => {
              fd = undefined
              done(e)
            })
        },
        { operation: "rename into", file: target, run: (done) => Fs.rename(part, target, done) },
        { operation: "fsync", file: dir, run: (done) => fsyncDir(dir, done) }
      ]
      const next = (i: number) => {
        const step = steps[i]
        if (step === undefined) return resume(Effect.void)
        step.run((e) => {
          if (e === null) return next(i + 1)
          const failed = new WriteFailed({ operation: step.operation, file: step.file, message: e.message })
          const removePart = () => Fs.rm(part, { force: true }, () => resume(Effect.fail(failed)))
          if (fd === undefined) return removePart()
          Fs.close(fd, () => removePart())
        })
      }
      next(0)
    })
})

/** Writes all of `bytes` from `at` (a write may take fewer bytes than offered). */
const writeAll = (fd: number, bytes: Uint8Array, at: number, done: (e: NodeJS.ErrnoException | null) => void): void => {
  if (at >= bytes.byteLength) return done(null)
  Fs.write(
    fd,
    bytes,
    at,
    bytes.byteLength - at,
    null,
    (e, written) => (e !== null ? done(e) : writeAll(fd, bytes, at + written, done))
  )
}

/** Opens a directory, fsyncs it and closes it. */
const fsyncDir = (dir: string, done: (e: NodeJS.ErrnoException | null) => void): void =>
  Fs.open(dir, "r", (e, d) => {
    if (e !== null) return done(e)
    Fs.fsync(d, (e) => Fs.close(d, (e2) => done(e ?? e2)))
  })
