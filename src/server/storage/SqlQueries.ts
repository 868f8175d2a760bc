/**
 * The SQL store's statements, each a typed query (`SqlSchema`): its request encoded and its rows
 * decoded by the schemas of `SqlRows.ts`, in portable SQL that runs on SQLite ≥ 3.35 and
 * PostgreSQL (`INSERT ... ON CONFLICT`, `RETURNING`, booleans as 0/1 INTEGER, JSON as TEXT, times
 * as ISO-8601 TEXT). A row that does not decode fails with a `ParseError` naming the column.
 *
 * Tables (every dialect creates them, see `SqlTables.ts`):
 * - `packages(id PK, name_norm UNIQUE, name, latest_release_id NULL, latest_version NULL,
 *   versions_json TEXT, downloads INTEGER, created_at TEXT, updated_at TEXT)`
 * - `releases(id PK, package_id, name, name_norm, version, description, author, author_email,
 *   license, category, homepage, repository, tags_json, components_json, component_count,
 *   python_requirements_json, deps_json, flowmason_version, kind, checksum, size_bytes, downloads,
 *   published_at, yanked INTEGER 0/1, yank_reason, log_index NULL, UNIQUE(name_norm, version))`
 * - `release_deps(release_id, dep_name, dep_range, PK(release_id, dep_name))`
 * - `release_keys(name_norm, version, published_at, deleted_at NULL, PK(name_norm, version))`:
 *   the ledger of every `name@version` ever published; rows are never deleted (tombstones).
 * - `tokens(id PK, name, prefix, hash UNIQUE, scope, created_at, expires_at NULL, revoked_at NULL)`
 * @since 0.1.0
 */
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Cause, Effect, Schema } from "effect"
import type { ParseError } from "effect/ParseResult"
import { TokenScope } from "../../api/RegistryApi.js"
import { pickLatest, sortVersions } from "../../domain/Version.js"
import * as SqlSchema from "./LazySqlSchema.js"
import {
  CategoryCountRow,
  CountRow,
  CountsRow,
  FlagColumn,
  IdRow,
  IntColumn,
  PackageWithLatest,
  ReleaseInsert,
  ReleaseRowSchema,
  ReleaseTotalsRow,
  ReleaseWithPackage,
  TokenRowSchema,
  VersionRow
} from "./SqlRows.js"

const NameVersion = Schema.Struct({ nameNorm: Schema.String, version: Schema.String })

/**
 * `SqlSchema.single` for statements that always return a row (an aggregate, `INSERT ...
 * RETURNING`): no row is a defect, not an error of the caller's.
 */
const single = <IA, II, A, AI, R, E>(options: {
  readonly Request: Schema.Schema<IA, II>
  readonly Result: Schema.Schema<A, AI>
  readonly execute: (request: II) => Effect.Effect<ReadonlyArray<unknown>, E, R>
}) => {
  const query = SqlSchema.single(options)
  return (request: IA) => Effect.catchIf(query(request), Cause.isNoSuchElementException, (e) => Effect.die(e))
}

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
 * The typed statements of the store over `sql`.
 * @since 0.1.0
 * @category constructors
 */
export const makeSqlQueries = (sql: SqlClient.SqlClient) => {
  const PACKAGE_SELECT =
    sql`SELECT r.*, p.name AS p_name, p.versions_json AS p_versions_json, p.downloads AS p_downloads
      FROM packages p JOIN releases r ON r.id = p.latest_release_id`
  const latestWhere = (category: string | null) => category === null ? sql`` : sql`WHERE r.category = ${category}`
  const versionsOf = SqlSchema.findAll({
    Request: Schema.Number,
    Result: VersionRow,
    execute: (packageId) => sql`SELECT id, version, yanked FROM releases WHERE package_id = ${packageId}`
  })
  const setLatest = SqlSchema.void({
    Request: Schema.Struct({
      packageId: Schema.Number,
      latestId: Schema.NullOr(Schema.Number),
      latest: Schema.NullOr(Schema.String),
      versions: Schema.parseJson(Schema.Array(Schema.String))
    }),
    execute: (r) =>
      sql`UPDATE packages SET latest_release_id = ${r.latestId}, latest_version = ${r.latest},
        versions_json = ${r.versions} WHERE id = ${r.packageId}`
  })

  return {
    /** A package and its latest release, by normalized name. */
    packageByName: SqlSchema.findOne({
      Request: Schema.String,
      Result: PackageWithLatest,
      execute: (nameNorm) => sql`${PACKAGE_SELECT} WHERE p.name_norm = ${nameNorm}`
    }),
    /** Packages and their latest releases, by id (in no particular order). */
    packagesByIds: SqlSchema.findAll({
      Request: Schema.Array(Schema.Number),
      Result: PackageWithLatest,
      execute: (ids) => sql`${PACKAGE_SELECT} WHERE p.id IN ${sql.in(ids)}`
    }),
    /** Every release of a package, by normalized name (in no particular order). */
    releasesOf: SqlSchema.findAll({
      Request: Schema.String,
      Result: ReleaseRowSchema,
      execute: (nameNorm) => sql`SELECT * FROM releases WHERE name_norm = ${nameNorm}`
    }),
    /** One release and its package id. */
    release: SqlSchema.findOne({
      Request: NameVersion,
      Result: ReleaseWithPackage,
      execute: (r) => sql`SELECT * FROM releases WHERE name_norm = ${r.nameNorm} AND version = ${r.version}`
    }),
    /** Ids of a page of packages with a latest release (in a category), newest first. */
    newestPage: SqlSchema.findAll({
      Request: Schema.Struct({ category: Schema.NullOr(Schema.String), limit: Schema.Number, offset: Schema.Number }),
      Result: IdRow,
      execute: (r) =>
        sql`SELECT p.id FROM packages p JOIN releases r ON r.id = p.latest_release_id ${latestWhere(r.category)}
          ORDER BY p.updated_at DESC, p.id DESC LIMIT ${r.limit} OFFSET ${r.offset}`
    }),
    /** How many packages have a latest release (in a category). */
    newestTotal: single({
      Request: Schema.NullOr(Schema.String),
      Result: CountRow,
      execute: (category) =>
        sql`SELECT count(*) AS n FROM packages p JOIN releases r ON r.id = p.latest_release_id ${latestWhere(category)}`
    }),
    /** Packages and the components of their latest releases. */
    counts: single({
      Request: Schema.Void,
      Result: CountsRow,
      execute: () =>
        sql`SELECT count(*) AS packages, sum(r.component_count) AS components
          FROM packages p JOIN releases r ON r.id = p.latest_release_id`
    }),
    /** Releases, their bytes and their downloads. */
    releaseTotals: single({
      Request: Schema.Void,
      Result: ReleaseTotalsRow,
      execute: () =>
        sql`SELECT count(*) AS versions, sum(size_bytes) AS size, sum(downloads) AS downloads FROM releases`
    }),
    /** The categories of the latest releases, most used first. */
    categories: SqlSchema.findAll({
      Request: Schema.Void,
      Result: CategoryCountRow,
      execute: () =>
        sql`SELECT r.category AS name, count(*) AS n FROM packages p JOIN releases r ON r.id = p.latest_release_id
          WHERE r.category IS NOT NULL AND r.category <> '' GROUP BY r.category ORDER BY count(*) DESC, r.category`
    }),
    /** Every distinct archive checksum, as value arrays (tens of thousands of rows at start-up). */
    checksums: SqlSchema.findAll({
      Request: Schema.Void,
      Result: Schema.Tuple(Schema.String),
      execute: () => sql`SELECT DISTINCT checksum FROM releases`.values
    }),
    /** Claims `name@version` in the ledger; none when it was ever published. */
    claimKey: SqlSchema.findOne({
      Request: Schema.Struct({ nameNorm: Schema.String, version: Schema.String, at: Schema.String }),
      Result: Schema.Struct({ name_norm: Schema.String }),
      execute: (r) =>
        sql`INSERT INTO release_keys (name_norm, version, published_at)
          VALUES (${r.nameNorm}, ${r.version}, ${r.at}) ON CONFLICT DO NOTHING RETURNING name_norm`
    }),
    /** The ledger entry of `name@version`: whether it was deleted. */
    keyOf: SqlSchema.findOne({
      Request: NameVersion,
      Result: Schema.Struct({
        deletedAt: Schema.propertySignature(Schema.NullOr(Schema.String)).pipe(Schema.fromKey("deleted_at"))
      }),
      execute: (r) =>
        sql`SELECT deleted_at FROM release_keys WHERE name_norm = ${r.nameNorm} AND version = ${r.version}`
    }),
    /** Creates the package row (or touches it); returns its id. */
    upsertPackage: single({
      Request: Schema.Struct({ nameNorm: Schema.String, name: Schema.String, at: Schema.String }),
      Result: IdRow,
      execute: (r) =>
        sql`INSERT INTO packages (name_norm, name, versions_json, downloads, created_at, updated_at)
          VALUES (${r.nameNorm}, ${r.name}, '[]', 0, ${r.at}, ${r.at})
          ON CONFLICT (name_norm) DO UPDATE SET updated_at = excluded.updated_at RETURNING id`
    }),
    /**
     * Inserts a release; returns its id (the rest of its row is what was inserted: not read back
     * and decoded again).
     */
    insertRelease: single({
      Request: ReleaseInsert,
      Result: IdRow,
      execute: (columns) => sql`INSERT INTO releases ${sql.insert(columns)} RETURNING id`
    }),
    /** Records a release's dependencies. */
    insertDeps: SqlSchema.void({
      Request: Schema.Struct({
        releaseId: Schema.Number,
        deps: Schema.Record({ key: Schema.String, value: Schema.String })
      }),
      execute: (r) => {
        const rows = Object.entries(r.deps).map(([dep_name, dep_range]) => ({
          release_id: r.releaseId,
          dep_name,
          dep_range
        }))
        return rows.length === 0 ? Effect.void : sql`INSERT INTO release_deps ${sql.insert(rows)}`
      }
    }),
    /** Adds `n` downloads to a release; returns its package id (none: no such release). */
    addDownloads: SqlSchema.findOne({
      Request: Schema.Struct({ nameNorm: Schema.String, version: Schema.String, n: Schema.Number }),
      Result: Schema.Struct({ packageId: Schema.propertySignature(IntColumn).pipe(Schema.fromKey("package_id")) }),
      execute: (r) =>
        sql`UPDATE releases SET downloads = downloads + ${r.n}
          WHERE name_norm = ${r.nameNorm} AND version = ${r.version} RETURNING package_id`
    }),
    /** Adds `n` downloads to a package. */
    addPackageDownloads: SqlSchema.void({
      Request: Schema.Struct({ packageId: Schema.Number, n: Schema.Number }),
      execute: (r) => sql`UPDATE packages SET downloads = downloads + ${r.n} WHERE id = ${r.packageId}`
    }),
    /** Sets a release's yank flag and reason; returns its row (none: no such release). */
    setYank: SqlSchema.findOne({
      Request: Schema.Struct({
        nameNorm: Schema.String,
        version: Schema.String,
        yanked: FlagColumn,
        reason: Schema.NullOr(Schema.String)
      }),
      Result: ReleaseWithPackage,
      execute: (r) =>
        sql`UPDATE releases SET yanked = ${r.yanked}, yank_reason = ${r.reason}
          WHERE name_norm = ${r.nameNorm} AND version = ${r.version} RETURNING *`
    }),
    /** Removes a release (its row, its dependencies, its package's pointer to it) and tombstones its key. */
    deleteRelease: SqlSchema.void({
      Request: Schema.Struct({
        releaseId: Schema.Number,
        packageId: Schema.Number,
        nameNorm: Schema.String,
        version: Schema.String,
        at: Schema.String
      }),
      execute: (r) =>
        Effect.all([
          sql`UPDATE packages SET latest_release_id = NULL WHERE id = ${r.packageId} AND latest_release_id = ${r.releaseId}`,
          sql`DELETE FROM release_deps WHERE release_id = ${r.releaseId}`,
          sql`DELETE FROM releases WHERE id = ${r.releaseId}`,
          sql`UPDATE release_keys SET deleted_at = ${r.at} WHERE name_norm = ${r.nameNorm} AND version = ${r.version}`
        ], { discard: true })
    }),
    /** Removes a package row that has no release left. */
    deleteEmptyPackage: SqlSchema.void({
      Request: Schema.Number,
      execute: (packageId) =>
        sql`DELETE FROM packages WHERE id = ${packageId}
          AND NOT EXISTS (SELECT 1 FROM releases WHERE package_id = ${packageId})`
    }),
    /** Tokens named `name`, oldest first. */
    tokensNamed: SqlSchema.findAll({
      Request: Schema.String,
      Result: TokenRowSchema,
      execute: (name) => sql`SELECT * FROM tokens WHERE name = ${name} ORDER BY id`
    }),
    /** The token with id `id`. */
    tokenById: SqlSchema.findAll({
      Request: Schema.Number,
      Result: TokenRowSchema,
      execute: (id) => sql`SELECT * FROM tokens WHERE id = ${id}`
    }),
    /** The token whose SHA-256 is `hash`. */
    tokenByHash: SqlSchema.findOne({
      Request: Schema.String,
      Result: TokenRowSchema,
      execute: (hash) => sql`SELECT * FROM tokens WHERE hash = ${hash}`
    }),
    /** Every token, oldest first. */
    allTokens: SqlSchema.findAll({
      Request: Schema.Void,
      Result: TokenRowSchema,
      execute: () => sql`SELECT * FROM tokens ORDER BY id`
    }),
    /** Inserts a token; returns its row. */
    insertToken: single({
      Request: Schema.Struct({
        name: Schema.String,
        prefix: Schema.String,
        hash: Schema.String,
        scope: TokenScope,
        createdAt: Schema.String,
        expiresAt: Schema.NullOr(Schema.String)
      }),
      Result: TokenRowSchema,
      execute: (t) =>
        sql`INSERT INTO tokens ${
          sql.insert({
            name: t.name,
            prefix: t.prefix,
            hash: t.hash,
            scope: t.scope,
            created_at: t.createdAt,
            expires_at: t.expiresAt,
            revoked_at: null
          })
        } RETURNING *`
    }),
    /** Marks a token revoked at `at` (kept when it already was); returns its row. */
    revokeToken: SqlSchema.findOne({
      Request: Schema.Struct({ id: Schema.Number, at: Schema.String }),
      Result: TokenRowSchema,
      execute: (r) => sql`UPDATE tokens SET revoked_at = coalesce(revoked_at, ${r.at}) WHERE id = ${r.id} RETURNING *`
    }),
    /**
     * Recomputes a package's latest release and versions from its releases (inside the caller's
     * transaction); returns them and whether any release is left.
     */
    refreshLatest: (
      packageId: number
    ): Effect.Effect<
      { readonly versions: ReadonlyArray<string>; readonly latest: string | null; readonly hasReleases: boolean },
      SqlError | ParseError
    > =>
      Effect.gen(function*() {
        const releases = yield* versionsOf(packageId)
        const latest = latestOf(releases) ?? null
        const latestId = releases.find((r) => r.version === latest)?.id ?? releases[0]?.id ?? null
        const versions = sortVersions(releases.map((r) => r.version))
        yield* setLatest({ packageId, latestId, latest, versions })
        return { versions, latest, hasReleases: releases.length > 0 }
      })
  }
}

/**
 * The typed statements of a store.
 * @since 0.1.0
 * @category models
 */
export type SqlQueries = ReturnType<typeof makeSqlQueries>
