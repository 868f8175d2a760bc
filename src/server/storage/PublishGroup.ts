/**
 * Group commit of publishes. Publishes queue here; whoever holds the writer lock takes every
 * queued one (up to {@link MAX_PUBLISH_GROUP}) and writes them in ONE transaction, each in a
 * savepoint of its own (a conflict fails only its own publish; a group of one needs none: its
 * failure rolls back the whole transaction), announces the group's writes to the other processes
 * once, then makes the commit durable (`syncCommitted`) once for the group; only then is any
 * publish of the group answered. Publishes that arrive meanwhile form the next group, so under
 * load a commit and its fsync serve many publishes and alone a publish pays for one of each.
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Deferred, Effect, Exit } from "effect"
import type { NewRelease, PublishedRelease, StoreError, VersionExists } from "./PackageStore.js"

/**
 * Most publishes written in one transaction (one group commit).
 * @since 0.1.0
 * @category constants
 */
export const MAX_PUBLISH_GROUP = 64

/**
 * What the group commit needs from the store.
 * @since 0.1.0
 * @category models
 */
export interface PublishGroupOptions {
  /**
   * One publish's writes, run inside the group's transaction (in a savepoint of its own when the
   * group has more than one publish). A failure must leave nothing written once rolled back.
   */
  readonly publishOne: (release: NewRelease) => Effect.Effect<PublishedRelease, VersionExists | StoreError>
  /** Tells the other processes of the group's writes (inside its transaction, once, when any publish succeeded). */
  readonly announce: Effect.Effect<void, StoreError>
  /** The error a failed group transaction (its begin or commit) becomes. */
  readonly fail: (operation: string) => (cause: SqlError) => StoreError
  /** Makes the group's commit durable when the commit itself does not (see `SqlDialect`). */
  readonly syncCommitted: Effect.Effect<void, StoreError> | undefined
  /** Wraps the group's write (drops caches, counts the write). */
  readonly releasing: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E>
}

/**
 * The store's `publish`, through a group commit.
 * @since 0.1.0
 * @category constructors
 */
export const makePublishGroup = (
  options: PublishGroupOptions
): Effect.Effect<
  (release: NewRelease) => Effect.Effect<PublishedRelease, StoreError | VersionExists>,
  never,
  SqlClient.SqlClient
> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    type Outcome = Exit.Exit<PublishedRelease, StoreError | VersionExists>
    const queued: Array<
      { readonly release: NewRelease; readonly done: Deferred.Deferred<PublishedRelease, StoreError | VersionExists> }
    > = []
    const writer = yield* Effect.makeSemaphore(1)
    const writeGroup = Effect.suspend(() => {
      const group = queued.splice(0, MAX_PUBLISH_GROUP)
      if (group.length === 0) return Effect.void
      const only = group.length === 1 ? group[0] : undefined
      const writes: Effect.Effect<ReadonlyArray<Outcome>, StoreError | VersionExists> = only !== undefined
        ? Effect.map(options.publishOne(only.release), (row) => [Exit.succeed(row)])
        : Effect.forEach(group, (p) =>
          sql.withTransaction(options.publishOne(p.release)).pipe(
            Effect.catchTag(
              "SqlError",
              (e) => Effect.fail(options.fail(`publish ${p.release.name}@${p.release.version}`)(e))
            ),
            Effect.exit
          ))
      const written = sql.withTransaction(
        Effect.tap(writes, (outcomes) => outcomes.some(Exit.isSuccess) ? options.announce : Effect.void)
      ).pipe(
        Effect.catchTag("SqlError", (e) => Effect.fail(options.fail(`publish ${group.length} release(s)`)(e))),
        Effect.tap(() => options.syncCommitted ?? Effect.void),
        options.releasing
      )
      return Effect.flatMap(Effect.exit(written), (exit) =>
        Effect.forEach(group, (p, i) => {
          const outcome: Outcome = Exit.isSuccess(exit)
            ? (exit.value[i] ?? Exit.die("lost publish"))
            : Exit.failCause(exit.cause)
          return Deferred.done(p.done, outcome)
        }, { discard: true }))
    })
    // untraced: once per upload, where a span per call (a captured stack) is a cost of its own
    return Effect.fnUntraced(function*(release: NewRelease) {
      const done = yield* Deferred.make<PublishedRelease, StoreError | VersionExists>()
      queued.push({ release, done })
      // the group is written whole whatever happens to the fiber that writes it
      yield* Effect.uninterruptible(writer.withPermits(1)(writeGroup))
      return yield* Deferred.await(done)
    })
  })
