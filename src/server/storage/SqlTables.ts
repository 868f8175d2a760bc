/**
 * The registry's tables, written once for both dialects: the first migration of SQLite
 * (`SqlitePackageStore.migrations`) and of PostgreSQL (`PgMigrations.migrations`) both run
 * {@link createRegistryTables}, with the dialect's integer and identity column types. What the
 * statements query is described in `SqlQueries.ts`; each dialect adds its own search index in its
 * own migrations.
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

/**
 * A dialect's column types for the shared tables.
 * @since 0.1.0
 * @category models
 */
export interface SqlColumnTypes {
  /** Ids, sizes and counts: `INTEGER` (SQLite, 64-bit) or `BIGINT` (PostgreSQL). */
  readonly integer: "INTEGER" | "BIGINT"
  /** A generated primary key: `INTEGER PRIMARY KEY AUTOINCREMENT` or `BIGINT GENERATED ... IDENTITY PRIMARY KEY`. */
  readonly identity: string
}

/**
 * Creates `packages`, `releases`, `release_deps`, `release_keys` and `tokens` with their indexes.
 * @since 0.1.0
 * @category migrations
 */
export const createRegistryTables = (
  types: SqlColumnTypes
): Effect.Effect<void, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const integer = sql.literal(types.integer)
    const identity = sql.literal(types.identity)
    yield* sql`CREATE TABLE packages (
      id ${identity},
      name_norm TEXT NOT NULL UNIQUE,
      name TEXT NOT NULL,
      latest_release_id ${integer},
      latest_version TEXT,
      versions_json TEXT NOT NULL DEFAULT '[]',
      downloads ${integer} NOT NULL DEFAULT 0,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL
    )`
    yield* sql`CREATE INDEX packages_updated ON packages (updated_at)`
    yield* sql`CREATE TABLE releases (
      id ${identity},
      package_id ${integer} NOT NULL,
      name TEXT NOT NULL,
      name_norm TEXT NOT NULL,
      version TEXT NOT NULL,
      description TEXT NOT NULL DEFAULT '',
      author TEXT, author_email TEXT, license TEXT, category TEXT, homepage TEXT, repository TEXT,
      tags_json TEXT NOT NULL DEFAULT '[]',
      components_json TEXT NOT NULL DEFAULT '[]',
      component_count INTEGER NOT NULL DEFAULT 0,
      python_requirements_json TEXT NOT NULL DEFAULT '[]',
      deps_json TEXT NOT NULL DEFAULT '{}',
      flowmason_version TEXT, kind TEXT,
      checksum TEXT NOT NULL,
      size_bytes ${integer} NOT NULL,
      downloads ${integer} NOT NULL DEFAULT 0,
      published_at TEXT NOT NULL,
      yanked INTEGER NOT NULL DEFAULT 0,
      yank_reason TEXT,
      UNIQUE (name_norm, version)
    )`
    yield* sql`CREATE INDEX releases_package ON releases (package_id)`
    yield* sql`CREATE INDEX releases_category ON releases (category)`
    // the start-up blob sweep lists every checksum: a covering index instead of a table scan + sort
    yield* sql`CREATE INDEX releases_checksum ON releases (checksum)`
    yield* sql`CREATE TABLE release_deps (
      release_id ${integer} NOT NULL,
      dep_name TEXT NOT NULL,
      dep_range TEXT NOT NULL,
      PRIMARY KEY (release_id, dep_name)
    )`
    yield* sql`CREATE INDEX release_deps_name ON release_deps (dep_name)`
    yield* sql`CREATE TABLE release_keys (
      name_norm TEXT NOT NULL,
      version TEXT NOT NULL,
      published_at TEXT NOT NULL,
      deleted_at TEXT,
      PRIMARY KEY (name_norm, version)
    )`
    yield* sql`CREATE TABLE tokens (
      id ${identity},
      name TEXT NOT NULL,
      prefix TEXT NOT NULL,
      hash TEXT NOT NULL UNIQUE,
      scope TEXT NOT NULL,
      created_at TEXT NOT NULL,
      expires_at TEXT,
      revoked_at TEXT
    )`
  })
