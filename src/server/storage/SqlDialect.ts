/**
 * What a SQL dialect supplies to the shared store (`SqlPackageStore.makeSql`): its search index
 * and search, and how it serializes, caches and makes commits durable. Its migrations create the
 * shared tables (`SqlTables.ts`) plus its own search index.
 * @since 0.1.0
 */
import type { SqlError } from "@effect/sql/SqlError"
import type { Effect } from "effect"
import type { ParseError } from "effect/ParseResult"
import type { CacheCoherence } from "./CacheCoherence.js"
import type { SearchQuery, StoreError } from "./PackageStore.js"

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
  readonly reindex: (packageId: number, hasReleases: boolean) => Effect.Effect<void, SqlError | ParseError>
  /**
   * Ranked ids (`packages.id`) of the packages matching a NON-empty `q` (exact normalized name
   * first, then relevance, then `packages.downloads`), for the requested page, and the total count.
   * Filter on `category` (the latest release's, exact) when given.
   */
  readonly search: (
    query: SearchQuery
  ) => Effect.Effect<{ readonly ids: ReadonlyArray<number>; readonly total: number }, SqlError | ParseError>
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
   * Takes the database's write lock as the first statement of a write transaction whose first
   * statement would otherwise read. SQLite: a statement that writes nothing; without it, another
   * connection's commit between the transaction's first read and its first write fails it at
   * once (`SQLITE_BUSY_SNAPSHOT`, which no busy timeout waits out), while with it the transaction
   * waits for the other writer and reads what it wrote. Unset: nothing to take (PostgreSQL).
   */
  readonly writeLock?: Effect.Effect<void, SqlError>
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
  /**
   * Runs after each write of the store (its transaction ended, whatever its outcome): SQLite
   * asks its checkpoint worker for a checkpoint (`WalCheckpointer`). Unset: nothing to do.
   */
  readonly wrote?: Effect.Effect<void>
  /**
   * A number that changes whenever another connection (another process: `fm studio token`, a
   * `sqlite3` shell) commits to the database, read on this store's own connection (SQLite:
   * `PRAGMA data_version`). With it, tokens are kept in memory between such changes and this
   * store's own token writes; unset (a database any SQL client may change unheard, as PostgreSQL
   * replicas'), every token check reads the database.
   */
  readonly changedElsewhere?: Effect.Effect<number, SqlError>
}
