/** The promise facade, used from plain async code (no Effect in the test). */
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { getRemoteRegistry, type RemoteRegistryClient } from "../../src/client/RemoteRegistryClient.js"
import { makeFmpkg, sha256, type StandIn, startStandIn } from "../helpers/quirky-server.js"
import { fixtureArchive, type ScopedServer, TestServer } from "../helpers/server.js"

/** What both tests share: a real server, a tampering stand-in, a client home and the promise client on it. */
class Facade extends Context.Tag("test/facade/Facade")<Facade, {
  readonly real: ScopedServer
  readonly evil: StandIn
  readonly home: string
  readonly client: RemoteRegistryClient
  readonly good: Uint8Array
}>() {}

const Shared = Layer.scoped(
  Facade,
  Effect.gen(function*() {
    const real = yield* TestServer
    const good = yield* Effect.promise(() => makeFmpkg("tampered", "1.0.0"))
    const evil = yield* Effect.acquireRelease(
      Effect.promise(() =>
        startStandIn({
          packages: [{ name: "tampered", version: "1.0.0", bytes: good }],
          tamper: ["tampered@1.0.0"]
        })
      ),
      (evil) => Effect.promise(() => evil.stop())
    )
    const home = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "fm-facade-"))),
      (home) => Effect.sync(() => fs.rmSync(home, { recursive: true, force: true }))
    )
    fs.writeFileSync(path.join(home, "registries.json"), JSON.stringify({ registries: [] }))
    // no retries: a failing registry answers at once (the setting as a program would give it)
    const configProvider = ConfigProvider.fromMap(new Map([["FLOWMASON_HTTP_RETRIES", "0"]]))
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => getRemoteRegistry({ home, configProvider })),
      (client) => Effect.promise(() => client.dispose())
    )
    return { real, evil, home, client, good }
  })
).pipe(Layer.provide(TestServer.layer({ inProcess: true })))

/** A promise-style test body given the shared fixtures. */
const withFacade = (body: (f: Context.Tag.Service<Facade>) => Promise<void>) =>
  Effect.flatMap(Facade, (f) => Effect.promise(() => body(f)))

layer(Shared, { excludeTestServices: true, timeout: "120 seconds" })(
  "getRemoteRegistry() from plain async code",
  (it) => {
    it.effect("adds registries, publishes, searches, gets info, lists versions, downloads, installs, manages the cache", () =>
      withFacade(async ({ client, evil, home, real }) => {
        await client.addRegistry({
          name: "primary",
          url: real.url,
          authToken: real.adminToken,
          priority: 10,
          canPublish: true,
          isDefault: true
        })
        await client.addRegistry({ name: "evil", url: evil.url, priority: 100 })
        assert.deepStrictEqual((await client.listRegistries()).map((r) => r.name), ["primary", "evil"])

        const file = path.join(home, "facade-pkg-1.0.0.fmpkg")
        fs.writeFileSync(
          file,
          fixtureArchive({ name: "facade-pkg", version: "1.0.0", manifest: { description: "made by the facade test" } })
        )
        const published = await client.publish(file)
        assert.containSubset(published, { name: "facade-pkg", version: "1.0.0", registry: "primary" })

        const results = await client.search("facade")
        assert.deepStrictEqual(results.packages.map((p) => `${p.name}@${p.version}:${p.registry}`), [
          "facade-pkg@1.0.0:primary"
        ])
        assert.deepStrictEqual(results.errors, [])

        const info = await client.getPackage("facade-pkg")
        assert.strictEqual(info.version, "1.0.0")
        assert.strictEqual(info.checksum, sha256(fs.readFileSync(file)))

        const versions = await client.listVersions("facade-pkg")
        assert.deepStrictEqual(versions.releases.map((r) => r.version), ["1.0.0"])

        const cached = await client.download("facade-pkg", { version: "1.0.0" })
        assert.deepStrictEqual(fs.readFileSync(cached), fs.readFileSync(file))

        const dir = path.join(home, "installed")
        const installed = await client.install("facade-pkg", { dir, extract: true })
        assert.strictEqual(installed, path.join(dir, "facade-pkg-1.0.0.fmpkg"))
        assert.isTrue(fs.existsSync(path.join(dir, "facade-pkg", "1.0.0", "manifest.json")))

        const stats = await client.getCacheStats()
        assert.strictEqual(stats.packages, 1)
        assert.strictEqual((await client.clearCache()).removed, 1)
        assert.strictEqual((await client.getCacheStats()).packages, 0)
      }))

    it.effect("rejects with the typed errors themselves", () =>
      withFacade(async ({ client, good }) => {
        const missing = await client.getPackage("no-such-package").catch((e: unknown) => e)
        assert.instanceOf(missing, Error)
        assert.propertyVal(missing, "_tag", "RegistriesExhausted")
        assert.match(missing.message, /no-such-package[\s\S]*primary: not found[\s\S]*evil: not found/)

        const tampered = await client.download("tampered", { version: "1.0.0" }).catch((e: unknown) => e)
        assert.propertyVal(tampered, "_tag", "ChecksumMismatch")
        assert.instanceOf(tampered, Error)
        assert.match(tampered.message, /tampered@1\.0\.0 from registry evil/)

        // verify: false stores the bytes unchecked (and warns)
        const unchecked = await client.download("tampered", { version: "1.0.0", verify: false })
        assert.notDeepEqual(fs.readFileSync(unchecked), Buffer.from(good))

        const unknown = await client.search("x", { registry: "nope" }).catch((e: unknown) => e)
        assert.propertyVal(unknown, "_tag", "UnknownRegistry")

        await client.removeRegistry("evil")
        assert.deepStrictEqual((await client.listRegistries({ all: true })).map((r) => r.name), ["primary"])
      }))
  }
)
