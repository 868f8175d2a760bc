/**
 * The backend-neutral part of the SQL metadata store: every query except the DDL and the
 * full-text search, in portable SQL that runs on SQLite ≥ 3.35 and PostgreSQL
 * (`INSERT ... ON CONFLICT`, `RETURNING`, booleans as 0/1 INTEGER, JSON as TEXT, times as
 * ISO-8601 TEXT, `count(*)`/`sum(...)` read back through `Number(...)` since PG returns int8 as
 * text).
 *
 * A dialect supplies the rest ({@link SqlDialect}): its migrations create the tables below (same
 * names and columns) plus its own search index, `reindex` keeps that index in step inside write
 * transactions, and `search` answers non-empty queries.
 *
 * Tables (every dialect creates them, see `SqlitePackageStore.migrations` for the SQLite DDL):
 * - `packages(id PK, name_norm UNIQUE, name, latest_release_id NULL, latest_version NULL,
 *   versions_json TEXT, downloads INTEGER, created_at TEXT, updated_at TEXT)`
 * - `releases(id PK, package_id, name, name_norm, version, description, author, author_email,
 *   license, category, homepage, repository, tags_json, components_json, component_count,
 *   python_requirements_json, deps_json, flowmason_version, kind, checksum, size_bytes, downloads,
 *   published_at, yanked INTEGER 0/1, yank_reason, UNIQUE(name_norm, version))`
 * - `release_deps(release_id, dep_name, dep_range, PK(release_id, dep_name))`
 * - `release_keys(name_norm, version, published_at, deleted_at NULL, PK(name_norm, version))`:
 *   the ledger of every `name@version` ever published; rows are never deleted (tombstones).
 * - `tokens(id PK, name, prefix, hash UNIQUE, scope, created_at, expires_at NULL, revoked_at NULL)`
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Deferred, Effect, Exit, Option, Schema } from "effect"
import type { Scope } from "effect"
import { TokenScope } from "../../api/RegistryApi.js"
import { normalizeName } from "../../domain/PackageName.js"
import { pickLatest, sortVersions } from "../../domain/Version.js"
import type { LogOperation } from "../../shared/log/LogEntry.js"
import { appendEntry, logSize as readLogSize, readEntries } from "../log/LogTable.js"
import type { CacheCoherence, WriteKind } from "./CacheCoherence.js"
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

/**
 * The dialect-specific pieces of a SQL store.
 * @since 0.1.0
 * @category models
 */
export interface SqlDialect {
  /** `sqlite` or `pg`. */
  readonly backend: string
  /**
   * Refresh the search index entry of package `packageId` from its latest release (or remove it
   * when the package has no release left: `hasReleases` false). Runs inside the write transaction.
   */
  readonly reindex: (packageId: number, hasReleases: boolean) => Effect.Effect<void, SqlError>
  /**
   * Ranked ids (`packages.id`) of the packages matching a NON-empty `q` (exact normalized name
   * first, then relevance, then `packages.downloads`), for the requested page, and the total count.
   * Filter on `category` (the latest release's, exact) when given.
   */
  readonly search: (
    query: SearchQuery
  ) => Effect.Effect<{ readonly ids: ReadonlyArray<number>; readonly total: number }, SqlError>
  /**
   * True when this store is the only writer of its database (embedded SQLite): package and search
   * reads are then cached in memory and dropped on every write this store makes. Leave unset for
   * shared databases (PostgreSQL replicas), which are always read afresh.
   */
  readonly singleWriter?: boolean
  /**
   * Serializes log appends across writers of one database until the transaction ends (PostgreSQL:
   * a transaction-scoped advisory lock). Unset when the database serializes writes itself (SQLite).
   */
  readonly lockLog?: Effect.Effect<void, SqlError>
  /**
   * For a database other processes write too: how this store hears their writes and tells them of
   * its own. With it, reads are cached as on a single writer, dropped on every write of any
   * process, and not served while the other processes' writes cannot be heard.
   */
  readonly coherence?: CacheCoherence | undefined
  /**
   * Makes what the last commit wrote durable, off the main thread, when the database's own commit
   * does not (SQLite in WAL mode with `synchronous = NORMAL`: an fsync of the `-wal` file). Runs
   * once per group of publishes, before any of them is acknowledged. Unset: a commit is durable.
   */
  readonly syncCommitted?: Effect.Effect<void, StoreError>
}

/**
 * Most publishes written in one transaction (one group commit).
 * @since 0.1.0
 * @category constants
 */
export const MAX_PUBLISH_GROUP = 64

type Row = Record<string, unknown>

const str = (u: unknown): string => (u === null || u === undefined ? "" : String(u))
const nstr = (u: unknown): string | null => (u === null || u === undefined ? null : String(u))
const num = (u: unknown): number => (u === null || u === undefined ? 0 : Number(u))
/** A JSON column's value; a column that is not JSON is a defect whose message says where it breaks. */
const decodeJsonColumn = Schema.decodeSync(Schema.parseJson())
const jsonArray = (u: unknown): ReadonlyArray<string> => {
  if (typeof u !== "string" || u === "") return []
  const parsed = decodeJsonColumn(u)
  return Array.isArray(parsed) ? parsed.map(String) : []
}
const jsonRecord = (u: unknown): Readonly<Record<string, string>> => {
  if (typeof u !== "string" || u === "") return {}
  const parsed = decodeJsonColumn(u)
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return {}
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(parsed)) out[k] = String(v)
  return out
}

/**
 * Turns a `releases` row into a {@link ReleaseRow}.
 * @since 0.1.0
 * @category utils
 */
export const toRelease = (r: Row): ReleaseRow => ({
  id: num(r.id),
  name: str(r.name),
  nameNorm: str(r.name_norm),
  version: str(r.version),
  description: str(r.description),
  author: nstr(r.author),
  authorEmail: nstr(r.author_email),
  license: nstr(r.license),
  category: nstr(r.category),
  homepage: nstr(r.homepage),
  repository: nstr(r.repository),
  tags: jsonArray(r.tags_json),
  components: jsonArray(r.components_json),
  pythonRequirements: jsonArray(r.python_requirements_json),
  flowmasonVersion: nstr(r.flowmason_version),
  kind: nstr(r.kind),
  dependencies: jsonRecord(r.deps_json),
  checksum: str(r.checksum),
  sizeBytes: num(r.size_bytes),
  downloads: num(r.downloads),
  publishedAt: str(r.published_at),
  yanked: num(r.yanked) !== 0,
  yankReason: nstr(r.yank_reason),
  logIndex: r.log_index === null || r.log_index === undefined ? null : num(r.log_index)
})

/** How long the store holds download counts before writing them (see `recordDownload`). */
const DOWNLOAD_FLUSH_MS = 50
/** How long the store waits before trying again to write counts whose write failed. */
const DOWNLOAD_RETRY_MS = 1000

/** A token row's scope; any other value in the column is a defect that names it. */
const decodeScope = Schema.decodeUnknownSync(TokenScope)

const toToken = (r: Row): TokenRow => ({
  id: num(r.id),
  name: str(r.name),
  prefix: str(r.prefix),
  hash: str(r.hash),
  scope: decodeScope(r.scope),
  createdAt: str(r.created_at),
  expiresAt: nstr(r.expires_at),
  revokedAt: nstr(r.revoked_at)
})

const toPackage = (r: Row): PackageRow => ({
  name: str(r.p_name),
  nameNorm: str(r.name_norm),
  latest: toRelease(r),
  versions: jsonArray(r.p_versions_json),
  downloads: num(r.p_downloads)
})

/**
 * The latest version by the registry rule: the highest non-yanked one (releases before
 * prereleases), else the highest yanked one.
 * @since 0.1.0
 * @category utils
 */
export const latestOf = (
  releases: ReadonlyArray<{ readonly version: string; readonly yanked: boolean }>
): string | undefined =>
  pickLatest(releases.filter((r) => !r.yanked).map((r) => r.version)) ?? pickLatest(releases.map((r) => r.version))

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
    const fail = (operation: string) => (cause: SqlError) => new StoreError({ operation, cause })
    const now = () => new Date().toISOString()

    // Read cache (a single writer, or a shared database with `coherence`): entries carry the write
    // generation they were read in and count only while it is current; every write bumps it after
    // its commit, and so does every write another process announces.
    // One map per kind of answer, so each holds values of one type; together at most CACHE_LIMIT.
    const coherence = dialect.coherence
    const caching = dialect.singleWriter === true || coherence !== undefined
    const caches: Array<Map<string, unknown>> = []
    let generation = 0
    const CACHE_LIMIT = 2048
    const invalidate = Effect.sync(() => {
      generation++
      for (const c of caches) c.clear()
    })
    // writes other processes made (announced through `coherence`), by kind
    let otherReleaseWrites = 0
    let otherCountWrites = 0
    coherence?.onChange((change) => {
      generation++
      for (const c of caches) c.clear()
      if (change === "downloads") otherCountWrites++
      else otherReleaseWrites++
    })
    /** Inside a write transaction: tells the other processes (if any) when it commits. */
    const announce = (kind: WriteKind) => (coherence === undefined ? Effect.void : coherence.announce(kind))
    /**
     * A cache for one kind of answer, `A`: `cached(key, read)` answers from it while the write
     * generation is current, else runs `read` (always, when the store does not cache) and keeps its value.
     */
    const readCache = <A>() => {
      if (!caching) return <E>(_key: string, read: Effect.Effect<A, E>) => read
      const cache = new Map<string, { readonly gen: number; readonly value: A }>()
      caches.push(cache)
      return <E>(key: string, read: Effect.Effect<A, E>): Effect.Effect<A, E> =>
        Effect.suspend(() => {
          // the other processes' writes cannot be heard: read afresh, keep nothing
          if (coherence !== undefined && !coherence.live()) return read
          const hit = cache.get(key)
          if (hit !== undefined && hit.gen === generation) return Effect.succeed(hit.value)
          const gen = generation
          return Effect.tap(read, (value) =>
            Effect.sync(() => {
              if (gen !== generation) return
              if (caches.reduce((n, c) => n + c.size, 0) >= CACHE_LIMIT) { for (const c of caches) c.clear() }
              cache.set(key, { gen, value })
            }))
        })
    }
    const packageCache = readCache<Option.Option<PackageRow>>()
    const releaseCache = readCache<Option.Option<ReleaseRow>>()
    const searchCache = readCache<SearchResult>()
    const countsCache = readCache<{ readonly packages: number; readonly components: number }>()
    const statsCache = readCache<StoreStats>()
    const writing = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.ensuring(effect, invalidate)
    // writes that change releases (publish, yank, unyank, delete), as opposed to download counts
    let releaseWrites = 0
    const releasing = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.ensuring(writing(effect), Effect.sync(() => void releaseWrites++))

    // Download counts. The store adds them up in memory and writes them in one transaction
    // DOWNLOAD_FLUSH_MS after the first, before any read of its own that reports counts (so its
    // readers always see every download it counted), and when the store closes (a graceful stop
    // loses none); a failed write keeps them for the next try. A kill -9 may lose the last few
    // milliseconds of counts. On a shared database, other processes see them once written.
    const pendingCounts = new Map<string, { readonly name: string; readonly version: string; n: number }>()
    let flushTimer: ReturnType<typeof setTimeout> | undefined
    const writeCounts = (
      batch: ReadonlyArray<{ readonly name: string; readonly version: string; readonly n: number }>
    ) =>
      sql.withTransaction(
        Effect.forEach(batch, ({ n, name, version }) =>
          Effect.gen(function*() {
            const rows = yield* sql<Row>`UPDATE releases SET downloads = downloads + ${n}
              WHERE name_norm = ${normalizeName(name)} AND version = ${version} RETURNING package_id`
            if (rows.length > 0) {
              yield* sql`UPDATE packages SET downloads = downloads + ${n} WHERE id = ${num(rows[0].package_id)}`
            }
          }), { discard: true }).pipe(Effect.zipRight(announce("downloads")))
      ).pipe(writing)
    // one flush at a time: a read waits for the one in flight (its counts are not pending any more
    // but not yet written either)
    const flushLock = yield* Effect.makeSemaphore(1)
    let flushing = 0
    const arm = (delay: number) => {
      if (flushTimer !== undefined) return
      flushTimer = setTimeout(() => Effect.runFork(Effect.ignore(flushCounts)), delay)
      flushTimer.unref()
    }
    const flushCounts: Effect.Effect<void, StoreError> = Effect.suspend(() => {
      flushing++
      return flushLock.withPermits(1)(Effect.suspend(() => {
        if (flushTimer !== undefined) {
          clearTimeout(flushTimer)
          flushTimer = undefined
        }
        if (pendingCounts.size === 0) return Effect.void
        const batch = [...pendingCounts.values()].map((c) => ({ ...c }))
        pendingCounts.clear()
        return writeCounts(batch).pipe(
          Effect.tapError(() =>
            Effect.sync(() => {
              batch.forEach((c) => addCount(c.name, c.version, c.n))
              arm(DOWNLOAD_RETRY_MS) // kept for the next try even if nothing else comes
            })
          ),
          Effect.mapError(fail(`count ${batch.length} download(s)`))
        )
      })).pipe(Effect.ensuring(Effect.sync(() => void flushing--)))
    })
    const addCount = (name: string, version: string, n: number) => {
      const key = `${normalizeName(name)}\u0000${version}`
      const counted = pendingCounts.get(key)
      if (counted === undefined) pendingCounts.set(key, { name, version, n })
      else counted.n += n
    }
    /** `read`, after writing any pending download counts (a failure to write them is left for later). */
    const counted = <A, E>(read: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.suspend(() =>
        pendingCounts.size === 0 && flushing === 0 ? read : Effect.zipRight(Effect.ignore(flushCounts), read)
      )
    yield* Effect.addFinalizer(() => Effect.ignore(flushCounts))

    const PACKAGE_SELECT =
      sql`SELECT r.*, p.name AS p_name, p.versions_json AS p_versions_json, p.downloads AS p_downloads
      FROM packages p JOIN releases r ON r.id = p.latest_release_id`

    /** Recomputes latest/versions of a package after a write, and its search entry; returns them. */
    const refreshPackage = (packageId: number) =>
      Effect.gen(function*() {
        const rows = yield* sql<Row>`SELECT id, version, yanked FROM releases WHERE package_id = ${packageId}`
        let result: { readonly versions: ReadonlyArray<string>; readonly latest: string | null }
        if (rows.length === 0) {
          yield* sql`UPDATE packages SET latest_release_id = NULL, latest_version = NULL, versions_json = '[]' WHERE id = ${packageId}`
          result = { versions: [], latest: null }
        } else {
          const releases = rows.map((r) => ({ id: num(r.id), version: str(r.version), yanked: num(r.yanked) !== 0 }))
          const latest = latestOf(releases)
          const latestId = releases.find((r) => r.version === latest)?.id ?? releases[0].id
          const versions = sortVersions(releases.map((r) => r.version))
          yield* sql`UPDATE packages SET latest_release_id = ${latestId}, latest_version = ${
            latest ?? null
          }, versions_json = ${JSON.stringify(versions)} WHERE id = ${packageId}`
          result = { versions, latest: latest ?? null }
        }
        yield* dialect.reindex(packageId, rows.length > 0)
        return result
      })

    const lockLog = dialect.lockLog ?? Effect.void
    /** Logs a yank, unyank or delete of `release`, inside the caller's transaction. */
    const logChange = (operation: LogOperation, release: ReleaseRow) =>
      appendEntry(sql, lockLog, {
        operation,
        name: release.name,
        version: release.version,
        sha256: release.checksum,
        size: release.sizeBytes,
        time: now()
      })
    const logEntries = (start: number, end: number) =>
      readEntries(sql, start, end).pipe(Effect.mapError(fail(`read log entries ${start}..${end}`)))
    const logSize = readLogSize(sql).pipe(Effect.mapError(fail("read the log size")))

    /** One publish: its writes in a transaction (a savepoint when run inside a group's). */
    const publishOne = (release: NewRelease) =>
      Effect.gen(function*() {
        const nameNorm = normalizeName(release.name)
        const at = now()
        return yield* sql.withTransaction(
          Effect.gen(function*() {
            const claimed = yield* sql<Row>`INSERT INTO release_keys (name_norm, version, published_at)
            VALUES (${nameNorm}, ${release.version}, ${at}) ON CONFLICT DO NOTHING RETURNING name_norm`
            if (claimed.length === 0) {
              const prior = yield* sql<
                Row
              >`SELECT deleted_at FROM release_keys WHERE name_norm = ${nameNorm} AND version = ${release.version}`
              return yield* new VersionExists({
                name: release.name,
                version: release.version,
                deleted: prior.length > 0 && prior[0].deleted_at !== null
              })
            }
            const pkg = yield* sql<
              Row
            >`INSERT INTO packages (name_norm, name, versions_json, downloads, created_at, updated_at)
            VALUES (${nameNorm}, ${release.name}, '[]', 0, ${at}, ${at})
            ON CONFLICT (name_norm) DO UPDATE SET updated_at = excluded.updated_at RETURNING id`
            const packageId = num(pkg[0].id)
            const logIndex = yield* appendEntry(sql, lockLog, {
              operation: "publish",
              name: release.name,
              version: release.version,
              sha256: release.checksum,
              size: release.sizeBytes,
              time: at
            })
            const inserted = yield* sql<Row>`INSERT INTO releases ${
              sql.insert({
                package_id: packageId,
                name: release.name,
                name_norm: nameNorm,
                version: release.version,
                description: release.description,
                author: release.author,
                author_email: release.authorEmail,
                license: release.license,
                category: release.category,
                homepage: release.homepage,
                repository: release.repository,
                tags_json: JSON.stringify(release.tags),
                components_json: JSON.stringify(release.components),
                component_count: release.components.length,
                python_requirements_json: JSON.stringify(release.pythonRequirements),
                deps_json: JSON.stringify(release.dependencies),
                flowmason_version: release.flowmasonVersion,
                kind: release.kind,
                checksum: release.checksum,
                size_bytes: release.sizeBytes,
                downloads: 0,
                published_at: at,
                yanked: 0,
                yank_reason: null,
                log_index: logIndex
              })
            } RETURNING *`
            const row = inserted[0]
            const deps = Object.entries(release.dependencies)
            if (deps.length > 0) {
              yield* sql`INSERT INTO release_deps ${
                sql.insert(deps.map(([dep_name, dep_range]) => ({ release_id: num(row.id), dep_name, dep_range })))
              }`
            }
            const after = yield* refreshPackage(packageId)
            yield* announce("releases")
            return {
              ...toRelease(row),
              packageVersions: after.versions,
              packageLatest: after.latest
            } satisfies PublishedRelease
          })
        ).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(fail(`publish ${release.name}@${release.version}`)(e))))
      })

    // Group commit. Publishes queue here; whoever holds the writer lock takes every queued one
    // (up to MAX_PUBLISH_GROUP) and writes them in ONE transaction, each in a savepoint of its own
    // (a conflict fails only its own publish), then makes the commit durable (`syncCommitted`)
    // once for the group; only then is any publish of the group answered. Publishes that arrive
    // meanwhile form the next group, so under load a commit and its fsync serve many publishes
    // and alone a publish pays for one of each, as before.
    type Outcome = Exit.Exit<PublishedRelease, StoreError | VersionExists>
    const queued: Array<
      { readonly release: NewRelease; readonly done: Deferred.Deferred<PublishedRelease, StoreError | VersionExists> }
    > = []
    const writer = yield* Effect.makeSemaphore(1)
    const writeGroup = Effect.suspend(() => {
      const group = queued.splice(0, MAX_PUBLISH_GROUP)
      if (group.length === 0) return Effect.void
      const written = sql.withTransaction(
        Effect.forEach(group, (p) => Effect.exit(publishOne(p.release)))
      ).pipe(
        Effect.catchTag("SqlError", (e) => Effect.fail(fail(`publish ${group.length} release(s)`)(e))),
        Effect.tap(() => dialect.syncCommitted ?? Effect.void),
        releasing
      )
      return Effect.flatMap(Effect.exit(written), (exit) =>
        Effect.forEach(group, (p, i) => {
          const outcome: Outcome = Exit.isSuccess(exit)
            ? (exit.value[i] ?? Exit.die("lost publish"))
            : Exit.failCause(exit.cause)
          return Deferred.done(p.done, outcome)
        }, { discard: true }))
    })
    const publish = Effect.fn("PackageStore.publish")(function*(release: NewRelease) {
      const done = yield* Deferred.make<PublishedRelease, StoreError | VersionExists>()
      queued.push({ release, done })
      // the group is written whole whatever happens to the fiber that writes it
      yield* Effect.uninterruptible(writer.withPermits(1)(writeGroup))
      return yield* Deferred.await(done)
    })

    const getPackage = Effect.fn("PackageStore.getPackage")(function*(name: string) {
      const nameNorm = normalizeName(name)
      return yield* counted(packageCache(
        `p\u0000${nameNorm}`,
        sql<Row>`${PACKAGE_SELECT} WHERE p.name_norm = ${nameNorm}`.pipe(
          Effect.map((rows) => rows.length === 0 ? Option.none<PackageRow>() : Option.some(toPackage(rows[0]))),
          Effect.mapError(fail(`read package ${name}`))
        )
      ))
    })

    const listReleases = Effect.fn("PackageStore.listReleases")(function*(name: string) {
      const rows = yield* counted(sql<Row>`SELECT * FROM releases WHERE name_norm = ${normalizeName(name)}`.pipe(
        Effect.mapError(fail(`list versions of ${name}`))
      ))
      const releases = rows.map(toRelease)
      const rank = new Map(sortVersions(releases.map((r) => r.version)).map((v, i) => [v, i]))
      return [...releases].sort((a, b) => (rank.get(a.version) ?? 0) - (rank.get(b.version) ?? 0))
    })

    const readRelease = (name: string, version: string) =>
      sql<Row>`SELECT * FROM releases WHERE name_norm = ${normalizeName(name)} AND version = ${version}`.pipe(
        Effect.map((rows) => rows.length === 0 ? Option.none<ReleaseRow>() : Option.some(toRelease(rows[0]))),
        Effect.mapError(fail(`read ${name}@${version}`))
      )

    const getRelease = Effect.fn("PackageStore.getRelease")(function*(name: string, version: string) {
      return yield* counted(readRelease(name, version))
    })

    const findArchive = (name: string, version: string) =>
      releaseCache(`r\u0000${normalizeName(name)}\u0000${version}`, readRelease(name, version))

    const packagesByIds = (ids: ReadonlyArray<number>) =>
      ids.length === 0
        ? Effect.succeed<ReadonlyArray<PackageRow>>([])
        : sql<Row>`${PACKAGE_SELECT} WHERE p.id IN ${sql.in(ids)}`.pipe(
          Effect.map((rows) => {
            const byId = new Map(rows.map((r) => [num(r.package_id), toPackage(r)]))
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
          const where = query.category === undefined ? sql`` : sql`WHERE r.category = ${query.category}`
          const ids = yield* sql<Row>`SELECT p.id FROM packages p JOIN releases r ON r.id = p.latest_release_id ${where}
            ORDER BY p.updated_at DESC, p.id DESC LIMIT ${query.pageSize} OFFSET ${offset}`
          const total = yield* sql<
            Row
          >`SELECT count(*) AS n FROM packages p JOIN releases r ON r.id = p.latest_release_id ${where}`
          return { ids: ids.map((r) => num(r.id)), total: num(total[0]?.n) }
        })
        : yield* dialect.search(query)
      const rows = yield* packagesByIds(page.ids)
      return { rows, total: page.total } satisfies SearchResult
    }, (effect, query) => Effect.mapError(effect, fail(`search '${query.q}'`)))

    const countsQuery = sql<Row>`SELECT count(*) AS packages, sum(r.component_count) AS components
        FROM packages p JOIN releases r ON r.id = p.latest_release_id`.pipe(
      Effect.map((p) => ({ packages: num(p[0]?.packages), components: num(p[0]?.components) }))
    )

    const counts = countsCache("counts", countsQuery.pipe(Effect.mapError(fail("read counts"))))

    const stats = counted(statsCache(
      "stats",
      Effect.gen(function*() {
        const p = yield* countsQuery
        const r = yield* sql<
          Row
        >`SELECT count(*) AS versions, sum(size_bytes) AS size, sum(downloads) AS downloads FROM releases`
        const c = yield* sql<
          Row
        >`SELECT r.category AS name, count(*) AS n FROM packages p JOIN releases r ON r.id = p.latest_release_id
        WHERE r.category IS NOT NULL AND r.category <> '' GROUP BY r.category ORDER BY count(*) DESC, r.category`
        return {
          packages: p.packages,
          versions: num(r[0]?.versions),
          components: p.components,
          totalSizeBytes: num(r[0]?.size),
          totalDownloads: num(r[0]?.downloads),
          categories: c.map((row) => ({ name: str(row.name), count: num(row.n) }))
        } satisfies StoreStats
      }).pipe(Effect.mapError(fail("read stats")), Effect.withSpan("PackageStore.stats"))
    ))

    // downloads recorded in memory: each changes what a read reports, before it is written
    let recorded = 0
    const recordDownload = (name: string, version: string): Effect.Effect<void, StoreError> =>
      Effect.sync(() => {
        recorded++
        addCount(name, version, 1)
        arm(DOWNLOAD_FLUSH_MS)
      })

    const setYank = (name: string, version: string, yanked: boolean, reason: string | null) =>
      sql.withTransaction(
        Effect.gen(function*() {
          const rows = yield* sql<Row>`UPDATE releases SET yanked = ${yanked ? 1 : 0}, yank_reason = ${reason}
            WHERE name_norm = ${normalizeName(name)} AND version = ${version} RETURNING *`
          if (rows.length === 0) return yield* new ReleaseNotFound({ name, version })
          const release = toRelease(rows[0])
          yield* logChange(yanked ? "yank" : "unyank", release)
          yield* refreshPackage(num(rows[0].package_id))
          yield* announce("releases")
          return release
        })
      ).pipe(
        releasing,
        Effect.catchTag("SqlError", (e) => Effect.fail(fail(`${yanked ? "yank" : "unyank"} ${name}@${version}`)(e)))
      )

    const yank = Effect.fn("PackageStore.yank")(function*(name: string, version: string, reason: string) {
      return yield* setYank(name, version, true, reason)
    })
    const unyank = Effect.fn("PackageStore.unyank")(function*(name: string, version: string) {
      return yield* setYank(name, version, false, null)
    })

    const del = Effect.fn("PackageStore.delete")(function*(name: string, version: string) {
      const nameNorm = normalizeName(name)
      return yield* sql.withTransaction(
        Effect.gen(function*() {
          const rows = yield* sql<Row>`SELECT * FROM releases WHERE name_norm = ${nameNorm} AND version = ${version}`
          if (rows.length === 0) return yield* new ReleaseNotFound({ name, version })
          const row = rows[0]
          const packageId = num(row.package_id)
          yield* sql`UPDATE packages SET latest_release_id = NULL WHERE id = ${packageId} AND latest_release_id = ${
            num(row.id)
          }`
          yield* sql`DELETE FROM release_deps WHERE release_id = ${num(row.id)}`
          yield* sql`DELETE FROM releases WHERE id = ${num(row.id)}`
          yield* sql`UPDATE release_keys SET deleted_at = ${now()} WHERE name_norm = ${nameNorm} AND version = ${version}`
          yield* logChange("delete", toRelease(row))
          yield* refreshPackage(packageId)
          const left = yield* sql<Row>`SELECT count(*) AS n FROM releases WHERE package_id = ${packageId}`
          if (num(left[0]?.n) === 0) yield* sql`DELETE FROM packages WHERE id = ${packageId}`
          yield* announce("releases")
          return toRelease(row)
        })
      ).pipe(releasing, Effect.catchTag("SqlError", (e) => Effect.fail(fail(`delete ${name}@${version}`)(e))))
    })

    // rows as plain value arrays: tens of thousands of them at start-up
    const checksums = sql`SELECT DISTINCT checksum FROM releases`.values.pipe(
      Effect.map((rows): ReadonlySet<string> => new Set(rows.map((r) => str(r[0])))),
      Effect.mapError(fail("list checksums"))
    )

    const createToken = Effect.fn("PackageStore.createToken")(function*(token: NewToken) {
      return yield* sql.withTransaction(
        Effect.gen(function*() {
          // names are unique (revoke takes a name): checked here, in the insert's transaction,
          // because databases made before may already hold duplicates a unique index would refuse
          const same = yield* sql<Row>`SELECT * FROM tokens WHERE name = ${token.name} ORDER BY id`
          const first = same[0]
          if (first !== undefined) {
            const itself = same.find((r) => str(r.hash) === token.hash)
            if (itself !== undefined) return toToken(itself)
            return yield* new TokenNameTaken({ name: token.name, id: num(first.id) })
          }
          const rows = yield* sql<Row>`INSERT INTO tokens ${
            sql.insert({
              name: token.name,
              prefix: token.prefix,
              hash: token.hash,
              scope: token.scope,
              created_at: now(),
              expires_at: token.expiresAt,
              revoked_at: null
            })
          } RETURNING *`
          const row = rows[0]
          if (row === undefined) return yield* Effect.die(new Error("INSERT ... RETURNING returned no row"))
          return toToken(row)
        })
      ).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(fail(`create token ${token.name}`)(e))))
    })

    const findTokenByHash = Effect.fn("PackageStore.findTokenByHash")(function*(hash: string) {
      const rows = yield* sql<Row>`SELECT * FROM tokens WHERE hash = ${hash}`.pipe(
        Effect.mapError(fail("look up a token"))
      )
      return rows.length === 0 ? Option.none() : Option.some(toToken(rows[0]))
    })

    const listTokens = sql<Row>`SELECT * FROM tokens ORDER BY id`.pipe(
      Effect.map((rows) => rows.map(toToken)),
      Effect.mapError(fail("list tokens"))
    )

    const revokeToken = Effect.fn("PackageStore.revokeToken")(function*(idOrName: string) {
      const at = now()
      return yield* sql.withTransaction(
        Effect.gen(function*() {
          // an id first (digits), else a name; exactly one row, by its id, is ever updated
          const byId = /^\d+$/.test(idOrName)
            ? yield* sql<Row>`SELECT * FROM tokens WHERE id = ${Number(idOrName)}`
            : []
          const matches = byId.length > 0
            ? byId
            : yield* sql<Row>`SELECT * FROM tokens WHERE name = ${idOrName} ORDER BY id`
          const target = matches[0]
          if (target === undefined) return yield* new TokenNotFound({ token: idOrName })
          if (matches.length > 1) {
            return yield* new AmbiguousToken({ token: idOrName, ids: matches.map((r) => num(r.id)) })
          }
          const rows = yield* sql<Row>`UPDATE tokens SET revoked_at = coalesce(revoked_at, ${at})
            WHERE id = ${num(target.id)} RETURNING *`
          return toToken(rows[0] ?? target)
        })
      ).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(fail(`revoke token ${idOrName}`)(e))))
    })

    return {
      backend: dialect.backend,
      writeCounts: caching
        ? () =>
          coherence !== undefined && !coherence.live()
            ? undefined
            : { releases: releaseWrites + otherReleaseWrites, downloads: recorded + otherCountWrites }
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
