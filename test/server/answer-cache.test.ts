/**
 * The answer cache (`AnswerCache`) replays answers only to callers of the same auth class, and
 * never past a write they depend on: on a private `fm studio start`, an answer given to a token
 * is not given to an anonymous caller, a bad token or a token revoked since; a yank, a delete and
 * a download show in the next read.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import type { RunningServer } from "../helpers/server.js"
import { createToken, publishFixture, runStudio, startServer } from "../helpers/server.js"

const API = "/api/v1/registry"
let server: RunningServer
let reader: string

beforeAll(async () => {
  server = await startServer({ private: true })
  await publishFixture(server.url, server.adminToken, { name: "secret", version: "1.0.0" })
  reader = await createToken(server.dataDir, "read", { name: "cache-reader" })
}, 60_000)

afterAll(async () => {
  await server?.stop()
})

const get = (p: string, token?: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${API}${p}`, {
    headers: { ...headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) }
  })

describe("answers replayed only where the real path would give them", () => {
  it("an answer given to a token is not given to anyone else", async () => {
    for (const p of ["/packages/secret", "/packages/search?q=secret", "/packages/secret/1.0.0/download"]) {
      for (let i = 0; i < 3; i++) assert.strictEqual((await get(p, reader)).status, 200)
      assert.strictEqual((await get(p)).status, 401)
      assert.strictEqual((await get(p, "fmr_not-a-token")).status, 401)
      assert.strictEqual((await get(p, undefined, { authorization: "Basic cmVhZGVyOg==" })).status, 401)
    }
    await runStudio(["token", "revoke", "cache-reader", "--data-dir", server.dataDir])
    const revoked = await get("/packages/secret", reader)
    assert.strictEqual(revoked.status, 401)
    assert.deepStrictEqual(await revoked.json(), { detail: "Token 'cache-reader' has been revoked" })
  })

  it("a write shows in the next read; every download counts", async () => {
    const admin = server.adminToken
    const before = await (await get("/packages/secret", admin)).json() as { downloads: number; yanked: boolean }
    assert.isFalse(before.yanked)
    for (let i = 0; i < 5; i++) assert.strictEqual((await get("/packages/secret/1.0.0/download", admin)).status, 200)
    assert.containSubset(await (await get("/packages/secret", admin)).json(), { downloads: before.downloads + 5 })
    const yank = await fetch(`${server.url}${API}/packages/secret/1.0.0/yank`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "no" })
    })
    assert.strictEqual(yank.status, 200)
    assert.containSubset(await (await get("/packages/secret", admin)).json(), { yanked: true, yank_reason: "no" })
    const del = await fetch(`${server.url}${API}/packages/secret/1.0.0`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${admin}` }
    })
    assert.strictEqual(del.status, 200)
    assert.strictEqual((await get("/packages/secret", admin)).status, 404)
    assert.strictEqual((await get("/packages/secret/1.0.0/download", admin)).status, 404)
    assert.containSubset(await (await get("/packages/search?q=secret", admin)).json(), { total_count: 0 })
  })
})
