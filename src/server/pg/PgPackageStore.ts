/**
 * The PostgreSQL metadata store: the shared `SqlPackageStore.makeSql` queries over an
 * `@effect/sql-pg` pool, with PostgreSQL's own search and index maintenance. Several registry
 * replicas can share one database: every rule that must hold across them is settled by the
 * database, never by a lock or cache inside one process.
 *
 * - Publish race: `release_keys (name_norm, version)` is a primary key, claimed with
 *   `INSERT ... ON CONFLICT DO NOTHING` inside the publish transaction; of N concurrent uploads of
 *   one `name@version` on any number of replicas exactly one commits, the others get
 *   `VersionExists` (409).
 * - Downloads are counted in memory and added in one transaction every 50 ms (and at a graceful
 *   stop) with `downloads = downloads + n`: exact under concurrency.
 * - With `PgCacheInvalidation` in context (`layer` and `Storage.layer` provide it), package and
 *   search reads are cached like on SQLite and dropped on every write of any replica (a
 *   `LISTEN/NOTIFY` message, delivered when the write commits); while a replica cannot hear the
 *   others it reads the database for every request. Without it nothing read is kept.
 * - Tokens are read from the database on every request (no per-process cache).
 * - Every write takes one transaction-scoped advisory lock first (the log lock): writes of all
 *   replicas are serialized, so the latest/versions a write recomputes, and the search entry it
 *   rewrites, are never stale (two replicas writing different versions of one package at once).
 *
 * Search: a weighted `tsvector` per package (`packages_search`: name A, tags B, components C,
 * description D; GIN index; `simple` configuration, no stemming, as SQLite's `unicode61`) matched
 * word by word as prefixes, plus trigram matching on names (`pg_trgm`, `%`), ranked like the
 * SQLite store: exact normalized name first, then relevance (`ts_rank` + name `similarity`), then
 * downloads, then name.
 * @since 0.1.0
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import type { Scope } from "effect"
import { normalizeName } from "../../domain/PackageName.js"
import { searchWords } from "../http/SearchQuery.js"
import type { PackageStoreService, SearchQuery } from "../storage/PackageStore.js"
import { PackageStore, StoreError } from "../storage/PackageStore.js"
import type { SqlDialect } from "../storage/SqlDialect.js"
import { makeSql } from "../storage/SqlPackageStore.js"
import { CountRow, IdRow } from "../storage/SqlRows.js"
import * as PgCacheInvalidation from "./PgCacheInvalidation.js"
import type { PgDatabaseOptions } from "./PgDatabase.js"
import { catchSqlDefects, layer as databaseLayer, migratorLayer, pgStoreError } from "./PgDatabase.js"

/**
 * Turns user text into a `to_tsquery('simple', ...)` input: every word must match, each as a
 * prefix (`json:* & transform:*`). Words are letters and digits only, so nothing needs quoting.
 * Empty when the text has no word.
 * @since 0.1.0
 */
export const tsQuery = (q: string): string => searchWords(q).map((w) => `${w}:*`).join(" & ")

/** Advisory lock key serializing log appends across replicas ("fm-log" as an integer). */
const LOG_LOCK = 0x666d2d6c6f67

/** ts_rank weights in the order {D, C, B, A}: description, components, tags, name. */
const WEIGHTS = "{0.1,0.2,0.3,1.0}"

/**
 * The PostgreSQL pieces of the SQL store: `tsvector` indexing and ranked full-text plus trigram
 * search.
 * @since 0.1.0
 * @category dialect
 */
export const dialect: Effect.Effect<SqlDialect, never, SqlClient.SqlClient> = Effect.gen(function*() {
  const coherence = yield* Effect.serviceOption(PgCacheInvalidation.PgCacheInvalidation)
  const sql = yield* SqlClient.SqlClient

  // One statement either way. It runs after the caller's `refreshLatest`, in the transaction that
  // holds the log lock every write takes first: the package row it reads is current.
  const reindex = (packageId: number, hasReleases: boolean) =>
    hasReleases
      ? sql`INSERT INTO packages_search (package_id, document)
        SELECT p.id,
          setweight(to_tsvector('simple', p.name_norm), 'A') ||
          setweight(to_tsvector('simple', r.tags_json), 'B') ||
          setweight(to_tsvector('simple', r.components_json), 'C') ||
          setweight(to_tsvector('simple', r.description), 'D')
        FROM packages p JOIN releases r ON r.id = p.latest_release_id WHERE p.id = ${packageId}
        ON CONFLICT (package_id) DO UPDATE SET document = excluded.document`.pipe(Effect.asVoid)
      : sql`DELETE FROM packages_search WHERE package_id = ${packageId}`.pipe(Effect.asVoid)

  const Matching = Schema.Struct({ text: Schema.String, exact: Schema.String, category: Schema.NullOr(Schema.String) })
  // Candidates come from two indexes (GIN tsvector, GIN trigram), united by id.
  const hitsOf = (r: typeof Matching.Type) =>
    r.text === ""
      ? sql`SELECT id FROM packages WHERE name_norm % ${r.exact}`
      : sql`SELECT package_id AS id FROM packages_search WHERE document @@ to_tsquery('simple', ${r.text})
          UNION SELECT id FROM packages WHERE name_norm % ${r.exact}`
  const inCategory = (r: typeof Matching.Type) => r.category === null ? sql`` : sql`AND r.category = ${r.category}`
  const rankedPage = SqlSchema.findAll({
    Request: Schema.Struct({ ...Matching.fields, limit: Schema.Number, offset: Schema.Number }),
    Result: IdRow,
    execute: (r) => {
      const tsq = r.text === "" ? sql`NULL::tsquery` : sql`to_tsquery('simple', ${r.text})`
      return sql`WITH hits AS (${hitsOf(r)})
        SELECT p.id AS id
        FROM hits h JOIN packages p ON p.id = h.id JOIN releases r ON r.id = p.latest_release_id
        LEFT JOIN packages_search s ON s.package_id = p.id
        WHERE TRUE ${inCategory(r)}
        ORDER BY (p.name_norm = ${r.exact}) DESC,
          round((coalesce(ts_rank(${WEIGHTS}::float4[], s.document, ${tsq}), 0)
            + similarity(p.name_norm, ${r.exact}))::numeric, 6) DESC,
          p.downloads DESC, p.name_norm
        LIMIT ${r.limit} OFFSET ${r.offset}`
    }
  })
  const matchCount = SqlSchema.single({
    Request: Matching,
    Result: CountRow,
    execute: (r) =>
      sql`WITH hits AS (${hitsOf(r)})
        SELECT count(*) AS n FROM hits h JOIN packages p ON p.id = h.id JOIN releases r ON r.id = p.latest_release_id
        WHERE TRUE ${inCategory(r)}`
  })

  const search = (query: SearchQuery) =>
    Effect.gen(function*() {
      const matching = {
        text: tsQuery(query.q),
        exact: normalizeName(query.q.trim()),
        category: query.category ?? null
      }
      if (matching.text === "" && matching.exact === "") return { ids: [], total: 0 }
      const offset = (query.page - 1) * query.pageSize
      const rows = yield* rankedPage({ ...matching, limit: query.pageSize, offset })
      const total = yield* matchCount(matching).pipe(
        Effect.catchTag("NoSuchElementException", () => Effect.succeed({ n: 0 }))
      )
      return { ids: rows.map((r) => r.id), total: total.n }
    })

  // One log for every replica: appends wait for this transaction-scoped lock ("fm-log" as an integer).
  const lockLog = sql`SELECT pg_advisory_xact_lock(${LOG_LOCK})`.pipe(Effect.asVoid)

  return { backend: "pg", reindex, search, lockLog, coherence: Option.getOrUndefined(coherence) } satisfies SqlDialect
})

/**
 * Re-wraps a store failure so its message carries the driver's own words (not just "Failed to
 * execute statement"), and turns a transaction's failed COMMIT/ROLLBACK (a defect in
 * `@effect/sql`) into a `StoreError` too: a killed connection is a 503, never a 500.
 */
const enrich = <A, E>(operation: string, effect: Effect.Effect<A, E | StoreError>): Effect.Effect<A, E | StoreError> =>
  effect.pipe(
    Effect.mapError((e) => (e instanceof StoreError ? pgStoreError(e.operation, e.cause) : e)),
    catchSqlDefects((cause) => pgStoreError(operation, cause))
  )

/**
 * The store over the PostgreSQL client in context (tables must exist: see `PgDatabase.layer`).
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<PackageStoreService, never, SqlClient.SqlClient | Scope.Scope> = Effect.gen(
  function*() {
    const store = yield* Effect.flatMap(dialect, makeSql)
    return {
      backend: store.backend,
      writeCounts: store.writeCounts, // undefined without PgCacheInvalidation: nothing read is kept
      publish: (release) => enrich(`publish ${release.name}@${release.version}`, store.publish(release)),
      getPackage: (name) => enrich(`read package ${name}`, store.getPackage(name)),
      listReleases: (name) => enrich(`list versions of ${name}`, store.listReleases(name)),
      getRelease: (name, version) => enrich(`read ${name}@${version}`, store.getRelease(name, version)),
      findArchive: (name, version) => enrich(`read ${name}@${version}`, store.findArchive(name, version)),
      search: (query) => enrich(`search '${query.q}'`, store.search(query)),
      stats: enrich("read stats", store.stats),
      counts: enrich("read counts", store.counts),
      recordDownload: (name, version) =>
        enrich(`count a download of ${name}@${version}`, store.recordDownload(name, version)),
      yank: (name, version, reason) => enrich(`yank ${name}@${version}`, store.yank(name, version, reason)),
      unyank: (name, version) => enrich(`unyank ${name}@${version}`, store.unyank(name, version)),
      delete: (name, version) => enrich(`delete ${name}@${version}`, store.delete(name, version)),
      checksums: enrich("list checksums", store.checksums),
      logEntries: (start, end) => enrich(`read log entries ${start}..${end}`, store.logEntries(start, end)),
      logSize: enrich("read the log size", store.logSize),
      // Replicas starting together all register FM_ADMIN_TOKEN: the same secret (same hash) stored
      // by another replica a moment ago is that token, not an error.
      createToken: (token) =>
        enrich(
          `create token ${token.name}`,
          store.createToken(token).pipe(
            Effect.catchTag("StoreError", (e) =>
              Effect.flatMap(store.findTokenByHash(token.hash), (found) =>
                found._tag === "Some" ? Effect.succeed(found.value) : Effect.fail(e)))
          )
        ),
      findTokenByHash: (hash) => enrich("look up a token", store.findTokenByHash(hash)),
      listTokens: enrich("list tokens", store.listTokens),
      revokeToken: (idOrName) => enrich(`revoke token ${idOrName}`, store.revokeToken(idOrName))
    } satisfies PackageStoreService
  }
)

/**
 * The store on the PostgreSQL client in context, migrated first.
 * @since 0.1.0
 * @category layers
 */
export const layerFromClient: Layer.Layer<PackageStore, StoreError, SqlClient.SqlClient> = Layer.scoped(
  PackageStore,
  make
).pipe(Layer.provide(migratorLayer))

/**
 * The store on its own pool to `options.url` (connected and migrated when built), its caches kept
 * coherent with the other replicas' writes (`PgCacheInvalidation`).
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: PgDatabaseOptions): Layer.Layer<PackageStore, StoreError> =>
  Layer.scoped(PackageStore, make).pipe(
    Layer.provide(PgCacheInvalidation.layer(options)),
    Layer.provide(databaseLayer(options))
  )
