/**
 * The backend-neutral SQL metadata store: the `PackageStoreService` over the typed statements of
 * `SqlQueries.ts`, with its read cache (`ReadCache.ts`), batched download counts
 * (`DownloadCounts.ts`) and group commit of publishes (`PublishGroup.ts`). A dialect
 * (`SqlDialect.ts`) supplies the search index, the search and its durability and coherence rules.
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Option, Predicate } from "effect"
import type { Scope } from "effect"
import type { ParseError } from "effect/ParseResult"
import { normalizeName } from "../../domain/PackageName.js"
import { sortVersions } from "../../domain/Version.js"
import type { LogOperation } from "../../shared/log/LogEntry.js"
import { logSize as readLogSize, makeAppendEntry, readEntries } from "../log/LogTable.js"
import { makeDownloadCounts } from "./DownloadCounts.js"
import type {
  NewRelease,
  NewToken,
  PackageRow,
  PackageStoreService,
  PublishedRelease,
  ReleaseRow,
  SearchQuery,
  SearchResult,
  StoreStats,
  TokenRow
} from "./PackageStore.js"
import {
  AmbiguousToken,
  ReleaseNotFound,
  StoreError,
  TokenNameTaken,
  TokenNotFound,
  VersionExists
} from "./PackageStore.js"
import { makePublishGroup } from "./PublishGroup.js"
import { makeReadCache } from "./ReadCache.js"
import type { SqlDialect } from "./SqlDialect.js"
import { makeSqlQueries } from "./SqlQueries.js"
import type { PackageWithLatest } from "./SqlRows.js"

/** Most tokens kept in memory by hash (see `findTokenByHash`); past it they are all forgotten. */
const MAX_KNOWN_TOKENS = 1024

/** A release row without the package id its query carried along. */
const releaseOf = <R extends ReleaseRow & { readonly packageId: number }>(
  { packageId: _packageId, ...release }: R
): ReleaseRow => release

const toPackage = (r: typeof PackageWithLatest.Type): PackageRow => {
  const { packageDownloads, packageId: _packageId, packageName, packageVersions, ...latest } = r
  return { name: packageName, nameNorm: r.nameNorm, latest, versions: packageVersions, downloads: packageDownloads }
}

/**
 * Builds the store over the `SqlClient` in context, with the given dialect. Tables must exist
 * (run the dialect's migrations first).
 * @since 0.1.0
 * @category constructors
 */
export const makeSql = (
  dialect: SqlDialect
): Effect.Effect<PackageStoreService, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const q = makeSqlQueries(sql)
    const fail = (operation: string) => (cause: SqlError | ParseError) => new StoreError({ operation, cause })
    /** Turns the database's and the rows' errors into a `StoreError` naming `operation`. */
    const failing = (operation: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.catchIf(
        effect,
        (e): e is Extract<E, SqlError | ParseError> =>
          Predicate.isTagged(e, "SqlError") || Predicate.isTagged(e, "ParseError"),
        (e) => Effect.fail(new StoreError({ operation, cause: e }))
      )
    const now = () => new Date().toISOString()

    const coherence = dialect.coherence
    const cache = makeReadCache(dialect.singleWriter === true || coherence !== undefined, coherence)
    const packageCache = cache.make<Option.Option<PackageRow>>()
    const releaseCache = cache.make<Option.Option<ReleaseRow>>()
    const searchCache = cache.make<SearchResult>()
    const countsCache = cache.make<{ readonly packages: number; readonly components: number }>()
    const statsCache = cache.make<StoreStats>()
    const wrote = dialect.wrote
    /** Wraps a write: drops the read cache after it, and tells the dialect (`SqlDialect.wrote`). */
    const writing = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      wrote === undefined ? cache.writing(effect) : Effect.ensuring(cache.writing(effect), wrote)
    // writes that change releases (publish, yank, unyank, delete), as opposed to download counts
    let releaseWrites = 0
    const releasing = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.ensuring(writing(effect), Effect.sync(() => void releaseWrites++))

    const downloads = yield* makeDownloadCounts((batch) =>
      sql.withTransaction(
        Effect.forEach(batch, ({ n, name, version }) =>
          q.addDownloads({ nameNorm: normalizeName(name), version, n }).pipe(
            Effect.flatMap(Option.match({
              onNone: () => Effect.void,
              onSome: ({ packageId }) => q.addPackageDownloads({ packageId, n })
            }))
          ), { discard: true }).pipe(Effect.zipRight(cache.announce("downloads")))
      ).pipe(writing, failing(`count ${batch.length} download(s)`))
    )
    const counted = downloads.counted

    /** Recomputes latest/versions of a package after a write, and its search entry; returns them. */
    const refreshPackage = (packageId: number) =>
      Effect.gen(function*() {
        const result = yield* q.refreshLatest(packageId)
        yield* dialect.reindex(packageId, result.hasReleases)
        return result
      })

    const lockLog = dialect.lockLog ?? Effect.void
    /**
     * A write transaction that takes the database's write lock first (`SqlDialect.writeLock`), so
     * that what it reads before writing is not overtaken by another process's commit. The publish
     * group's and the download counts' transactions need none: their first statement writes.
     */
    const writeTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      sql.withTransaction(dialect.writeLock === undefined ? effect : Effect.zipRight(dialect.writeLock, effect))
    const appendEntry = makeAppendEntry(sql)
    /** Logs a yank, unyank or delete of `release`, inside the caller's transaction (which holds the log lock). */
    const logChange = (operation: LogOperation, release: ReleaseRow) =>
      appendEntry({
        operation,
        name: release.name,
        version: release.version,
        sha256: release.checksum,
        size: release.sizeBytes,
        time: now()
      })
    const logEntries = (start: number, end: number) =>
      readEntries(sql, start, end).pipe(failing(`read log entries ${start}..${end}`))
    const logSize = readLogSize(sql).pipe(failing("read the log size"))

    /**
     * One publish's writes, inside the group's transaction (see `PublishGroup`); the group announces
     * them to the other processes once for all its publishes.
     */
    const publishOne = (release: NewRelease) =>
      Effect.gen(function*() {
        const nameNorm = normalizeName(release.name)
        const at = now()
        // every write takes the log lock before any row lock: one order, no deadlock
        yield* lockLog
        const claimed = yield* q.claimKey({ nameNorm, version: release.version, at })
        if (Option.isNone(claimed)) {
          const prior = yield* q.keyOf({ nameNorm, version: release.version })
          return yield* new VersionExists({
            name: release.name,
            version: release.version,
            deleted: Option.isSome(prior) && prior.value.deletedAt !== null
          })
        }
        const pkg = yield* q.upsertPackage({ nameNorm, name: release.name, at })
        const logIndex = yield* appendEntry({
          operation: "publish",
          name: release.name,
          version: release.version,
          sha256: release.checksum,
          size: release.sizeBytes,
          time: at
        })
        const fields = {
          name: release.name,
          nameNorm,
          version: release.version,
          description: release.description,
          author: release.author,
          authorEmail: release.authorEmail,
          license: release.license,
          category: release.category,
          homepage: release.homepage,
          repository: release.repository,
          tags: release.tags,
          components: release.components,
          pythonRequirements: release.pythonRequirements,
          flowmasonVersion: release.flowmasonVersion,
          kind: release.kind,
          dependencies: release.dependencies,
          checksum: release.checksum,
          sizeBytes: release.sizeBytes,
          downloads: 0,
          publishedAt: at,
          yanked: false,
          yankReason: null,
          logIndex
        } satisfies Omit<ReleaseRow, "id">
        const { id } = yield* q.insertRelease({
          ...fields,
          packageId: pkg.id,
          componentCount: release.components.length
        })
        // the row as inserted (what `SELECT *` of it would decode to)
        const row: ReleaseRow = { id, ...fields }
        yield* q.insertDeps({ releaseId: id, deps: release.dependencies })
        const after = yield* refreshPackage(pkg.id)
        return {
          ...row,
          packageVersions: after.versions,
          packageLatest: after.latest
        } satisfies PublishedRelease
      }).pipe(failing(`publish ${release.name}@${release.version}`))

    const publish = yield* makePublishGroup({
      publishOne,
      announce: cache.announce("releases").pipe(failing("announce a publish")),
      fail,
      syncCommitted: dialect.syncCommitted,
      releasing
    })

    const getPackage = Effect.fn("PackageStore.getPackage")(function*(name: string) {
      const nameNorm = normalizeName(name)
      return yield* counted(packageCache(
        `p\u0000${nameNorm}`,
        q.packageByName(nameNorm).pipe(Effect.map(Option.map(toPackage)), failing(`read package ${name}`))
      ))
    })

    const listReleases = Effect.fn("PackageStore.listReleases")(function*(name: string) {
      const releases = yield* counted(q.releasesOf(normalizeName(name)).pipe(failing(`list versions of ${name}`)))
      const rank = new Map(sortVersions(releases.map((r) => r.version)).map((v, i) => [v, i]))
      return [...releases].sort((a, b) => (rank.get(a.version) ?? 0) - (rank.get(b.version) ?? 0))
    })

    const readRelease = (name: string, version: string) =>
      q.release({ nameNorm: normalizeName(name), version }).pipe(
        Effect.map(Option.map(releaseOf)),
        failing(`read ${name}@${version}`)
      )

    const getRelease = Effect.fn("PackageStore.getRelease")(function*(name: string, version: string) {
      return yield* counted(readRelease(name, version))
    })

    const findArchive = (name: string, version: string) =>
      releaseCache(`r\u0000${normalizeName(name)}\u0000${version}`, readRelease(name, version))

    const packagesByIds = (ids: ReadonlyArray<number>) =>
      ids.length === 0
        ? Effect.succeed<ReadonlyArray<PackageRow>>([])
        : q.packagesByIds(ids).pipe(
          Effect.map((rows) => {
            const byId = new Map(rows.map((r) => [r.packageId, toPackage(r)]))
            return ids.flatMap((id) => {
              const p = byId.get(id)
              return p === undefined ? [] : [p]
            })
          })
        )

    const search = (query: SearchQuery) =>
      counted(
        searchCache(
          `s\u0000${query.q}\u0000${query.category ?? "\u0001"}\u0000${query.page}\u0000${query.pageSize}`,
          searchUncached(query)
        )
      )

    const searchUncached = Effect.fn("PackageStore.search")(function*(query: SearchQuery) {
      const offset = (query.page - 1) * query.pageSize
      const page = query.q.trim() === ""
        ? yield* Effect.gen(function*() {
          const category = query.category ?? null
          const ids = yield* q.newestPage({ category, limit: query.pageSize, offset })
          const total = yield* q.newestTotal(category)
          return { ids: ids.map((r) => r.id), total: total.n }
        })
        : yield* dialect.search(query)
      const rows = yield* packagesByIds(page.ids)
      return { rows, total: page.total } satisfies SearchResult
    }, (effect, query) => failing(`search '${query.q}'`)(effect))

    const counts = countsCache("counts", q.counts().pipe(failing("read counts")))

    const stats = counted(statsCache(
      "stats",
      Effect.gen(function*() {
        const p = yield* q.counts()
        const r = yield* q.releaseTotals()
        const categories = yield* q.categories()
        return {
          packages: p.packages,
          versions: r.versions,
          components: p.components,
          totalSizeBytes: r.size,
          totalDownloads: r.downloads,
          categories
        } satisfies StoreStats
      }).pipe(failing("read stats"), Effect.withSpan("PackageStore.stats"))
    ))

    const recordDownload = (name: string, version: string): Effect.Effect<void, StoreError> =>
      downloads.record(name, version)

    const setYank = (name: string, version: string, yanked: boolean, reason: string | null) =>
      writeTransaction(
        Effect.gen(function*() {
          yield* lockLog
          const row = yield* q.setYank({ nameNorm: normalizeName(name), version, yanked, reason })
          if (Option.isNone(row)) return yield* new ReleaseNotFound({ name, version })
          const release = releaseOf(row.value)
          yield* logChange(yanked ? "yank" : "unyank", release)
          yield* refreshPackage(row.value.packageId)
          yield* cache.announce("releases")
          return release
        })
      ).pipe(releasing, failing(`${yanked ? "yank" : "unyank"} ${name}@${version}`))

    const yank = Effect.fn("PackageStore.yank")(function*(name: string, version: string, reason: string) {
      return yield* setYank(name, version, true, reason)
    })
    const unyank = Effect.fn("PackageStore.unyank")(function*(name: string, version: string) {
      return yield* setYank(name, version, false, null)
    })

    const del = Effect.fn("PackageStore.delete")(function*(name: string, version: string) {
      const nameNorm = normalizeName(name)
      return yield* writeTransaction(
        Effect.gen(function*() {
          yield* lockLog
          const found = yield* q.release({ nameNorm, version })
          if (Option.isNone(found)) return yield* new ReleaseNotFound({ name, version })
          const row = found.value
          yield* q.deleteRelease({ releaseId: row.id, packageId: row.packageId, nameNorm, version, at: now() })
          const release = releaseOf(row)
          yield* logChange("delete", release)
          yield* refreshPackage(row.packageId)
          yield* q.deleteEmptyPackage(row.packageId)
          yield* cache.announce("releases")
          return release
        })
      ).pipe(releasing, failing(`delete ${name}@${version}`))
    })

    const checksums = q.checksums().pipe(
      Effect.map((rows): ReadonlySet<string> => new Set(rows.map((r) => r[0]))),
      failing("list checksums")
    )

    const createToken = Effect.fn("PackageStore.createToken")(function*(token: NewToken) {
      return yield* writeTransaction(
        Effect.gen(function*() {
          // names are unique (revoke takes a name): checked here, in the insert's transaction,
          // because databases made before may already hold duplicates a unique index would refuse
          const same = yield* q.tokensNamed(token.name)
          const first = same[0]
          if (first !== undefined) {
            const itself = same.find((r) => r.hash === token.hash)
            if (itself !== undefined) return itself
            return yield* new TokenNameTaken({ name: token.name, id: first.id })
          }
          return yield* q.insertToken({ ...token, createdAt: now() })
        })
      ).pipe(tokenWriting, failing(`create token ${token.name}`))
    })

    const readToken = (hash: string) => q.tokenByHash(hash).pipe(failing("look up a token"))
    // Known tokens by hash, as last read, while nothing could have changed them: this store's own
    // token writes clear them, and any other connection's commit (`changedElsewhere`) too, so a
    // revocation holds from the next check on. Without `changedElsewhere` nothing is kept.
    const knownTokens = new Map<string, Option.Option<TokenRow>>()
    let knownAt = Number.NaN
    let tokenWrites = 0
    const changedElsewhere = dialect.changedElsewhere
    const findTokenByHash = changedElsewhere === undefined ?
      readToken :
      (hash: string) =>
        Effect.flatMap(failing("look up a token")(changedElsewhere), (at) => {
          if (at !== knownAt) {
            knownTokens.clear()
            knownAt = at
          }
          const known = knownTokens.get(hash)
          if (known !== undefined) return Effect.succeed(known)
          const writes = tokenWrites
          return Effect.tap(readToken(hash), (row) => {
            // a token write meanwhile may have made this row stale: not kept
            if (Option.isNone(row) || writes !== tokenWrites || at !== knownAt) return
            if (knownTokens.size >= MAX_KNOWN_TOKENS) knownTokens.clear()
            knownTokens.set(hash, row)
          })
        })
    /** Wraps a token write: forgets the known tokens once it ended (and any read that overlapped it). */
    const tokenWriting = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.ensuring(
        effect,
        Effect.sync(() => {
          tokenWrites++
          knownTokens.clear()
        })
      )

    const listTokens = q.allTokens().pipe(failing("list tokens"))

    const revokeToken = Effect.fn("PackageStore.revokeToken")(function*(idOrName: string) {
      const at = now()
      return yield* writeTransaction(
        Effect.gen(function*() {
          // an id first (digits), else a name; exactly one row, by its id, is ever updated
          const byId = /^\d+$/.test(idOrName) ? yield* q.tokenById(Number(idOrName)) : []
          const matches = byId.length > 0 ? byId : yield* q.tokensNamed(idOrName)
          const target = matches[0]
          if (target === undefined) return yield* new TokenNotFound({ token: idOrName })
          if (matches.length > 1) {
            return yield* new AmbiguousToken({ token: idOrName, ids: matches.map((r) => r.id) })
          }
          const revoked = yield* q.revokeToken({ id: target.id, at })
          return Option.getOrElse(revoked, () => target)
        })
      ).pipe(tokenWriting, failing(`revoke token ${idOrName}`))
    })

    return {
      backend: dialect.backend,
      writeCounts: dialect.singleWriter === true || coherence !== undefined
        ? () => {
          if (!cache.live()) return undefined
          const other = cache.otherWrites()
          return { releases: releaseWrites + other.releases, downloads: downloads.recorded() + other.downloads }
        }
        : undefined,
      publish,
      logEntries,
      logSize,
      getPackage,
      listReleases,
      getRelease,
      findArchive,
      search,
      stats,
      counts,
      recordDownload,
      yank,
      unyank,
      delete: del,
      checksums,
      createToken,
      findTokenByHash,
      listTokens,
      revokeToken
    } satisfies PackageStoreService
  })
