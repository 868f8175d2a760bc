/**
 * Every version of a package on a registry without a versions listing: gathered from the search
 * answers (paged, bounded) and the package answer, against the stand-in of the original server
 * (real archives on disk) and, for the bounds, against answers made here.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { PackageInfo, SearchResponse } from "../../src/api/Models.js"
import { clientLayerAt } from "../../src/client/ClientLayers.js"
import { Registries } from "../../src/client/Registries.js"
import { normalizePublishedAt } from "../../src/client/ServerQuirks.js"
import { gatherVersions, MAX_SEARCH_PAGES, SEARCH_PAGE_SIZE } from "../../src/client/VersionsFallback.js"
import { type OriginalServer, startOriginalServer } from "../helpers/original-server.js"
import { writeRegistries } from "../helpers/quirky-server.js"
import { settingsLayer } from "../helpers/settings.js"

/** No retries: every request the stand-in sees is one the client meant. */
const settings = settingsLayer({ FLOWMASON_HTTP_RETRIES: "0" })

const dirs: Array<string> = []
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "fm-fallback-"))
  dirs.push(d)
  return d
}
let server: OriginalServer
const MANY = 130

beforeAll(async () => {
  server = await startOriginalServer(tmp(), [
    ...Array.from({ length: MANY }, (_, i) => ({ name: "many", version: `1.${i}.0` })),
    // "many" also occurs in these descriptions: search lists them, they are not versions of many
    { name: "many-more", version: "3.0.0", description: "many more" },
    { name: "other", version: "9.9.9", description: "works with many" }
  ])
}, 60_000)
afterAll(async () => {
  await server?.stop()
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

const listVersions = (name: string) => {
  const home = tmp()
  writeRegistries(home, [{ name: "orig", url: server.url }])
  return Effect.flatMap(Registries, (r) => r.listVersions(name)).pipe(
    Effect.provide(clientLayerAt(home).pipe(Layer.provide(settings)))
  )
}

const info = (name: string, version: string) => new PackageInfo({ name, version, checksum: "a".repeat(64) })

describe("versions without a versions listing", () => {
  it.live("pages through the search answers (page_size 100) and keeps only the exact name", () =>
    Effect.gen(function*() {
      const before = server.log.length
      const list = yield* listVersions("many")
      assert.strictEqual(list.source, "search")
      assert.isFalse(list.supported)
      assert.strictEqual(list.releases.length, MANY)
      assert.strictEqual(list.releases.at(-1)?.version, `1.${MANY - 1}.0`)
      assert.deepStrictEqual(list.releases.map((r) => r.version).slice(0, 3), ["1.0.0", "1.1.0", "1.2.0"])
      // every release from search has its checksum, an absolute download URL and a UTC date
      const r = list.releases[0]
      assert.strictEqual(r?.checksum.length, 64)
      assert.strictEqual(r?.download_url, `${server.url}/api/v1/registry/packages/many/1.0.0/download`)
      assert.strictEqual(r?.published_at, "2025-03-01T10:00:00.000Z")
      assert.isUndefined(r?.dependencies)
      const searches = server.log.slice(before).filter((l) => l.url.includes("/packages/search"))
      assert.deepStrictEqual(searches.map((l) => new URL(l.url, "http://x").searchParams.get("page")), ["1", "2"])
      assert.isTrue(
        searches.every((l) => new URL(l.url, "http://x").searchParams.get("page_size") === String(SEARCH_PAGE_SIZE))
      )
    }))

  it.live("a name the server has no archive of is not found, without asking search", () =>
    Effect.gen(function*() {
      const before = server.log.length
      const e = yield* Effect.flip(listVersions("nothing-here"))
      assert.strictEqual(e._tag, "RegistriesExhausted")
      assert.isFalse(server.log.slice(before).some((l) => l.url.includes("/packages/search")))
    }))

  it.effect("reads at most MAX_SEARCH_PAGES pages of a search that never ends", () =>
    Effect.gen(function*() {
      let asked = 0
      const got = yield* gatherVersions("x", {
        latest: Effect.succeed(Option.some(info("x", "1.0.0"))),
        page: (page, pageSize) =>
          Effect.sync(() => {
            asked++
            const packages = Array.from({ length: pageSize }, (_, i) => info(i === 0 ? "x" : "y", `${page}.${i}.0`))
            return Option.some(
              new SearchResponse({ packages, total_count: 1e9, page, page_size: pageSize, query: "x" })
            )
          })
      })
      assert.strictEqual(asked, MAX_SEARCH_PAGES)
      assert.strictEqual(Option.getOrThrow(got).releases.length, MAX_SEARCH_PAGES) // "1.0.0" from page 1 and the answer
    }))

  it.effect("a search that cannot be used leaves the package answer alone (source: package)", () =>
    Effect.gen(function*() {
      const got = yield* gatherVersions("x", {
        latest: Effect.succeed(
          Option.some(new PackageInfo({ name: "x", version: "1.1.0", available_versions: ["1.0.0"] }))
        ),
        page: () => Effect.succeed(Option.none())
      })
      const g = Option.getOrThrow(got)
      assert.strictEqual(g.source, "package")
      assert.deepStrictEqual(g.releases.map((r) => r.version), ["1.0.0", "1.1.0"])
    }))

  it.effect("a package answer naming another package is left out; search alone answers", () =>
    Effect.gen(function*() {
      const got = yield* gatherVersions("base", {
        latest: Effect.succeed(Option.some(info("base-extra", "1.0.0"))),
        page: (page) =>
          Effect.succeed(Option.some(
            new SearchResponse({
              packages: page === 1 ? [info("base", "1.2.0"), info("base-extra", "1.0.0")] : [],
              total_count: 2
            })
          ))
      })
      const g = Option.getOrThrow(got)
      assert.strictEqual(g.name, "base")
      assert.deepStrictEqual(g.releases.map((r) => r.version), ["1.2.0"])
    }))

  it("dates without a timezone are passed on as UTC", () => {
    assert.strictEqual(normalizePublishedAt("2025-03-01T10:00:00.250000"), "2025-03-01T10:00:00.250Z")
    assert.strictEqual(normalizePublishedAt("2025-03-01T10:00:00+02:00"), "2025-03-01T08:00:00.000Z")
    assert.strictEqual(normalizePublishedAt("yesterday"), "yesterday")
    assert.isNull(normalizePublishedAt(null))
  })
})
