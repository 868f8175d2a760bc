/**
 * Project installs: `fm install` with no argument (resolve or follow `fm.lock.json`, then
 * install everything all or nothing), `fm install NAME[@RANGE]` inside a project (add the
 * dependency), `fm update [NAME...]`, `fm tree` and `fm outdated`.
 *
 * With a lockfile that satisfies the project file, nothing is resolved and cached archives are
 * used without any network request; `--frozen` fails when the lock does not satisfy the project.
 * Downloads run concurrently (default 8), each verified against the lock's SHA-256; one failure
 * stops the rest and leaves the install directory as it was (everything is staged in a sibling
 * directory, then swapped in).
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Data, type Duration, Effect, Fiber, Option, Schedule, Stream } from "effect"
import * as path from "node:path"
import semver from "semver"
import { PackageInfo, type ReleaseInfo } from "../api/Models.js"
import { PackageArchive } from "../archive/PackageArchive.js"
import { installMetadataMaxAge, withFreshMetadata } from "../client/MetadataFreshness.js"
import { PackageCache } from "../client/PackageCache.js"
import { type Fetched, loggedId, Registries } from "../client/Registries.js"
import { verifyPackageArchive, verifyPackageArchiveBytes } from "../client/VerifiedArchive.js"
import { normalizeName } from "../domain/PackageName.js"
import { pickLatest } from "../domain/Version.js"
import { makeArchiveDependencies } from "./ArchiveDependencies.js"
import type { PackageMetadata } from "./MetadataSource.js"
import { guessDownloads } from "./Prefetch.js"
import {
  type LockedPackage,
  LOCKFILE,
  type Lockfile,
  lockProblems,
  type Project,
  PROJECT_FILES,
  ProjectError,
  reachable,
  readLock,
  readProject,
  writeLock,
  writeProjectDependencies
} from "./ProjectFile.js"
import { makeRegistryMetadata } from "./RegistryMetadata.js"
import { type Resolution, resolveFrom } from "./Resolver.js"

/**
 * Parallel downloads of a project install by default.
 * @since 0.1.0
 */
export const DOWNLOAD_CONCURRENCY = 16

/**
 * Archives whose locked or listed size is at most this are downloaded whole into memory (and
 * checked there) instead of streamed to disk.
 * @since 0.1.0
 */
export const WHOLE_DOWNLOAD_BYTES = 4 * 1024 * 1024

/**
 * The directory (inside the project) that `fm install` fills.
 * @since 0.1.0
 */
export const INSTALL_DIR = "fm_packages"

/**
 * No project file in the directory.
 * @since 0.1.0
 * @category errors
 */
export class NoProject extends Data.TaggedError("NoProject")<{ readonly dir: string }> {
  override get message(): string {
    return `no project file in ${this.dir}: create ${PROJECT_FILES[0]} with {"name": ..., "dependencies": {}} ` +
      `or run fm install NAME to install a single package`
  }
}

/**
 * `--frozen` and the lockfile does not satisfy the project file (or there is no lockfile).
 * @since 0.1.0
 * @category errors
 */
export class LockOutOfDate extends Data.TaggedError("LockOutOfDate")<{
  readonly file: string
  readonly problems: ReadonlyArray<string>
}> {
  override get message(): string {
    return `${this.file} does not satisfy the project file (--frozen):\n${
      this.problems.map((p) => `  - ${p}`).join("\n")
    }\n` +
      `run fm install without --frozen (or fm update) to update it`
  }
}

/**
 * A package could not be installed (download failed, checksum differs from the lock, registry
 * missing or moved). Nothing was changed in the install directory.
 * @since 0.1.0
 * @category errors
 */
export class InstallFailed extends Data.TaggedError("InstallFailed")<{
  readonly package: string
  readonly version: string
  readonly registry: string
  readonly reason: string
}> {
  override get message(): string {
    return `cannot install ${this.package}@${this.version} from registry '${this.registry}': ${this.reason} ` +
      `(nothing was changed in ${INSTALL_DIR}/)`
  }
}

/**
 * Options shared by the project operations.
 * @since 0.1.0
 * @category models
 */
export interface ProjectOptions {
  /** The project directory (default: the current directory). */
  readonly dir?: string | undefined
  /** Fail instead of resolving when the lockfile does not satisfy the project file. */
  readonly frozen?: boolean | undefined
  /** Parallel downloads and metadata requests (default: 16 downloads, 32 metadata requests). */
  readonly concurrency?: number | undefined
  /** Where to install (default `<project>/fm_packages`). */
  readonly installDir?: string | undefined
  /** Download progress over all the packages fetched: (bytes received, bytes expected). */
  readonly onProgress?: ((received: number, total: number) => void) | undefined
  /**
   * `install` only: how recently the registry must have confirmed a cached metadata answer for it
   * to be used without asking (default `FLOWMASON_METADATA_MAX_AGE`, else 300 s; zero: always ask).
   */
  readonly metadataMaxAge?: Duration.Duration | undefined
}

/** Counts the bytes of every download of one operation (early ones and the rest) for a progress bar. */
interface Meter {
  /** More bytes are to come (a download starts, with its size from the metadata or the lock). */
  readonly expect: (bytes: number) => void
  /** Bytes arrived. */
  readonly counted: (bytes: number) => void
}

const makeMeter = (onProgress: ((received: number, total: number) => void) | undefined): Meter => {
  let expected = 0
  let received = 0
  return {
    expect: (bytes) => {
      expected += bytes
    },
    counted: (bytes) => {
      received += bytes
      onProgress?.(received, Math.max(expected, received))
    }
  }
}

/**
 * One installed package.
 * @since 0.1.0
 * @category models
 */
export interface InstalledPackage {
  readonly name: string
  readonly version: string
  readonly registry: string
  readonly sha256: string
  readonly size: number
  /** Whether it came from the cache (no download). */
  readonly fromCache: boolean
}

/**
 * What a project install did.
 * @since 0.1.0
 * @category models
 */
export interface ProjectInstallResult {
  readonly project: string
  readonly installDir: string
  readonly packages: ReadonlyArray<InstalledPackage>
  /** Whether the dependencies were resolved (false: the lockfile was followed as is). */
  readonly resolved: boolean
  readonly lockfile: string
  readonly warnings: ReadonlyArray<string>
}

/**
 * One node of the resolved graph (`fm tree`).
 * @since 0.1.0
 * @category models
 */
export interface TreeNode {
  readonly name: string
  readonly version: string
  readonly registry: string
  /** name -> the range asked for and the version it resolved to. */
  readonly dependencies: ReadonlyArray<
    { readonly name: string; readonly range: string; readonly version: string | null }
  >
}

/**
 * The resolved graph of a project.
 * @since 0.1.0
 * @category models
 */
export interface ProjectTree {
  readonly project: string
  readonly dependencies: ReadonlyArray<
    { readonly name: string; readonly range: string; readonly version: string | null }
  >
  readonly packages: ReadonlyArray<TreeNode>
  /** Whether the graph comes from the lockfile (else it was resolved just now). */
  readonly fromLock: boolean
}

/**
 * One row of `fm outdated`.
 * @since 0.1.0
 * @category models
 */
export interface OutdatedRow {
  readonly name: string
  readonly current: string
  /** The newest version the project's range allows (direct dependencies), else `null`. */
  readonly wanted: string | null
  /** The newest non-yanked release in the package's registry. */
  readonly latest: string
  readonly registry: string
  readonly direct: boolean
}

const toLocked = (r: Resolution): Array<LockedPackage> =>
  r.packages.map((p) => ({
    name: p.name,
    version: p.version,
    registry: p.registry,
    sha256: p.checksum.toLowerCase(),
    size: p.sizeBytes,
    dependencies: p.dependencies,
    ...(p.logIndex === undefined ? {} : { logIndex: p.logIndex })
  }))

/** The lock's packages with the given ones replacing theirs (leftovers kept as they were). */
const mergeLocked = (
  all: ReadonlyMap<string, LockedPackage>,
  updated: ReadonlyArray<LockedPackage>
): Array<LockedPackage> => {
  const out = new Map(all)
  for (const p of updated) out.set(normalizeName(p.name), p)
  return [...out.values()]
}

/**
 * The project operations behind `fm install` (no argument, or NAME inside a project),
 * `fm update`, `fm tree` and `fm outdated`.
 * @since 0.1.0
 * @category services
 */
export class ProjectInstall extends Effect.Service<ProjectInstall>()("fm/ProjectInstall", {
  effect: Effect.gen(function*() {
    const registries = yield* Registries
    const cache = yield* PackageCache
    const archive = yield* PackageArchive
    const fs = yield* FileSystem.FileSystem

    const provideFs = <A, E>(self: Effect.Effect<A, E, FileSystem.FileSystem>) =>
      Effect.provideService(self, FileSystem.FileSystem, fs)

    const load = (options: ProjectOptions) =>
      Effect.gen(function*() {
        const dir = path.resolve(options.dir ?? ".")
        const project = yield* provideFs(readProject(dir))
        if (project === undefined) return yield* new NoProject({ dir })
        const lock = yield* provideFs(readLock(project.dir))
        return { project, lock }
      })

    /**
     * Resolves the project; `keep` names (normalized) stay on their locked version and registry.
     * `early` is called for each archive worth downloading before the solver has run.
     */
    const resolveProject = (
      project: Project,
      lock: Lockfile | undefined,
      keep: (name: string) => boolean,
      concurrency: number | undefined,
      early?: (metadata: PackageMetadata, release: ReleaseInfo) => Effect.Effect<void>,
      onFetched?: (fetched: Fetched) => void
    ) =>
      Effect.gen(function*() {
        const pins: Record<string, string> = {}
        const locked = new Map<string, string>()
        for (const [k, p] of lock?.packages ?? []) {
          if (!keep(k)) continue
          pins[k] = p.registry.name
          locked.set(k, p.version)
        }
        for (const [n, r] of Object.entries(project.registries)) pins[normalizeName(n)] = r
        const source = makeRegistryMetadata(registries, {
          pins,
          detectShadows: true,
          dependencies: makeArchiveDependencies(registries, archive, onFetched)
        })
        const resolution = yield* resolveFrom(source, {
          dependencies: project.dependencies,
          rootName: project.name,
          locked,
          concurrency,
          onMetadata: early === undefined ? undefined : guessDownloads(project.dependencies, locked, early)
        })
        const warnings = [...resolution.warnings]
        for (const p of resolution.packages) {
          const before = lock?.packages.get(normalizeName(p.name))
          if (before !== undefined && before.registry.name !== p.registry.name) {
            warnings.push(
              `${p.name} now resolves from registry '${p.registry.name}' (${p.registry.url}); ${LOCKFILE} had it from '${before.registry.name}' (${before.registry.url})`
            )
          }
        }
        return { resolution, warnings }
      })

    const failFor = (p: LockedPackage) => (reason: string) =>
      new InstallFailed({ package: p.name, version: p.version, registry: p.registry.name, reason })
    const keyOf = (p: LockedPackage) => ({ registry: p.registry.name, name: normalizeName(p.name), version: p.version })
    /** A verified archive in the cache, and whether it was there before this command. */
    type Got = { readonly path: string; readonly fromCache: boolean; readonly sha256: string }
    const cacheId = (p: LockedPackage) => `${p.registry.name}\u0000${normalizeName(p.name)}\u0000${p.version}`

    /** The cached, verified archive of a locked package, if the cache has it (no network). */
    const cachedOne = (p: LockedPackage) =>
      cache.lookup(keyOf(p)).pipe(
        Effect.mapError((e) => failFor(p)(e.message)),
        Effect.map((hit) =>
          Option.isSome(hit) && p.sha256 !== "" && hit.value.sha256 === p.sha256
            ? Option.some({ path: hit.value.path, fromCache: true, sha256: hit.value.sha256 })
            : Option.none()
        )
      )

    /**
     * The archive checks of an install on the bytes just downloaded (remembered per SHA-256, name
     * and version, as `materialize` asks), so the file is not read and inflated again. A refusal is
     * not reported here: nothing is remembered, and `materialize` checks the file and reports it.
     */
    const verifiedInMemory = (p: LockedPackage, bytes: Uint8Array) =>
      cache.verifiedOnce(
        p.sha256,
        p.name,
        p.version,
        verifyPackageArchiveBytes(archive, bytes, `${normalizeName(p.name)}-${p.version}.fmpkg`, {
          name: p.name,
          version: p.version,
          registry: p.registry.name
        })
      ).pipe(Effect.ignore)

    /** Downloads one locked package into the cache, verified against the lock while storing. */
    const fetchOne = (p: LockedPackage, counted: (bytes: number) => void = () => {}) =>
      Effect.gen(function*() {
        const fail = failFor(p)
        const key = keyOf(p)
        const sources = yield* registries.sources(p.registry.name).pipe(
          Effect.mapError((e) =>
            fail(
              `${e.message}; ${LOCKFILE} records it at ${p.registry.url}: add it with fm registry add ${p.registry.name} ${p.registry.url}`
            )
          )
        )
        const source = sources[0]
        if (source !== undefined && source.url.replace(/\/+$/, "") !== p.registry.url.replace(/\/+$/, "")) {
          return yield* fail(
            `the registry now points to ${source.url}, but ${LOCKFILE} was made against ${p.registry.url}; run fm update to re-resolve`
          )
        }
        if (source === undefined) return yield* fail(`registry '${p.registry.name}' is not configured`)
        if (p.sha256 === "") {
          // the registry's index had no checksum (an older FlowMason server): its package info has one
          let previous = 0
          const fetched = yield* registries.fetch(p.name, {
            version: p.version,
            registry: p.registry.name,
            onProgress: (received) => {
              counted(received - previous)
              previous = received
            }
          }).pipe(
            Effect.mapError((e) => fail(e.message))
          )
          return { path: fetched.cached.path, fromCache: fetched.fromCache, sha256: fetched.cached.sha256 }
        }
        // straight to the archive: the lock already has everything the package info would say
        // the lock's fields were decoded by its schema (or by the registry's answer): not validated again
        const info = new PackageInfo(
          { name: p.name, version: p.version, checksum: p.sha256, size_bytes: p.size },
          { disableValidation: true }
        )
        // a small archive is read whole (no stream machinery per chunk), checked in memory, then written
        const small = p.size > 0 && p.size <= WHOLE_DOWNLOAD_BYTES
        const stored = small
          ? Effect.flatMap(source.downloadBytes(info), (bytes) => {
            counted(bytes.length)
            return Effect.zipLeft(cache.storeBytes(key, p.sha256, bytes), verifiedInMemory(p, bytes))
          })
          : cache.store(
            key,
            p.sha256,
            source.download(info).pipe(Stream.tap((chunk) => Effect.sync(() => counted(chunk.length))))
          )
        const cached = yield* stored.pipe(
          Effect.retry({
            times: 2,
            schedule: Schedule.exponential("200 millis"),
            while: (e) => e._tag === "RegistryUnavailable"
          }),
          Effect.mapError((e) =>
            e._tag === "ChecksumMismatch"
              ? fail(
                `its SHA-256 is ${e.actual}, but ${LOCKFILE} records ${p.sha256}; the registry's copy changed — refusing to install it`
              )
              : fail(e.message)
          )
        )
        return { path: cached.path, fromCache: false, sha256: cached.sha256 }
      })

    /**
     * Downloads that overlap resolution: `start` forks (in the current scope, at most `concurrency`
     * at a time) the download of a guessed archive into the cache, unless it is there already;
     * `settle` waits for them all and gives, by cache key, each verified archive (cached or just
     * downloaded). A failed early download is forgotten: `materialize` fetches what the solution
     * needs and reports its errors.
     */
    const earlyDownloads = (concurrency: number, meter: Meter) =>
      Effect.gen(function*() {
        const scope = yield* Effect.scope
        const sem = yield* Effect.makeSemaphore(concurrency)
        const fibers: Array<Fiber.RuntimeFiber<Option.Option<readonly [string, Got]>>> = []
        const start = (metadata: PackageMetadata, release: ReleaseInfo): Effect.Effect<void> => {
          // a release with unreported dependencies is downloaded by the resolver itself, to read them
          if (release.checksum === "" || release.dependencies === undefined) return Effect.void
          const p: LockedPackage = {
            name: metadata.name,
            version: release.version,
            registry: metadata.registry,
            sha256: release.checksum.toLowerCase(),
            size: release.size_bytes,
            dependencies: release.dependencies ?? {} // only the download is started from this
          }
          const one = Effect.gen(function*() {
            const [hit] = yield* cache.lookupShaMany([{ key: keyOf(p), sha256: p.sha256 }])
            if (hit === undefined || Option.isNone(hit)) meter.expect(p.size)
            const got: Got = hit !== undefined && Option.isSome(hit)
              ? { path: hit.value.path, fromCache: true, sha256: hit.value.sha256 }
              : yield* fetchOne(p, meter.counted)
            return Option.some([cacheId(p), got] as const)
          }).pipe(sem.withPermits(1), Effect.orElseSucceed(() => Option.none<readonly [string, Got]>()))
          return Effect.asVoid(Effect.tap(Effect.forkIn(one, scope), (f) => Effect.sync(() => fibers.push(f))))
        }
        const settle = Effect.map(Fiber.joinAll(fibers), (done): ReadonlyMap<string, Got> =>
          new Map(done.flatMap(Option.toArray)))
        return { start, settle } as const
      })

    /**
     * Fetches every package (concurrently), stages the install dir, waits for `beforeSwap` (the
     * publish-log check), then swaps it in.
     */
    const materialize = <E = never>(
      packages: ReadonlyArray<LockedPackage>,
      installDir: string,
      concurrency: number,
      early: ReadonlyMap<string, Got>,
      meter: Meter,
      beforeSwap: Effect.Effect<void, E> = Effect.void
    ) =>
      Effect.gen(function*() {
        const parent = path.dirname(installDir)
        const ioFail = (file: string, what: string) => (e: { readonly message: string }) =>
          new ProjectError({ file, reason: `cannot ${what} (${e.message})` })
        yield* fs.makeDirectory(parent, { recursive: true }).pipe(
          Effect.mapError(ioFail(parent, "create the directory"))
        )
        const staging = yield* fs.makeTempDirectory({
          directory: parent,
          prefix: `.${path.basename(installDir)}.staging-`
        }).pipe(
          Effect.mapError(ioFail(parent, "create a staging directory in"))
        )
        const LOCAL = 16
        const installed = yield* Effect.gen(function*() {
          // 1. cache hits (local only), 2. downloads of the rest (bounded), 3. links/copies into staging
          // fetched (and verified) while resolving: nothing more to do for those
          const hits: Array<Option.Option<Got>> = packages.map((p) => Option.fromNullable(early.get(cacheId(p))))
          // with the lock's SHA-256 the blob path is known: one batch, no index reads, each blob hashed once
          const withSha = packages.flatMap((p, i) => (p.sha256 !== "" && Option.isNone(hits[i]) ? [i] : []))
          const shaHits = yield* cache.lookupShaMany(
            withSha.map((i) => ({ key: keyOf(packages[i]), sha256: packages[i].sha256 }))
          ).pipe(
            Effect.mapError((e) =>
              new ProjectError({ file: e.file, reason: `cannot read the package cache (${e.reason})` })
            )
          )
          withSha.forEach((i, j) => {
            hits[i] = Option.map(shaHits[j], (h) => ({ path: h.path, fromCache: true, sha256: h.sha256 }))
          })
          const withoutSha = packages.flatMap((p, i) => (p.sha256 === "" ? [i] : []))
          yield* Effect.forEach(withoutSha, (i) =>
            Effect.map(cachedOne(packages[i]), (h) => {
              hits[i] = h
            }), { concurrency: LOCAL, discard: true })
          meter.expect(packages.reduce((sum, p, i) => (Option.isSome(hits[i]) ? sum : sum + p.size), 0))
          // downloads (bounded) of what the cache does not hold, in the lock's order
          const missing = packages.flatMap((_, i) => (Option.isSome(hits[i]) ? [] : [i]))
          const fetched = yield* Effect.forEach(missing, (i) => fetchOne(packages[i], meter.counted), { concurrency })
          missing.forEach((i, j) => {
            hits[i] = Option.some(fetched[j])
          })
          const got = hits.map((hit, i) =>
            Option.getOrThrowWith(hit, () => new Error(`no archive for ${packages[i].name}@${packages[i].version}`))
          )
          // every archive, downloaded or cached, passes the checks of a local file and is the package locked
          // (once per SHA-256, name and version: the cache remembers a pass)
          yield* cache.verifiedOnceMany(
            packages.map((p, i) => ({
              sha256: got[i].sha256,
              name: p.name,
              version: p.version,
              check: () =>
                verifyPackageArchive(archive, got[i].path, {
                  name: p.name,
                  version: p.version,
                  registry: p.registry.name
                }).pipe(Effect.mapError((e) => failFor(p)(e.reason)))
            })),
            LOCAL
          )
          yield* beforeSwap
          // hard links to the immutable, content-addressed blobs (copies across devices)
          const targets = packages.map((p) => path.join(staging, `${normalizeName(p.name)}-${p.version}.fmpkg`))
          yield* cache.linkOrCopyMany(packages.map((_, i) => ({ blob: got[i].path, target: targets[i] }))).pipe(
            Effect.mapError((e) =>
              new ProjectError({
                file: e.file,
                reason: `cannot put the package into the staging directory (${e.reason})`
              })
            )
          )
          return packages.map((p, i): InstalledPackage => ({
            name: p.name,
            version: p.version,
            registry: p.registry.name,
            sha256: got[i].sha256,
            size: p.size,
            fromCache: got[i].fromCache
          }))
        }).pipe(Effect.onError(() => fs.remove(staging, { recursive: true, force: true }).pipe(Effect.ignore)))
        // swap: old dir aside, staged dir in, old dir removed; on failure the old dir comes back
        const exists = yield* fs.exists(installDir).pipe(Effect.orElseSucceed(() => false))
        const old = `${staging}.old`
        if (exists) {
          yield* fs.rename(installDir, old).pipe(
            Effect.mapError(ioFail(installDir, "move the previous install aside")),
            Effect.tapError(() => fs.remove(staging, { recursive: true, force: true }).pipe(Effect.ignore))
          )
        }
        yield* fs.rename(staging, installDir).pipe(
          Effect.mapError(ioFail(installDir, "move the new install into place")),
          Effect.tapError(() =>
            Effect.zipRight(
              exists ? fs.rename(old, installDir).pipe(Effect.ignore) : Effect.void,
              fs.remove(staging, { recursive: true, force: true }).pipe(Effect.ignore)
            )
          )
        )
        if (exists) yield* fs.remove(old, { recursive: true, force: true }).pipe(Effect.ignore)
        return installed
      })

    const run = (
      project: Project,
      lock: Lockfile | undefined,
      options: ProjectOptions,
      keep: ((k: string) => boolean) | undefined
    ) =>
      Effect.scoped(Effect.gen(function*() {
        const concurrency = options.concurrency ?? DOWNLOAD_CONCURRENCY
        const installDir = path.resolve(project.dir, options.installDir ?? INSTALL_DIR)
        const lockfile = path.join(project.dir, LOCKFILE)
        const problems = lock === undefined ? [`there is no ${LOCKFILE}`] : lockProblems(project, lock)
        let packages: Array<LockedPackage>
        let warnings: Array<string> = []
        let resolved = false
        // the early downloads, waited for once the publish-log check below has started
        let settle: Effect.Effect<ReadonlyMap<string, Got>> = Effect.succeed(new Map())
        const meter = makeMeter(options.onProgress)
        if (keep === undefined && problems.length === 0 && lock !== undefined) {
          packages = reachable(project.dependencies, lock.packages)
        } else {
          if (options.frozen === true) return yield* new LockOutOfDate({ file: lockfile, problems })
          const downloads = yield* earlyDownloads(concurrency, meter)
          // archives the resolver fetched to read dependencies their registry does not report
          const read = new Map<string, Got>()
          const out = yield* resolveProject(
            project,
            lock,
            keep ?? (() => true),
            options.concurrency,
            downloads.start,
            (f) => {
              const id = `${f.registry}\u0000${normalizeName(f.info.name)}\u0000${f.info.version}`
              read.set(id, { path: f.cached.path, fromCache: f.fromCache, sha256: f.cached.sha256 })
            }
          )
          packages = toLocked(out.resolution)
          warnings = out.warnings
          resolved = true
          settle = Effect.map(downloads.settle, (done) => new Map([...read, ...done]))
        }
        // the registries' publish logs must vouch for every package: one request per registry,
        // started as soon as the packages are known (alongside the downloads still running, early
        // ones included); nothing is swapped in before it passes
        const toVouch = packages.filter((p) => p.sha256 !== "")
        const vouching = yield* Effect.fork(registries.vouchMany(toVouch.map((p) => ({
          registry: p.registry.name,
          name: p.name,
          version: p.version,
          sha256: p.sha256,
          size: p.size,
          logIndex: p.logIndex
        }))))
        const early = yield* settle
        const installed = yield* materialize(packages, installDir, concurrency, early, meter, Fiber.join(vouching))
        const indexes = yield* Fiber.join(vouching)
        const learned = packages.some((p) =>
          p.logIndex === undefined && indexes.has(loggedId({ ...p, registry: p.registry.name }))
        )
        packages = packages.map((p) => {
          const index = indexes.get(loggedId({ ...p, registry: p.registry.name }))
          return index === undefined ? p : { ...p, logIndex: index }
        })
        if (!resolved && learned && options.frozen !== true) {
          // a lock from before the publish log: record the indexes the registries vouched for
          yield* provideFs(
            writeLock(project.dir, lock?.packages === undefined ? packages : mergeLocked(lock.packages, packages))
          )
        }
        if (resolved) {
          // a registry without checksums in its index: record what was downloaded and verified
          const bySha = new Map(installed.map((i) => [normalizeName(i.name), i]))
          const final = packages.map((
            p
          ) => (p.sha256 === "" ? { ...p, sha256: bySha.get(normalizeName(p.name))?.sha256 ?? "" } : p))
          yield* provideFs(writeLock(project.dir, final))
        }
        const result: ProjectInstallResult = {
          project: project.file,
          installDir,
          packages: installed,
          resolved,
          lockfile,
          warnings
        }
        return result
      }))

    const install = Effect.fn("ProjectInstall.install")(function*(options: ProjectOptions = {}) {
      const { lock, project } = yield* load(options)
      // metadata confirmed within the window is used as is (fm update and fm outdated always ask)
      const maxAge = options.metadataMaxAge ?? (yield* installMetadataMaxAge)
      return yield* run(project, lock, options, undefined).pipe(withFreshMetadata(maxAge))
    })

    const add = Effect.fn("ProjectInstall.add")(function*(spec: string, options: ProjectOptions = {}) {
      const at = spec.lastIndexOf("@")
      const name = at > 0 ? spec.slice(0, at) : spec
      const range = at > 0 ? spec.slice(at + 1) : undefined
      if (range !== undefined && semver.validRange(range) === null) {
        return yield* new ProjectError({ file: spec, reason: `'${range}' is not a semver range (such as ^1.2.0)` })
      }
      const { lock, project } = yield* load(options)
      const key = normalizeName(name)
      const deps = Object.fromEntries(Object.entries(project.dependencies).filter(([n]) => normalizeName(n) !== key))
      const tentative: Project = { ...project, dependencies: { ...deps, [name]: range ?? "*" } }
      const result = yield* run(tentative, lock, options, (k) => k !== key)
      const got = result.packages.find((p) => normalizeName(p.name) === key)
      const finalRange = range ?? (got !== undefined ? `^${got.version}` : "*")
      yield* provideFs(writeProjectDependencies(project, { ...deps, [name]: finalRange }))
      return { ...result, added: { name, range: finalRange } }
    })

    const update = Effect.fn("ProjectInstall.update")(
      function*(names: ReadonlyArray<string>, options: ProjectOptions = {}) {
        const { lock, project } = yield* load(options)
        const wanted = new Set(names.map(normalizeName))
        if (lock !== undefined) {
          for (const n of wanted) {
            if (!lock.packages.has(n) && !Object.keys(project.dependencies).some((d) => normalizeName(d) === n)) {
              return yield* new ProjectError({
                file: path.join(project.dir, LOCKFILE),
                reason: `'${n}' is not a dependency of ${project.name}`
              })
            }
          }
        }
        const before = new Map([...(lock?.packages ?? [])].map(([k, p]) => [k, p.version]))
        const result = yield* run(project, lock, options, wanted.size === 0 ? () => false : (k) => !wanted.has(k))
        const changes = result.packages
          .map((p) => ({ name: p.name, from: before.get(normalizeName(p.name)) ?? null, to: p.version }))
          .filter((c) => c.from !== c.to)
        return { ...result, changes }
      }
    )

    const tree = Effect.fn("ProjectInstall.tree")(function*(options: ProjectOptions = {}) {
      const { lock, project } = yield* load(options)
      let packages: Array<LockedPackage>
      let fromLock = true
      if (lock !== undefined && lockProblems(project, lock).length === 0) {
        packages = reachable(project.dependencies, lock.packages)
      } else {
        const out = yield* resolveProject(project, lock, () => true, options.concurrency)
        packages = toLocked(out.resolution)
        fromLock = false
      }
      const byName = new Map(packages.map((p) => [normalizeName(p.name), p]))
      const edges = (deps: Readonly<Record<string, string>>) =>
        Object.entries(deps).map(([n, r]) => ({
          name: byName.get(normalizeName(n))?.name ?? n,
          range: r,
          version: byName.get(normalizeName(n))?.version ?? null
        }))
      const result: ProjectTree = {
        project: project.name,
        dependencies: edges(project.dependencies),
        packages: packages.map((p) => ({
          name: p.name,
          version: p.version,
          registry: p.registry.name,
          dependencies: edges(p.dependencies)
        })),
        fromLock
      }
      return result
    })

    const outdated = Effect.fn("ProjectInstall.outdated")(function*(options: ProjectOptions = {}) {
      const { lock, project } = yield* load(options)
      const packages = lock !== undefined
        ? reachable(project.dependencies, lock.packages)
        : toLocked((yield* resolveProject(project, undefined, () => true, options.concurrency)).resolution)
      const direct = new Map(Object.entries(project.dependencies).map(([n, r]) => [normalizeName(n), r]))
      const rows = yield* Effect.forEach(packages, (p) =>
        Effect.gen(function*() {
          const sources = yield* registries.sources(p.registry.name)
          const list = yield* sources[0].versions(p.name)
          const usable = list.releases.filter((r) => !r.yanked).map((r) => r.version)
          const latest = pickLatest(usable) ?? p.version
          const range = direct.get(normalizeName(p.name))
          const wanted = range === undefined ? null : semver.maxSatisfying(usable, range)
          return {
            name: p.name,
            current: p.version,
            wanted,
            latest,
            registry: p.registry.name,
            direct: range !== undefined
          } satisfies OutdatedRow
        }), { concurrency: options.concurrency ?? DOWNLOAD_CONCURRENCY })
      const out: ReadonlyArray<OutdatedRow> = rows
        .filter((r) => semver.gt(r.latest, r.current) || (r.wanted !== null && semver.gt(r.wanted, r.current)))
        .sort((a, b) => (normalizeName(a.name) < normalizeName(b.name) ? -1 : 1))
      return out
    })

    /** Whether `dir` holds a project file (so `fm install NAME` should add to it). */
    const findProject = Effect.fn("ProjectInstall.findProject")(function*(dir: string = ".") {
      return yield* provideFs(readProject(path.resolve(dir)))
    })

    return {
      /** `fm install` with no argument: follow the lock, or resolve and write it; install all or nothing. */
      install,
      /** `fm install NAME[@RANGE]` in a project: add the dependency, resolve, install, update the files. */
      add,
      /** `fm update [NAME...]`: re-resolve the named packages (all when none), install, rewrite the lock. */
      update,
      /** `fm tree`: the resolved graph (from the lock when it satisfies the project). */
      tree,
      /** `fm outdated`: locked packages with newer versions in their registry. */
      outdated,
      /** The project in a directory, if any. */
      findProject
    } as const
  }),
  dependencies: [Registries.Default, PackageCache.Default, PackageArchive.Default]
}) {}
