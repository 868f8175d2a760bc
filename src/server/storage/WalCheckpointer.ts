/**
 * Checkpoints of a SQLite database in WAL mode off the main thread. SQLite checkpoints
 * automatically inside the COMMIT that takes the `-wal` file past `wal_autocheckpoint` pages:
 * copying the pages into the database file and two fsyncs, on the thread that commits (the event
 * loop), so every thousandth page or so one publish waits milliseconds to tens of milliseconds.
 * Here a worker thread with a connection of its own runs `PRAGMA wal_checkpoint(PASSIVE)` (which
 * never blocks a writer) when the store says it wrote, at most every {@link CHECKPOINT_INTERVAL_MS},
 * and the store's own connection checkpoints only past {@link FALLBACK_AUTOCHECKPOINT} pages (a
 * bound on the `-wal` file should the worker fall behind). A worker that cannot start or fails
 * gives the checkpoints back to the store's connection at SQLite's default threshold.
 *
 * SQLite starts the `-wal` file over only when a write begins with every frame of it checkpointed,
 * which writes one after another rarely leave room for. So once the worker reports more than
 * {@link DRAIN_FRAMES} frames, the next `wrote` (which the store runs before its next write)
 * waits, without blocking the event loop, for a checkpoint of the whole file: the write after
 * it starts the file over.
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import { createRequire } from "node:module"
import { type MessagePort, Worker } from "node:worker_threads"

/**
 * Least time between two checkpoints of the worker.
 * @since 0.1.0
 */
export const CHECKPOINT_INTERVAL_MS = 200

/**
 * `wal_autocheckpoint` of the store's connection while the worker checkpoints (pages).
 * @since 0.1.0
 */
export const FALLBACK_AUTOCHECKPOINT = 20000

/**
 * Frames in the `-wal` file past which the store waits for a checkpoint of all of them (so that
 * its next write starts the file over).
 * @since 0.1.0
 */
export const DRAIN_FRAMES = 4000

/** Longest a write waits for a checkpoint of the whole -wal file. */
const DRAIN_WAIT_MS = 2000

/** SQLite's default `wal_autocheckpoint`, given back when the worker fails. */
const DEFAULT_AUTOCHECKPOINT = 1000

/**
 * A worker's answer to one request: `[busy, log, checkpointed]` of a passive checkpoint (as
 * `PRAGMA wal_checkpoint` reports them), or the message of the error that stopped it.
 */
type Answer = { readonly ok: readonly [number, number, number] } | { readonly error: string }

/** What the worker uses of its better-sqlite3 connection. */
interface Connection {
  pragma(source: string): unknown
}

/**
 * The worker's side: answers each message on `port` with one passive checkpoint of `db`. It runs
 * in the worker, from its source text (see {@link WORKER}): it must name nothing outside itself.
 */
const answerCheckpoints = (port: Pick<MessagePort, "on" | "postMessage">, db: Connection): void => {
  db.pragma("busy_timeout = 0")
  port.on("message", () => {
    let answer: Answer
    try {
      const rows = db.pragma("wal_checkpoint(PASSIVE)")
      const row: unknown = Array.isArray(rows) ? rows[0] : undefined
      const count = (key: string): number => {
        const value: unknown = typeof row === "object" && row !== null ? Reflect.get(row, key) : undefined
        return typeof value === "number" ? value : 0
      }
      answer = { ok: [count("busy"), count("log"), count("checkpointed")] }
    } catch (e) {
      answer = { error: e instanceof Error ? e.message : String(e) }
    }
    port.postMessage(answer)
  })
}

/**
 * The worker, as CommonJS source (a worker cannot load TypeScript under the tests, and the CLI is
 * one bundle): opens the database with better-sqlite3 (resolved by the main thread) and hands it
 * to {@link answerCheckpoints}, whose compiled text it carries.
 */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads")
const Database = require(workerData.module)
;(${answerCheckpoints.toString()})(parentPort, new Database(workerData.filename, { fileMustExist: true }))
`

/**
 * What the store tells the checkpointer.
 * @since 0.1.0
 * @category models
 */
export interface WalCheckpointer {
  /**
   * Run after each committed write (outside its transaction): asks the worker for a checkpoint
   * when none ran lately (starting the worker the first time), waits for a checkpoint of the whole
   * `-wal` file when it has grown past the drain threshold, and moves the store's connection's
   * `wal_autocheckpoint` as the worker comes up or fails.
   */
  readonly wrote: Effect.Effect<void>
  /** Checkpoints the worker has run. */
  readonly checkpoints: () => number
}

/**
 * A checkpointer of the database file `filename`, its worker started on the first `wrote` and
 * stopped with the scope. `setAutocheckpoint` sets `wal_autocheckpoint` on the store's connection.
 * `options` (for tests): the drain threshold in frames and the least time between checkpoints.
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  filename: string,
  setAutocheckpoint: (pages: number) => Effect.Effect<void>,
  options: { readonly drainFrames?: number; readonly intervalMs?: number } = {}
): Effect.Effect<WalCheckpointer, never, Scope.Scope> =>
  Effect.gen(function*() {
    // idle: no worker yet; up: the worker checkpoints; failed: it stopped, and the store's
    // connection has yet to get its default back; off: the store's connection checkpoints
    let state: "idle" | "up" | "failed" | "off" = "idle"
    let worker: Worker | undefined
    const drainFrames = options.drainFrames ?? DRAIN_FRAMES
    const interval = options.intervalMs ?? CHECKPOINT_INTERVAL_MS
    let busy = false
    let last = 0
    let done = 0
    // frames in the -wal file when the last checkpoint began (0: after a drain, the next write
    // starts the file over)
    let frames = 0
    // called with the next answer of the worker (or when it stops)
    let waiting: Array<() => void> = []
    const answered = () => {
      busy = false
      const called = waiting
      waiting = []
      for (const f of called) f()
    }
    const stop = () => {
      const w = worker
      worker = undefined
      answered()
      return w?.terminate()
    }
    const fail = () => {
      if (state !== "up") return
      state = "failed"
      void stop()
    }
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        state = "off"
        await stop()
      })
    )
    const start = (): boolean => {
      try {
        const module = createRequire(import.meta.url).resolve("better-sqlite3")
        const w = new Worker(WORKER, { eval: true, workerData: { module, filename } })
        // the worker never keeps the process alive
        w.unref()
        w.on("message", (m: Answer) => {
          if (!("ok" in m)) return fail()
          done++
          // the frames it saw when it began (all of them checkpointed, unless a reader held some)
          frames = m.ok[1]
          answered()
        })
        w.on("error", fail)
        w.on("exit", () => {
          if (worker === w) fail()
        })
        worker = w
        state = "up"
        return true
      } catch {
        state = "off"
        return false
      }
    }
    const post = () => {
      if (worker === undefined) return false
      last = Date.now()
      busy = true
      worker.postMessage(0)
      return true
    }
    const ask = () => {
      if (!busy && Date.now() - last >= interval) post()
    }
    /**
     * A checkpoint begun after every write so far, done (or the worker stopped); a write never
     * waits on it longer than {@link DRAIN_WAIT_MS} (the -wal file then goes on growing).
     */
    const drain = Effect.async<void>((resume) => {
      let resumed = false
      const finish = () => {
        if (resumed) return
        resumed = true
        clearTimeout(timer)
        resume(Effect.void)
      }
      const timer = setTimeout(finish, DRAIN_WAIT_MS)
      const fresh = () => {
        waiting.push(() => {
          frames = 0
          finish()
        })
        if (!post()) answered()
      }
      // one under way may have begun before the last write: the next one covers it
      if (busy) waiting.push(fresh)
      else fresh()
    })
    const wrote = Effect.suspend(() => {
      switch (state) {
        case "up":
          if (frames > drainFrames) return drain
          ask()
          return Effect.void
        case "idle":
          if (!start()) return Effect.void
          ask()
          return setAutocheckpoint(FALLBACK_AUTOCHECKPOINT)
        case "failed":
          state = "off"
          return setAutocheckpoint(DEFAULT_AUTOCHECKPOINT)
        case "off":
          return Effect.void
      }
    })
    return { wrote, checkpoints: () => done }
  })
