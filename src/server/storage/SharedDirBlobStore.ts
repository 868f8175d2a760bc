/**
 * Archives in a directory shared by several registry replicas (NFS, a mounted volume, or one
 * directory on one host): the file-system blob store (`BlobStore.make`: temp file, fsync, atomic
 * rename into `<dir>/blobs/<aa>/<sha256>`), with a start-up sweep that is safe while other
 * replicas are running: it only removes temp files and unreferenced blobs older than
 * `SWEEP_MIN_AGE`, never an upload in flight on another replica.
 * @since 0.1.0
 */
import { Duration, Effect, Layer } from "effect"
import type { Scope } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { SWEEP_MIN_AGE, sweepOldFiles } from "../pg/PgBlobStore.js"
import type { BlobStoreService } from "./BlobStore.js"
import { BlobError, BlobStore, make as makeLocalBlobStore } from "./BlobStore.js"

/**
 * Builds the shared-directory blob store rooted at `dir` (creates `blobs/` and `tmp/`).
 * @since 0.1.0
 * @category constructors
 */
export const make = (dir: string): Effect.Effect<BlobStoreService, BlobError, Scope.Scope> =>
  Effect.gen(function*() {
    const store = yield* makeLocalBlobStore(dir)
    const blobs = Path.join(store.root, "blobs")

    const sweep = <E>(referenced: Effect.Effect<ReadonlySet<string>, E>) =>
      Effect.gen(function*() {
        const temps = yield* sweepOldFiles(Path.join(store.root, "tmp"), SWEEP_MIN_AGE)
        const known = yield* referenced
        const removed = yield* Effect.tryPromise({
          try: async () => {
            const cutoff = Date.now() - Duration.toMillis(SWEEP_MIN_AGE)
            let n = 0
            for (const d of await Fs.promises.readdir(blobs)) {
              const sub = Path.join(blobs, d)
              if (!(await Fs.promises.stat(sub)).isDirectory()) continue
              for (const f of await Fs.promises.readdir(sub)) {
                if (known.has(f)) continue
                const p = Path.join(sub, f)
                const st = await Fs.promises.stat(p).catch(() => undefined)
                if (st !== undefined && st.mtimeMs < cutoff) {
                  await Fs.promises.rm(p, { force: true })
                  n++
                }
              }
            }
            return n
          },
          catch: (cause) => new BlobError({ file: blobs, operation: "sweep", cause })
        })
        return { blobs: removed, temps }
      })

    return { ...store, sweep } satisfies BlobStoreService
  })

/**
 * The blob store on the shared directory `dir`.
 * @since 0.1.0
 * @category layers
 */
export const layer = (dir: string): Layer.Layer<BlobStore, BlobError> => Layer.scoped(BlobStore, make(dir))
