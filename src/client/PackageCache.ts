/**
 * The download cache below the FlowMason home (`cache/packages`). Content-addressed: archives live
 * once in `blobs/<sha256>.fmpkg`; `index/<registry>/<name>/<version>.json` (one small file per
 * key, written atomically) maps a registry's package version to its blob. Every write goes to a
 * uniquely named temp file in `tmp/` and is renamed into place, so concurrent `fm` processes never
 * see a torn file. Every read re-verifies the SHA-256; a corrupt blob is evicted, never returned.
 * `verified/` remembers which (SHA-256, name, version) passed the archive checks of an install, so
 * that a warm install does not open every archive again (a blob's bytes never change).
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Option, Schema, Stream } from "effect"
import * as nodeFs from "node:fs"
import * as path from "node:path"
import { isPackageName, normalizeName } from "../domain/PackageName.js"
import { isVersion } from "../domain/Version.js"
import { writeFileAtomicPromise, writeFileAtomicSync } from "../shared/AtomicFile.js"
import { Checksum, ChecksumMismatch, isSha256Hex } from "../shared/Checksum.js"
import { FlowmasonHome } from "../shared/FlowmasonHome.js"
import { hashBlobSync } from "./CacheBlobHash.js"
import * as CacheLayout from "./CacheLayout.js"
import { DAY_MS, type IndexRecord, REGISTRY_RE, uniqueSuffix } from "./CacheLayout.js"
import {
  type CachedPackage,
  CacheError,
  type CacheKey,
  type CacheStats,
  type ClearResult,
  type ShaLookup
} from "./CacheModels.js"

export {
  /**
   * A cached archive (re-exported from `CacheModels`).
   * @since 0.1.0
   * @category models
   */
  type CachedPackage,
  /**
   * A cache failure (re-exported from `CacheModels`).
   * @since 0.1.0
   * @category errors
   */
  CacheError,
  /**
   * What identifies a cached archive (re-exported from `CacheModels`).
   * @since 0.1.0
   * @category models
   */
  type CacheKey,
  /**
   * Cache statistics (re-exported from `CacheModels`).
   * @since 0.1.0
   * @category models
   */
  type CacheStats,
  /**
   * What a clean-up removed (re-exported from `CacheModels`).
   * @since 0.1.0
   * @category models
   */
  type ClearResult,
  /**
   * One request of `lookupShaMany` (re-exported from `CacheModels`).
   * @since 0.1.0
   * @category models
   */
  type ShaLookup
} from "./CacheModels.js"

/** What a read needs of an index record (the other fields are written for people and tools). */
type IndexRecordRead = typeof IndexRecordRead.Type
const IndexRecordRead = Schema.Struct({ sha256: Schema.String.pipe(Schema.filter(isSha256Hex)) })

/** An index file's record: `None` when it is torn, not JSON, or has no valid checksum. */
const decodeIndexRecord = Schema.decodeUnknownOption(Schema.parseJson(IndexRecordRead))

/** Blobs hashed per synchronous slice of `lookupShaMany` (a few ms of work for small archives). */
const SHA_SLICE = 16

/** One turn of Node's event loop (`setImmediate`: after pending I/O callbacks), interruptible. */
const eventLoopTurn: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

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
    const layout = CacheLayout.cacheLayout(home.cacheDir)
    const { blobsDir, dir, indexDir, tmpDir, verifiedDir } = layout

    const err = (file: string, what: string) => (e: { readonly message: string }) =>
      new CacheError({ file, reason: `${what}: ${e.message}` })

    const resolveKey = (key: CacheKey) => CacheLayout.resolveKey(layout, key)

    const blobPath = (sha256: string) => CacheLayout.blobPath(layout, sha256)

    const ensureDirs = Effect.forEach(
      [blobsDir, indexDir, tmpDir],
      (d) => fs.makeDirectory(d, { recursive: true }).pipe(Effect.mapError(err(d, "cannot create directory"))),
      {
        discard: true
      }
    )

    /** Runs `op`; when it fails because a directory is missing, creates `dirs` and runs it again. */
    const withDirs = <A, R>(op: Effect.Effect<A, PlatformError, R>, dirs: ReadonlyArray<string>) =>
      Effect.catchIf(
        op,
        (e) => e._tag === "SystemError" && e.reason === "NotFound",
        () =>
          Effect.zipRight(Effect.forEach(dirs, (d) => fs.makeDirectory(d, { recursive: true }), { discard: true }), op)
      )

    /**
     * Writes an index entry atomically: unique temp file in tmp/, rename over the target. No fsync:
     * a torn or lost entry reads as absent (a re-download, or `lookupShaMany` rewrites it), and the
     * blob it names is verified by its SHA-256 on every read.
     */
    const writeAtomic = (target: string, text: string) =>
      Effect.try({
        // synchronous: a few small system calls (directories created only when missing)
        try: () =>
          writeFileAtomicSync(target, text, {
            temp: path.join(tmpDir, `${path.basename(target)}.${uniqueSuffix()}.tmp`),
            createDirectories: true,
            fsync: false
          }),
        catch: (e) =>
          new CacheError({ file: target, reason: `cannot write: ${e instanceof Error ? e.message : String(e)}` })
      })

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
        if (Option.isNone(text)) return Option.none<IndexRecordRead>()
        const rec = decodeIndexRecord(text.value)
        if (Option.isNone(rec)) {
          yield* Effect.logWarning(
            `a download-cache index entry was unreadable; removed it (${path.basename(indexFile)})`
          )
          yield* removeQuietly(indexFile)
        }
        return rec
      })

    const lookup = Effect.fn("PackageCache.lookup")(function*(key: CacheKey) {
      const { indexFile, key: k } = yield* resolveKey(key)
      const rec = yield* readIndex(indexFile)
      if (Option.isNone(rec)) return Option.none<CachedPackage>()
      const blob = blobPath(rec.value.sha256)
      const info = yield* fs.stat(blob).pipe(Effect.option)
      if (Option.isNone(info)) {
        yield* Effect.logWarning(
          `the cached copy of ${k.name}@${k.version} (from ${k.registry}) was missing; removed its index entry`
        )
        yield* removeQuietly(indexFile)
        return Option.none<CachedPackage>()
      }
      const actual = yield* checksum.hashFile(blob).pipe(
        Effect.mapError((e) => new CacheError({ file: blob, reason: e.message }))
      )
      if (actual !== rec.value.sha256) {
        yield* Effect.logWarning(
          `the cached copy of ${k.name}@${k.version} (from ${k.registry}) was corrupt (its SHA-256 did not match); removed it`
        )
        yield* removeQuietly(blob)
        yield* removeQuietly(indexFile)
        return Option.none<CachedPackage>()
      }
      const now = new Date()
      yield* fs.utimes(indexFile, now, now).pipe(Effect.ignore) // last use, for clear --older-than
      return Option.some<CachedPackage>({ ...k, path: blob, sha256: actual, size: Number(info.value.size) })
    })

    /**
     * The fast path when the caller already knows the SHA-256 (a lockfile): blob paths are
     * content-addressed, so no index is read. Each blob is hashed once and must match (a corrupt
     * blob is evicted); the hits' index entries are touched (last use, for `clear --older-than`),
     * and rewritten when missing. The batch runs as synchronous loops of {@link SHA_SLICE} blobs.
     */
    const lookupShaMany = Effect.fn("PackageCache.lookupShaMany")(function*(requests: ReadonlyArray<ShaLookup>) {
      const keys = yield* Effect.forEach(requests, (r) => resolveKey(r.key))
      const now = new Date()
      const corrupt: Array<string> = []
      const unindexed: Array<{ readonly file: string; readonly record: IndexRecord }> = []
      let current = blobsDir
      const lookOne = (r: ShaLookup, i: number): Option.Option<CachedPackage> => {
        const { indexFile, key: k } = keys[i]
        const expected = r.sha256.trim().toLowerCase()
        if (!isSha256Hex(expected)) return Option.none()
        const blob = blobPath(expected)
        current = blob
        const got = hashBlobSync(blob)
        if (got === undefined) return Option.none()
        if (got.sha256 !== expected) {
          corrupt.push(
            `the cached copy of ${k.name}@${k.version} (from ${k.registry}) was corrupt (its SHA-256 did not match); removed it`
          )
          nodeFs.rmSync(blob, { force: true })
          return Option.none()
        }
        try {
          nodeFs.utimesSync(indexFile, now, now)
        } catch {
          unindexed.push({
            file: indexFile,
            record: { ...k, sha256: expected, size: got.size, stored_at: now.toISOString() }
          })
        }
        return Option.some({ ...k, path: blob, sha256: expected, size: got.size })
      }
      // synchronous slices with a turn of the event loop between them, so that I/O started
      // alongside (a project install's publish-log request) goes on while the blobs are hashed
      const out: Array<Option.Option<CachedPackage>> = []
      for (let start = 0; start < requests.length; start += SHA_SLICE) {
        if (start > 0) yield* eventLoopTurn
        const end = Math.min(start + SHA_SLICE, requests.length)
        yield* Effect.try({
          try: () => {
            for (let i = start; i < end; i++) out.push(lookOne(requests[i], i))
          },
          catch: (e) =>
            new CacheError({ file: current, reason: `cannot read: ${e instanceof Error ? e.message : String(e)}` })
        })
      }
      for (const line of corrupt) yield* Effect.logWarning(line)
      if (unindexed.length > 0) {
        yield* ensureDirs.pipe(
          Effect.zipRight(
            Effect.forEach(unindexed, (u) => writeAtomic(u.file, JSON.stringify(u.record, null, 2) + "\n"), {
              discard: true
            })
          ),
          Effect.ignore
        )
      }
      return out
    })

    /**
     * The marker file `verified/<sha256>.<name>@<version>` that remembers a pass of the archive
     * checks (see {@link verifiedOnce}); `undefined` for a key that is never remembered.
     */
    const verifiedMark = (sha256: string, name: string, version: string): string | undefined => {
      const n = normalizeName(name)
      if (!isSha256Hex(sha256) || !isPackageName(n) || !isVersion(version)) return undefined
      return path.join(verifiedDir, `${sha256.toLowerCase()}.${n}@${version}`)
    }

    /**
     * Runs `check` (the archive checks of an install) on the blob `sha256` for `name@version`
     * unless it passed before, and remembers a pass as an empty marker file
     * `verified/<sha256>.<name>@<version>`. The answer depends only on the bytes, the name and the
     * version, so the marker is a cache of it, never stale. Marker I/O failures only cost a re-check.
     */
    const verifiedOnce = <A, E>(
      sha256: string,
      name: string,
      version: string,
      check: Effect.Effect<A, E>
    ): Effect.Effect<void, E> =>
      Effect.suspend(() => {
        const mark = verifiedMark(sha256, name, version)
        if (mark === undefined) return Effect.asVoid(check)
        return nodeFs.existsSync(mark) ? Effect.void : checkThenMark(mark, check)
      })

    /** Runs `check`, then remembers its pass as the empty marker file `mark` (a failed create only costs a re-check). */
    const checkThenMark = <A, E>(mark: string, check: Effect.Effect<A, E>): Effect.Effect<void, E> =>
      Effect.zipRight(
        check,
        // an empty file: one synchronous create (the directory is created only when missing)
        Effect.sync(() => {
          try {
            nodeFs.closeSync(nodeFs.openSync(mark, "w"))
          } catch {
            try {
              nodeFs.mkdirSync(verifiedDir, { recursive: true })
              nodeFs.closeSync(nodeFs.openSync(mark, "w"))
            } catch {
              // not remembered: checked again next time
            }
          }
        })
      )

    /**
     * {@link verifiedOnce} for many blobs: the remembered passes are looked up in one synchronous
     * loop, and only the rest run their `check` (`concurrency` at a time). For a project install
     * from the cache, where every pass is remembered, no fiber is started.
     */
    const verifiedOnceMany = <A, E>(
      items: ReadonlyArray<{
        readonly sha256: string
        readonly name: string
        readonly version: string
        readonly check: () => Effect.Effect<A, E>
      }>,
      concurrency: number
    ): Effect.Effect<void, E> =>
      Effect.suspend(() => {
        const todo = items.flatMap((it) => {
          const mark = verifiedMark(it.sha256, it.name, it.version)
          if (mark === undefined) return [Effect.asVoid(Effect.suspend(it.check))]
          return nodeFs.existsSync(mark) ? [] : [checkThenMark(mark, Effect.suspend(it.check))]
        })
        return Effect.all(todo, { concurrency, discard: true })
      })

    const lookupSha = Effect.fn("PackageCache.lookupSha")(function*(key: CacheKey, sha256: string) {
      const [hit] = yield* lookupShaMany([{ key, sha256 }])
      return hit ?? Option.none<CachedPackage>()
    })

    /**
     * Puts cached blobs at new paths (which must not exist): hard links (blobs are immutable and
     * content-addressed: nothing ever writes into one in place, they are only renamed in and
     * removed), or copies when linking is not possible (another device, no link support).
     */
    const linkOrCopyMany = Effect.fn("PackageCache.linkOrCopyMany")(function*(
      pairs: ReadonlyArray<{ readonly blob: string; readonly target: string }>
    ) {
      let current = pairs[0]
      yield* Effect.try({
        try: () => {
          for (const pair of pairs) {
            current = pair
            try {
              nodeFs.linkSync(pair.blob, pair.target)
            } catch {
              nodeFs.copyFileSync(pair.blob, pair.target, nodeFs.constants.COPYFILE_EXCL)
            }
          }
        },
        catch: (e) =>
          new CacheError({
            file: current?.target ?? dir,
            reason: `cannot link or copy ${current?.blob ?? "the archive"}: ${
              e instanceof Error ? e.message : String(e)
            }`
          })
      })
    })

    const listDir = (d: string) =>
      fs.readDirectory(d).pipe(
        Effect.catchIf(
          (e) => e._tag === "SystemError" && e.reason === "NotFound",
          () => Effect.succeed<Array<string>>([])
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
        const tmp = path.join(tmpDir, `${k.name}-${k.version}.${uniqueSuffix()}.part`)
        let placed = false
        yield* Effect.addFinalizer(() => (placed ? Effect.void : removeQuietly(tmp))) // removed on any failure
        const hashing = checksum.hashing()
        let size = 0
        yield* Effect.scoped(Effect.gen(function*() {
          // the cache's directories are created only when missing (not once per package)
          const handle = yield* withDirs(fs.open(tmp, { flag: "wx" }), [blobsDir, indexDir, tmpDir]).pipe(
            Effect.mapError(err(tmp, "cannot create"))
          )
          yield* Stream.runForEach(bytes, (chunk) => {
            hashing.update(chunk)
            size += chunk.length
            return handle.writeAll(chunk).pipe(Effect.mapError(err(tmp, "cannot write")))
          })
          yield* handle.sync.pipe(Effect.mapError(err(tmp, "cannot fsync")))
        }))
        const actual = hashing.digest()
        yield* checkSha(k, expectedSha256, actual)
        const blob = blobPath(actual)
        yield* withDirs(fs.rename(tmp, blob), [blobsDir]).pipe(Effect.mapError(err(blob, "cannot move into place")))
        placed = true
        return yield* indexed(k, indexFile, actual, size)
      }).pipe(Effect.scoped, Effect.withSpan("PackageCache.store"))

    /** Fails with {@link ChecksumMismatch} when `expected` is given and is not `actual`. */
    const checkSha = (k: CacheKey, expected: string | undefined, actual: string) =>
      expected !== undefined && actual !== expected.trim().toLowerCase()
        ? Effect.fail(
          new ChecksumMismatch({
            file: `${k.name}-${k.version}.fmpkg`,
            expected: expected.trim(),
            actual,
            package: `${k.name}@${k.version}`,
            registry: k.registry
          })
        )
        : Effect.void

    /** Writes the index entry of a blob now in place, and gives the cached package. */
    const indexed = (k: CacheKey, indexFile: string, sha256: string, size: number) =>
      Effect.as(
        writeAtomic(
          indexFile,
          JSON.stringify({ ...k, sha256, size, stored_at: new Date().toISOString() } satisfies IndexRecord, null, 2) +
            "\n"
        ),
        { ...k, path: blobPath(sha256), sha256, size } satisfies CachedPackage
      )

    /**
     * {@link store} of bytes already in memory (a small download read whole): hashed first, so a
     * mismatch writes nothing; then the blob is written atomically (temp file in `tmp/`, fsync,
     * rename) and indexed, as `store` does.
     */
    const storeBytes = (
      key: CacheKey,
      expectedSha256: string | undefined,
      bytes: Uint8Array
    ): Effect.Effect<CachedPackage, ChecksumMismatch | CacheError> =>
      Effect.gen(function*() {
        const { indexFile, key: k } = yield* resolveKey(key)
        const hashing = checksum.hashing()
        hashing.update(bytes)
        const actual = hashing.digest()
        yield* checkSha(k, expectedSha256, actual)
        const blob = blobPath(actual)
        yield* Effect.tryPromise({
          try: () =>
            writeFileAtomicPromise(blob, bytes, {
              temp: path.join(tmpDir, `${k.name}-${k.version}.${uniqueSuffix()}.part`),
              createDirectories: true
            }),
          catch: (e) =>
            new CacheError({ file: blob, reason: `cannot write: ${e instanceof Error ? e.message : String(e)}` })
        })
        return yield* indexed(k, indexFile, actual, bytes.length)
      }).pipe(Effect.withSpan("PackageCache.storeBytes"))

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

    const blobFiles = Effect.map(
      listDir(blobsDir),
      (fs_) => fs_.filter((f) => f.endsWith(".fmpkg")).map((f) => path.join(blobsDir, f))
    )

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
      const isOld = (mtime: Option.Option<Date>) =>
        Option.match(mtime, { onNone: () => true, onSome: (d) => d.getTime() < cutoff })
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
        yield* fs.remove(indexDir, { recursive: true, force: true }).pipe(
          Effect.mapError(err(indexDir, "cannot remove"))
        )
        yield* fs.remove(verifiedDir, { recursive: true, force: true }).pipe(
          Effect.mapError(err(verifiedDir, "cannot remove"))
        )
      }
      const result: ClearResult = { removed, freed_bytes: freed }
      return result
    })

    return {
      /** The cache directory. */
      dir,
      /** A verified archive for a registry's package version, if cached (marks it used). */
      lookup,
      /**
       * A verified archive by its known SHA-256 (from a lockfile): no index read, one hash of the
       * blob (must match, else evicted), marks it used.
       */
      lookupSha,
      /** {@link lookupSha} for many packages at once (one synchronous loop; same guarantees). */
      lookupShaMany,
      /** Runs an archive check on a blob for `name@version` unless it passed before (remembered per SHA-256, name, version). */
      verifiedOnce,
      /** {@link verifiedOnce} for many blobs (remembered passes looked up in one loop, the rest checked concurrently). */
      verifiedOnceMany,
      /** Puts cached blobs at new paths: hard links, else copies (never write into the results in place). */
      linkOrCopyMany,
      /** A verified archive for a package version from any registry, if cached (for offline use). */
      lookupAnyRegistry,
      /** Streams bytes into the cache, verifying the expected SHA-256 (nothing is kept on mismatch). */
      store,
      /** {@link store} of bytes in memory (nothing is written on a mismatch). */
      storeBytes,
      /** Copies a local file into the cache, verifying the expected SHA-256 when given. */
      storeFile,
      /** Counts and sizes. */
      stats,
      /** Removes everything, or the entries not used for `olderThanDays` days. */
      clear
    } as const
  }),
  dependencies: [Checksum.Default]
}) {}
