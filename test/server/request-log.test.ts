/**
 * The request log (`RegistryServer.requestLog`): one line per request on stdout, flushed when the
 * server stops; its buffer and exit hook live only as long as the server's scope.
 */
import { assert, describe, it } from "vitest"
import { startServer } from "../helpers/server.js"

describe("the request log", () => {
  it("writes one line per request (method, path without query, status, ms), all flushed by a stop", async () => {
    const server = await startServer({ logRequests: true })
    try {
      assert.strictEqual((await fetch(`${server.url}/api/v1/registry/health`)).status, 200)
      assert.strictEqual((await fetch(`${server.url}/api/v1/registry/packages/nope?x=secret`)).status, 404)
      assert.strictEqual((await fetch(`${server.url}/api/v1/registry/packages/search?q=a`)).status, 200)
    } finally {
      await server.stop()
    }
    const lines = server.output().split("\n").filter((l) => / \/api\/v1\/registry\//.test(l))
    assert.strictEqual(lines.length, 3, server.output())
    assert.match(lines[0] ?? "", /^\S+Z GET \/api\/v1\/registry\/health 200 [\d.]+ms$/)
    assert.match(lines[1] ?? "", /^\S+Z GET \/api\/v1\/registry\/packages\/nope 404 [\d.]+ms$/)
    assert.notInclude(server.output(), "secret")
  })

  it("hooks into process exit only while a server runs", async () => {
    const before = process.listenerCount("exit")
    const server = await startServer({ inProcess: true, logRequests: true })
    try {
      assert.strictEqual(process.listenerCount("exit"), before + 1)
    } finally {
      await server.stop()
    }
    assert.strictEqual(process.listenerCount("exit"), before)
  })
})
