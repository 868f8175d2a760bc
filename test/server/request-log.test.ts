/**
 * The request log (`RegistryServer.requestLog`): one line per request on stdout, flushed when the
 * server stops; its buffer and exit hook live only as long as the server's scope.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { acquireServer } from "../helpers/server.js"

describe("the request log", () => {
  it.live("writes one line per request (method, path without query, status, ms), all flushed by a stop", () =>
    Effect.gen(function*() {
      // the server's scope closes (a stop) before its output is read
      const server = yield* Effect.scoped(
        Effect.tap(acquireServer({ logRequests: true }), (server) =>
          Effect.promise(async () => {
            assert.strictEqual((await fetch(`${server.url}/api/v1/registry/health`)).status, 200)
            assert.strictEqual((await fetch(`${server.url}/api/v1/registry/packages/nope?x=secret`)).status, 404)
            assert.strictEqual((await fetch(`${server.url}/api/v1/registry/packages/search?q=a`)).status, 200)
          }))
      )
      const lines = server.output().split("\n").filter((l) => / \/api\/v1\/registry\//.test(l))
      assert.strictEqual(lines.length, 3, server.output())
      assert.match(lines[0] ?? "", /^\S+Z GET \/api\/v1\/registry\/health 200 [\d.]+ms$/)
      assert.match(lines[1] ?? "", /^\S+Z GET \/api\/v1\/registry\/packages\/nope 404 [\d.]+ms$/)
      assert.notInclude(server.output(), "secret")
    }))

  it.live("hooks into process exit only while a server runs", () =>
    Effect.gen(function*() {
      const before = process.listenerCount("exit")
      yield* Effect.scoped(Effect.tap(acquireServer({ inProcess: true, logRequests: true }), () =>
        Effect.sync(() =>
          assert.strictEqual(process.listenerCount("exit"), before + 1)
        )))
      assert.strictEqual(process.listenerCount("exit"), before)
    }))
})
