/**
 * The PostgreSQL connection of a registry replica: an `@effect/sql-pg` pool (`PgClient`) on a
 * `postgres://` URL, its migrations, a connectivity probe for `health`, and error messages that
 * say what failed without leaking the password.
 *
 * The pool reconnects by itself: a connection that dies (server restart, `pg_terminate_backend`,
 * network cut) fails the statement it was running with a `StoreError` (503 at the API) and is
 * dropped from the pool; the next statement opens a fresh one. No replica restart is needed.
 * @since 0.1.0
 */
import type { SqlClient } from "@effect/sql"
import { SqlClient as SqlClientTag } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect, Layer, Option, Redacted } from "effect"
import { redactUrl } from "../selection/StorageOptions.js"
import { StoreError } from "../storage/PackageStore.js"
import { migrate } from "./PgMigrations.js"

export {
  /**
   * Whether a URL is a `postgres://` / `postgresql://` one (see `StorageOptions`).
   * @since 0.1.0
   */
  isPostgresUrl,
  /**
   * The URL with its password hidden (see `StorageOptions`).
   * @since 0.1.0
   */
  redactUrl
} from "../selection/StorageOptions.js"

/**
 * How a replica connects to PostgreSQL.
 * @since 0.1.0
 * @category models
 */
export interface PgDatabaseOptions {
  /** `postgres://user:password@host:port/database` (or `postgresql://`). */
  readonly url: string | Redacted.Redacted<string>
  /** Pool size per replica (default 10). */
  readonly maxConnections?: number | undefined
  /** How long to wait for a new connection before failing the request (default 5 s). */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Shown in `pg_stat_activity.application_name` (default `fm-registry`). */
  readonly applicationName?: string | undefined
}

const urlOf = (options: PgDatabaseOptions): Redacted.Redacted<string> =>
  typeof options.url === "string" ? Redacted.make(options.url) : options.url

/**
 * The most specific message in an error chain (a `SqlError` wraps the driver's error, which says
 * what actually happened: `connection refused`, `terminating connection due to administrator
 * command`, ...).
 * @since 0.1.0
 */
export const describeCause = (cause: unknown): string => {
  const messages: Array<string> = []
  let current: unknown = cause
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (typeof current === "object") {
      const message = "message" in current ? String(current.message) : ""
      const code = "code" in current && current.code !== undefined ? String(current.code) : ""
      if (message !== "" && !messages.includes(message)) messages.push(code === "" ? message : `${message} (${code})`)
      current = "cause" in current ? current.cause : undefined
    } else {
      messages.push(String(current))
      current = undefined
    }
  }
  return messages.length === 0 ? String(cause) : messages.join(": ")
}

/**
 * A `StoreError` whose cause carries the whole chain of messages (and never the password).
 * @since 0.1.0
 * @category errors
 */
export const pgStoreError = (operation: string, cause: unknown): StoreError =>
  new StoreError({ operation, cause: new Error(describeCause(cause), { cause }) })

/**
 * Turns a `SqlError` raised as a defect into a typed failure. `@effect/sql` runs a transaction's
 * COMMIT and ROLLBACK with `orDie`, so a connection killed mid-transaction surfaces as a defect
 * (a 500); with this it is a `StoreError`-like failure (a 503) like any other database outage.
 * (When COMMIT itself is cut off the transaction may or may not have committed; either way it is
 * all or nothing.)
 * @since 0.1.0
 */
export const catchSqlDefects =
  <E2>(onSqlError: (error: SqlError) => E2) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | E2, R> =>
    Effect.catchSomeDefect(
      effect,
      (defect) => defect instanceof SqlError ? Option.some(Effect.fail(onSqlError(defect))) : Option.none()
    )

/**
 * The pool on `options.url`, as `PgClient` and the generic `SqlClient`. Building it checks the
 * connection once (`SELECT 1`); it fails with a `StoreError` naming the (redacted) URL.
 * @since 0.1.0
 * @category layers
 */
export const clientLayer = (
  options: PgDatabaseOptions
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, StoreError> => {
  const url = urlOf(options)
  return PgClient.layer({
    url,
    maxConnections: options.maxConnections ?? 10,
    connectTimeout: options.connectTimeout ?? Duration.seconds(5),
    idleTimeout: Duration.seconds(30),
    applicationName: options.applicationName ?? "fm-registry"
  }).pipe(
    Layer.mapError((cause) => pgStoreError(`connect to ${redactUrl(Redacted.value(url))}`, cause))
  )
}

/**
 * Runs the pending migrations on the client in context (see `PgMigrations.migrate`) and returns
 * the ones applied.
 * @since 0.1.0
 * @category migrations
 */
export const runMigrations: Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  StoreError,
  SqlClient.SqlClient
> = migrate.pipe(Effect.mapError((cause) => pgStoreError("migrate the PostgreSQL registry database", cause)))

/**
 * Runs the migrations when the layer is built (replicas migrate at start; it is a no-op once done).
 * @since 0.1.0
 * @category layers
 */
export const migratorLayer: Layer.Layer<never, StoreError, SqlClient.SqlClient> = Layer.effectDiscard(runMigrations)

/**
 * The pool on `options.url`, migrated.
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: PgDatabaseOptions): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, StoreError> =>
  Layer.provideMerge(migratorLayer, clientLayer(options))

/**
 * Connects to `options.url`, applies the pending migrations, disconnects: what
 * `fm studio migrate --database-url ...` does. Returns the migrations applied (`[id, name]`).
 * @since 0.1.0
 * @category migrations
 */
export const migrateDatabase = (
  options: PgDatabaseOptions
): Effect.Effect<ReadonlyArray<readonly [id: number, name: string]>, StoreError> =>
  runMigrations.pipe(Effect.provide(clientLayer({ ...options, maxConnections: 2 })))

/**
 * One round trip to the database (`SELECT 1`), for `health`: fails with a `StoreError` when
 * PostgreSQL is unreachable; times out after `timeout` (default 3 s).
 * @since 0.1.0
 */
export const ping = (
  timeout: Duration.DurationInput = Duration.seconds(3)
): Effect.Effect<void, StoreError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClientTag.SqlClient, (sql) =>
    sql`SELECT 1`.pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => new Error(`no answer within ${Duration.format(timeout)}`)
      }),
      Effect.mapError((cause) => pgStoreError("reach PostgreSQL", cause)),
      Effect.asVoid
    ))
