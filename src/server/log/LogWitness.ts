/**
 * Publishing the log's checkpoints for witnesses: `fm studio start --log-witness-file PATH` keeps
 * the latest signed checkpoint in PATH (written atomically: temp file, fsync, rename, so a reader
 * never sees half a note), and `--log-witness-url URL` POSTs it there (`text/plain`, at most
 * {@link WITNESS_TIMEOUT_MS} per attempt; a failed POST is tried again with the next checkpoint
 * or tick). The log is looked at every {@link WITNESS_INTERVAL_MS}; each time it grew (on this
 * replica or another one sharing the database) the new checkpoint is published. Others compare
 * what they are shown with it: `fm registry verify --gossip --checkpoint PATH`.
 * @since 0.1.0
 */
import { Effect, Schedule } from "effect"
import { tempBeside, writeFileAtomicPromise } from "../../shared/AtomicFile.js"
import type { PublishLogService } from "./PublishLog.js"

/**
 * How often the log is looked at for a new checkpoint.
 * @since 0.1.0
 */
export const WITNESS_INTERVAL_MS = 250

/**
 * The longest one POST of a checkpoint may take.
 * @since 0.1.0
 */
export const WITNESS_TIMEOUT_MS = 5000

/**
 * Where checkpoints go.
 * @since 0.1.0
 * @category models
 */
export interface WitnessTargets {
  readonly file?: string | undefined
  readonly url?: string | undefined
}

/**
 * Publishes every new checkpoint of `log` to the targets, in a fiber that lives as long as the
 * scope. Failures are logged (once per kind until one succeeds) and never stop the server.
 * @since 0.1.0
 */
export const publishCheckpoints = (log: PublishLogService, targets: WitnessTargets) =>
  Effect.gen(function*() {
    if (targets.file === undefined && targets.url === undefined) return
    let fileSize = -1
    let urlSize = -1
    const warned = new Set<string>()
    const warn = (kind: string, text: string) =>
      warned.has(kind) ? Effect.void : Effect.zipRight(
        Effect.sync(() => warned.add(kind)),
        Effect.logWarning(text)
      )
    const toFile = (file: string, note: string, size: number) =>
      Effect.tryPromise(() => writeFileAtomicPromise(file, note, { temp: tempBeside(file), mode: 0o644 })).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            fileSize = size
            warned.delete("file")
          })
        ),
        Effect.catchAll((e) => warn("file", `cannot write the log's checkpoint to ${file}: ${String(e.error)}`))
      )
    const toUrl = (url: string, note: string, size: number) =>
      Effect.tryPromise(async () => {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "text/plain; charset=utf-8" },
          body: note,
          signal: AbortSignal.timeout(WITNESS_TIMEOUT_MS)
        })
        await res.body?.cancel()
        if (!res.ok) throw new Error(`HTTP ${res.status}`)
      }).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            urlSize = size
            warned.delete("url")
          })
        ),
        Effect.catchAll((e) => warn("url", `cannot POST the log's checkpoint to ${url}: ${String(e.error)}`))
      )
    const tick = Effect.gen(function*() {
      const { note, size } = yield* log.checkpoint
      if (targets.file !== undefined && size !== fileSize) yield* toFile(targets.file, note, size)
      if (targets.url !== undefined && size !== urlSize) yield* toUrl(targets.url, note, size)
    }).pipe(Effect.catchAll((e) => warn("store", `cannot read the log for its witnesses: ${e.message}`)))
    yield* Effect.forkScoped(Effect.repeat(tick, Schedule.spaced(`${WITNESS_INTERVAL_MS} millis`)))
  })
