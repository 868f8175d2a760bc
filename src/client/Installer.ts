/**
 * `fm install`: a package by name from the registries (picked version, verified download into the
 * cache, then `<name>-<version>.fmpkg` placed atomically in the target directory and optionally
 * unpacked), or a local `.fmpkg` file (validated, then copied in). Before anything is placed, the
 * archive is opened with every check of a local file (safe paths, limits, a manifest) and, for a
 * package by name, its manifest must be the package and version asked for; a refused install
 * leaves nothing behind (no archive, no folder).
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Data, Effect } from "effect"
import * as crypto from "node:crypto"
import * as nodeFs from "node:fs"
import * as path from "node:path"
import { PackageArchive } from "../archive/PackageArchive.js"
import { isPackageName } from "../domain/PackageName.js"
import { isVersion } from "../domain/Version.js"
import { copyFileAtomic } from "../shared/AtomicFile.js"
import { Checksum } from "../shared/Checksum.js"
import { hasErrnoCode } from "../shared/Errno.js"
import { fileError } from "../shared/FileError.js"
import { FlowmasonHome } from "../shared/FlowmasonHome.js"
import { type Fetched, type FetchOptions, Registries } from "./Registries.js"
import { verifyPackageArchive } from "./VerifiedArchive.js"

/**
 * `--offline` with a version that is not exact (a range, or none): the cache alone cannot pick one.
 * @since 0.1.0
 * @category errors
 */
export class OfflineNeedsVersion extends Data.TaggedError("OfflineNeedsVersion")<{
  readonly name: string
  readonly version?: string | undefined
}> {
  /** Names the package and what to do. */
  override get message(): string {
    return `cannot install ${this.name}${this.version === undefined ? "" : `@${this.version}`} offline: ` +
      `--offline needs an exact --version (such as 1.2.0) that is already in the cache`
  }
}

/**
 * `--offline` asked for a version the download cache does not hold.
 * @since 0.1.0
 * @category errors
 */
export class NotCached extends Data.TaggedError("NotCached")<{
  readonly name: string
  readonly version: string
}> {
  /** Names the package and version. */
  override get message(): string {
    return `${this.name}@${this.version} is not in the download cache`
  }
  /** How to get it. */
  get hint(): string {
    return `run without --offline to download it: fm install ${this.name}@${this.version}`
  }
}

/**
 * A package name that is not valid (checked before any request or path is built).
 * @since 0.1.0
 * @category errors
 */
export class InvalidPackageName extends Data.TaggedError("InvalidPackageName")<{
  readonly name: string
}> {
  /** Names the bad name and the rules. */
  override get message(): string {
    return `'${this.name}' is not a valid package name (lowercase letters, digits, '-', '_' and '.'); ` +
      `to install a local archive, give its path (e.g. ./${this.name}.fmpkg)`
  }
}

/**
 * Options of {@link Installer} `install`.
 * @since 0.1.0
 * @category models
 */
export interface InstallOptions extends FetchOptions {
  /** Target directory; default `~/.flowmason/packages`. */
  readonly dir?: string | undefined
  /** Also unpack into `<dir>/<name>/<version>/`. */
  readonly extract?: boolean | undefined
  /** Use only the cache (exact version required). */
  readonly offline?: boolean | undefined
}

/**
 * What was installed.
 * @since 0.1.0
 * @category models
 */
export interface InstallResult {
  readonly name: string
  readonly version: string
  /** The registry it came from, or `null` for a local file. */
  readonly registry: string | null
  /** The installed `<dir>/<name>-<version>.fmpkg`. */
  readonly path: string
  /** `<dir>/<name>/<version>` when extracted. */
  readonly extractedTo: string | null
  readonly sha256: string
  readonly size: number
  /** Whether the archive came from the cache (no download). */
  readonly fromCache: boolean
}

/**
 * Whether an install argument is a path to a local archive rather than a package name: an
 * existing file, a `.fmpkg` suffix, or a path separator.
 * @since 0.1.0
 */
export const looksLikePath = (arg: string): boolean =>
  arg.endsWith(".fmpkg") || arg.includes("/") || arg.includes(path.sep) || isExistingFile(arg)

const isExistingFile = (p: string): boolean => {
  try {
    return nodeFs.statSync(p).isFile()
  } catch {
    return false
  }
}

const unique = () => `${process.pid}-${crypto.randomBytes(6).toString("hex")}`

/**
 * Installs packages into a directory.
 * @since 0.1.0
 * @category services
 */
export class Installer extends Effect.Service<Installer>()("fm/Installer", {
  effect: Effect.gen(function*() {
    const registries = yield* Registries
    const archive = yield* PackageArchive
    const checksum = yield* Checksum
    const fs = yield* FileSystem.FileSystem
    const home = yield* FlowmasonHome

    const fail = (file: string, operation: string) => (e: unknown) => fileError(file, operation, e)

    /** Copies `src` to `<dir>/<file>` via a temp file in `dir`, fsync, rename. */
    const placeAtomically = (src: string, dir: string, file: string) =>
      Effect.gen(function*() {
        const target = path.join(dir, file)
        const tmp = path.join(dir, `.${file}.${unique()}.tmp`)
        yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(fail(dir, "cannot create directory")))
        // errors name the directory (the temporary file's name means nothing to the user), or the
        // target when the rename failed
        yield* copyFileAtomic(src, target, { temp: tmp }).pipe(
          Effect.provideService(FileSystem.FileSystem, fs),
          Effect.mapError((e) =>
            e.method === "rename" ? fail(target, "cannot rename into")(e) : fail(dir, "cannot write into")(e)
          )
        )
        return target
      })

    /** Removes every entry of `dir` whose name starts with `prefix` or `.${prefix}` (a staging folder and its temp folders). */
    const removeWithPrefix = (dir: string, prefix: string) =>
      fs.readDirectory(dir).pipe(
        Effect.flatMap((names) =>
          Effect.forEach(
            names.filter((n) => n.startsWith(prefix) || n.startsWith(`.${prefix}`)),
            (n) => fs.remove(path.join(dir, n), { recursive: true, force: true }),
            { discard: true }
          )
        ),
        Effect.ignore
      )

    /** Unpacks into `<dir>/<name>/<version>` (replacing a previous copy only once the new one is complete). */
    const extractTo = (file: string, dir: string, name: string, version: string) =>
      Effect.gen(function*() {
        const parent = path.join(dir, name)
        const target = path.join(parent, version)
        const staging = path.join(parent, `.${version}.${unique()}.new`)
        yield* fs.makeDirectory(parent, { recursive: true }).pipe(
          Effect.mapError(fail(parent, "cannot create directory"))
        )
        yield* archive.extract(file, staging).pipe(
          // on Ctrl-C the extractor's own temp folder beside `staging` may not be cleaned yet: it goes too
          Effect.onError(() => removeWithPrefix(parent, path.basename(staging)))
        )
        const exists = yield* fs.exists(target).pipe(Effect.orElseSucceed(() => false))
        const old = path.join(parent, `.${version}.${unique()}.old`)
        if (exists) yield* fs.rename(target, old).pipe(Effect.mapError(fail(target, "cannot move aside")))
        yield* fs.rename(staging, target).pipe(
          Effect.mapError(fail(target, "cannot rename into")),
          Effect.tapError(() => (exists ? fs.rename(old, target).pipe(Effect.ignore) : Effect.void))
        )
        if (exists) yield* fs.remove(old, { recursive: true, force: true }).pipe(Effect.ignore)
        return target
      })

    /** The highest missing directory on the way to `dir` (what `makeDirectory(dir, recursive)` would create). */
    const firstMissing = (dir: string): Effect.Effect<string | undefined> =>
      Effect.gen(function*() {
        let missing: string | undefined
        for (let d = dir;; d = path.dirname(d)) {
          if (yield* fs.exists(d).pipe(Effect.orElseSucceed(() => true))) return missing
          missing = d
          if (path.dirname(d) === d) return missing
        }
      })

    /** Removes the now empty directories from `deepest` up to `top` (a directory in use is left alone). */
    const removeEmptyDirs = (deepest: string, top: string) =>
      Effect.sync(() => {
        for (let d = deepest;; d = path.dirname(d)) {
          try {
            nodeFs.rmdirSync(d)
          } catch (e) {
            if (!hasErrnoCode(e, "ENOENT")) return
          }
          if (d === top || path.dirname(d) === d) return
        }
      })

    /**
     * Places a verified archive: unpacked first when asked (into `<dir>/<name>/<version>`), then
     * `<dir>/<name>-<version>.fmpkg`; on failure the directories this created are removed.
     */
    const finish = (
      src: string,
      fetched: {
        name: string
        version: string
        registry: string | null
        sha256: string
        size: number
        fromCache: boolean
      },
      options: InstallOptions
    ) =>
      Effect.gen(function*() {
        const dir = path.resolve(options.dir ?? home.packagesDir)
        const parent = path.join(dir, fetched.name)
        const created = yield* firstMissing(parent)
        return yield* Effect.gen(function*() {
          const extractedTo = options.extract === true
            ? yield* extractTo(src, dir, fetched.name, fetched.version)
            : null
          const installed = yield* placeAtomically(src, dir, `${fetched.name}-${fetched.version}.fmpkg`)
          const result: InstallResult = { ...fetched, path: installed, extractedTo }
          return result
        }).pipe(
          Effect.onError(() => (created === undefined ? Effect.void : removeEmptyDirs(parent, created)))
        )
      })

    const installName = Effect.fn("Installer.installName")(function*(name: string, options: InstallOptions = {}) {
      if (!isPackageName(name)) return yield* new InvalidPackageName({ name })
      let fetched: Fetched
      if (options.offline === true) {
        if (options.version === undefined || !isVersion(options.version)) {
          return yield* new OfflineNeedsVersion({ name, version: options.version })
        }
        const version = options.version
        fetched = yield* registries.fetchCached(name, version).pipe(
          Effect.catchTag("RegistriesExhausted", () => new NotCached({ name, version }))
        )
      } else {
        fetched = yield* registries.fetch(name, options)
      }
      yield* verifyPackageArchive(archive, fetched.cached.path, {
        name,
        version: fetched.cached.version,
        registry: fetched.registry
      })
      // the registry's publish log must vouch for these bytes (not offline: no registry to ask)
      if (options.offline !== true) yield* registries.vouch(fetched)
      return yield* finish(fetched.cached.path, {
        name: fetched.info.name, // the registry's spelling (the cache keys are normalized)
        version: fetched.cached.version,
        registry: fetched.registry,
        sha256: fetched.cached.sha256,
        size: fetched.cached.size,
        fromCache: fetched.fromCache
      }, options)
    })

    const installFile = Effect.fn("Installer.installFile")(function*(file: string, options: InstallOptions = {}) {
      const abs = path.resolve(file)
      const opened = yield* archive.open(abs)
      const sha256 = yield* checksum.hashFile(abs)
      return yield* finish(abs, {
        name: opened.manifest.name,
        version: opened.manifest.version,
        registry: null,
        sha256,
        size: opened.size,
        fromCache: false
      }, options)
    })

    /** A name or a path (see {@link looksLikePath}). */
    const install = (target: string, options: InstallOptions = {}) =>
      looksLikePath(target) ? installFile(target, options) : installName(target, options)

    return {
      /** Installs a package by name, or a local archive by path. */
      install,
      /** Installs a package by name from the registries. */
      installName,
      /** Installs a local `.fmpkg` (validated first). */
      installFile
    } as const
  }),
  dependencies: [Registries.Default, PackageArchive.Default, Checksum.Default]
}) {}
