/**
 * The registry is a layer other @effect/platform apps compose: mounted next to another app's own
 * routes, both answer (HttpApiBuilder.Router and HttpLayerRouter styles).
 */
import { HttpApiBuilder, HttpLayerRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as fs from "node:fs"
import { createServer } from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, assert, it } from "vitest"
import { RegistryApi } from "../../src/api/RegistryApi.js"
import * as RegistryServer from "../../src/server/RegistryServer.js"

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

const launch = async (app: Layer.Layer<HttpServer.HttpServer, unknown>) => {
  const scope = Effect.runSync(Scope.make())
  const ctx = await Effect.runPromise(Layer.buildWithScope(app, scope))
  cleanups.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  return RegistryServer.listeningUrl(Context.get(ctx, HttpServer.HttpServer))
}

const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-compose-"))
  cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

const check = async (url: string) => {
  const hello = await fetch(`${url}/hello`)
  assert.strictEqual(hello.status, 200)
  assert.strictEqual(await hello.text(), "hello from the host app")
  const health = await fetch(`${url}/api/v1/registry/health`)
  assert.strictEqual(health.status, 200)
  assert.strictEqual((await health.json() as { status: string }).status, "healthy")
  const missing = await fetch(`${url}/api/v1/registry/packages/none`)
  assert.strictEqual(missing.status, 404)
  assert.deepStrictEqual(await missing.json(), { detail: "Package 'none' not found" })
}

it("mounts next to another app's routes with HttpApiBuilder.serve()", async () => {
  const Hello = HttpApiBuilder.Router.use((router) =>
    router.get("/hello", HttpServerResponse.text("hello from the host app"))
  )
  const App = HttpApiBuilder.serve().pipe(
    Layer.provide(Hello),
    Layer.provide(RegistryServer.layer({ dataDir: tempDir() })),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
  )
  await check(await launch(App))
})

it("mounts into an HttpLayerRouter app with addHttpApi", async () => {
  const Hello = HttpLayerRouter.add("GET", "/hello", HttpServerResponse.text("hello from the host app"))
  const Registry = HttpLayerRouter.addHttpApi(RegistryApi).pipe(
    Layer.provide(RegistryServer.handlersLayer({ dataDir: tempDir() }))
  )
  const App = HttpLayerRouter.serve(Layer.mergeAll(Hello, Registry), { disableLogger: true, disableListenLog: true })
    .pipe(
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
    )
  await check(await launch(App))
})
