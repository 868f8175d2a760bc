/**
 * The typed client that other programs derive from the one `RegistryApi` definition
 * (`HttpApiClient.make(RegistryApi, { baseUrl })`, as the README says) talks to a real registry
 * server: reads decode into the API's models and a missing package fails with the `NotFound` wire
 * error. fm's own client reads through `BoundedGet` with the same schemas; this keeps the derived
 * client honest at run time, not only in the type tests.
 */
import { FetchHttpClient, HttpApiClient } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { RegistryApi } from "../../src/api/RegistryApi.js"
import { publishFixture, TestServer } from "../helpers/server.js"

/** A server with one package published, `typed-demo@1.2.0`. */
const Seeded = Layer.effect(
  TestServer,
  Effect.gen(function*() {
    const server = yield* TestServer
    yield* Effect.promise(() =>
      publishFixture(server.url, server.adminToken, {
        name: "typed-demo",
        version: "1.2.0",
        manifest: { description: "derived client check" }
      })
    )
    return server
  })
).pipe(Layer.provide(TestServer.layer({ inProcess: true })))

layer(Seeded)("the typed client derived from RegistryApi", (it) => {
  it.effect("reads health, package info, versions and search as the API's models", () =>
    Effect.gen(function*() {
      const server = yield* TestServer
      const client = yield* HttpApiClient.make(RegistryApi, { baseUrl: server.url })
      const health = yield* client.health.health()
      assert.strictEqual(health.status, "healthy")
      const info = yield* client.packages.info({ path: { name: "typed-demo" } })
      assert.strictEqual(info.name, "typed-demo")
      assert.strictEqual(info.version, "1.2.0")
      assert.strictEqual(info.description, "derived client check")
      const versions = yield* client.packages.versions({ path: { name: "typed-demo" } })
      assert.deepStrictEqual(versions.versions, ["1.2.0"])
      const found = yield* client.packages.search({ urlParams: { q: "typed-demo" } })
      assert.isTrue(found.packages.some((p) => p.name === "typed-demo"))
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("fails a missing package with the NotFound wire error", () =>
    Effect.gen(function*() {
      const server = yield* TestServer
      const client = yield* HttpApiClient.make(RegistryApi, { baseUrl: server.url })
      const error = yield* Effect.flip(client.packages.info({ path: { name: "no-such-package" } }))
      assert.strictEqual(error._tag, "NotFound")
    }).pipe(Effect.provide(FetchHttpClient.layer)))
})
