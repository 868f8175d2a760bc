/**
 * WebUi over a real HTTP server on 127.0.0.1 (an HttpApi with the health group, plus the UI
 * routes): content types, gzip, ETag/304, caching, the SPA fallback and JSON 404s under /api/.
 */
import { HttpApi, HttpApiBuilder, HttpLayerRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import { createServer, request as httpRequest } from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { gunzipSync } from "node:zlib"
import { afterAll } from "vitest"
import { HealthResponse } from "../../src/api/Models.js"
import { API_PREFIX, HealthGroup } from "../../src/api/RegistryApi.js"
import * as WebUi from "../../src/server/webui/WebUi.js"
import { buildUi } from "../../src/ui/bundle.mjs"

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fm-webui-"))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))
const built = await buildUi({ outDir: path.join(tmp, "ui") })

class TestApi extends HttpApi.make("webui-test").add(HealthGroup).prefix(API_PREFIX) {}

const HealthLive = HttpApiBuilder.group(TestApi, "health", (handlers) =>
  handlers.handle("health", () =>
    Effect.succeed(
      new HealthResponse({
        status: "healthy",
        registry_name: "t",
        version: "0",
        packages_count: 0,
        components_count: 0,
        database: "ok"
      })
    )))

const serverLayer = (uiDir: string) =>
  HttpApiBuilder.serve().pipe(
    Layer.provide(WebUi.layer(WebUi.WebUi.layerAt(uiDir))),
    Layer.provide(HttpApiBuilder.api(TestApi).pipe(Layer.provide(HealthLive))),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
  )

interface Raw {
  readonly status: number
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly body: Buffer
}

/** A raw GET (no automatic decompression), so the test sees exactly what was sent. */
const get = (port: number, p: string, headers: Record<string, string> = {}, method = "GET") =>
  Effect.async<Raw>((resume) => {
    const req = httpRequest({ host: "127.0.0.1", port, path: p, headers, method }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on(
        "end",
        () => resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      )
    })
    req.on("error", (e) => resume(Effect.die(e)))
    req.end()
  })

const portOf = Effect.map(HttpServer.HttpServer, (s) => (s.address._tag === "TcpAddress" ? s.address.port : 0))

describe("WebUi", () => {
  layer(serverLayer(path.join(tmp, "ui")), { excludeTestServices: true })("with a build", (it) => {
    it.effect("serves index.html at / with no-cache, CSP and an ETag", () =>
      Effect.gen(function*() {
        const port = yield* portOf
        const res = yield* get(port, "/")
        assert.strictEqual(res.status, 200)
        assert.strictEqual(res.headers["content-type"], "text/html; charset=utf-8")
        assert.strictEqual(res.headers["cache-control"], "no-cache")
        assert.match(String(res.headers["content-security-policy"]), /script-src 'self'/)
        assert.strictEqual(res.headers["x-content-type-options"], "nosniff")
        assert.include(res.body.toString("utf8"), `src="/${built.js}"`)
        const head = yield* get(port, "/packages/demo", {}, "HEAD")
        assert.strictEqual(head.status, 200)
        assert.strictEqual(head.headers["content-type"], "text/html; charset=utf-8")
        assert.strictEqual(head.body.length, 0)
        const again = yield* get(port, "/", { "if-none-match": String(res.headers.etag) })
        assert.strictEqual(again.status, 304)
        assert.strictEqual(again.body.length, 0)
      }))

    it.effect("serves hashed assets gzipped when accepted, immutable, with the right types", () =>
      Effect.gen(function*() {
        const port = yield* portOf
        const plain = yield* get(port, `/${built.js}`)
        assert.strictEqual(plain.status, 200)
        assert.strictEqual(plain.headers["content-type"], "text/javascript; charset=utf-8")
        assert.strictEqual(plain.headers["cache-control"], "public, max-age=31536000, immutable")
        assert.isUndefined(plain.headers["content-encoding"])
        assert.deepStrictEqual(plain.body, fs.readFileSync(path.join(built.outDir, built.js)))
        const gz = yield* get(port, `/${built.js}`, { "accept-encoding": "br, gzip;q=0.8" })
        assert.strictEqual(gz.headers["content-encoding"], "gzip")
        assert.strictEqual(gz.headers.vary, "Accept-Encoding")
        assert.isBelow(gz.body.length, plain.body.length)
        assert.deepStrictEqual(gunzipSync(gz.body), plain.body)
        const refused = yield* get(port, `/${built.js}`, { "accept-encoding": "gzip;q=0" })
        assert.isUndefined(refused.headers["content-encoding"])
        const css = yield* get(port, `/${built.css}`)
        assert.strictEqual(css.headers["content-type"], "text/css; charset=utf-8")
        const icon = yield* get(port, "/favicon.svg")
        assert.strictEqual(icon.headers["content-type"], "image/svg+xml")
      }))

    it.effect("falls back to index.html for client routes, but not for files or /api/*", () =>
      Effect.gen(function*() {
        const port = yield* portOf
        for (const p of ["/packages/demo", "/packages/demo/1.0.0", "/categories", "/packages/x?y=1"]) {
          const res = yield* get(port, p)
          assert.strictEqual(res.status, 200, p)
          assert.strictEqual(res.headers["content-type"], "text/html; charset=utf-8", p)
          assert.include(res.body.toString("utf8"), "<main id=\"main\"", p)
        }
        const missingAsset = yield* get(port, "/assets/app-NOPE.js")
        assert.strictEqual(missingAsset.status, 404)
        const missingFile = yield* get(port, "/robots.txt")
        assert.strictEqual(missingFile.status, 404)
        const api = yield* get(port, `${API_PREFIX}/no-such-endpoint`)
        assert.strictEqual(api.status, 404)
        assert.match(String(api.headers["content-type"]), /^application\/json/)
        assert.match(
          JSON.parse(api.body.toString("utf8")).detail,
          /No API endpoint GET \/api\/v1\/registry\/no-such-endpoint/
        )
        const apiRoot = yield* get(port, "/api")
        assert.strictEqual(apiRoot.status, 404)
        assert.match(String(apiRoot.headers["content-type"]), /^application\/json/)
      }))

    it.effect("leaves the API's own routes to the API", () =>
      Effect.gen(function*() {
        const port = yield* portOf
        const res = yield* get(port, `${API_PREFIX}/health`)
        assert.strictEqual(res.status, 200)
        assert.strictEqual(JSON.parse(res.body.toString("utf8")).status, "healthy")
      }))
  })

  layer(serverLayer(path.join(tmp, "missing")), { excludeTestServices: true })("without a build", (it) => {
    it.effect("answers 503 with how to build, and keeps the API up", () =>
      Effect.gen(function*() {
        const port = yield* portOf
        const page = yield* get(port, "/packages/demo")
        assert.strictEqual(page.status, 503)
        assert.include(page.body.toString("utf8"), "npm run build")
        const health = yield* get(port, `${API_PREFIX}/health`)
        assert.strictEqual(health.status, 200)
      }))
  })

  layer(
    HttpLayerRouter.serve(WebUi.layerHttpLayerRouter(WebUi.WebUi.layerAt(path.join(tmp, "ui"))), {
      disableLogger: true,
      disableListenLog: true
    }).pipe(Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))),
    { excludeTestServices: true }
  )("on an HttpLayerRouter server", (it) => {
    it.effect("serves the app and the SPA fallback", () =>
      Effect.gen(function*() {
        const port = yield* portOf
        const page = yield* get(port, "/packages/demo/2.0.0")
        assert.strictEqual(page.status, 200)
        assert.include(page.body.toString("utf8"), `src="/${built.js}"`)
        const js = yield* get(port, `/${built.js}`)
        assert.strictEqual(js.headers["content-type"], "text/javascript; charset=utf-8")
      }))
  })

  it("finds no default build when asked for a directory without index.html", async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "fm-webui-empty-"))
    try {
      const svc = await Effect.runPromise(WebUi.make({ dir: empty }))
      assert.isUndefined(svc.dir)
    } finally {
      fs.rmSync(empty, { recursive: true, force: true })
    }
  })
})
