/**
 * Small scoped building blocks for `@effect/vitest` tests: temp directories and HTTP listeners
 * released with their scope, and promise-style test bodies run against a service of the file's
 * layer or a resource held for one phase of a test.
 */
import type { Context, Scope } from "effect"
import { Effect } from "effect"
import * as fs from "node:fs"
import type * as http from "node:http"
import type { AddressInfo } from "node:net"
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

/**
 * One phase of a test: acquires `resource` in a scope of its own, runs the promise-style `body`
 * with it and releases it (a server stops) when the body settles, before the next phase starts.
 * A rejection (a failed `assert`) fails the test with that error.
 */
export const within = <R, A, E, Q>(
  resource: Effect.Effect<R, E, Q>,
  body: (resource: R) => Promise<A>
): Effect.Effect<A, E, Exclude<Q, Scope.Scope>> =>
  Effect.scoped(Effect.flatMap(resource, (r) => Effect.promise(() => body(r))))

/**
 * `server` listening on 127.0.0.1 (a random port) until the scope closes (open connections are
 * closed with it); its `http://127.0.0.1:<port>`.
 */
export const listening = (server: http.Server): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<string>((resume) =>
      void server.listen(0, "127.0.0.1", () =>
        // a server listening on a TCP port has an AddressInfo address, never a pipe name
        resume(Effect.succeed(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)))
    ),
    () =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )
