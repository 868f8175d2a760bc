/**
 * The enabled registries as package sources, in priority order (lower number first, ties in
 * config order). Getting and fetching a package is a typed fallback: only `PackageNotFound` and
 * `RegistryUnavailable` move on to the next registry; a checksum mismatch, an authentication
 * failure or a malformed answer stops and is reported, never hidden by trying the next one.
 * Search asks every enabled registry at once and merges the answers.
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { Config, Console, Data, Effect, Option, Schedule, Stream } from "effect"
import * as path from "node:path"
import semver from "semver"
import { PackageInfo } from "../api/Models.js"
import { isPackageName, normalizeName } from "../domain/PackageName.js"
import { isVersion } from "../domain/Version.js"
import type { ChecksumMismatch } from "../shared/Checksum.js"
import { parseVerifier } from "../shared/log/SignedNote.js"
import * as Availability from "./Availability.js"
import { BoundedGet } from "./BoundedGet.js"
import { LogUnavailable, LogVerificationFailed, verifyLogged, verifyLoggedMany } from "./LogVerifier.js"
import type { CachedPackage, CacheError } from "./PackageCache.js"
import { PackageCache } from "./PackageCache.js"
import type { ConfigError, RegistryEntry, UnknownRegistry } from "./RegistryConfig.js"
import { RegistryConfig } from "./RegistryConfig.js"
import * as RemoteRegistry from "./RemoteRegistry.js"
import {
  type AuthenticationFailed,
  MalformedResponse,
  type PackageNotFound,
  type RegistryUnavailable,
  type VersionList
} from "./RemoteRegistry.js"

/**
 * Every registry tried failed with "not found" or "unavailable". Lists each registry's outcome.
 * @since 0.1.0
 * @category errors
 */
export class RegistriesExhausted extends Data.TaggedError("RegistriesExhausted")<{
  readonly name: string
  readonly version?: string | undefined
  readonly attempts: ReadonlyArray<PackageNotFound | RegistryUnavailable>
}> {
  /** Names the package and each registry's outcome. */
  override get message(): string {
    const v = this.version === undefined ? "" : `@${this.version}`
    if (this.attempts.length === 0) {
      return `package ${this.name}${v}: no registry is enabled; add one with \`fm registry add NAME URL\``
    }
    const lines = this.attempts.map((a) =>
      a._tag === "PackageNotFound" ? `  - ${a.registry}: not found` : `  - ${a.registry}: unavailable (${a.reason})`
    )
    return `package ${this.name}${v} could not be found in any registry:\n${lines.join("\n")}`
  }
  /** Whether every registry was unreachable (rather than some answering "not found"). */
  get allUnavailable(): boolean {
    return this.attempts.length > 0 && this.attempts.every((a) => a._tag === "RegistryUnavailable")
  }
}

/**
 * A registry's metadata answer stops the fallback: the errors that must never be hidden.
 * @since 0.1.0
 * @category errors
 */
export type LookupError =
  | RegistriesExhausted
  | AuthenticationFailed
  | MalformedResponse
  | UnknownRegistry
  | ConfigError

/**
 * What fetching an archive can fail with.
 * @since 0.1.0
 * @category errors
 */
export type FetchError = LookupError | ChecksumMismatch | CacheError

/**
 * A package version found in a registry.
 * @since 0.1.0
 * @category models
 */
export interface Found {
  readonly registry: string
  readonly info: PackageInfo
}

/**
 * A package version fetched into the cache.
 * @since 0.1.0
 * @category models
 */
export interface Fetched extends Found {
  readonly cached: CachedPackage
  /** Whether the archive was already in the cache (nothing was downloaded). */
  readonly fromCache: boolean
}

/**
 * One search hit, tagged with the registry it came from.
 * @since 0.1.0
 * @category models
 */
export interface SearchHit {
  readonly registry: string
  readonly package: PackageInfo
}

/**
 * Merged search results, and the registries that failed to answer.
 * @since 0.1.0
 * @category models
 */
export interface SearchResult {
  /** The registries asked, in priority order. */
  readonly registries: ReadonlyArray<string>
  readonly packages: ReadonlyArray<SearchHit>
  readonly totalCount: number
  readonly errors: ReadonlyArray<{ readonly registry: string; readonly error: RemoteRegistry.RemoteError }>
}

/**
 * Options of a lookup: the version (exact or a semver range; default latest) and a registry to
 * use alone.
 * @since 0.1.0
 * @category models
 */
export interface LookupOptions {
  readonly version?: string | undefined
  readonly registry?: string | undefined
}

/**
 * Options of a fetch.
 * @since 0.1.0
 * @category models
 */
export interface FetchOptions extends LookupOptions {
  /** Verify the SHA-256 (default true). `false` stores the bytes unchecked (with a warning). */
  readonly verify?: boolean | undefined
  /** Called as bytes arrive: (received, total or undefined). */
  readonly onProgress?: ((received: number, total: number | undefined) => void) | undefined
}

/**
 * Search options.
 * @since 0.1.0
 * @category models
 */
export interface SearchOptions {
  readonly registry?: string | undefined
  readonly category?: string | undefined
  readonly page?: number | undefined
  readonly pageSize?: number | undefined
}

/**
 * The configured registries as package sources.
 * @since 0.1.0
 * @category services
 */
export class Registries extends Effect.Service<Registries>()("fm/Registries", {
  effect: Effect.gen(function*() {
    const config = yield* RegistryConfig
    const cache = yield* PackageCache
    const http = yield* HttpClient.HttpClient
    const transport = yield* BoundedGet
    // transport tuning from the environment; a malformed value is a startup defect naming the variable
    const timeoutSeconds = yield* Config.number("FLOWMASON_HTTP_TIMEOUT").pipe(Config.withDefault(30), Effect.orDie)
    const retries = yield* Config.integer("FLOWMASON_HTTP_RETRIES").pipe(Config.withDefault(3), Effect.orDie)
    const retryDelayMs = yield* Config.integer("FLOWMASON_HTTP_RETRY_DELAY_MS").pipe(
      Config.withDefault(200),
      Effect.orDie
    )

    const metadataDir = path.join(path.dirname(cache.dir), "metadata")

    const options = (
      entry: RegistryEntry,
      retriesOf: number,
      onAnswer: () => void
    ): RemoteRegistry.RemoteRegistryOptions => ({
      token: config.token(entry),
      onAnswer,
      timeout: `${timeoutSeconds} seconds`,
      retries: retriesOf,
      retryDelay: `${retryDelayMs} millis`,
      // next to the package cache: <home>/cache/metadata (ETag revalidation of info/versions)
      metadataCacheDir: metadataDir
    })

    /** One client per registry for the whole command, gated by its availability (see `Availability.ts`). */
    const clients = new Map<string, RemoteRegistry.RemoteRegistry>()
    const connect = (entry: RegistryEntry) =>
      Effect.suspend(() => {
        const key = `${entry.name}\u0000${entry.url}`
        const known = clients.get(key)
        if (known !== undefined) return Effect.succeed(known)
        const tracker = Availability.tracker({ name: entry.name, url: entry.url })
        const observed = tracker.observe(http)
        return Effect.map(
          Effect.all({
            // first contact: one attempt, no retries (a dead registry costs one connection)
            probe: RemoteRegistry.make(entry, options(entry, 0, tracker.answered)),
            main: RemoteRegistry.make(entry, options(entry, retries, tracker.answered)),
            // after a first contact answered with a 5xx: the retries left
            again: retries > 0
              ? Effect.map(RemoteRegistry.make(entry, options(entry, retries - 1, tracker.answered)), (client) => ({
                client,
                retryDelay: `${retryDelayMs} millis` as const
              }))
              : Effect.succeed(undefined)
          }).pipe(Effect.provideService(HttpClient.HttpClient, observed), Effect.provideService(BoundedGet, transport)),
          ({ again, main, probe }) => {
            const gated = tracker.gate(probe, main, again)
            clients.set(key, gated)
            return gated
          }
        )
      })

    // the configuration as read at most once a second: a project install asks for its sources
    // once per package, and reading and decoding registries.json each time was most of its CPU
    const entries = yield* Effect.cachedWithTTL(config.list, "1 second")

    /** The sources to use: one named registry (even if disabled), else all enabled ones in order. */
    const sources = (registry?: string | undefined) =>
      Effect.flatMap(entries, (all) => {
        if (registry === undefined) return Effect.forEach(all.filter((e) => e.enabled), connect)
        const entry = all.find((e) => e.name === registry)
        return entry === undefined
          ? Effect.flatMap(config.get(registry), (e) => Effect.map(connect(e), (c) => [c]))
          : Effect.map(connect(entry), (c) => [c])
      })

    /**
     * Runs `f` on each source in order until one succeeds. The allow-list: ONLY `PackageNotFound`
     * and `RegistryUnavailable` move on to the next source; any other error stops the fold.
     */
    const fold = <A, E>(
      name: string,
      version: string | undefined,
      list: ReadonlyArray<RemoteRegistry.RemoteRegistry>,
      f: (source: RemoteRegistry.RemoteRegistry) => Effect.Effect<A, E | PackageNotFound | RegistryUnavailable>
    ): Effect.Effect<A, Exclude<E, PackageNotFound | RegistryUnavailable> | RegistriesExhausted> =>
      Effect.gen(function*() {
        const attempts: Array<PackageNotFound | RegistryUnavailable> = []
        for (const source of list) {
          const hit = yield* f(source).pipe(
            Effect.map(Option.some),
            Effect.catchIf(isFallback, (e) => Effect.as(Effect.sync(() => attempts.push(e)), Option.none<A>()))
          )
          if (Option.isSome(hit)) return hit.value
        }
        return yield* new RegistriesExhausted({ name, version, attempts })
      })

    /** Checks a registry's answer before any path is built from it. */
    const checkSafe = (source: RemoteRegistry.RemoteRegistry, info: PackageInfo) =>
      isPackageName(info.name) && isVersion(info.version)
        ? Effect.succeed(info)
        : Effect.fail(
          new MalformedResponse({
            registry: source.name,
            url: source.url,
            reason: `package name '${info.name}' or version '${info.version}' is not valid`
          })
        )

    const getPackage = Effect.fn("Registries.getPackage")(function*(name: string, options: LookupOptions = {}) {
      const list = yield* sources(options.registry)
      return yield* fold(name, options.version, list, (source) =>
        source.resolve(name, options.version).pipe(
          Effect.flatMap((info) => checkSafe(source, info)),
          Effect.map((info): Found => ({ registry: source.name, info }))
        ))
    })

    const listVersions = Effect.fn("Registries.listVersions")(function*(
      name: string,
      options: { readonly registry?: string | undefined } = {}
    ) {
      const list = yield* sources(options.registry)
      return yield* fold(
        name,
        undefined,
        list,
        (source): Effect.Effect<VersionList, RemoteRegistry.RemoteError | PackageNotFound> => source.versions(name)
      )
    })

    const search = Effect.fn("Registries.search")(function*(query: string, options: SearchOptions = {}) {
      const list = yield* sources(options.registry)
      const answers = yield* Effect.forEach(
        list,
        (source) =>
          source.search({ query, category: options.category, page: options.page, pageSize: options.pageSize }).pipe(
            Effect.either,
            Effect.map((result) => ({ source, result }))
          ),
        { concurrency: "unbounded" }
      )
      const seen = new Set<string>()
      const packages: Array<SearchHit> = []
      const errors: Array<{ registry: string; error: RemoteRegistry.RemoteError }> = []
      let total = 0
      for (const { result, source } of answers) { // in priority order: the first registry wins a duplicate
        if (result._tag === "Left") {
          errors.push({ registry: source.name, error: result.left })
          continue
        }
        total += result.right.total_count
        for (const pkg of result.right.packages) {
          // one line per package, from the highest-priority registry that has it (whatever version)
          const key = normalizeName(pkg.name)
          if (seen.has(key)) {
            total -= 1
            continue
          }
          seen.add(key)
          packages.push({ registry: source.name, package: pkg })
        }
      }
      const result: SearchResult = {
        registries: list.map((s) => s.name),
        packages,
        totalCount: Math.max(total, packages.length),
        errors
      }
      return result
    })

    /** Downloads one resolved version from one source into the cache (retrying a broken transfer). */
    const download = (
      source: RemoteRegistry.RemoteRegistry,
      info: PackageInfo,
      options: FetchOptions
    ) =>
      Effect.gen(function*() {
        const verify = options.verify ?? true
        if (verify && info.checksum === "") {
          return yield* new MalformedResponse({
            registry: source.name,
            url: info.download_url,
            reason: `no checksum for ${info.name}@${info.version}; cannot verify it (use verify: false to skip)`
          })
        }
        const key = { registry: source.name, name: info.name, version: info.version }
        const hit = yield* cache.lookup(key)
        if (Option.isSome(hit) && (info.checksum === "" || hit.value.sha256 === info.checksum.toLowerCase())) {
          const fetched: Fetched = { registry: source.name, info, cached: hit.value, fromCache: true }
          return fetched
        }
        const onProgress = options.onProgress
        const total = info.size_bytes > 0 ? info.size_bytes : undefined
        const bytes = Stream.suspend(() => {
          let received = 0
          const s = source.download(info)
          return onProgress === undefined ? s : s.pipe(
            Stream.tap((chunk) =>
              Effect.sync(() => {
                received += chunk.length
                onProgress(received, total)
              })
            )
          )
        })
        const cached = yield* cache.store(key, verify ? info.checksum : undefined, bytes).pipe(
          // an interrupted transfer leaves nothing behind (the cache's temp file is removed): retry it
          Effect.retry({
            times: 2,
            schedule: Schedule.exponential("200 millis"),
            while: (e) => e._tag === "RegistryUnavailable"
          })
        )
        if (!verify) {
          yield* Effect.logWarning(
            `${info.name}@${info.version} from registry ${source.name} was stored WITHOUT checksum verification`
          )
        }
        const fetched: Fetched = { registry: source.name, info, cached, fromCache: false }
        return fetched
      })

    const fetch = Effect.fn("Registries.fetch")(function*(name: string, options: FetchOptions = {}) {
      const list = yield* sources(options.registry)
      const exact = options.version !== undefined && semver.valid(options.version) === options.version
      return yield* fold(name, options.version, list, (source) =>
        source.resolve(name, options.version).pipe(
          Effect.flatMap((info) => checkSafe(source, info)),
          Effect.flatMap((info) => download(source, info, options))
        )).pipe(
          // every registry down: an exact version already in the cache still installs
          Effect.catchTag("RegistriesExhausted", (e) =>
            exact && e.allUnavailable && isPackageName(name)
              ? Effect.flatMap(cache.lookupAnyRegistry(name, options.version), (hit) =>
                Option.match(hit, {
                  onNone: () => Effect.fail(e),
                  onSome: (cached) =>
                    Effect.logWarning(
                      `every registry is unavailable; using ${name}@${options.version} from the cache (from ${cached.registry})`
                    ).pipe(Effect.as(fromCacheOnly(cached)))
                }))
              : Effect.fail(e))
        )
    })

    /** A cached archive only (offline): exact version required. */
    const fetchCached = Effect.fn("Registries.fetchCached")(function*(name: string, version: string) {
      const hit = yield* cache.lookupAnyRegistry(name, version)
      if (Option.isNone(hit)) {
        return yield* new RegistriesExhausted({ name, version, attempts: [] })
      }
      return fromCacheOnly(hit.value)
    })

    // where the newest checkpoint of each log is kept: <home>/logs (next to <home>/cache)
    const logStateDir = path.join(path.dirname(path.dirname(cache.dir)), "logs")
    const noticed = new Set<string>()
    const notice = (registry: string, text: string) =>
      Effect.suspend(() => {
        if (noticed.has(registry)) return Effect.void
        noticed.add(registry)
        return Console.error(`notice: ${text}`)
      })

    /**
     * The key to check a registry's log with: the pinned one, or (trust on first use, recorded in
     * registries.json) the key the registry names now. `undefined` for a registry without a log
     * (`logged` false: its answers carry no log index), after one notice per command.
     */
    const logKeyFor = (entry: RegistryEntry, source: RemoteRegistry.RemoteRegistry, logged: boolean, pkg: string) =>
      Effect.gen(function*() {
        if (entry.logKey !== undefined) return entry.logKey
        if (!logged) {
          yield* notice(
            entry.name,
            `registry ${entry.name} publishes no log; its packages are checked against its own checksums only`
          )
          return undefined
        }
        const health = yield* source.health.pipe(
          Effect.mapError((e) =>
            new LogUnavailable({ registry: entry.name, log: "(its key)", package: pkg, reason: e.message })
          )
        )
        const named = health.log_key
        if (named === undefined || parseVerifier(named) === undefined) {
          return yield* new LogVerificationFailed({
            registry: entry.name,
            log: "(unknown)",
            package: pkg,
            reason: "its answers carry log indexes but it names no valid log key"
          })
        }
        yield* config.update(entry.name, { logKey: named }).pipe(
          Effect.catchAll(() => Effect.void) // the implicit local registry has no file entry to keep it in
        )
        yield* notice(entry.name, `trusting the log key registry ${entry.name} names on first use: ${named}`)
        return named
      })

    /**
     * Checks that the registry a package came from vouches for it in its publish log (see
     * `LogVerifier`): with its pinned key, or the key it names now (trust on first use, recorded in
     * registries.json). A registry without a log gets one notice per command and no check.
     */
    const vouch = Effect.fn("Registries.vouch")(function*(fetched: Fetched) {
      const entry = (yield* entries).find((e) => e.name === fetched.registry)
      if (entry === undefined) return undefined
      const source = yield* connect(entry)
      const pkg = `${fetched.info.name}@${fetched.info.version}`
      const logKey = yield* logKeyFor(entry, source, fetched.info.log_index !== undefined, pkg)
      if (logKey === undefined) return undefined
      return yield* verifyLogged({
        registry: entry.name,
        logKey,
        info: fetched.info,
        sha256: fetched.cached.sha256,
        size: fetched.cached.size,
        stateDir: logStateDir,
        fetchProof: source.logProof
      })
    })

    /**
     * Checks the publish log of every registry a project install takes packages from (see
     * `LogVerifier.verifyLoggedMany`): one request per registry for up to 256 packages. A package
     * without a known log index gets it from its package answer. Answers each package's log index
     * (by {@link loggedId}); registries without a log get one notice and no check.
     */
    const vouchMany = Effect.fn("Registries.vouchMany")(function*(packages: ReadonlyArray<ToVouch>) {
      const byRegistry = new Map<string, Array<ToVouch>>()
      for (const p of packages) byRegistry.set(p.registry, [...(byRegistry.get(p.registry) ?? []), p])
      const all = yield* entries
      const indexes = new Map<string, number>()
      yield* Effect.forEach([...byRegistry], ([name, items]) =>
        Effect.gen(function*() {
          const entry = all.find((e) => e.name === name)
          if (entry === undefined || items.length === 0) return
          const source = yield* connect(entry)
          const head = `${items[0]?.name}@${items[0]?.version}`
          const logKey = yield* logKeyFor(entry, source, items.some((p) => p.logIndex !== undefined), head)
          if (logKey === undefined) return
          // a lock from before the log, or an index the listing did not carry: the package answer has it
          const logged = yield* Effect.forEach(items, (p) =>
            p.logIndex !== undefined
              ? Effect.succeed({ ...p, index: p.logIndex })
              : source.resolve(p.name, p.version).pipe(
                Effect.mapError((e) =>
                  new LogUnavailable({
                    registry: name,
                    log: parseVerifier(logKey)?.name ?? "(unknown)",
                    package: `${p.name}@${p.version}`,
                    reason: `its log index could not be read (${e.message})`
                  })
                ),
                Effect.flatMap((info) =>
                  info.log_index === undefined
                    ? new LogVerificationFailed({
                      registry: name,
                      log: parseVerifier(logKey)?.name ?? "(unknown)",
                      package: `${p.name}@${p.version}`,
                      reason: "the registry's answer carries no log index"
                    })
                    : Effect.succeed({ ...p, index: info.log_index })
                )
              ), { concurrency: 8 })
          yield* verifyLoggedMany({
            registry: name,
            logKey,
            packages: logged,
            stateDir: logStateDir,
            fetchProofs: source.logProofs
          })
          for (const p of logged) indexes.set(loggedId(p), p.index)
        }), { concurrency: 4, discard: true })
      return indexes
    })

    /**
     * What `fm registry verify` needs of a registry: its entry, client, pinned log key (after
     * trust on first use; `undefined` when it names none) and where checkpoints are kept.
     */
    const logTarget = Effect.fn("Registries.logTarget")(function*(name: string) {
      const entry = (yield* entries).find((e) => e.name === name) ?? (yield* config.get(name))
      const source = yield* connect(entry)
      // a registry that names no key has no log to audit
      const logKey = yield* logKeyFor(entry, source, true, "its log").pipe(
        Effect.catchTag("LogVerificationFailed", () => Effect.succeed(undefined))
      )
      return { entry, source, logKey, stateDir: logStateDir } as const
    })

    return {
      /**
       * Checks the publish log of the registry a fetched package came from (see `LogVerifier`);
       * the entry's index, or `undefined` for a registry without a log.
       */
      vouch,
      /** Checks the publish logs for a project install's packages; their log indexes (see `loggedId`). */
      vouchMany,
      /** A registry's client, log key and checkpoint directory, for `fm registry verify`. */
      logTarget,
      /** Where the newest checkpoint seen of each log is kept (`<home>/logs`). */
      logStateDir,
      /** The registry clients to use (one named registry, else every enabled one, in priority order). */
      sources,
      /** A package version's info from the first registry that has it. */
      getPackage,
      /** A package's versions from the first registry that has it. */
      listVersions,
      /** Asks every enabled registry at once; merges by normalized name (highest priority wins). */
      search,
      /** Resolves and downloads a version into the cache (verified), from the first registry that has it. */
      fetch,
      /** A version already in the cache, from any registry (no network). */
      fetchCached
    } as const
  }),
  dependencies: [RegistryConfig.Default, PackageCache.Default, BoundedGet.Default]
}) {}

/**
 * A package of a project install whose registry's log must vouch for it (`logIndex` from the lock
 * or the versions listing, when known).
 * @since 0.1.0
 * @category models
 */
export interface ToVouch {
  readonly registry: string
  readonly name: string
  readonly version: string
  readonly sha256: string
  readonly size: number
  readonly logIndex?: number | undefined
}

/**
 * The key of a package in {@link Registries}' `vouchMany` answer.
 * @since 0.1.0
 */
export const loggedId = (p: { readonly registry: string; readonly name: string; readonly version: string }): string =>
  `${p.registry}\u0000${normalizeName(p.name)}\u0000${p.version}`

/** The tags that let a lookup move on to the next registry (and nothing else does). */
const FALLBACK_TAGS: ReadonlySet<string> = new Set(["PackageNotFound", "RegistryUnavailable"])

const isFallback = (e: unknown): e is PackageNotFound | RegistryUnavailable =>
  typeof e === "object" && e !== null && "_tag" in e && typeof e._tag === "string" && FALLBACK_TAGS.has(e._tag)

const fromCacheOnly = (cached: CachedPackage): Fetched => ({
  registry: cached.registry,
  info: new PackageInfo({
    name: cached.name,
    version: cached.version,
    checksum: cached.sha256,
    size_bytes: cached.size
  }),
  cached,
  fromCache: true
})
