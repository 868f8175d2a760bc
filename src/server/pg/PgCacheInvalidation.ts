/**
 * Coherent read caches on PostgreSQL replicas (a {@link CacheCoherence} over `LISTEN/NOTIFY`).
 *
 * - Every write transaction of the store runs {@link CacheCoherence.announce}: one statement that
 *   takes the next value of the `cache_generation` sequence and `pg_notify`s it on the
 *   {@link CHANNEL} channel with the kind of write and this replica's id. PostgreSQL delivers the
 *   notification to every listening replica when (and only if) the transaction commits.
 * - Each replica holds one connection of its own (not from the pool) that `LISTEN`s on the
 *   channel. A notification from another replica drops the cached answers it made stale; this
 *   replica's own are skipped (its writes drop its caches as they end).
 * - The generation guards against what a notification cannot tell: when the listening connection
 *   is lost (killed, network cut, database restart) the replica is at once not `live` (no cached
 *   answer is served, every read goes to the database) and keeps reconnecting; once it listens
 *   again it reads the generation and drops its whole cache. A heartbeat reads the generation on
 *   the listening connection every {@link PgCacheInvalidationOptions.heartbeat}: a failure or a
 *   time-out counts as a lost connection (a silent network cut), a generation ahead of every
 *   notification heard drops the whole cache.
 *
 * The listening connection is named `<applicationName>-listen-<pid>` in `pg_stat_activity`.
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import { Context, Deferred, Duration, Effect, Exit, Layer, Redacted, Schema } from "effect"
import type { Scope } from "effect"
import { randomBytes } from "node:crypto"
import * as Pg from "pg"
import type { CacheCoherence, Change, WriteKind } from "../storage/CacheCoherence.js"
import { describeCause } from "./PgDatabase.js"

/**
 * The notification channel.
 * @since 0.1.0
 */
export const CHANNEL = "fm_cache"

/**
 * How a replica hears the others' writes.
 * @since 0.1.0
 * @category models
 */
export interface PgCacheInvalidationOptions {
  /** `postgres://user:password@host:port/database`. */
  readonly url: string | Redacted.Redacted<string>
  /** Prefix of the listening connection's `application_name` (default `fm-registry`). */
  readonly applicationName?: string | undefined
  /** How often the listening connection is checked, and how long the check may take (default 1 s). */
  readonly heartbeat?: Duration.DurationInput | undefined
  /** How long to wait before connecting again after the connection was lost or refused (default 200 ms). */
  readonly retryDelay?: Duration.DurationInput | undefined
}

/**
 * The coherence of this replica's caches with the other replicas' writes.
 * @since 0.1.0
 * @category tags
 */
export class PgCacheInvalidation extends Context.Tag("fm/server/pg/PgCacheInvalidation")<
  PgCacheInvalidation,
  CacheCoherence
>() {}

const PAYLOAD = /^([rd]):([0-9a-f]{12}):(\d{1,20})$/

class ListenLost extends Error {}

/** The one row of `SELECT last_value::text AS g FROM cache_generation`: a sequence value as text. */
const decodeGeneration = Schema.decodeUnknown(
  Schema.Tuple(Schema.Struct({ g: Schema.BigInt }))
    .pipe(Schema.transform(Schema.BigIntFromSelf, { strict: true, decode: ([row]) => row.g, encode: (g) => [{ g }] }))
)

/**
 * Starts listening (in the background, for as long as the scope lasts) and returns the coherence
 * service. `announce` runs on the `SqlClient` in context (inside the caller's transaction).
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: PgCacheInvalidationOptions
): Effect.Effect<CacheCoherence, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const url = typeof options.url === "string" ? Redacted.make(options.url) : options.url
    const heartbeat = Duration.decode(options.heartbeat ?? Duration.seconds(1))
    const retryDelay = Duration.decode(options.retryDelay ?? Duration.millis(200))
    const applicationName = `${options.applicationName ?? "fm-registry"}-listen-${process.pid}`.slice(0, 63)
    const replicaId = randomBytes(6).toString("hex")

    const subscribers: Array<(change: Change) => void> = []
    const emit = (change: Change) => {
      for (const f of subscribers) f(change)
    }
    let live = false
    // the highest generation heard of (notifications, own included, and heartbeats)
    let known = 0n

    const heard = (payload: string | undefined) => {
      const m = PAYLOAD.exec(payload ?? "")
      if (m === null) return emit("unknown")
      const generation = BigInt(m[3] ?? "0")
      if (generation > known) known = generation
      if (m[2] === replicaId) return
      emit(m[1] === "r" ? "releases" : "downloads")
    }

    const attempt = <A>(what: string, f: () => Promise<A>) =>
      Effect.tryPromise({ try: f, catch: (cause) => new ListenLost(`${what}: ${describeCause(cause)}`) })

    const readGeneration = (client: Pg.Client) =>
      attempt("read the cache generation", () => client.query("SELECT last_value::text AS g FROM cache_generation"))
        .pipe(
          Effect.flatMap((result) => decodeGeneration(result.rows)),
          Effect.mapError((e) =>
            e instanceof ListenLost ? e : new ListenLost(`read the cache generation: ${describeCause(e)}`)
          )
        )

    /** One listening session: connects, listens, beats until the connection is lost. Never succeeds. */
    const session = Effect.scoped(
      Effect.gen(function*() {
        const lost = yield* Deferred.make<void, ListenLost>()
        const fail = (why: string) => {
          // from this moment on nothing cached is served (the session's end drops the cache too)
          live = false
          Deferred.unsafeDone(lost, Exit.fail(new ListenLost(why)))
        }
        const client = yield* Effect.acquireRelease(
          Effect.sync(() => {
            const c = new Pg.Client({
              connectionString: Redacted.value(url),
              application_name: applicationName,
              keepAlive: true,
              connectionTimeoutMillis: 5_000
            })
            c.on("error", (e) => fail(describeCause(e)))
            c.on("end", () => fail("the connection ended"))
            c.on("notification", (msg) => {
              if (msg.channel === CHANNEL) heard(msg.payload)
            })
            return c
          }),
          (c) => Effect.promise(() => c.end().catch(() => undefined)).pipe(Effect.timeoutOption(Duration.seconds(1)))
        )
        yield* attempt("connect", () => client.connect())
        yield* attempt("listen", () => client.query(`LISTEN ${CHANNEL}`))
        known = yield* readGeneration(client)
        // whatever was written while nobody listened is unknown: everything cached goes
        live = true
        emit("unknown")
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            live = false
            emit("unknown")
          })
        )
        const beat = Effect.gen(function*() {
          yield* Effect.sleep(heartbeat)
          const generation = yield* readGeneration(client).pipe(
            Effect.timeoutFail({ duration: heartbeat, onTimeout: () => new ListenLost("the heartbeat timed out") })
          )
          if (generation > known) {
            known = generation
            emit("unknown")
          }
        })
        return yield* Effect.raceFirst(Deferred.await(lost), Effect.forever(beat))
      })
    )

    yield* session.pipe(
      Effect.catchAll((e) =>
        Effect.zipRight(
          Effect.logWarning(`cache invalidation: ${e.message}; reads go to the database until it listens again`),
          Effect.sleep(retryDelay)
        )
      ),
      Effect.forever,
      Effect.forkScoped
    )

    const announce = (kind: WriteKind) =>
      sql`SELECT pg_notify(${CHANNEL}, ${
        kind === "releases" ? "r" : "d"
      } || ${`:${replicaId}:`} || nextval('cache_generation')::text)`
        .pipe(Effect.asVoid)

    return {
      announce,
      onChange: (f) => void subscribers.push(f),
      live: () => live
    } satisfies CacheCoherence
  })

/**
 * {@link PgCacheInvalidation} on the `SqlClient` in context (whose database holds the
 * `cache_generation` sequence of the migrations) and its own listening connection to `options.url`.
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: PgCacheInvalidationOptions
): Layer.Layer<PgCacheInvalidation, never, SqlClient.SqlClient> => Layer.scoped(PgCacheInvalidation, make(options))
