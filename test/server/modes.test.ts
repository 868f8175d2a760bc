/**
 * Server options against real servers: private mode, --public-url, --trust-proxy, the upload size
 * limit (413 up front and while streaming), and expiring tokens.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import * as http from "node:http"
import type { TestBackend } from "../helpers/pg.js"
import { acquireTestDatabase, testBackends } from "../helpers/pg.js"
import type { StartServerOptions } from "../helpers/server.js"
import { acquireServer, createToken, fixtureArchive, publishFixture, uploadArchive } from "../helpers/server.js"

/**
 * A server in the test's scope on the backend: on PostgreSQL each server gets a fresh database
 * (as each SQLite server its own data dir), dropped after the server stops. Gives the server and
 * the environment of `fm studio` commands on its storage.
 */
const start = (backend: TestBackend, options: StartServerOptions) =>
  Effect.gen(function*() {
    const db = backend === "postgres"
      ? yield* acquireTestDatabase("modes")
      : undefined
    const env: Record<string, string> = db === undefined ? {} : { FM_DATABASE_URL: db.url }
    const server = yield* acquireServer(
      db === undefined ? options : { ...options, env, ...(options.inProcess === true ? { databaseUrl: db.url } : {}) }
    )
    return { ...server, env }
  })

// The whole suite runs once per storage backend: SQLite, then PostgreSQL (a database created
// per server and dropped after) when reachable; CI requires it (FM_REQUIRE_POSTGRES=1).
// FM_DATABASE_URL goes to the server and the `fm studio token` processes as their environment.
describe.each(await testBackends())("on %s", (backend) => {
  describe("private mode", () => {
    it.scoped("everything but health needs a read token", () =>
      Effect.gen(function*() {
        const s = yield* start(backend, { private: true })
        yield* Effect.promise(async () => {
          const api = `${s.url}/api/v1/registry`
          await publishFixture(s.url, s.adminToken, { name: "secret-pkg", version: "1.0.0" })
          assert.strictEqual((await fetch(`${api}/health`)).status, 200)
          for (
            const p of [
              "/packages/search?q=secret",
              "/packages/secret-pkg",
              "/packages/secret-pkg/versions",
              "/packages/secret-pkg/1.0.0",
              "/packages/secret-pkg/1.0.0/download",
              "/categories",
              "/stats"
            ]
          ) {
            const anon = await fetch(`${api}${p}`)
            assert.strictEqual(anon.status, 401, p)
            assert.match((await anon.json() as { detail: string }).detail, /read/)
            const ok = await fetch(`${api}${p}`, { headers: { authorization: `Bearer ${s.adminToken}` } })
            assert.strictEqual(ok.status, 200, p)
            await ok.arrayBuffer()
          }
          const bad = await fetch(`${api}/stats`, { headers: { authorization: "Bearer fmr_wrong" } })
          assert.strictEqual(bad.status, 401)
        })
      }))
  })

  describe("download_url", () => {
    it.scoped("uses --public-url when given", () =>
      Effect.gen(function*() {
        const s = yield* start(backend, { inProcess: true, publicUrl: "https://registry.example.com/base/" })
        yield* Effect.promise(async () => {
          const info = await publishFixture(s.url, s.adminToken, { name: "pub-url", version: "1.0.0" })
          assert.strictEqual(
            info.download_url,
            "https://registry.example.com/base/api/v1/registry/packages/pub-url/1.0.0/download"
          )
        })
      }))

    it.scoped("follows X-Forwarded-* only with --trust-proxy, else the Host header", () =>
      Effect.gen(function*() {
        const plain = yield* start(backend, { inProcess: true })
        const trusting = yield* start(backend, { inProcess: true, trustProxy: true })
        yield* Effect.promise(async () => {
          await publishFixture(plain.url, plain.adminToken, { name: "fwd", version: "1.0.0" })
          await publishFixture(trusting.url, trusting.adminToken, { name: "fwd", version: "1.0.0" })
          const headers = { "x-forwarded-proto": "https", "x-forwarded-host": "reg.example.org" }
          const a = await (await fetch(`${plain.url}/api/v1/registry/packages/fwd`, { headers })).json() as {
            download_url: string
          }
          assert.strictEqual(a.download_url, `${plain.url}/api/v1/registry/packages/fwd/1.0.0/download`)
          const b = await (await fetch(`${trusting.url}/api/v1/registry/packages/fwd`, { headers })).json() as {
            download_url: string
          }
          assert.strictEqual(b.download_url, "https://reg.example.org/api/v1/registry/packages/fwd/1.0.0/download")
        })
      }))
  })

  describe("upload size limit", () => {
    it.scoped("413 up front (Content-Length) and while streaming (chunked), nothing stored", () =>
      Effect.gen(function*() {
        const s = yield* start(backend, { inProcess: true, maxUploadSize: 100_000 })
        yield* Effect.promise(async () => {
          const huge = fixtureArchive({
            name: "too-big",
            version: "1.0.0",
            files: { "x.bin": crypto.randomBytes(300_000) }
          })
          const res = await uploadArchive(s.url, s.adminToken, huge)
          assert.strictEqual(res.status, 413)
          assert.match((await res.json() as { detail: string }).detail, /100000/)

          const slightly = fixtureArchive({
            name: "too-big",
            version: "1.0.0",
            files: { "x.bin": crypto.randomBytes(120_000) }
          })
          const boundary = "----fmlimit"
          const body = Buffer.concat([
            Buffer.from(
              `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.fmpkg"\r\nContent-Type: application/octet-stream\r\n\r\n`
            ),
            slightly,
            Buffer.from(`\r\n--${boundary}--\r\n`)
          ])
          const status = await new Promise<number>((resolve, reject) => {
            const u = new URL(`${s.url}/api/v1/registry/packages/upload`)
            const req = http.request({
              host: u.hostname,
              port: u.port,
              path: u.pathname,
              method: "POST",
              headers: {
                authorization: `Bearer ${s.adminToken}`,
                "content-type": `multipart/form-data; boundary=${boundary}`
              }
            }, (r) => {
              r.resume()
              resolve(r.statusCode ?? 0)
            })
            req.on("error", reject)
            for (let i = 0; i < body.length; i += 16_384) req.write(body.subarray(i, i + 16_384))
            req.end()
          })
          assert.strictEqual(status, 413)
          assert.strictEqual((await fetch(`${s.url}/api/v1/registry/packages/too-big`)).status, 404)
          const small = await uploadArchive(
            s.url,
            s.adminToken,
            fixtureArchive({ name: "small-enough", version: "1.0.0" })
          )
          assert.strictEqual(small.status, 201)
        })
      }))
  })

  describe("token expiry", () => {
    it.scopedLive("an expired token answers 401", () =>
      Effect.gen(function*() {
        const s = yield* start(backend, {})
        yield* Effect.promise(async () => {
          const token = await createToken(s.dataDir, "publish", { name: "brief", expiresIn: "2s", env: s.env })
          const ok = await uploadArchive(s.url, token, fixtureArchive({ name: "exp-a", version: "1.0.0" }))
          assert.strictEqual(ok.status, 201)
          await new Promise((r) => setTimeout(r, 2_500))
          const late = await uploadArchive(s.url, token, fixtureArchive({ name: "exp-b", version: "1.0.0" }))
          assert.strictEqual(late.status, 401)
          assert.match((await late.json() as { detail: string }).detail, /expired/)
        })
      }))
  })
})
