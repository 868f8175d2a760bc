/**
 * Atomic file writes, the one place fm writes them: the bytes go to a temp file (created
 * exclusively), are fsynced, and the temp file is renamed over the target, so a reader sees the
 * old file or the new one, never half of one. On any failure or interruption the temp file is
 * removed. Callers choose the temp file's name (each has its own convention, which its cleanup of
 * stale temp files relies on) and map `PlatformError` to their own error.
 *
 * Writes whose bytes are streamed (`pack`, the server's blobs) go through
 * {@link writeFileAtomicWith}, which can also fsync the directory after the rename.
 *
 * Not here, on purpose: the CLI's V8 code cache (`cli/CodeCache.ts`, plain Node before the Effect
 * runtime loads) and the archive's extraction (a staging directory renamed whole, not a file).
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
 * Copies `source` to `target` atomically: copy to `temp`, fsync, rename over `target`. The temp file
 * is removed when any step fails or the copy is interrupted. The error's `method` says which step
 * failed (`rename` for the last).
 * @since 0.1.0
 */
export const copyFileAtomic = (
  source: string,
  target: string,
  options: { readonly temp: string }
): Effect.Effect<void, PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const { temp } = options
    yield* fs.copyFile(source, temp).pipe(
      Effect.zipRight(Effect.scoped(Effect.flatMap(fs.open(temp, { flag: "r+" }), (h) => h.sync))),
      Effect.zipRight(fs.rename(temp, target)),
      Effect.onError(() => fs.remove(temp, { force: true }).pipe(Effect.ignore))
    )
  })

/**
 * How {@link writeFileAtomicPromise} and {@link writeFileAtomicWith} write.
 * @since 0.1.0
 * @category models
 */
export interface AtomicWritePromiseOptions extends AtomicWriteOptions {
  /** `false` skips the fsync (for caches, where a file torn by a crash reads as absent). */
  readonly fsync?: boolean | undefined
  /**
   * Also fsync the target's directory after the rename, so the rename itself survives a power
   * loss. A platform that cannot fsync a directory is let be (the rename is still atomic); any
   * other failure fails the write (the new file is in place by then).
   */
  readonly syncDirectory?: boolean | undefined
  /**
   * With `syncDirectory`: an open handle of the target's directory, kept by the caller across
   * writes, fsynced instead of opening and closing the directory on every write (two thread-pool
   * round trips fewer). The caller closes it.
   */
  readonly directory?: fs.promises.FileHandle | undefined
}

/**
 * A failed step of {@link writeFileAtomicWith}: what it was doing (`create`, `write`, `fsync`,
 * `close`, `rename into`), on which file, and Node's error.
 * @since 0.1.0
 * @category errors
 */
export class AtomicWriteFailed extends Error {
  constructor(readonly operation: string, readonly file: string, override readonly cause: unknown) {
    super(`${operation} ${file}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  }
}

/** Errors of a platform that cannot fsync a directory (the rename is still atomic there). */
const CANNOT_SYNC_DIRECTORY = new Set(["EINVAL", "ENOTSUP", "EISDIR", "EPERM", "EACCES"])

/**
 * Fsyncs the directory of `file` through `kept` (the caller's open handle of it), else opens,
 * fsyncs and closes it; a platform that cannot is let be, any other error is thrown.
 */
const syncDirectoryOf = async (file: string, kept: fs.promises.FileHandle | undefined): Promise<void> => {
  const dir = path.dirname(file)
  let handle: fs.promises.FileHandle | undefined
  try {
    if (kept !== undefined) return await kept.sync()
    handle = await fs.promises.open(dir, "r")
    await handle.sync()
  } catch (e) {
    if (e instanceof Error && "code" in e && typeof e.code === "string" && CANNOT_SYNC_DIRECTORY.has(e.code)) return
    throw new AtomicWriteFailed("fsync", dir, e)
  } finally {
    await handle?.close().catch(() => undefined)
  }
}

/**
 * The atomic write for plain-promise code whose bytes come from `write` (a stream, an encoder):
 * exclusive create of `options.temp`, `write(handle)`, fsync, close, `chmod` (when a mode is
 * given), rename over `target`, and the directory's fsync when asked. `write` may throw to refuse
 * what it wrote (a check after writing): nothing is renamed. The temp file is removed when any step
 * fails; a failed step rejects with {@link AtomicWriteFailed}, a throw of `write` as it is.
 * @since 0.1.0
 */
export const writeFileAtomicWith = async <A>(
  target: string,
  options: AtomicWritePromiseOptions,
  write: (handle: fs.promises.FileHandle) => Promise<A>
): Promise<A> => {
  const { mode, temp } = options
  const step = async <B>(operation: string, file: string, op: () => Promise<B>): Promise<B> => {
    try {
      return await op()
    } catch (e) {
      throw new AtomicWriteFailed(operation, file, e)
    }
  }
  const orCreateDirectory = async <B>(op: () => Promise<B>, dir: string): Promise<B> =>
    options.createDirectories === true
      ? op().catch(async (e: unknown) => {
        if (!(e instanceof Error) || !("code" in e) || e.code !== "ENOENT") throw e
        await fs.promises.mkdir(dir, { recursive: true })
        return op()
      })
      : op()
  let handle: fs.promises.FileHandle | undefined
  try {
    handle = await step(
      "create",
      temp,
      () => orCreateDirectory(() => fs.promises.open(temp, "wx", mode), path.dirname(temp))
    )
    const opened = handle
    const result = await write(opened)
    if (options.fsync !== false) await step("fsync", temp, () => opened.sync())
    handle = undefined
    await step("close", temp, () => opened.close())
    if (mode !== undefined) await step("chmod", temp, () => fs.promises.chmod(temp, mode))
    await step(
      "rename into",
      target,
      () => orCreateDirectory(() => fs.promises.rename(temp, target), path.dirname(target))
    )
    if (options.syncDirectory === true) await syncDirectoryOf(target, options.directory)
    return result
  } catch (e) {
    await handle?.close().catch(() => undefined)
    await fs.promises.rm(temp, { force: true }).catch(() => undefined)
    throw e
  }
}

/**
 * {@link writeFileAtomic} for plain-promise code (no `FileSystem` service): the same steps with
 * `node:fs/promises`; rejects with Node's error after removing the temp file.
 * @since 0.1.0
 */
export const writeFileAtomicPromise = (
  target: string,
  data: string | Uint8Array,
  options: AtomicWritePromiseOptions
): Promise<void> =>
  writeFileAtomicWith(target, options, (handle) => handle.writeFile(data)).catch((e: unknown) => {
    throw e instanceof AtomicWriteFailed ? e.cause : e
  })

/**
 * Target directories {@link writeFileAtomicSync} created or found in this process: not created
 * again. Only a hint: a directory removed since is created again when the rename finds it missing.
 */
const knownDirectories = new Set<string>()

/**
 * {@link writeFileAtomicPromise} with plain synchronous system calls, for small files written on
 * an install's hot path (cache index entries, metadata answers, check markers): a handful of
 * system calls on the main thread cost a fraction of the same calls as thread-pool round trips.
 * Exclusive create of `options.temp`, write, fsync (unless `fsync: false`), close, rename over
 * `target`; with `createDirectories`, a missing directory of the temp file is created and the
 * step tried once more, and the target's directory is created before the rename unless this
 * process has seen it (one removed since is created when the rename misses it). The temp file is
 * removed when any step fails; throws Node's error.
 * @since 0.1.0
 */
export const writeFileAtomicSync = (
  target: string,
  data: string | Uint8Array,
  options: Omit<AtomicWritePromiseOptions, "syncDirectory" | "directory">
): void => {
  const { mode, temp } = options
  const orCreateDirectory = <B>(op: () => B, dir: string): B => {
    try {
      return op()
    } catch (e) {
      if (options.createDirectories !== true || !(e instanceof Error) || !("code" in e) || e.code !== "ENOENT") throw e
      fs.mkdirSync(dir, { recursive: true })
      return op()
    }
  }
  const fd = orCreateDirectory(() => fs.openSync(temp, "wx", mode), path.dirname(temp))
  if (options.createDirectories === true) knownDirectories.add(path.dirname(temp))
  try {
    try {
      fs.writeFileSync(fd, data)
      if (options.fsync !== false) fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    if (mode !== undefined) fs.chmodSync(temp, mode)
    const dir = path.dirname(target)
    if (options.createDirectories === true && !knownDirectories.has(dir)) {
      // created up front (a no-op when it exists): a rename into a missing directory throws, and
      // building that error cost more than the system call (a cold install renames ~150 such)
      fs.mkdirSync(dir, { recursive: true })
      knownDirectories.add(dir)
    }
    orCreateDirectory(() => fs.renameSync(temp, target), dir)
  } catch (e) {
    fs.rmSync(temp, { force: true })
    throw e
  }
}

/**
 * How {@link writeBytesDurable} writes.
 * @since 0.1.0
 * @category models
 */
export interface DurableWriteOptions {
  /** The temp file, in the target's directory; created exclusively. */
  readonly temp: string
  /** The new file's mode. */
  readonly mode: number
  /**
   * Whether the umask may take bits of `mode` away: then the mode is set again (`fchmod`) before
   * the fsync. The caller reads its umask once; a umask only ever removes bits.
   */
  readonly chmod: boolean
  /**
   * An open descriptor of the target's directory, kept by the caller across writes and fsynced
   * after the rename; `undefined`: the directory is opened, fsynced and closed.
   */
  readonly directory: number | undefined
}

/**
 * The durable atomic write of bytes held in memory, with Node's callback API (one thread-pool
 * round trip per step, and neither a promise nor a `FileHandle` per step): exclusive create of
 * `options.temp`, write (all of `bytes`), `fchmod` (when asked), fsync, rename over `target`,
 * close, and the directory's fsync; what {@link writeFileAtomicWith} does with `syncDirectory`,
 * for the server's blobs. `done` gets `null` once all of it is durable, else the failed step as an
 * {@link AtomicWriteFailed} (the temp file removed; a platform that cannot fsync a directory is
 * let be, as there).
 * @since 0.1.0
 */
export const writeBytesDurable = (
  target: string,
  bytes: Uint8Array,
  options: DurableWriteOptions,
  done: (error: AtomicWriteFailed | null) => void
): void => {
  const { temp } = options
  let fd: number | undefined
  const fail = (operation: string, file: string) => (e: unknown) => {
    const error = new AtomicWriteFailed(operation, file, e)
    const open = fd
    fd = undefined
    const remove = () => fs.rm(temp, { force: true }, () => done(error))
    if (open === undefined) remove()
    else fs.close(open, remove)
  }
  const syncDirectory = () => {
    const dir = path.dirname(target)
    const finish = (e: NodeJS.ErrnoException | null) => {
      if (e === null || (typeof e.code === "string" && CANNOT_SYNC_DIRECTORY.has(e.code))) return done(null)
      done(new AtomicWriteFailed("fsync", dir, e))
    }
    if (options.directory !== undefined) return fs.fsync(options.directory, finish)
    fs.open(dir, "r", (e, dirFd) => {
      if (e !== null) return finish(e)
      fs.fsync(dirFd, (synced) => fs.close(dirFd, () => finish(synced)))
    })
  }
  const renamed = (opened: number) => {
    fd = undefined
    fs.close(opened, (e) => {
      // the file is in place and its bytes synced: a failed close only loses the descriptor
      if (e !== null) return done(new AtomicWriteFailed("close", temp, e))
      syncDirectory()
    })
  }
  const synced = (opened: number) =>
    fs.rename(temp, target, (e) => (e === null ? renamed(opened) : fail("rename into", target)(e)))
  const sync = (opened: number) => fs.fsync(opened, (e) => (e === null ? synced(opened) : fail("fsync", temp)(e)))
  const written = (opened: number) =>
    options.chmod
      ? fs.fchmod(opened, options.mode, (e) => (e === null ? sync(opened) : fail("chmod", temp)(e)))
      : sync(opened)
  const write = (opened: number, offset: number) =>
    offset >= bytes.byteLength ? written(opened) : fs.write(
      opened,
      bytes,
      offset,
      bytes.byteLength - offset,
      null,
      (e, n) =>
        e !== null
          ? fail("write", temp)(e)
          : n > 0
          ? write(opened, offset + n)
          : fail("write", temp)(new Error("the file system took none of the bytes"))
    )
  fs.open(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, options.mode, (e, opened) => {
    if (e !== null) return done(new AtomicWriteFailed("create", temp, e))
    fd = opened
    write(opened, 0)
  })
}
