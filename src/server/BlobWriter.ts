/**
 * Durable small-file writes off the event loop, in one hop: a worker thread runs
 * `open(wx)`, `write`, `fsync`, `close`, `rename`, directory `fsync` as plain synchronous calls.
 *
 * Why: each `fs.promises` call is a round trip through libuv's thread pool (two context switches
 * and an Effect/Promise hop); a blob written that way costs about 8 of them. Handing the whole
 * sequence to one worker costs one message each way, and `fsync` still never blocks the event loop.
 * @since 0.1.0
 */
import { Data, Effect } from "effect"
import type { Scope } from "effect"
import { Worker } from "node:worker_threads"

/**
 * A failed step of a worker write, naming the file.
 * @since 0.1.0
 * @category errors
 */
export class WriteFailed extends Data.TaggedError("WriteFailed")<{
  readonly file: string
  readonly operation: string
  readonly message: string
}> {}

/**
 * Writes `bytes` to `part` (created exclusively), fsyncs it, renames it onto `target`, and fsyncs
 * the directory of `target` (created when missing). `part` must be in that same directory. On
 * failure `part` is removed.
 * @since 0.1.0
 * @category models
 */
export type BlobWriter = (bytes: Uint8Array, part: string, target: string) => Effect.Effect<void, WriteFailed>

/** The worker's code (CommonJS, evaluated): one message in, one answer out, in order. */
const WORKER_SOURCE = `
const fs = require("node:fs")
const path = require("node:path")
const { parentPort } = require("node:worker_threads")
const made = new Set()
parentPort.on("message", (m) => {
  const dir = path.dirname(m.target)
  let operation = "create"
  let file = dir
  let fd
  try {
    if (!made.has(dir)) { fs.mkdirSync(dir, { recursive: true, mode: 0o700 }); made.add(dir) }
    file = m.part
    fd = fs.openSync(m.part, "wx", 0o600)
    operation = "write"
    for (let at = 0; at < m.bytes.length;) at += fs.writeSync(fd, m.bytes, at)
    operation = "fsync"
    fs.fsyncSync(fd)
    fs.closeSync(fd)
    fd = undefined
    operation = "rename into"
    file = m.target
    fs.renameSync(m.part, m.target)
    operation = "fsync"
    file = dir
    const d = fs.openSync(dir, "r")
    try { fs.fsyncSync(d) } finally { fs.closeSync(d) }
    parentPort.postMessage({ id: m.id })
  } catch (e) {
    if (fd !== undefined) { try { fs.closeSync(fd) } catch {} }
    try { fs.rmSync(m.part, { force: true }) } catch {}
    parentPort.postMessage({ id: m.id, error: { operation, file, message: String((e && e.message) || e) } })
  }
})
`

interface Answer {
  readonly id: number
  readonly error?: { readonly operation: string; readonly file: string; readonly message: string }
}

/**
 * A {@link BlobWriter} over one worker thread, started on first use and stopped when the scope
 * closes. Should the worker die, pending writes fail with {@link WriteFailed} and the next write
 * starts a new one.
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<BlobWriter, never, Scope.Scope> = Effect.gen(function*() {
  let worker: Worker | undefined
  let nextId = 0
  const pending = new Map<number, { readonly target: string; readonly done: (answer: Answer) => void }>()

  const failAll = (message: string) => {
    for (const [id, p] of pending) p.done({ id, error: { operation: "write", file: p.target, message } })
    pending.clear()
  }
  const start = (): Worker => {
    const w = new Worker(WORKER_SOURCE, { eval: true })
    w.unref() // an idle writer never keeps the process alive
    w.on("message", (answer: Answer) => {
      const p = pending.get(answer.id)
      if (p === undefined) return
      pending.delete(answer.id)
      p.done(answer)
    })
    w.on("error", (e) => {
      worker = undefined
      failAll(`the blob writer thread failed: ${e.message}`)
    })
    w.on("exit", () => {
      if (worker === w) worker = undefined
      failAll("the blob writer thread stopped")
    })
    return w
  }
  yield* Effect.addFinalizer(() =>
    Effect.promise(async () => {
      const w = worker
      worker = undefined
      if (w !== undefined) await w.terminate()
    })
  )

  return (bytes, part, target) =>
    Effect.async<void, WriteFailed>((resume) => {
      worker ??= start()
      const id = nextId++
      pending.set(id, {
        target,
        done: (answer) =>
          resume(answer.error === undefined ? Effect.void : Effect.fail(new WriteFailed(answer.error)))
      })
      // a private copy of just these bytes, moved (not cloned) to the worker
      const copy = new Uint8Array(bytes.byteLength)
      copy.set(bytes)
      worker.postMessage({ id, bytes: copy, part, target }, [copy.buffer])
    })
})
