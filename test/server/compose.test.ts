/**
 * The registry is a layer other @effect/platform apps compose: mounted next to another app's own
 * routes, both answer (HttpApiBuilder.Router and HttpLayerRouter styles).
 */
import { HttpApiBuilder, HttpLayerRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import { createServer } from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { RegistryApi } from "../../src/api/RegistryApi.js"
import * as RegistryServer from "../../src/server/RegistryServer.js"

/** Builds the app in the test's scope (closed when the test ends) and gives its URL. */
const launch = (app: Layer.Layer<HttpServer.HttpServer, unknown>) =>
  Effect.map(Layer.build(app), (ctx) => RegistryServer.listeningUrl(Context.get(ctx, HttpServer.HttpServer)))

/** A data directory removed when the test's scope closes (after the app, built later, stops). */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "fm-compose-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const check = (url: string) =>
  Effect.promise(async () => {
    const hello = await fetch(`${url}/hello`)
    assert.strictEqual(hello.status, 200)
    assert.strictEqual(await hello.text(), "hello from the host app")
    const health = await fetch(`${url}/api/v1/registry/health`)
    assert.strictEqual(health.status, 200)
    assert.strictEqual((await health.json() as { status: string }).status, "healthy")
    const missing = await fetch(`${url}/api/v1/registry/packages/none`)
    assert.strictEqual(missing.status, 404)
    assert.deepStrictEqual(await missing.json(), { detail: "Package 'none' not found" })
  })

it.scopedLive("mounts next to another app's routes with HttpApiBuilder.serve()", () =>
  Effect.gen(function*() {
    const Hello = HttpApiBuilder.Router.use((router) =>
      router.get("/hello", HttpServerResponse.text("hello from the host app"))
    )
    const App = HttpApiBuilder.serve().pipe(
      Layer.provide(Hello),
      Layer.provide(RegistryServer.layer({ dataDir: yield* tempDir })),
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
    )
    yield* check(yield* launch(App))
  }))

it.scopedLive("mounts into an HttpLayerRouter app with addHttpApi", () =>
  Effect.gen(function*() {
    const Hello = HttpLayerRouter.add("GET", "/hello", HttpServerResponse.text("hello from the host app"))
    const Registry = HttpLayerRouter.addHttpApi(RegistryApi).pipe(
      Layer.provide(RegistryServer.handlersLayer({ dataDir: yield* tempDir }))
    )
    const App = HttpLayerRouter.serve(Layer.mergeAll(Hello, Registry), { disableLogger: true, disableListenLog: true })
      .pipe(
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
      )
    yield* check(yield* launch(App))
  }))
