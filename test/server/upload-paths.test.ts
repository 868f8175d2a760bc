/**
 * Small uploads are answered by the upload hot path of `fm studio start`; an app that composes
 * the registry's HttpApi layer without it answers them from the HttpApi handler. Both must send
 * the same statuses and bodies, for successes and every kind of bad upload.
 */
import { HttpApiBuilder } from "@effect/platform"
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { createServer } from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Auth } from "../../src/server/Auth.js"
import * as RegistryServer from "../../src/server/RegistryServer.js"
import * as SqlitePackageStore from "../../src/server/SqlitePackageStore.js"
import { createToken, fixtureArchive, type RunningServer, startServer, uploadArchive } from "../helpers/server.js"

const LIMIT = 300_000
let hot: RunningServer
let hotRead: string
let plain: { url: string; admin: string; read: string; close: () => Promise<void>; dir: string }

beforeAll(async () => {
  hot = await startServer({ maxUploadSize: LIMIT })
  hotRead = await createToken(hot.dataDir, "read", { name: "reader" })

  // the HttpApi layer alone, served by a plain node:http server (no hot paths)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-upload-plain-"))
  const tokens = await Effect.runPromise(
    Effect.gen(function*() {
      const auth = yield* Auth
      const admin = yield* auth.create({ name: "admin", scope: "admin" })
      const read = yield* auth.create({ name: "reader", scope: "read" })
      return { admin: admin.token, read: read.token }
    }).pipe(Effect.provide(Auth.Default), Effect.provide(SqlitePackageStore.layer(RegistryServer.databaseFile(dir))))
  )
  const App = HttpApiBuilder.serve().pipe(
    Layer.provide(RegistryServer.layer({ dataDir: dir, maxUploadSize: LIMIT })),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
  )
  const scope = Effect.runSync(Scope.make())
  const ctx = await Effect.runPromise(Layer.buildWithScope(App, scope))
  plain = {
    url: RegistryServer.listeningUrl(Context.get(ctx, HttpServer.HttpServer)),
    ...tokens,
    dir,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}, 60_000)

afterAll(async () => {
  await hot?.stop()
  await plain?.close()
  if (plain !== undefined) fs.rmSync(plain.dir, { recursive: true, force: true })
})

const post = async (url: string, token: string | undefined, body: Buffer, contentType: string) => {
  const res = await fetch(`${url}/api/v1/registry/packages/upload`, {
    method: "POST",
    headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), "content-type": contentType },
    body: new Uint8Array(body)
  })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

/** The answer with the parts that name the server (host, port, time) blanked out. */
const comparable = (r: { status: number; body: Record<string, unknown> }) => {
  const { download_url, published_at, ...rest } = r.body
  return { status: r.status, body: rest, hasUrl: typeof download_url === "string", hasDate: typeof published_at === "string" }
}

const both = async (send: (url: string, admin: string, read: string) => Promise<{ status: number; body: Record<string, unknown> }>) => {
  const a = comparable(await send(hot.url, hot.adminToken, hotRead))
  const b = comparable(await send(plain.url, plain.admin, plain.read))
  expect(a).toEqual(b)
  return a
}

const asResult = async (res: Response) => ({ status: res.status, body: await res.json() as Record<string, unknown> })

describe("the upload hot path answers like the HttpApi handler", () => {
  it("a good upload: 201 and the package object", async () => {
    const archive = fixtureArchive({ name: "same-answer", version: "1.0.0", manifest: { description: "Same either way" } })
    const r = await both(async (url, admin) => asResult(await uploadArchive(url, admin, archive)))
    expect(r.status).toBe(201)
    expect(r.body).toMatchObject({ name: "same-answer", version: "1.0.0", available_versions: ["1.0.0"], latest_version: "1.0.0" })
  })

  it("the same version again: 409", async () => {
    const archive = fixtureArchive({ name: "twice", version: "1.0.0" })
    await both(async (url, admin) => asResult(await uploadArchive(url, admin, archive)))
    const r = await both(async (url, admin) => asResult(await uploadArchive(url, admin, archive)))
    expect(r.status).toBe(409)
    expect(String(r.body.detail)).toContain("twice")
  })

  it("a wrong checksum, bytes that are not an archive, no file part: 400 with the reason", async () => {
    const archive = fixtureArchive({ name: "bad-sum", version: "1.0.0" })
    const wrong = await both(async (url, admin) => asResult(await uploadArchive(url, admin, archive, "x.fmpkg", "0".repeat(64))))
    expect(wrong.status).toBe(400)
    expect(String(wrong.body.detail)).toMatch(/^Checksum mismatch/)
    const junk = await both(async (url, admin) => asResult(await uploadArchive(url, admin, Buffer.from("not a zip at all"))))
    expect(junk.status).toBe(400)
    expect(String(junk.body.detail)).toMatch(/^Invalid package archive: .*upload/)
    const noFile = await both(async (url, admin) => {
      const form = new FormData()
      form.append("checksum", "0".repeat(64))
      return asResult(await fetch(`${url}/api/v1/registry/packages/upload`, { method: "POST", headers: { authorization: `Bearer ${admin}` }, body: form }))
    })
    expect(noFile).toMatchObject({ status: 400, body: { detail: "Missing multipart file part 'file' (the .fmpkg archive)" } })
  })

  it("a malformed multipart body: 400 naming the problem", async () => {
    const body = Buffer.from("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nno closing boundary")
    const r = await both((url, admin) => post(url, admin, body, "multipart/form-data; boundary=b"))
    expect(r.status).toBe(400)
    expect(String(r.body.detail)).toMatch(/^Bad multipart body: part 'file' is not closed/)
  })

  it("an archive over --max-upload-size: 413", async () => {
    const archive = fixtureArchive({ name: "too-big", version: "1.0.0", files: { "big.bin": crypto.randomBytes(LIMIT + 10) } })
    const r = await both(async (url, admin) => asResult(await uploadArchive(url, admin, archive)))
    expect(r).toMatchObject({ status: 413, body: { detail: `Upload too large: the limit is ${LIMIT} bytes` } })
  })

  it("no token, a bad token, a read-only token: 401, 401, 403", async () => {
    const archive = fixtureArchive({ name: "no-auth", version: "1.0.0" })
    expect((await both(async (url) => asResult(await uploadArchive(url, undefined, archive)))).status).toBe(401)
    expect((await both(async (url) => asResult(await uploadArchive(url, "fmr_not-a-token", archive)))).status).toBe(401)
    const ro = await both(async (url, _admin, read) => asResult(await uploadArchive(url, read, archive)))
    expect(ro.status).toBe(403)
    expect(String(ro.body.detail)).toContain("this needs scope 'publish'")
  })
})
