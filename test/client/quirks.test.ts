import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { clientLayerAt } from "../../src/client/ClientLayers.js"
import { Installer } from "../../src/client/Installer.js"
import { Registries } from "../../src/client/Registries.js"
import { parsePublishedAt, resolveDownloadUrl } from "../../src/client/RemoteRegistry.js"
import { makeFmpkg, type StandIn, startStandIn, writeRegistries } from "../helpers/quirky-server.js"
import { settingsLayer } from "../helpers/settings.js"

/** One retry, 10 ms apart: these stand-ins answer at once, so the tests stay quick. */
const settings = settingsLayer({ FLOWMASON_HTTP_RETRIES: "1", FLOWMASON_HTTP_RETRY_DELAY_MS: "10" })

const dirs: Array<string> = []
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "fm-quirks-"))
  dirs.push(d)
  return d
}
let flowmason: StandIn
let prefixed: StandIn
let wrongName: StandIn
const bytes: Record<string, Uint8Array> = {}

beforeAll(async () => {
  for (const v of ["1.2.0", "1.9.0", "1.10.0"]) bytes[v] = await makeFmpkg("json_transform", v)
  const packages = Object.entries(bytes).map(([version, b]) => ({ name: "json_transform", version, bytes: b }))
  flowmason = await startStandIn({ dialect: "flowmason", packages })
  prefixed = await startStandIn({ dialect: "flowmason", packages, prefix: "/prefix" })
  wrongName = await startStandIn({ packages })
})
afterAll(async () => {
  await Promise.all([flowmason.stop(), prefixed.stop(), wrongName.stop()])
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

const run = <A, E>(url: string, program: Effect.Effect<A, E, Registries | Installer>) => {
  const home = tmp()
  writeRegistries(home, [{ name: "studio", url }])
  return program.pipe(Effect.provide(clientLayerAt(home).pipe(Layer.provide(settings))))
}

describe("the existing FlowMason server's quirks", () => {
  it.live("/versions answering 404 falls back to available_versions; latest by semver (1.10.0 beats 1.9.0)", () =>
    Effect.gen(function*() {
      const got = yield* run(
        flowmason.url,
        Effect.gen(function*() {
          const r = yield* Registries
          return { versions: yield* r.listVersions("json_transform"), latest: yield* r.getPackage("json_transform") }
        })
      )
      assert.isFalse(got.versions.supported)
      assert.deepStrictEqual(got.versions.releases.map((r) => r.version), ["1.2.0", "1.9.0", "1.10.0"])
      assert.strictEqual(got.latest.info.version, "1.10.0")
      // the server's own "latest" (filename order) said 1.9.0: we asked for 1.10.0 exactly
      assert.isTrue(flowmason.log.some((l) => l.url.endsWith("/packages/json_transform/1.10.0")))
    }))

  it.live("relative download_url resolved against the base; components [\"\"] dropped; author string; date without timezone", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const got = yield* run(
        flowmason.url,
        Effect.gen(function*() {
          const info = yield* Effect.flatMap(Registries, (r) => r.getPackage("json_transform", { version: "1.2.0" }))
          const installed = yield* Effect.flatMap(
            Installer,
            (i) => i.installName("json_transform", { version: "1.2.0", dir })
          )
          return { info, installed }
        })
      )
      assert.strictEqual(
        got.info.info.download_url,
        `${flowmason.url}/api/v1/registry/packages/json_transform/1.2.0/download`
      )
      assert.deepStrictEqual(got.info.info.components, [])
      assert.strictEqual(got.info.info.author, "Jane Doe")
      assert.strictEqual(parsePublishedAt(got.info.info.published_at)?.toISOString(), "2025-03-01T10:00:00.000Z")
      assert.deepStrictEqual(new Uint8Array(fs.readFileSync(got.installed.path)), bytes["1.2.0"])
      assert.strictEqual(path.basename(got.installed.path), "json_transform-1.2.0.fmpkg")
    }))

  it.live("a base URL with a path prefix keeps it, for API calls and relative downloads", () =>
    Effect.gen(function*() {
      const r = yield* run(
        prefixed.url,
        Effect.flatMap(Installer, (i) => i.installName("json-transform", { dir: tmp() }))
      )
      assert.strictEqual(r.version, "1.10.0")
      assert.isTrue(prefixed.log.every((l) => l.url.startsWith("/prefix/api/v1/registry/")))
      assert.isTrue(
        prefixed.log.some((l) => l.url === "/prefix/api/v1/registry/packages/json_transform/1.10.0/download")
      )
    }))

  it.live("names are percent-encoded in paths and compared normalized", () =>
    Effect.gen(function*() {
      const got = yield* run(
        wrongName.url,
        Effect.flatMap(Registries, (r) => r.getPackage("json.transform", { version: "1.2.0" }))
      )
      assert.strictEqual(got.info.name, "json_transform")
      const e = yield* run(wrongName.url, Effect.flatMap(Registries, (r) => r.getPackage("a b", { version: "1.2.0" })))
        .pipe(
          Effect.flip
        )
      assert.strictEqual(e._tag, "RegistriesExhausted")
      assert.isTrue(wrongName.log.some((l) => l.url === "/api/v1/registry/packages/a%20b/1.2.0"))
    }))

  it("resolveDownloadUrl and parsePublishedAt", () => {
    assert.strictEqual(
      resolveDownloadUrl("http://h:1/p/", "a", "1.0.0", ""),
      "http://h:1/p/api/v1/registry/packages/a/1.0.0/download"
    )
    assert.strictEqual(resolveDownloadUrl("http://h:1/p", "a", "1.0.0", "/api/x"), "http://h:1/p/api/x")
    assert.strictEqual(resolveDownloadUrl("http://h:1/p", "a", "1.0.0", "/p/api/x"), "http://h:1/p/api/x")
    assert.strictEqual(resolveDownloadUrl("http://h:1/p", "a", "1.0.0", "https://cdn/x"), "https://cdn/x")
    assert.strictEqual(parsePublishedAt("2025-01-02T03:04:05+02:00")?.toISOString(), "2025-01-02T01:04:05.000Z")
    assert.isUndefined(parsePublishedAt(null))
    assert.isUndefined(parsePublishedAt("not a date"))
  })
})
