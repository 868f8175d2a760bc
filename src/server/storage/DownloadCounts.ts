/**
 * Download counts, batched. The store adds them up in memory and writes them in one transaction
 * `DOWNLOAD_FLUSH_MS` after the first, before any read of its own that reports counts (so its
 * readers always see every download it counted), and when its scope closes (a graceful stop loses
 * none); a failed write keeps them for the next try, `DOWNLOAD_RETRY_MS` later. A kill -9 may
 * lose the last few milliseconds of counts. On a shared database, other processes see them once
 * written.
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Effect, Fiber } from "effect"
import { normalizeName } from "../../domain/PackageName.js"
import type { StoreError } from "./PackageStore.js"

/** How long the store holds download counts before writing them. */
const DOWNLOAD_FLUSH_MS = 50
/** How long the store waits before trying again to write counts whose write failed. */
const DOWNLOAD_RETRY_MS = 1000

/**
 * Downloads of one release counted but not yet written.
 * @since 0.1.0
 * @category models
 */
export interface PendingCount {
  readonly name: string
  readonly version: string
  readonly n: number
}

/**
 * The batcher of one store.
 * @since 0.1.0
 * @category models
 */
export interface DownloadCounts {
  /** Counts one download of `name@version` (written within `DOWNLOAD_FLUSH_MS`). */
  readonly record: (name: string, version: string) => Effect.Effect<void>
  /** `read`, after writing any pending counts (a failure to write them is left for later). */
  readonly counted: <A, E>(read: Effect.Effect<A, E>) => Effect.Effect<A, E>
  /** Downloads recorded so far (each changes what a read reports, before it is written). */
  readonly recorded: () => number
}

/**
 * A batcher writing its batches with `write` (one transaction per batch). Pending counts are
 * written when the scope closes.
 * @since 0.1.0
 * @category constructors
 */
export const makeDownloadCounts = (
  write: (batch: ReadonlyArray<PendingCount>) => Effect.Effect<void, StoreError>
): Effect.Effect<DownloadCounts, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const pending = new Map<string, { readonly name: string; readonly version: string; n: number }>()
    let recorded = 0
    // the fiber that will flush after its delay; cleared by whichever flush runs first
    let timer: Fiber.RuntimeFiber<void> | undefined
    // one flush at a time: a read waits for the one in flight (its counts are not pending any more
    // but not yet written either)
    const flushLock = yield* Effect.makeSemaphore(1)
    let flushing = 0

    const add = (name: string, version: string, n: number) => {
      const key = `${normalizeName(name)}\u0000${version}`
      const counted = pending.get(key)
      if (counted === undefined) pending.set(key, { name, version, n })
      else counted.n += n
    }
    const disarm = Effect.suspend(() => {
      const armed = timer
      timer = undefined
      return armed === undefined ? Effect.void : Fiber.interruptFork(armed)
    })
    const flush: Effect.Effect<void, StoreError> = Effect.suspend(() => {
      flushing++
      return flushLock.withPermits(1)(Effect.gen(function*() {
        yield* disarm
        if (pending.size === 0) return
        const batch = [...pending.values()].map((c) => ({ ...c }))
        pending.clear()
        yield* write(batch).pipe(
          Effect.tapError(() =>
            Effect.suspend(() => {
              batch.forEach((c) => add(c.name, c.version, c.n))
              return arm(DOWNLOAD_RETRY_MS) // kept for the next try even if nothing else comes
            })
          )
        )
      })).pipe(Effect.ensuring(Effect.sync(() => void flushing--)))
    })
    // the timer's own flush runs whole (a closing scope interrupts only the wait)
    const arm = (delay: number): Effect.Effect<void> =>
      timer !== undefined ? Effect.void : Effect.flatMap(
        Effect.forkIn(
          Effect.sleep(delay).pipe(
            Effect.zipRight(Effect.uninterruptible(Effect.zipRight(
              Effect.sync(() => void (timer = undefined)),
              Effect.ignore(flush)
            )))
          ),
          scope
        ),
        (fiber) => Effect.sync(() => void (timer = fiber))
      )

    yield* Effect.addFinalizer(() => Effect.ignore(flush))

    return {
      record: (name, version) =>
        Effect.suspend(() => {
          recorded++
          add(name, version, 1)
          return arm(DOWNLOAD_FLUSH_MS)
        }),
      counted: (read) =>
        Effect.suspend(() => pending.size === 0 && flushing === 0 ? read : Effect.zipRight(Effect.ignore(flush), read)),
      recorded: () => recorded
    }
  })
