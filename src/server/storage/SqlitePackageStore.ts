/**
 * The SQLite metadata store (the embedded default): `@effect/sql-sqlite-node` on one file in WAL
 * mode with a busy timeout, the DDL as `Migrator.fromRecord` migrations (they survive bundling),
 * and search over an FTS5 table.
 *
 * SQLite-specific here (a PostgreSQL store supplies its own): the DDL in {@link migrations}
 * (`INTEGER PRIMARY KEY AUTOINCREMENT`, the `packages_fts` FTS5 virtual table), {@link dialect}
 * (`reindex` writes `packages_fts`, `search` uses `MATCH` and `bm25`), and the PRAGMAs. Everything
 * else is the shared `SqlPackageStore.makeSql`.
 * @since 0.1.0
 */
import { Migrator, SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer, Option, Schema } from "effect"
import type { Scope } from "effect"
import * as Fs from "node:fs"
import { normalizeName } from "../../domain/PackageName.js"
import { searchWords } from "../http/SearchQuery.js"
import { createLogTable } from "../log/LogTable.js"
import { restrictDatabaseFiles } from "./FileModes.js"
import * as SqlSchema from "./LazySqlSchema.js"
import type { SearchQuery } from "./PackageStore.js"
import { PackageStore, StoreError } from "./PackageStore.js"
import type { SqlDialect } from "./SqlDialect.js"
import { makeSql } from "./SqlPackageStore.js"
import { CountRow, IdRow } from "./SqlRows.js"
import { createRegistryTables } from "./SqlTables.js"
import * as WalCheckpointer from "./WalCheckpointer.js"

/**
 * Fsyncs of `file` by libuv's thread pool (the event loop never waits on the disk), through a
 * descriptor opened on the first fsync and kept (closed with the scope): one thread-pool round
 * trip per fsync instead of three (`open`, `fsync`, `close`). A file that does not exist (yet)
 * has nothing to sync; after a failed fsync the descriptor is closed and the next one reopens.
 * For a file that keeps its inode while the store runs: SQLite's `-wal`, which it resets in
 * place and removes only when the last connection closes.
 * @since 0.1.0
 * @category utils
 */
export const fileSyncer = (file: string): Effect.Effect<Effect.Effect<void, StoreError>, never, Scope.Scope> =>
  Effect.gen(function*() {
    let fd: number | undefined
    const drop = () => {
      if (fd !== undefined) Fs.close(fd, () => undefined)
      fd = undefined
    }
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        const open = fd
        fd = undefined
        if (open === undefined) return resume(Effect.void)
        Fs.close(open, () => resume(Effect.void))
      })
    )
    const failed = (cause: NodeJS.ErrnoException) => Effect.fail(new StoreError({ operation: `fsync ${file}`, cause }))
    const sync = (open: number) =>
      Effect.async<void, StoreError>((resume) =>
        Fs.fsync(open, (e) => {
          if (e === null) return resume(Effect.void)
          if (fd === open) drop()
          resume(failed(e))
        })
      )
    return Effect.suspend(() =>
      fd !== undefined ? sync(fd) : Effect.flatMap(
        Effect.async<number | undefined, StoreError>((resume) =>
          Fs.open(file, "r+", (e, opened) => {
            if (e === null) return resume(Effect.succeed(opened))
            resume(e.code === "ENOENT" ? Effect.succeed(undefined) : failed(e))
          })
        ),
        (opened) => {
          if (opened === undefined) return Effect.void
          // another fsync may have opened it meanwhile: keep one descriptor
          if (fd === undefined) fd = opened
          else Fs.close(opened, () => undefined)
          return sync(fd)
        }
      )
    )
  })

/**
 * A release's category as one index token: `c` and the hex of its UTF-8 bytes (`''` without one),
 * so that a category matches exactly, as one term of the index. As SQL over `r.category`, and as
 * the same text from a string.
 */
const CATEGORY_TOKEN = "CASE WHEN r.category IS NULL THEN '' ELSE 'c' || lower(hex(r.category)) END"
const categoryToken = (category: string): string => `c${Buffer.from(category, "utf8").toString("hex")}`

/**
 * The SQLite schema, as migrations keyed `<id>_<name>`.
 * @since 0.1.0
 * @category migrations
 */
export const migrations = {
  "0001_create_registry": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* createRegistryTables({ integer: "INTEGER", identity: "INTEGER PRIMARY KEY AUTOINCREMENT" })
    yield* sql`CREATE VIRTUAL TABLE packages_fts USING fts5(
      name, description, tags, components, tokenize = 'unicode61', prefix = '2 3'
    )`
  }),
  /** The checksum index (`SqlTables`), for databases made before 0001 created it. */
  "0002_releases_checksum_index": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE INDEX IF NOT EXISTS releases_checksum ON releases (checksum)`
  }),
  /**
   * Search within the event loop's budget: one-letter prefixes get their own prefix index, and the
   * category is in the index (a search in a category narrows in the index, not by joining every
   * match). The index is rebuilt from the latest releases.
   */
  "0003_search_category_prefix1": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`DROP TABLE packages_fts`
    yield* sql`CREATE VIRTUAL TABLE packages_fts USING fts5(
      name, description, tags, components, category, tokenize = 'unicode61', prefix = '1 2 3'
    )`
    yield* sql`INSERT INTO packages_fts (rowid, name, description, tags, components, category)
      SELECT p.id, p.name_norm, r.description, r.tags_json, r.components_json, ${sql.literal(CATEGORY_TOKEN)}
      FROM packages p JOIN releases r ON r.id = p.latest_release_id`
  }),
  /** The publish log (`src/server/log/LogTable.ts`), with every earlier release logged. */
  "0004_publish_log": createLogTable("INTEGER")
}

/**
 * How many matches of a query are ranked: the first the index yields. A broader query answers
 * from these (and the package named exactly as the query); `total_count` still counts every
 * match. Keeps one search well under 50 ms on 30,000 packages.
 * @since 0.1.0
 */
export const RANKED_MATCHES = 1000

/**
 * Turns a search into an FTS5 query: every word of `q` must match, each as a prefix, in the name,
 * description, tags or components; with a category, its column must hold that category's token.
 */
const ftsQuery = (q: string, category: string | undefined): string => {
  const words = searchWords(q).map((w) => `"${w}"*`)
  if (words.length === 0) return ""
  const text = `{name description tags components} : (${words.join(" ")})`
  return category === undefined ? text : `${text} AND category : ${categoryToken(category)}`
}

/**
 * The SQLite pieces of the SQL store: FTS5 indexing and ranked search.
 * @since 0.1.0
 * @category dialect
 */
export const dialect: Effect.Effect<SqlDialect, never, SqlClient.SqlClient | Scope.Scope> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // one statement either way: FTS5 replaces the entry of an existing rowid
  const reindex = (packageId: number, hasReleases: boolean) =>
    hasReleases
      ? sql`INSERT OR REPLACE INTO packages_fts (rowid, name, description, tags, components, category)
        SELECT p.id, p.name_norm, r.description, r.tags_json, r.components_json, ${sql.literal(CATEGORY_TOKEN)}
        FROM packages p JOIN releases r ON r.id = p.latest_release_id WHERE p.id = ${packageId}`.pipe(Effect.asVoid)
      : sql`DELETE FROM packages_fts WHERE rowid = ${packageId}`.pipe(Effect.asVoid)
  const namedId = SqlSchema.findOne({
    Request: Schema.String,
    Result: IdRow,
    execute: (exact) => sql`SELECT id FROM packages WHERE name_norm = ${exact}`
  })
  const rankedPage = SqlSchema.findAll({
    Request: Schema.Struct({
      match: Schema.String,
      exact: Schema.String,
      id: Schema.Number,
      limit: Schema.Number,
      offset: Schema.Number
    }),
    Result: IdRow,
    execute: (r) =>
      sql`WITH first AS MATERIALIZED (
          SELECT rowid AS id, bm25(packages_fts, 10.0, 1.0, 3.0, 2.0, 0.0) AS score
          FROM packages_fts WHERE packages_fts MATCH ${r.match} LIMIT ${RANKED_MATCHES}),
        hits AS (SELECT id, score FROM first UNION ALL SELECT ${r.id}, 0 WHERE ${r.id} NOT IN (SELECT id FROM first))
        SELECT p.id AS id FROM hits h JOIN packages p ON p.id = h.id
        ORDER BY (p.name_norm = ${r.exact}) DESC, h.score, p.downloads DESC, p.name_norm
        LIMIT ${r.limit} OFFSET ${r.offset}`
  })
  // every index row is a package with a latest release (see reindex): count the index alone
  const matchCount = SqlSchema.single({
    Request: Schema.String,
    Result: CountRow,
    execute: (match) => sql`SELECT count(*) AS n FROM packages_fts WHERE packages_fts MATCH ${match}`
  })
  const search = (query: SearchQuery) =>
    Effect.gen(function*() {
      const match = ftsQuery(query.q, query.category)
      if (match === "") return { ids: [], total: 0 }
      const exact = normalizeName(query.q.trim())
      const offset = (query.page - 1) * query.pageSize
      // Ranking costs the main thread per match, so a broad query ranks the first RANKED_MATCHES
      // matches the index yields, plus the package named exactly `q` (ranked first anyway).
      const named = yield* namedId(exact)
      const id = Option.match(named, { onNone: () => -1, onSome: (r) => r.id })
      const page = yield* rankedPage({ match, exact, id, limit: query.pageSize, offset })
      const total = yield* matchCount(match).pipe(
        Effect.catchTag("NoSuchElementException", () => Effect.succeed({ n: 0 }))
      )
      return { ids: page.map((r) => r.id), total: total.n }
    })
  // WAL with synchronous = NORMAL: a commit is in the -wal file but not synced; a group of
  // publishes is acknowledged after one fsync of it, off the main thread (a file database only)
  const files = yield* SqlSchema.findOne({
    Request: Schema.Void,
    Result: Schema.Struct({ file: Schema.String }),
    execute: () => sql`SELECT file FROM pragma_database_list WHERE name = 'main'`
  })().pipe(Effect.orDie)
  const file = Option.match(files, { onNone: () => "", onSome: (r) => r.file })
  const syncCommitted = file === "" ? undefined : yield* fileSyncer(`${file}-wal`)
  // checkpoints by a worker thread, not inside a COMMIT on the main thread
  const checkpointer = file === "" ? undefined : yield* WalCheckpointer.make(
    file,
    (pages) => sql`PRAGMA wal_autocheckpoint = ${sql.literal(String(Math.trunc(pages)))}`.pipe(Effect.ignore)
  )
  // bumped by every commit of another connection (only token commands write beside the server)
  const changedElsewhere = sql<{ readonly data_version: unknown }>`PRAGMA data_version`.pipe(
    Effect.map((rows) => {
      const v = rows[0]?.data_version
      // anything but a number never equals itself: nothing is kept
      return typeof v === "number" ? v : Number.NaN
    })
  )
  // a write that changes no row still takes the write lock when it starts (or waits for it)
  const writeLock = sql`UPDATE packages SET id = id WHERE 0`.pipe(Effect.asVoid)
  // the server holds the database file alone (token commands only touch tokens)
  return {
    backend: "sqlite",
    reindex,
    search,
    writeLock,
    singleWriter: true,
    changedElsewhere,
    ...(syncCommitted === undefined ? {} : { syncCommitted }),
    ...(checkpointer === undefined ? {} : { wrote: checkpointer.wrote })
  }
})

/**
 * The SQLite client for a database file: WAL mode (synchronous NORMAL), a 5 s busy timeout; the
 * file and its `-wal`/`-shm` are the server user's alone (`FileModes`).
 * @since 0.1.0
 * @category layers
 */
export const clientLayer = (
  filename: string
): Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient, StoreError> =>
  Layer.effectDiscard(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`PRAGMA busy_timeout = 5000`
      // WAL + NORMAL: a commit survives a process crash (kill -9) and the database stays
      // consistent, and no commit waits on an fsync on the main thread. Publishes are made
      // durable against a power loss too: one fsync of the -wal file per group, off the main
      // thread, before they are acknowledged (the dialect's `syncCommitted`).
      yield* sql`PRAGMA synchronous = NORMAL`
    })
  ).pipe(
    Layer.provideMerge(SqliteClient.layer({ filename })),
    Layer.provide(Layer.effectDiscard(Effect.try(() => {
      if (filename !== ":memory:") restrictDatabaseFiles(filename)
    }))),
    Layer.mapError((cause) => new StoreError({ operation: `open ${filename}`, cause }))
  )

/** The migrator's table of applied migrations (@effect/sql's default name, which existing databases have). */
const MIGRATIONS_TABLE = "effect_sql_migrations"

/**
 * Runs the migrations on the SQL client in context: @effect/sql's migrator without the schema
 * dump of `SqliteMigrator` (which needs a `CommandExecutor`, a `FileSystem` and a `Path` for the
 * `sqlite3` binary), so nothing but the `SqlClient` is required. Then it waits for any other
 * process still migrating the same file (`fm studio start` and `fm studio token create` on a new
 * data directory): the migrator leaves the migrations to whichever process claimed them first
 * and returns at once, before that process has committed its tables; a write of no row to the
 * migrations table waits (busy timeout) until the other process's migration transaction ends.
 * @since 0.1.0
 * @category layers
 */
export const migratorLayer: Layer.Layer<never, StoreError, SqlClient.SqlClient> = Layer.effectDiscard(
  Effect.zipRight(
    Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: MIGRATIONS_TABLE }),
    // only ever a wait: a database that refuses it (read-only) or a wait past the busy timeout
    // leaves the store as it would have been without it
    Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.ignore(sql`DELETE FROM ${sql(MIGRATIONS_TABLE)} WHERE 0`))
  )
).pipe(Layer.mapError((cause) => new StoreError({ operation: "migrate the registry database", cause })))

/**
 * The store on the SQLite client in context (migrated first).
 * @since 0.1.0
 * @category layers
 */
export const layerFromClient: Layer.Layer<PackageStore, StoreError, SqliteClient.SqliteClient | SqlClient.SqlClient> =
  Layer.scoped(PackageStore, Effect.flatMap(dialect, makeSql)).pipe(Layer.provide(migratorLayer))

/**
 * The SQLite store on the database file `filename` (created and migrated when missing).
 * @since 0.1.0
 * @category layers
 */
export const layer = (filename: string): Layer.Layer<PackageStore, StoreError> =>
  layerFromClient.pipe(Layer.provide(clientLayer(filename)))
