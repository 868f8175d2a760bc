/**
 * The request log (`RegistryServer.requestLog`): one line per request on stdout, flushed when the
 * server stops; its buffer and exit hook live only as long as the server's scope.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { acquireServer, publishFixture } from "../helpers/server.js"

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
            // answered by the app, then replayed before it (AnswerCache.Replay): logged alike
            await publishFixture(server.url, server.adminToken, { name: "logged", version: "1.0.0" })
            const info = `${server.url}/api/v1/registry/packages/logged?x=secret`
            let etag = ""
            for (let i = 0; i < 3; i++) {
              const res = await fetch(info)
              assert.strictEqual(res.status, 200)
              etag = res.headers.get("etag") ?? ""
            }
            for (let i = 0; i < 3; i++) {
              assert.strictEqual((await fetch(info, { headers: { "if-none-match": etag } })).status, 304)
            }
          }))
      )
      const lines = server.output().split("\n").filter((l) => / \/api\/v1\/registry\//.test(l))
      assert.strictEqual(lines.length, 10, server.output())
      assert.match(lines[0] ?? "", /^\S+Z GET \/api\/v1\/registry\/health 200 [\d.]+ms$/)
      assert.match(lines[1] ?? "", /^\S+Z GET \/api\/v1\/registry\/packages\/nope 404 [\d.]+ms$/)
      assert.match(lines[3] ?? "", /^\S+Z POST \/api\/v1\/registry\/packages\/upload 201 [\d.]+ms$/)
      for (const [i, status] of [[4, 200], [5, 200], [6, 200], [7, 304], [8, 304], [9, 304]]) {
        assert.match(lines[i] ?? "", new RegExp(`^\\S+Z GET /api/v1/registry/packages/logged ${status} [\\d.]+ms$`))
      }
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
