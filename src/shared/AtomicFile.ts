/**
 * Atomic file writes, the one place fm writes them: the bytes go to a temp file (created
 * exclusively), are fsynced, and the temp file is renamed over the target, so a reader sees the
 * old file or the new one, never half of one. On any failure or interruption the temp file is
 * removed. Callers choose the temp file's name (each has its own convention, which its cleanup of
 * stale temp files relies on) and map `PlatformError` to their own error.
 *
 * Not here, on purpose: the CLI's V8 code cache (`cli/CodeCache.ts`, plain Node before the Effect
 * runtime loads), the server's blob writes (`server/storage/BlobWriter.ts`, one batch of libuv
 * calls tuned for throughput, with a directory fsync) and the archive's own staging.
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * How {@link writeFileAtomic} writes.
 * @since 0.1.0
 * @category models
 */
export interface AtomicWriteOptions {
  /** The temp file; on the target's file system (same directory, or a temp folder beside it). */
  readonly temp: string
  /** The new file's mode; set again with `chmod` after writing, so the umask cannot change it. */
  readonly mode?: number | undefined
  /** When the temp file's or the target's directory is missing, create it and try once more. */
  readonly createDirectories?: boolean | undefined
}

/**
 * A temp file name beside `file`: `.<name>.<pid>-<12 hex>.tmp` in the same directory.
 * @since 0.1.0
 */
export const tempBeside = (file: string): string =>
  path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}-${crypto.randomBytes(6).toString("hex")}.tmp`)

/**
 * Writes `data` to `target` atomically: exclusive create of `options.temp` (with `options.mode`),
 * write, fsync, close, `chmod` (when a mode is given), rename over `target`. The temp file is
 * removed when any step fails or the write is interrupted.
 * @since 0.1.0
 */
export const writeFileAtomic = (
  target: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions
): Effect.Effect<void, PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const { mode, temp } = options
    const orCreateDirectory = <A, R>(op: Effect.Effect<A, PlatformError, R>, dir: string) =>
      options.createDirectories === true
        ? Effect.catchIf(
          op,
          (e) => e._tag === "SystemError" && e.reason === "NotFound",
          () => Effect.zipRight(fs.makeDirectory(dir, { recursive: true }), op)
        )
        : op
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data
    yield* Effect.scoped(Effect.gen(function*() {
      const handle = yield* orCreateDirectory(
        fs.open(temp, mode === undefined ? { flag: "wx" } : { flag: "wx", mode }),
        path.dirname(temp)
      )
      yield* handle.writeAll(bytes)
      yield* handle.sync
    })).pipe(
      Effect.zipRight(mode === undefined ? Effect.void : fs.chmod(temp, mode)),
      Effect.zipRight(orCreateDirectory(fs.rename(temp, target), path.dirname(target))),
      Effect.onError(() => fs.remove(temp, { force: true }).pipe(Effect.ignore))
    )
  })

/**
 * How {@link writeFileAtomicPromise} writes.
 * @since 0.1.0
 * @category models
 */
export interface AtomicWritePromiseOptions extends AtomicWriteOptions {
  /** `false` skips the fsync (for caches, where a file torn by a crash reads as absent). */
  readonly fsync?: boolean | undefined
}

/**
 * {@link writeFileAtomic} for plain-promise code (no `FileSystem` service): the same steps with
 * `node:fs/promises`; rejects with Node's error after removing the temp file.
 * @since 0.1.0
 */
export const writeFileAtomicPromise = async (
  target: string,
  data: string | Uint8Array,
  options: AtomicWritePromiseOptions
): Promise<void> => {
  const { mode, temp } = options
  const orCreateDirectory = async <A>(op: () => Promise<A>, dir: string): Promise<A> =>
    options.createDirectories === true
      ? op().catch(async (e: unknown) => {
        if (!(e instanceof Error) || !("code" in e) || e.code !== "ENOENT") throw e
        await fs.promises.mkdir(dir, { recursive: true })
        return op()
      })
      : op()
  try {
    const handle = await orCreateDirectory(() => fs.promises.open(temp, "wx", mode), path.dirname(temp))
    try {
      await handle.writeFile(data)
      if (options.fsync !== false) await handle.sync()
    } finally {
      await handle.close()
    }
    if (mode !== undefined) await fs.promises.chmod(temp, mode)
    await orCreateDirectory(() => fs.promises.rename(temp, target), path.dirname(target))
  } catch (e) {
    await fs.promises.rm(temp, { force: true }).catch(() => undefined)
    throw e
  }
}
