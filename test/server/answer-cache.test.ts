/**
 * The answer cache (`AnswerCache`) replays answers only to callers of the same auth class, and
 * never past a write they depend on: on a private `fm studio start`, an answer given to a token
 * is not given to an anonymous caller, a bad token or a token revoked since; a yank, a delete and
 * a download show in the next read.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
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
      for (let i = 0; i < 3; i++) expect((await get(p, reader)).status).toBe(200)
      expect((await get(p)).status).toBe(401)
      expect((await get(p, "fmr_not-a-token")).status).toBe(401)
      expect((await get(p, undefined, { authorization: "Basic cmVhZGVyOg==" })).status).toBe(401)
    }
    await runStudio(["token", "revoke", "cache-reader", "--data-dir", server.dataDir])
    const revoked = await get("/packages/secret", reader)
    expect(revoked.status).toBe(401)
    expect(await revoked.json()).toEqual({ detail: "Token 'cache-reader' has been revoked" })
  })

  it("a write shows in the next read; every download counts", async () => {
    const admin = server.adminToken
    const before = await (await get("/packages/secret", admin)).json() as { downloads: number; yanked: boolean }
    expect(before.yanked).toBe(false)
    for (let i = 0; i < 5; i++) expect((await get("/packages/secret/1.0.0/download", admin)).status).toBe(200)
    expect(await (await get("/packages/secret", admin)).json()).toMatchObject({ downloads: before.downloads + 5 })
    const yank = await fetch(`${server.url}${API}/packages/secret/1.0.0/yank`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "no" })
    })
    expect(yank.status).toBe(200)
    expect(await (await get("/packages/secret", admin)).json()).toMatchObject({ yanked: true, yank_reason: "no" })
    const del = await fetch(`${server.url}${API}/packages/secret/1.0.0`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${admin}` }
    })
    expect(del.status).toBe(200)
    expect((await get("/packages/secret", admin)).status).toBe(404)
    expect((await get("/packages/secret/1.0.0/download", admin)).status).toBe(404)
    expect(await (await get("/packages/search?q=secret", admin)).json()).toMatchObject({ total_count: 0 })
  })
})
