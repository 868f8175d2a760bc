/**
 * The download cache below the FlowMason home (`cache/packages`). Content-addressed: archives live
 * once in `blobs/<sha256>.fmpkg`; `index/<registry>/<name>/<version>.json` (one small file per
 * key, written atomically) maps a registry's package version to its blob. Every write goes to a
 * uniquely named temp file in `tmp/` and is renamed into place, so concurrent `fm` processes never
 * see a torn file. Every read re-verifies the SHA-256; a corrupt blob is evicted, never returned.
 * @since 0.1.0
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Data, Effect, Option, Stream } from "effect"
import * as crypto from "node:crypto"
import * as path from "node:path"
import { isPackageName, normalizeName } from "../domain/PackageName.js"
import { isVersion } from "../domain/Version.js"
import { Checksum, ChecksumMismatch, isSha256Hex } from "../shared/Checksum.js"
import { FlowmasonHome } from "../shared/FlowmasonHome.js"

/**
 * What identifies a cached archive: the registry it came from, the package name (normalized with
 * `normalizeName`) and the version.
 * @since 0.1.0
 * @category models
 */
export interface CacheKey {
  readonly registry: string
  readonly name: string
  readonly version: string
}

/**
 * A verified archive in the cache.
 * @since 0.1.0
 * @category models
 */
export interface CachedPackage extends CacheKey {
  /** The blob file (read-only; copy it, never move it). */
  readonly path: string
  /** Lowercase hex SHA-256 of the blob, verified when it was returned. */
  readonly sha256: string
  /** Size in bytes. */
  readonly size: number
}

/**
 * Cache statistics, with the same keys as the existing FlowMason tools.
 * @since 0.1.0
 * @category models
 */
export interface CacheStats {
  /** Number of cached package versions (index entries). */
  readonly packages: number
  /** Bytes used by the cached archives. */
  readonly total_size_bytes: number
  /** The cache directory. */
  readonly cache_dir: string
}

/**
 * What {@link PackageCache.clear} removed.
 * @since 0.1.0
 * @category models
 */
export interface ClearResult {
  /** Index entries (package versions) removed. */
  readonly removed: number
  /** Bytes of archives deleted. */
  readonly freed_bytes: number
}

/**
 * The cache could not be read or written, or a key is not valid. Names the file involved.
 * @since 0.1.0
 * @category errors
 */
export class CacheError extends Data.TaggedError("CacheError")<{
  readonly file: string
  readonly reason: string
}> {
  /** `<file>: <reason>`. */
  override get message(): string {
    return `package cache ${this.file}: ${this.reason}`
  }
  /** What the user can do about it. */
  get hint(): string {
    return "check the permissions of the cache directory, or clear it with `fm registry cache --clear`"
  }
}

const REGISTRY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const DAY_MS = 24 * 60 * 60 * 1000

interface IndexRecord {
  readonly registry: string
  readonly name: string
  readonly version: string
  readonly sha256: string
  readonly size: number
  readonly stored_at: string
}

const uniqueSuffix = () => `${process.pid}-${Date.now().toString(36)}-${crypto.randomBytes(6).toString("hex")}`

/**
 * The package download cache.
 * @since 0.1.0
 * @category services
 */
export class PackageCache extends Effect.Service<PackageCache>()("fm/PackageCache", {
  effect: Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const checksum = yield* Checksum
    const home = yield* FlowmasonHome
    const dir = home.cacheDir
    const blobsDir = path.join(dir, "blobs")
    const indexDir = path.join(dir, "index")
    const tmpDir = path.join(dir, "tmp")

    const err = (file: string, what: string) => (e: { readonly message: string }) =>
      new CacheError({ file, reason: `${what}: ${e.message}` })

    /** Validates a key and returns its normalized form and index file. */
    const resolveKey = (key: CacheKey) =>
      Effect.suspend(() => {
        const name = normalizeName(key.name)
        if (!REGISTRY_RE.test(key.registry)) {
          return Effect.fail(new CacheError({ file: dir, reason: `invalid registry name '${key.registry}'` }))
        }
        if (!isPackageName(name)) {
          return Effect.fail(new CacheError({ file: dir, reason: `invalid package name '${key.name}'` }))
        }
        if (!isVersion(key.version)) {
          return Effect.fail(
            new CacheError({ file: dir, reason: `invalid version '${key.version}' for package ${name}` })
          )
        }
        const normalized: CacheKey = { registry: key.registry, name, version: key.version }
        return Effect.succeed({
          key: normalized,
          indexFile: path.join(indexDir, key.registry, name, `${key.version}.json`)
        })
      })

    const blobPath = (sha256: string) => path.join(blobsDir, `${sha256}.fmpkg`)

    const ensureDirs = Effect.forEach([blobsDir, indexDir, tmpDir], (d) =>
      fs.makeDirectory(d, { recursive: true }).pipe(Effect.mapError(err(d, "cannot create directory"))), {
      discard: true
    })

    /** Writes a small file atomically: unique temp file in tmp/, fsync, rename over the target. */
    const writeAtomic = (target: string, text: string) =>
      Effect.gen(function*() {
        yield* fs.makeDirectory(path.dirname(target), { recursive: true })
        const tmp = path.join(tmpDir, `${path.basename(target)}.${uniqueSuffix()}.tmp`)
        yield* Effect.scoped(Effect.gen(function*() {
          const handle = yield* fs.open(tmp, { flag: "wx" })
          yield* handle.writeAll(new TextEncoder().encode(text))
          yield* handle.sync
        })).pipe(
          Effect.zipRight(fs.rename(tmp, target)),
          Effect.onError(() => fs.remove(tmp).pipe(Effect.ignore))
        )
      }).pipe(Effect.mapError(err(target, "cannot write")))

    const removeQuietly = (file: string) => fs.remove(file, { force: true }).pipe(Effect.ignore)

    /** Reads an index record; `None` when the entry does not exist; corrupt entries are removed. */
    const readIndex = (indexFile: string) =>
      Effect.gen(function*() {
        const text = yield* fs.readFileString(indexFile).pipe(
          Effect.map(Option.some),
          Effect.catchIf(
            (e) => e._tag === "SystemError" && e.reason === "NotFound",
            () => Effect.succeed(Option.none<string>())
          ),
          Effect.mapError(err(indexFile, "cannot read"))
        )
        if (Option.isNone(text)) return Option.none<IndexRecord>()
        let parsed: unknown
        try {
          parsed = JSON.parse(text.value)
        } catch {
          parsed = undefined
        }
        const rec = parsed as Partial<IndexRecord> | undefined
        if (
          rec === undefined || typeof rec !== "object" || rec === null || typeof rec.sha256 !== "string" ||
          !isSha256Hex(rec.sha256)
        ) {
          yield* Effect.logWarning(`package cache: index entry ${indexFile} is corrupt; removed it`)
          yield* removeQuietly(indexFile)
          return Option.none<IndexRecord>()
        }
        return Option.some(rec as IndexRecord)
      })

    const lookup = Effect.fn("PackageCache.lookup")(function*(key: CacheKey) {
      const { indexFile, key: k } = yield* resolveKey(key)
      const rec = yield* readIndex(indexFile)
      if (Option.isNone(rec)) return Option.none<CachedPackage>()
      const blob = blobPath(rec.value.sha256)
      const info = yield* fs.stat(blob).pipe(Effect.option)
      if (Option.isNone(info)) {
        yield* Effect.logWarning(
          `package cache: ${blob} (${k.name}@${k.version} from ${k.registry}) is missing; removed its index entry`
        )
        yield* removeQuietly(indexFile)
        return Option.none<CachedPackage>()
      }
      const actual = yield* checksum.hashFile(blob).pipe(Effect.mapError((e) => new CacheError({ file: blob, reason: e.message })))
      if (actual !== rec.value.sha256) {
        yield* Effect.logWarning(
          `package cache: ${blob} (${k.name}@${k.version} from ${k.registry}) is corrupt: ` +
            `expected SHA-256 ${rec.value.sha256}, got ${actual}; evicted it`
        )
        yield* removeQuietly(blob)
        yield* removeQuietly(indexFile)
        return Option.none<CachedPackage>()
      }
      const now = new Date()
      yield* fs.utimes(indexFile, now, now).pipe(Effect.ignore) // last use, for clear --older-than
      return Option.some<CachedPackage>({ ...k, path: blob, sha256: actual, size: Number(info.value.size) })
    })

    const listDir = (d: string) =>
      fs.readDirectory(d).pipe(
        Effect.catchIf(
          (e) => e._tag === "SystemError" && e.reason === "NotFound",
          () => Effect.succeed([] as Array<string>)
        ),
        Effect.mapError(err(d, "cannot list"))
      )

    const lookupAnyRegistry = Effect.fn("PackageCache.lookupAnyRegistry")(function*(name: string, version: string) {
      const registries = (yield* subdirs(indexDir)).filter((r) => REGISTRY_RE.test(r)).sort()
      for (const registry of registries) {
        const hit = yield* lookup({ registry, name, version })
        if (Option.isSome(hit)) return hit
      }
      return Option.none<CachedPackage>()
    })

    const store = <E>(
      key: CacheKey,
      expectedSha256: string | undefined,
      bytes: Stream.Stream<Uint8Array, E>
    ): Effect.Effect<CachedPackage, E | ChecksumMismatch | CacheError> =>
      Effect.gen(function*() {
        const { indexFile, key: k } = yield* resolveKey(key)
        yield* ensureDirs
        const tmp = path.join(tmpDir, `${k.name}-${k.version}.${uniqueSuffix()}.part`)
        yield* Effect.addFinalizer(() => removeQuietly(tmp)) // gone after rename; removed on any failure
        const hashing = checksum.hashing()
        let size = 0
        yield* Effect.scoped(Effect.gen(function*() {
          const handle = yield* fs.open(tmp, { flag: "wx" }).pipe(Effect.mapError(err(tmp, "cannot create")))
          yield* Stream.runForEach(bytes, (chunk) => {
            hashing.update(chunk)
            size += chunk.length
            return handle.writeAll(chunk).pipe(Effect.mapError(err(tmp, "cannot write")))
          })
          yield* handle.sync.pipe(Effect.mapError(err(tmp, "cannot fsync")))
        }))
        const actual = hashing.digest()
        if (expectedSha256 !== undefined && actual !== expectedSha256.trim().toLowerCase()) {
          return yield* new ChecksumMismatch({
            file: `${k.name}-${k.version}.fmpkg`,
            expected: expectedSha256.trim(),
            actual,
            package: `${k.name}@${k.version}`,
            registry: k.registry
          })
        }
        const blob = blobPath(actual)
        yield* fs.rename(tmp, blob).pipe(Effect.mapError(err(blob, "cannot move into place")))
        const record: IndexRecord = { ...k, sha256: actual, size, stored_at: new Date().toISOString() }
        yield* writeAtomic(indexFile, JSON.stringify(record, null, 2) + "\n")
        return { ...k, path: blob, sha256: actual, size } satisfies CachedPackage
      }).pipe(Effect.scoped, Effect.withSpan("PackageCache.store"))

    const storeFile = Effect.fn("PackageCache.storeFile")(function*(
      key: CacheKey,
      file: string,
      expectedSha256?: string
    ) {
      const bytes = fs.stream(file, { chunkSize: 1024 * 1024 }).pipe(
        Stream.mapError(err(file, "cannot read"))
      )
      return yield* store(key, expectedSha256, bytes)
    })

    /** The subdirectories of `d` (stray files such as editor droppings are skipped). */
    const subdirs = (d: string) =>
      Effect.flatMap(listDir(d), (names) =>
        Effect.filter(names, (n) =>
          fs.stat(path.join(d, n)).pipe(
            Effect.map((i) => i.type === "Directory"),
            Effect.orElseSucceed(() => false)
          )))

    /** Every index entry file. */
    const indexFiles = Effect.gen(function*() {
      const out: Array<string> = []
      for (const registry of yield* subdirs(indexDir)) {
        const rDir = path.join(indexDir, registry)
        for (const name of yield* subdirs(rDir)) {
          const nDir = path.join(rDir, name)
          for (const f of yield* listDir(nDir)) if (f.endsWith(".json")) out.push(path.join(nDir, f))
        }
      }
      return out
    })

    const blobFiles = Effect.map(listDir(blobsDir), (fs_) =>
      fs_.filter((f) => f.endsWith(".fmpkg")).map((f) => path.join(blobsDir, f)))

    const statOrNone = (file: string) => fs.stat(file).pipe(Effect.option)

    const stats: Effect.Effect<CacheStats, CacheError> = Effect.gen(function*() {
      const entries = yield* indexFiles
      let total = 0
      for (const blob of yield* blobFiles) {
        const info = yield* statOrNone(blob)
        if (Option.isSome(info)) total += Number(info.value.size)
      }
      return { packages: entries.length, total_size_bytes: total, cache_dir: dir }
    }).pipe(Effect.withSpan("PackageCache.stats"))

    const clear = Effect.fn("PackageCache.clear")(function*(olderThanDays?: number) {
      const cutoff = olderThanDays === undefined ? Number.POSITIVE_INFINITY : Date.now() - olderThanDays * DAY_MS
      const isOld = (mtime: Option.Option<Date>) => Option.match(mtime, { onNone: () => true, onSome: (d) => d.getTime() < cutoff })
      let removed = 0
      const referenced = new Set<string>()
      for (const file of yield* indexFiles) {
        const info = yield* statOrNone(file)
        if (Option.isNone(info) || isOld(info.value.mtime)) {
          yield* fs.remove(file, { force: true }).pipe(Effect.mapError(err(file, "cannot remove")))
          removed++
        } else {
          const rec = yield* readIndex(file)
          if (Option.isSome(rec)) referenced.add(blobPath(rec.value.sha256))
        }
      }
      let freed = 0
      for (const blob of yield* blobFiles) {
        if (referenced.has(blob)) continue
        const info = yield* statOrNone(blob)
        // an unreferenced blob newer than the cutoff may be one another process is storing now
        if (Option.isSome(info) && !isOld(info.value.mtime)) continue
        yield* fs.remove(blob, { force: true }).pipe(Effect.mapError(err(blob, "cannot remove")))
        if (Option.isSome(info)) freed += Number(info.value.size)
      }
      // leftovers of interrupted downloads (older than a day, or all when clearing everything)
      const tmpCutoff = olderThanDays === undefined ? Number.POSITIVE_INFINITY : Date.now() - DAY_MS
      for (const f of yield* listDir(tmpDir)) {
        const file = path.join(tmpDir, f)
        const info = yield* statOrNone(file)
        const mtime = Option.isSome(info) ? Option.getOrElse(info.value.mtime, () => new Date(0)).getTime() : 0
        if (mtime < tmpCutoff) yield* removeQuietly(file)
      }
      if (olderThanDays === undefined) {
        // everything: also whatever else lies in the index tree (empty directories, stray files)
        yield* fs.remove(indexDir, { recursive: true, force: true }).pipe(Effect.mapError(err(indexDir, "cannot remove")))
      }
      const result: ClearResult = { removed, freed_bytes: freed }
      return result
    })

    return {
      /** The cache directory. */
      dir,
      /** A verified archive for a registry's package version, if cached (marks it used). */
      lookup,
      /** A verified archive for a package version from any registry, if cached (for offline use). */
      lookupAnyRegistry,
      /** Streams bytes into the cache, verifying the expected SHA-256 (nothing is kept on mismatch). */
      store,
      /** Copies a local file into the cache, verifying the expected SHA-256 when given. */
      storeFile,
      /** Counts and sizes. */
      stats,
      /** Removes everything, or the entries not used for `olderThanDays` days. */
      clear
    } as const
  }),
  dependencies: [NodeContext.layer, Checksum.Default]
}) {}
