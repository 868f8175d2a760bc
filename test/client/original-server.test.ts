/**
 * The built `fm` against a stand-in of the ORIGINAL FlowMason Studio registry router (see
 * test/helpers/original-server.ts): every version (gathered from search when `/versions` is
 * shadowed), every dependency (read from the archives' manifests when the answers carry none),
 * and its other quirks (latest by filename order, relative download URLs, naive dates, `[""]`).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { assertBuilt, type FmResult, makeTempDir, removeDir, runFm } from "../helpers/cli.js"
import { type OriginalServer, startOriginalServer } from "../helpers/original-server.js"

const dirs: Array<string> = []
const temp = (prefix: string) => {
  const d = makeTempDir(prefix)
  dirs.push(d)
  return d
}
let orig: OriginalServer
let extra: OriginalServer
let two: OriginalServer

/** A FLOWMASON_HOME with one registry, `orig`, at `url`. */
const homeFor = (url: string) => {
  const home = temp("fm-orig-home-")
  fs.writeFileSync(
    path.join(home, "registries.json"),
    JSON.stringify({ registries: [{ name: "orig", url, priority: 10, enabled: true, is_default: true }] })
  )
  return home
}
const fm = (args: ReadonlyArray<string>, home: string, cwd?: string): Promise<FmResult> =>
  runFm(args, {
    home,
    ...(cwd === undefined ? {} : { cwd }),
    timeoutMs: 60_000,
    env: { FLOWMASON_HTTP_RETRIES: "0", FLOWMASON_NO_CODE_CACHE: "1" }
  })
const ok = (r: FmResult) => assert.strictEqual(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`)
const sha = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex")
const downloads = (server: OriginalServer) => server.log.filter((l) => l.url.endsWith("/download")).map((l) => l.url)

/** A JSON object from text (stdout, a lockfile). */
const parseObject = Schema.decodeUnknownSync(
  Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
)
/** `fm ... --json`'s stdout as an object. */
const jsonOf = (r: FmResult): Record<string, unknown> => parseObject(r.stdout)

beforeAll(async () => {
  assertBuilt()
  orig = await startOriginalServer(temp("fm-orig-store-"), [
    { name: "base", version: "1.0.0", publishedAt: new Date("2025-01-10T08:00:00Z") },
    { name: "base", version: "1.2.0", publishedAt: new Date("2025-02-20T09:30:00Z") },
    { name: "mid", version: "1.0.0", dependencies: { base: "^1.0.0" } },
    { name: "app", version: "1.0.0", dependencies: { mid: "^1.0.0" } },
    { name: "tool", version: "1.9.0" },
    { name: "tool", version: "1.10.0" },
    { name: "needs-ghost", version: "1.0.0", dependencies: { ghost: "^1.0.0" } }
  ])
  // `GET packages/base` there answers base-extra: `base-extra-1.0.0.fmpkg` sorts after `base-1.2.0.fmpkg`
  extra = await startOriginalServer(temp("fm-orig-store-"), [
    { name: "base", version: "1.0.0" },
    { name: "base", version: "1.2.0" },
    { name: "base-extra", version: "1.0.0" }
  ])
  // a major above the range asked for: the server's "latest" (2.0.0) is not in ^1
  two = await startOriginalServer(temp("fm-orig-store-"), [
    { name: "base", version: "1.0.0" },
    { name: "base", version: "1.2.0" },
    { name: "base", version: "2.0.0" }
  ])
}, 60_000)

afterAll(async () => {
  await Promise.all([orig?.stop(), extra?.stop(), two?.stop()])
  for (const d of dirs) removeDir(d)
})

describe("fm against the original FlowMason server", () => {
  it("the stand-in behaves as the original: /versions shadowed, one search entry per file, no dependencies", async () => {
    const versions = await fetch(`${orig.url}/api/v1/registry/packages/base/versions`)
    assert.strictEqual(versions.status, 404)
    assert.deepStrictEqual(await versions.json(), { detail: "Package 'base@versions' not found" })
    const search: unknown = await (await fetch(`${orig.url}/api/v1/registry/packages/search?q=base&page_size=1&page=2`))
      .json()
    assert.deepInclude(search, { total_count: 2, page: 2, page_size: 1 })
    const all: unknown = await (await fetch(`${orig.url}/api/v1/registry/packages/search?q=base`)).json()
    const rows = typeof all === "object" && all !== null && "packages" in all && Array.isArray(all.packages)
      ? all.packages
      : []
    assert.deepStrictEqual(rows.map((p: { version: string }) => p.version).sort(), ["1.0.0", "1.2.0"])
    const mid: unknown = await (await fetch(`${orig.url}/api/v1/registry/packages/mid/1.0.0`)).json()
    assert.isObject(mid)
    assert.notProperty(mid, "dependencies")
    const tool: unknown = await (await fetch(`${orig.url}/api/v1/registry/packages/tool`)).json()
    assert.deepInclude(tool, { version: "1.9.0", latest_version: "1.9.0", components: [""] })
    assert.strictEqual((await fetch(`${orig.url}/api/v1/registry/packages/search?page_size=101`)).status, 422)
  })

  it("fm versions base lists every stored version, and says they come from search", async () => {
    const home = homeFor(orig.url)
    const r = await fm(["versions", "base"], home)
    ok(r)
    const lines = r.stdout.split("\n")
    const row = (v: string) => lines.find((l) => l.trimStart().startsWith(v)) ?? ""
    assert.match(row("1.2.0"), /2025-02-20\s+latest/)
    assert.match(row("1.0.0"), /2025-01-10/)
    assert.isBelow(lines.indexOf(row("1.2.0")), lines.indexOf(row("1.0.0")))
    assert.include(r.stdout + r.stderr, "search")
    const j = jsonOf(await fm(["versions", "base", "--json"], home))
    assert.strictEqual(j.source, "search")
    assert.strictEqual(j.latest_version, "1.2.0")
    const listed = Array.isArray(j.versions) ? j.versions.map((v: { version: string }) => v.version) : []
    assert.deepStrictEqual(listed, ["1.0.0", "1.2.0"])
  })

  it("fm install base --version ~1.0.0 installs 1.0.0", async () => {
    const home = homeFor(orig.url)
    const dir = temp("fm-orig-dir-")
    const r = await fm(["install", "base", "--version", "~1.0.0", "--dir", dir], home)
    ok(r)
    assert.include(r.stdout, "Installed base@1.0.0 from registry orig (") // downloaded now, not "from cache"
    assert.strictEqual(sha(fs.readFileSync(path.join(dir, "base-1.0.0.fmpkg"))), sha(orig.archive("base", "1.0.0")))
  })

  it("fm install base --version ^1 installs 1.2.0 (the newest in range), also when 2.0.0 is the latest", async () => {
    for (const server of [orig, two]) {
      const home = homeFor(server.url)
      const dir = temp("fm-orig-dir-")
      const r = await fm(["install", "base", "--version", "^1", "--dir", dir], home)
      ok(r)
      assert.include(r.stdout, "Installed base@1.2.0 from registry orig")
      assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.endsWith(".fmpkg")), ["base-1.2.0.fmpkg"])
    }
  })

  it("fm install app installs the chain app -> mid -> base from the archives' manifests", async () => {
    const home = homeFor(orig.url)
    const dir = temp("fm-orig-dir-")
    const r = await fm(["install", "app", "--dir", dir], home)
    ok(r)
    assert.deepStrictEqual(
      fs.readdirSync(dir).filter((f) => f.endsWith(".fmpkg")).sort(),
      ["app-1.0.0.fmpkg", "base-1.2.0.fmpkg", "mid-1.0.0.fmpkg"]
    )
  })

  it("a project install of app -> mid -> base installs and locks all three, downloading each archive once", async () => {
    const home = homeFor(orig.url)
    const project = temp("fm-orig-project-")
    fs.writeFileSync(
      path.join(project, "manifest.json"),
      JSON.stringify({ name: "demo", version: "1.0.0", dependencies: { app: "^1.0.0" } })
    )
    const before = downloads(orig).length
    const r = await fm(["install"], home, project)
    ok(r)
    assert.include(r.stdout, "Installed 3 packages")
    // no publish log: one notice for the registry, and the install goes on
    assert.strictEqual(r.stderr.split("publishes no log").length - 1, 1, r.stderr)
    assert.include(r.stdout, "3 downloaded")
    const lock = parseObject(fs.readFileSync(path.join(project, "fm.lock.json"), "utf8"))
    assert.deepNestedInclude(lock, {
      "packages.app.dependencies": { mid: "^1.0.0" },
      "packages.mid.dependencies": { base: "^1.0.0" },
      "packages.base.dependencies": {},
      "packages.base.version": "1.2.0"
    })
    for (const [n, v] of [["app", "1.0.0"], ["mid", "1.0.0"], ["base", "1.2.0"]]) {
      assert.isTrue(
        fs.existsSync(path.join(project, "fm_packages", `${n}-${v}.fmpkg`)),
        `${n}-${v}.fmpkg in fm_packages`
      )
    }
    const fetched = downloads(orig).slice(before)
    assert.strictEqual(fetched.length, 3, fetched.join("\n"))
    assert.strictEqual(new Set(fetched).size, 3, fetched.join("\n"))
    // a second install in a fresh project with the same home reads everything from the cache
    const again = temp("fm-orig-project-")
    fs.writeFileSync(
      path.join(again, "manifest.json"),
      JSON.stringify({ name: "demo", version: "1.0.0", dependencies: { app: "^1.0.0" } })
    )
    ok(await fm(["install"], home, again))
    assert.strictEqual(downloads(orig).length, before + 3)
  })

  it("a dependency found only in an archive's manifest and missing everywhere fails the install", async () => {
    const home = homeFor(orig.url)
    const dir = temp("fm-orig-dir-")
    const r = await fm(["install", "needs-ghost", "--dir", dir], home)
    assert.notStrictEqual(r.code, 0, r.stdout)
    assert.include(r.stderr, "ghost")
    assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.endsWith(".fmpkg")), [])
  })

  it("latest is computed from the versions: 1.10.0 beats 1.9.0", async () => {
    const home = homeFor(orig.url)
    const info = jsonOf(await fm(["info", "tool", "--json"], home))
    assert.strictEqual(info.version, "1.10.0")
    const dir = temp("fm-orig-dir-")
    const r = await fm(["install", "tool", "--dir", dir], home)
    ok(r)
    assert.include(r.stdout, "Installed tool@1.10.0")
  })

  it("a package answer naming another package (base-extra for base) is not taken for base", async () => {
    const home = homeFor(extra.url)
    const r = await fm(["versions", "base", "--json"], home)
    ok(r)
    const j = jsonOf(r)
    const listed = Array.isArray(j.versions) ? j.versions.map((v: { version: string }) => v.version) : []
    assert.deepStrictEqual(listed, ["1.0.0", "1.2.0"])
    const info = jsonOf(await fm(["info", "base", "--json"], home))
    assert.deepInclude(info, { name: "base", version: "1.2.0" })
  })

  it("info: relative download_url made absolute, naive date read as UTC, components [\"\"] as none", async () => {
    const home = homeFor(orig.url)
    const info = jsonOf(await fm(["info", "base@1.0.0", "--json"], home))
    assert.strictEqual(info.download_url, `${orig.url}/api/v1/registry/packages/base/1.0.0/download`)
    assert.deepStrictEqual(info.components, [])
    const versions = jsonOf(await fm(["versions", "base", "--json"], home))
    const first = Array.isArray(versions.versions) ? versions.versions[0] : undefined
    assert.deepInclude(first, { version: "1.0.0", published_at: "2025-01-10T08:00:00.000Z" })
  })
})
