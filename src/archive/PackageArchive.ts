/**
 * `.fmpkg` archives (ZIP, or gzip tar): open, read the manifest, list, extract safely, and pack
 * deterministically. Formats are told apart by their first bytes, never by the file name.
 * @since 0.1.0
 */
import { Data, Effect, Layer } from "effect"
import { type Manifest, ManifestError } from "../domain/Manifest.js"
import { Checksum } from "../shared/Checksum.js"
import { hasErrnoCode } from "../shared/Errno.js"
import { describeCause } from "../shared/FileError.js"
import { type ArchiveLimits, defaultLimits } from "./ArchiveLimits.js"
import {
  extractArchive,
  listArchive,
  openArchive,
  openArchiveBytes,
  packDirectory,
  readArchiveManifest
} from "./internal/operations.js"
import { ArchiveFailure } from "./internal/paths.js"

/**
 * An archive was refused or could not be read or written. Names the archive file and, when the
 * problem is one entry, that entry.
 * @since 0.1.0
 * @category errors
 */
export class ArchiveError extends Data.TaggedError("ArchiveError")<{
  /** The archive (or, for `pack`, the directory or output) involved. */
  readonly file: string
  /** The offending entry inside the archive, when there is one. */
  readonly entry?: string | undefined
  /** What is wrong, and where useful what to do. */
  readonly reason: string
}> {
  override get message(): string {
    return this.entry === undefined
      ? `${this.file}: ${this.reason}`
      : `${this.file}: entry '${this.entry}': ${this.reason}`
  }
}

/**
 * Safety limits applied to every archive read (defined in `ArchiveLimits.ts`).
 * @since 0.1.0
 * @category models
 */
export type { ArchiveLimits } from "./ArchiveLimits.js"

/**
 * The default limits: 10,000 entries, 1 GiB unpacked, ratio 200:1.
 * @since 0.1.0
 */
export { defaultLimits } from "./ArchiveLimits.js"

/**
 * One entry of an archive. `path` is normalised (forward slashes, no leading `./`, no trailing
 * slash). For tar entries `compressedSize` equals `size` (tar has no per-entry compression).
 * @since 0.1.0
 * @category models
 */
export interface ArchiveEntry {
  readonly path: string
  readonly type: "file" | "directory"
  readonly size: number
  readonly compressedSize: number
}

/**
 * A validated archive: every entry checked, the manifest decoded.
 * @since 0.1.0
 * @category models
 */
export interface OpenedArchive {
  readonly file: string
  readonly format: "zip" | "tar"
  readonly entries: ReadonlyArray<ArchiveEntry>
  readonly manifest: Manifest
  /** Size of the archive file in bytes. */
  readonly size: number
}

/**
 * The outcome of packing a directory.
 * @since 0.1.0
 * @category models
 */
export interface PackResult {
  /** Absolute path of the written archive. */
  readonly file: string
  readonly format: "zip" | "tar"
  readonly manifest: Manifest
  /** SHA-256 of the written archive, lowercase hex. */
  readonly sha256: string
  /** Size of the written archive in bytes. */
  readonly size: number
}

/**
 * Options of {@link PackageArchive} `pack`.
 * @since 0.1.0
 * @category models
 */
export interface PackOptions {
  /** Where to write; default `<cwd>/<name>-<version>.fmpkg`. */
  readonly output?: string | undefined
  /** Archive format; default `zip` (what FlowMason tools read). */
  readonly format?: "zip" | "tar" | undefined
}

const toArchiveError = (file: string, cause: unknown): ArchiveError =>
  cause instanceof ArchiveFailure
    ? new ArchiveError({ file, entry: cause.entry, reason: cause.reason })
    : cause instanceof ManifestError
    ? new ArchiveError({ file, reason: cause.message })
    : new ArchiveError({
      file,
      reason: hasErrnoCode(cause, "ENOENT") && !String(cause).includes(file)
        ? `not found (${describeCause(cause)})`
        : describeCause(cause)
    })

const toError = (file: string, cause: unknown): ArchiveError | ManifestError =>
  cause instanceof ManifestError ? cause : toArchiveError(file, cause)

const make = (limits: ArchiveLimits) =>
  Effect.gen(function*() {
    const checksum = yield* Checksum
    return {
      /** Validates every entry (inflating and CRC-checking ZIP data) and decodes the manifest; extracts nothing. */
      open: Effect.fn("PackageArchive.open")(function*(file: string) {
        return yield* Effect.tryPromise({
          try: (signal): Promise<OpenedArchive> => openArchive(file, limits, signal),
          catch: (e) => toError(file, e)
        })
      }),
      /**
       * `open` of archive bytes already in memory (an upload): the same checks, no file read;
       * `label` names the archive in errors and is the result's `file`. Untraced: once per upload,
       * where a span per call (a captured stack) is a cost of its own.
       */
      openBytes: Effect.fnUntraced(function*(bytes: Uint8Array, label: string) {
        return yield* Effect.tryPromise({
          try: (signal): Promise<OpenedArchive> => openArchiveBytes(bytes, label, limits, signal),
          catch: (e) => toError(label, e)
        })
      }),
      /** Reads and decodes only the manifest entry(ies) (a tar is streamed through once). */
      readManifest: Effect.fn("PackageArchive.readManifest")(function*(file: string) {
        return yield* Effect.tryPromise({
          try: (signal) => readArchiveManifest(file, limits, signal),
          catch: (e) => toError(file, e)
        })
      }),
      /** Lists the entries (validated: paths, types, duplicates, limits); reads no file data of a ZIP. */
      list: Effect.fn("PackageArchive.list")(function*(file: string) {
        return yield* Effect.tryPromise({
          try: (signal): Promise<ReadonlyArray<ArchiveEntry>> => listArchive(file, limits, signal),
          catch: (e) => toArchiveError(file, e)
        })
      }),
      /**
       * Extracts into `targetDir`, which must not exist or be an empty directory. Everything is
       * written to a temporary directory beside it, checked, then renamed into place; on any
       * failure the temporary directory is removed and the target is left as it was.
       */
      extract: Effect.fn("PackageArchive.extract")(function*(file: string, targetDir: string) {
        return yield* Effect.tryPromise({
          try: (signal): Promise<OpenedArchive> => extractArchive(file, targetDir, limits, signal),
          catch: (e) => toError(file, e)
        })
      }),
      /**
       * Packs a directory (manifest at its root) into a deterministic `.fmpkg`: sorted entries,
       * fixed timestamps and modes. Hidden files, `__pycache__`, `*.pyc` and `*.fmpkg` are left out;
       * links and special files are refused. Written to a temp file, fsynced, renamed.
       */
      pack: Effect.fn("PackageArchive.pack")(function*(dir: string, options?: PackOptions) {
        const packed = yield* Effect.tryPromise({
          try: (signal) => packDirectory(dir, options ?? {}, limits, signal, checksum.hashing),
          catch: (e) => toError(dir, e)
        })
        // a tar was hashed as it was written; a ZIP (headers written after the data) is read back
        const sha256 = packed.sha256 ?? (yield* checksum.hashFile(packed.file).pipe(
          Effect.mapError((e) => new ArchiveError({ file: packed.file, reason: e.message }))
        ))
        const result: PackResult = { ...packed, sha256 }
        return result
      })
    }
  })

/**
 * Opens, lists, extracts and packs `.fmpkg` archives within {@link ArchiveLimits}.
 * @since 0.1.0
 * @category services
 */
export class PackageArchive extends Effect.Service<PackageArchive>()("fm/PackageArchive", {
  effect: make(defaultLimits),
  dependencies: [Checksum.Default]
}) {}

/**
 * A {@link PackageArchive} layer with some limits overridden (the rest keep their defaults).
 * @since 0.1.0
 * @category layers
 */
export const layerWithLimits = (limits: Partial<ArchiveLimits>): Layer.Layer<PackageArchive> =>
  Layer.effect(PackageArchive, Effect.map(make({ ...defaultLimits, ...limits }), PackageArchive.make)).pipe(
    Layer.provide(Checksum.Default)
  )
