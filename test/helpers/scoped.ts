/**
 * Small scoped building blocks for `@effect/vitest` tests: temp directories released with their
 * scope, and promise-style test bodies run against a service of the file's layer.
 */
import type { Context, Scope } from "effect"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** A fresh temp directory under the OS temp dir, removed (recursively) when the scope closes. */
export const tempDir = (prefix: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), prefix))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

/**
 * Runs a promise-style test body with the service of `tag` (the file's fixture, built once by
 * `layer(...)`); a rejection (a failed `assert`) fails the test with that error.
 */
export const using = <I, S, A>(tag: Context.Tag<I, S>, body: (service: S) => Promise<A>): Effect.Effect<A, never, I> =>
  Effect.flatMap(tag, (service) => Effect.promise(() => body(service)))
