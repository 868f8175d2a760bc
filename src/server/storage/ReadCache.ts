/**
 * The SQL store's read cache: answers kept in memory while no write has happened since they were
 * read. Entries carry the write generation they were read in and count only while it is current;
 * every write of this store bumps it after its commit, and so does every write another process
 * announces (`CacheCoherence`). While the other processes' writes cannot be heard, nothing is
 * served from or kept in the cache.
 *
 * Used only when the store may cache: it is the single writer of its database (embedded SQLite),
 * or it hears the other writers (`coherence`). Otherwise every read goes to the database.
 * @since 0.1.0
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import type { CacheCoherence, WriteKind } from "./CacheCoherence.js"

/** Most entries kept, over every kind of answer; past it the cache starts again empty. */
const CACHE_LIMIT = 2048

/**
 * A cache for one kind of answer, `A`: `cached(key, read)` answers from it while the write
 * generation is current, else runs `read` and keeps its value.
 * @since 0.1.0
 * @category models
 */
export type Cached<A> = <E>(key: string, read: Effect.Effect<A, E>) => Effect.Effect<A, E>

/**
 * The read cache of one store.
 * @since 0.1.0
 * @category models
 */
export interface ReadCache {
  /** A new cache for one kind of answer (each map holds values of one type). */
  readonly make: <A>() => Cached<A>
  /** Wraps a write: the cache is dropped when it ends, whatever its outcome. */
  readonly writing: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Tells the other processes (if any) of a write when its transaction commits. */
  readonly announce: (kind: WriteKind) => Effect.Effect<void, SqlError>
  /** Writes of release data (kind `releases`) and of counts (`downloads`) other processes announced. */
  readonly otherWrites: () => { readonly releases: number; readonly downloads: number }
  /** False when the cache cannot be trusted (the other processes' writes cannot be heard). */
  readonly live: () => boolean
}

/**
 * A read cache. `caching` false: every `make` gives a pass-through (each read goes to the database).
 * @since 0.1.0
 * @category constructors
 */
export const makeReadCache = (caching: boolean, coherence: CacheCoherence | undefined): ReadCache => {
  const caches: Array<Map<string, unknown>> = []
  let generation = 0
  let otherReleaseWrites = 0
  let otherCountWrites = 0
  const clear = () => {
    generation++
    for (const c of caches) c.clear()
  }
  coherence?.onChange((change) => {
    clear()
    if (change === "downloads") otherCountWrites++
    else otherReleaseWrites++
  })
  const live = () => coherence === undefined || coherence.live()
  const make = <A>(): Cached<A> => {
    if (!caching) return (_key, read) => read
    const cache = new Map<string, { readonly gen: number; readonly value: A }>()
    caches.push(cache)
    return (key, read) =>
      Effect.suspend(() => {
        // the other processes' writes cannot be heard: read afresh, keep nothing
        if (!live()) return read
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
  return {
    make,
    writing: (effect) => Effect.ensuring(effect, Effect.sync(clear)),
    announce: (kind) => (coherence === undefined ? Effect.void : coherence.announce(kind)),
    otherWrites: () => ({ releases: otherReleaseWrites, downloads: otherCountWrites }),
    live
  }
}
