/**
 * How a SQL store keeps read caches on a database that other processes write too (PostgreSQL
 * replicas): every write transaction announces itself ({@link CacheCoherence.announce}, delivered
 * to the other processes when it commits), each process hears the others' announcements
 * ({@link CacheCoherence.onChange}) and drops what they made stale, and while it cannot hear them
 * (its listening connection is down) nothing is served from a cache ({@link CacheCoherence.live}).
 *
 * The SQL store (`SqlPackageStore.makeSql`) consumes this; `pg/PgCacheInvalidation` implements it
 * with `LISTEN/NOTIFY` and a generation number in the database.
 * @since 0.1.0
 */
import type { SqlError } from "@effect/sql/SqlError"
import type { Effect } from "effect"

/**
 * What a write changed: releases (publish, yank, unyank, delete) or only download counts.
 * @since 0.1.0
 * @category models
 */
export type WriteKind = "releases" | "downloads"

/**
 * What another process did: a write of a kind, or `unknown` when writes may have been missed (the
 * listening connection was lost or came back): then every cached answer goes.
 * @since 0.1.0
 * @category models
 */
export type Change = WriteKind | "unknown"

/**
 * Cache coherence across the processes sharing one database.
 * @since 0.1.0
 * @category models
 */
export interface CacheCoherence {
  /**
   * Run inside every write transaction: records the write in the database (a new generation) and
   * tells the other processes when the transaction commits (nothing when it rolls back).
   */
  readonly announce: (kind: WriteKind) => Effect.Effect<void, SqlError>
  /** Registers `f`, called for every write another process committed and every possible miss. */
  readonly onChange: (f: (change: Change) => void) => void
  /** Whether the other processes' writes are heard right now; while false no cached read may be served. */
  readonly live: () => boolean
}
