/**
 * The answer cache (`AnswerCache`) replays answers only to callers of the same auth class, and
 * never past a write they depend on: on a private `fm studio start`, an answer given to a token
 * is not given to an anonymous caller, a bad token or a token revoked since; a yank, a delete and
 * a download show in the next read.
 */
import { assert, layer } from "@effect/vitest"
import type { ScopedServer } from "../helpers/server.js"
import { createToken, publishFixture, runStudio, TestServer, withServer } from "../helpers/server.js"

const API = "/api/v1/registry"

/** A private `fm studio start` with `secret@1.0.0` published. */
const Seeded = TestServer.seeded(
  { private: true },
  (server) => publishFixture(server.url, server.adminToken, { name: "secret", version: "1.0.0" })
)

const get = (server: ScopedServer, p: string, token?: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${API}${p}`, {
    headers: { ...headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) }
  })

layer(Seeded, { excludeTestServices: true })("answers replayed only where the real path would give them", (it) => {
  it.effect("an answer given to a token is not given to anyone else", () =>
    withServer(async (server) => {
      const reader = await createToken(server.dataDir, "read", { name: "cache-reader" })
      for (const p of ["/packages/secret", "/packages/search?q=secret", "/packages/secret/1.0.0/download"]) {
        for (let i = 0; i < 3; i++) assert.strictEqual((await get(server, p, reader)).status, 200)
        assert.strictEqual((await get(server, p)).status, 401)
        assert.strictEqual((await get(server, p, "fmr_not-a-token")).status, 401)
        assert.strictEqual((await get(server, p, undefined, { authorization: "Basic cmVhZGVyOg==" })).status, 401)
      }
      await runStudio(["token", "revoke", "cache-reader", "--data-dir", server.dataDir])
      const revoked = await get(server, "/packages/secret", reader)
      assert.strictEqual(revoked.status, 401)
      assert.deepStrictEqual(await revoked.json(), { detail: "Token 'cache-reader' has been revoked" })
    }))

  it.effect("a write shows in the next read; every download counts", () =>
    withServer(async (server) => {
      const admin = server.adminToken
      const before = await (await get(server, "/packages/secret", admin)).json() as {
        downloads: number
        yanked: boolean
      }
      assert.isFalse(before.yanked)
      for (let i = 0; i < 5; i++) {
        assert.strictEqual((await get(server, "/packages/secret/1.0.0/download", admin)).status, 200)
      }
      assert.containSubset(await (await get(server, "/packages/secret", admin)).json(), {
        downloads: before.downloads + 5
      })
      const yank = await fetch(`${server.url}${API}/packages/secret/1.0.0/yank`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify({ reason: "no" })
      })
      assert.strictEqual(yank.status, 200)
      assert.containSubset(await (await get(server, "/packages/secret", admin)).json(), {
        yanked: true,
        yank_reason: "no"
      })
      const del = await fetch(`${server.url}${API}/packages/secret/1.0.0`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${admin}` }
      })
      assert.strictEqual(del.status, 200)
      assert.strictEqual((await get(server, "/packages/secret", admin)).status, 404)
      assert.strictEqual((await get(server, "/packages/secret/1.0.0/download", admin)).status, 404)
      assert.containSubset(await (await get(server, "/packages/search?q=secret", admin)).json(), { total_count: 0 })
    }))
})
