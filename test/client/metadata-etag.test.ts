/**
 * ETag revalidation of package metadata against a REAL fm server on 127.0.0.1: the server sends
 * an ETag on versions / version info and answers 304 to a matching If-None-Match; the client
 * keeps the body in <home>/cache/metadata and uses it on 304. Requests and statuses are recorded
 * by a small node:http proxy in front of the server.
 */
import { NodeContext } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Layer, Schema } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { clientLayerAt } from "../../src/client/ClientLayers.js"
import { withFreshMetadata } from "../../src/client/MetadataFreshness.js"
import { Registries } from "../../src/client/Registries.js"
import { ProjectInstall } from "../../src/resolver/ProjectInstall.js"
import { writeRegistries } from "../helpers/quirky-server.js"
import { listening, tempDir } from "../helpers/scoped.js"
import { publishFixture, TestServer, withServer } from "../helpers/server.js"

interface Seen {
  readonly url: string
  readonly inm: string | undefined
  readonly status: number
}

/** A node:http proxy in front of the file's server that records every request and its status. */
class Recorder extends Context.Tag("test/metadata-etag/Recorder")<Recorder, {
  readonly url: string
  readonly seen: Array<Seen>
}>() {}

const recorder = Effect.gen(function*() {
  const server = yield* TestServer
  yield* Effect.promise(() => publishFixture(server.url, server.adminToken, { name: "etag-pkg", version: "1.0.0" }))
  const target = new URL(server.url)
  const seen: Array<Seen> = []
  const proxy = http.createServer((req, res) => {
    const up = http.request({
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: req.headers
    }, (ur) => {
      const inm = req.headers["if-none-match"]
      seen.push({ url: req.url ?? "", inm: typeof inm === "string" ? inm : undefined, status: ur.statusCode ?? 0 })
      res.writeHead(ur.statusCode ?? 502, ur.headers)
      ur.pipe(res)
    })
    up.on("error", () => res.destroy())
    req.pipe(up)
  })
  return { url: yield* listening(proxy), seen }
})

/** The server (in-process, `etag-pkg@1.0.0` published) and the recording proxy in front of it. */
const Served = Layer.scoped(Recorder, recorder).pipe(Layer.provideMerge(TestServer.layer({ inProcess: true })))

/** A client home whose one registry, `main`, is the recording proxy. */
const newHome = Effect.gen(function*() {
  const { url } = yield* Recorder
  const home = yield* tempDir("fm-etag-")
  writeRegistries(home, [{ name: "main", url, priority: 10 }])
  return home
})

/** A metadata cache file as the client writes it. */
const CacheFile = Schema.parseJson(Schema.Struct({ url: Schema.String, etag: Schema.String, body: Schema.String }))

const statusesOf = (seen: ReadonlyArray<Seen>, suffix: string) => seen.filter((s) => s.url.endsWith(suffix))

layer(Served, { excludeTestServices: true })("metadata ETag revalidation", (it) => {
  it.scoped("package info (answered on the server's fast path) carries the same ETag and revalidates with 304", () =>
    withServer(async (server) => {
      const url = `${server.url}/api/v1/registry/packages/etag-pkg`
      const first = await fetch(url)
      const body = await first.text()
      const etag = first.headers.get("etag")
      assert.strictEqual(first.status, 200)
      assert.strictEqual(etag, `"${crypto.createHash("sha256").update(body).digest("hex")}"`)
      const again = await fetch(url, { headers: { "if-none-match": etag! } })
      assert.strictEqual(again.status, 304)
      assert.strictEqual(await again.text(), "")
    }))

  it.scoped("the server sends an ETag and answers 304 to If-None-Match (weak or strong), 200 otherwise", () =>
    withServer(async (server) => {
      const url = `${server.url}/api/v1/registry/packages/etag-pkg/versions`
      const first = await fetch(url)
      const etag = first.headers.get("etag")
      const body = await first.text()
      assert.strictEqual(first.status, 200)
      assert.match(etag ?? "", /^"[0-9a-f]{64}"$/)
      const again = await fetch(url, { headers: { "if-none-match": etag! } })
      assert.strictEqual(again.status, 304)
      assert.strictEqual(await again.text(), "")
      assert.strictEqual(again.headers.get("etag"), etag)
      assert.strictEqual((await fetch(url, { headers: { "if-none-match": `"x", W/${etag}` } })).status, 304)
      const other = await fetch(url, { headers: { "if-none-match": `"${"0".repeat(64)}"` } })
      assert.strictEqual(other.status, 200)
      assert.strictEqual(await other.text(), body)
      // a 404 has no ETag
      const missing = await fetch(`${server.url}/api/v1/registry/packages/no-such-pkg/versions`)
      assert.strictEqual(missing.status, 404)
      assert.isNull(missing.headers.get("etag"))
    }))

  it.scoped("the client revalidates: 200, then 304 with equal data, then 200 with new data after a publish", () =>
    Effect.gen(function*() {
      const server = yield* TestServer
      const { seen } = yield* Recorder
      const home = yield* newHome
      const versions = Effect.gen(function*() {
        const registries = yield* Registries
        const [source] = yield* registries.sources("main")
        return yield* source!.versions("etag-pkg")
      }).pipe(Effect.provide(clientLayerAt(home)))
      const info = Effect.gen(function*() {
        const registries = yield* Registries
        const [source] = yield* registries.sources("main")
        return yield* source!.resolve("etag-pkg", "1.0.0")
      }).pipe(Effect.provide(clientLayerAt(home)))

      const before = seen.length
      const v1 = yield* versions
      const v2 = yield* versions // a fresh layer: only the on-disk cache carries over
      const mine = seen.slice(before).filter((s) => s.url.endsWith("/etag-pkg/versions"))
      assert.deepStrictEqual(mine.map((s) => s.status), [200, 304])
      assert.isUndefined(mine[0]!.inm)
      assert.match(mine[1]!.inm ?? "", /^"[0-9a-f]{64}"$/)
      assert.deepStrictEqual(
        v2.releases.map((r) => [r.version, r.checksum]),
        v1.releases.map((r) => [r.version, r.checksum])
      )
      assert.deepStrictEqual(v2, v1)
      const file = path.join(home, "cache", "metadata", "main", "etag-pkg.versions.json")
      const record = JSON.parse(fs.readFileSync(file, "utf8"))
      assert.strictEqual(record.etag, mine[1]!.inm)

      // one version's info: cached the same way
      const i1 = yield* info
      const i2 = yield* info
      assert.deepStrictEqual(statusesOf(seen, "/etag-pkg/1.0.0").slice(-2).map((s) => s.status), [200, 304])
      assert.deepStrictEqual(i2, i1)

      // a new version changes the answer: 200 and the new data, and the cache follows
      yield* Effect.promise(() => publishFixture(server.url, server.adminToken, { name: "etag-pkg", version: "1.1.0" }))
      const v3 = yield* versions
      const v4 = yield* versions
      assert.deepStrictEqual(statusesOf(seen, "/etag-pkg/versions").slice(-2).map((s) => s.status), [200, 304])
      assert.deepStrictEqual(v3.releases.map((r) => r.version), ["1.0.0", "1.1.0"])
      assert.deepStrictEqual(v4, v3)
      assert.notStrictEqual(JSON.parse(fs.readFileSync(file, "utf8")).etag, record.etag)
    }))

  it.scoped("a corrupt cache file is ignored (no If-None-Match, a 200) and replaced", () =>
    Effect.gen(function*() {
      const { seen } = yield* Recorder
      const home = yield* newHome
      const file = path.join(home, "cache", "metadata", "main", "etag-pkg.versions.json")
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, "{ not json")
      const before = seen.length
      const list = yield* Effect.gen(function*() {
        const registries = yield* Registries
        const [source] = yield* registries.sources("main")
        return yield* source!.versions("etag-pkg")
      }).pipe(Effect.provide(clientLayerAt(home)))
      const mine = seen.slice(before).filter((s) => s.url.endsWith("/etag-pkg/versions"))
      assert.deepStrictEqual(mine.map((s) => [s.status, s.inm]), [[200, undefined]])
      assert.isAbove(list.releases.length, 0)
      assert.match(JSON.parse(fs.readFileSync(file, "utf8")).etag, /^"[0-9a-f]{64}"$/)
      assert.deepStrictEqual(fs.readdirSync(path.dirname(file)).filter((f) => f.endsWith(".tmp")), [])
    }))

  it.scoped("within a fresh-metadata window a recently confirmed copy answers unasked; a stale one is revalidated, and a 304 renews it", () =>
    Effect.gen(function*() {
      const server = yield* TestServer
      const { seen } = yield* Recorder
      yield* Effect.promise(() =>
        publishFixture(server.url, server.adminToken, { name: "fresh-pkg", version: "1.0.0" })
      )
      const home = yield* newHome
      const versions = Effect.gen(function*() {
        const registries = yield* Registries
        const [source] = yield* registries.sources("main")
        return yield* source!.versions("fresh-pkg")
      }).pipe(Effect.provide(clientLayerAt(home)))
      const fresh = versions.pipe(withFreshMetadata(Duration.minutes(5)))
      const asked = () => statusesOf(seen, "/fresh-pkg/versions").map((s) => s.status)
      const file = path.join(home, "cache", "metadata", "main", "fresh-pkg.versions.json")

      // nothing cached: the window changes nothing, the registry is asked
      const v1 = yield* fresh
      assert.deepStrictEqual(asked(), [200])
      // confirmed just now: answered from the file, no request at all
      const v2 = yield* fresh
      assert.deepStrictEqual(asked(), [200])
      assert.deepStrictEqual(v2, v1)
      // outside a window (fm info, update, outdated): always revalidated
      yield* versions
      assert.deepStrictEqual(asked(), [200, 304])

      // a new version within the window is not seen until the copy is older than the window
      yield* Effect.promise(() =>
        publishFixture(server.url, server.adminToken, { name: "fresh-pkg", version: "1.1.0" })
      )
      assert.deepStrictEqual((yield* fresh).releases.map((r) => r.version), ["1.0.0"])
      assert.deepStrictEqual(asked(), [200, 304])
      const old = new Date(Date.now() - 10 * 60_000)
      fs.utimesSync(file, old, old)
      assert.deepStrictEqual((yield* fresh).releases.map((r) => r.version), ["1.0.0", "1.1.0"])
      assert.deepStrictEqual(asked(), [200, 304, 200])

      // a 304 marks the copy confirmed again: the next call inside the window stays local
      fs.utimesSync(file, old, old)
      yield* fresh
      yield* fresh
      assert.deepStrictEqual(asked(), [200, 304, 200, 304])
      assert.isAbove(fs.statSync(file).mtimeMs, Date.now() - 60_000)

      // a copy for another URL (a foreign or moved file) is never used
      const record = Schema.decodeUnknownSync(CacheFile)(fs.readFileSync(file, "utf8"))
      fs.writeFileSync(file, JSON.stringify({ ...record, url: `${record.url}x` }))
      yield* fresh
      assert.deepStrictEqual(asked(), [200, 304, 200, 304, 200])
    }))

  it.scoped("fm install resolves from fresh metadata without asking; fm update asks", () =>
    Effect.gen(function*() {
      const server = yield* TestServer
      const { seen } = yield* Recorder
      yield* Effect.promise(() => publishFixture(server.url, server.adminToken, { name: "proj-dep", version: "1.0.0" }))
      const home = yield* newHome
      const project = yield* tempDir("fm-etag-project-")
      fs.writeFileSync(
        path.join(project, "manifest.json"),
        JSON.stringify({ name: "p", version: "1.0.0", dependencies: { "proj-dep": "^1.0.0" } })
      )
      const withProject = <A, E>(f: (p: ProjectInstall) => Effect.Effect<A, E>) =>
        Effect.flatMap(ProjectInstall, f).pipe(
          Effect.provide(
            ProjectInstall.Default.pipe(Layer.provideMerge(clientLayerAt(home)), Layer.provideMerge(NodeContext.layer))
          ),
          Effect.exit
        )
      const asked = () => statusesOf(seen, "/proj-dep/versions").length
      const installed = (
        exit: Exit.Exit<
          { readonly packages: ReadonlyArray<{ readonly name: string; readonly version: string }> },
          unknown
        >
      ) => Exit.isSuccess(exit) ? exit.value.packages.map((p) => `${p.name}@${p.version}`) : [String(exit.cause)]

      assert.deepStrictEqual(installed(yield* withProject((p) => p.install({ dir: project }))), ["proj-dep@1.0.0"])
      assert.strictEqual(asked(), 1)
      // lock and install dir gone, the cache kept (a warm install): no metadata request
      fs.rmSync(path.join(project, "fm.lock.json"))
      fs.rmSync(path.join(project, "fm_packages"), { recursive: true })
      assert.deepStrictEqual(installed(yield* withProject((p) => p.install({ dir: project }))), ["proj-dep@1.0.0"])
      assert.strictEqual(asked(), 1)
      // with the window off, install asks (304)
      fs.rmSync(path.join(project, "fm.lock.json"))
      assert.deepStrictEqual(
        installed(yield* withProject((p) => p.install({ dir: project, metadataMaxAge: Duration.zero }))),
        ["proj-dep@1.0.0"]
      )
      assert.strictEqual(asked(), 2)
      // fm update always asks, and sees what was just published
      yield* Effect.promise(() => publishFixture(server.url, server.adminToken, { name: "proj-dep", version: "1.2.0" }))
      assert.deepStrictEqual(installed(yield* withProject((p) => p.update([], { dir: project }))), ["proj-dep@1.2.0"])
      assert.strictEqual(asked(), 3)
    }))
})
