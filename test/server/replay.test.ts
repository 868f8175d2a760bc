/**
 * The replay of the app's own answers before the app runs (`AnswerCache.Replay`, replayed by
 * `NodeServer.layer`, so by `RegistryServer.serve` and `fm studio start`): an anonymous package
 * read the app has answered once is answered again without reaching the app, with the app's
 * status, headers (all but `Date`) and bytes, `200` and `304` alike; a read with a token, a `HEAD`,
 * a `Range`, a download, and every read after a write (publish, yank, download count) reach the app.
 * The app is watched by a middleware of the host app that counts the requests reaching it. The same
 * holds for `RegistryServer.layer` mounted in another app served by `RegistryServer.nodeServerLayer`.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Auth } from "../../src/server/http/Auth.js"
import * as RegistryServer from "../../src/server/RegistryServer.js"
import { PackageStore } from "../../src/server/storage/PackageStore.js"
import { publishFixture } from "../helpers/server.js"

const API = "/api/v1/registry"

interface Answer {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}

/** Everything of an answer but `Date` (which differs by the second it was sent). */
const answerOf = async (res: Response): Promise<Answer> => ({
  status: res.status,
  headers: Object.fromEntries([...res.headers].filter(([k]) => k !== "date")),
  body: Buffer.from(await res.arrayBuffer()).toString("base64")
})

/**
 * The registry in this scope, with a host middleware counting the requests that reach the app:
 * `RegistryServer.serve` (as `fm studio start`), or `RegistryServer.layer` in an app of its own
 * (with a route of its own) on `RegistryServer.nodeServerLayer`.
 */
const serveCounting = (how: "serve" | "embedded") =>
  Effect.gen(function*() {
    const dataDir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "fm-replay-"))),
      (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    )
    const counter = { reached: 0 }
    const counting = HttpApiBuilder.middleware((app) => Effect.zipRight(Effect.sync(() => void counter.reached++), app))
    const options = { dataDir, port: 0, host: "127.0.0.1", logRequests: false }
    const hello = HttpApiBuilder.Router.use((router) => router.get("/hello", HttpServerResponse.text("hello")))
    const ctx = yield* Layer.build(
      how === "serve"
        ? RegistryServer.serve(options, counting)
        : HttpApiBuilder.serve().pipe(
          Layer.provide(Layer.merge(counting, hello)),
          Layer.provideMerge(RegistryServer.apiLayerFrom(options)),
          Layer.provideMerge(RegistryServer.storageLayer(dataDir)),
          Layer.provideMerge(RegistryServer.nodeServerLayer({ host: "127.0.0.1", port: 0 }))
        )
    )
    const store = Context.get(ctx, PackageStore)
    const auth = yield* Effect.provide(Auth, Auth.Default.pipe(Layer.provide(Layer.succeed(PackageStore, store))))
    const admin = (yield* auth.create({ name: "admin", scope: "admin" })).token
    const reader = (yield* auth.create({ name: "reader", scope: "read" })).token
    const url = RegistryServer.listeningUrl(Context.get(ctx, HttpServer.HttpServer))
    return { url, admin, reader, counter }
  })

/** The checks of the module doc, against the registry served `how`. */
const replays = (how: "serve" | "embedded") =>
  Effect.gen(function*() {
    const { admin, counter, reader, url } = yield* serveCounting(how)
    yield* Effect.promise(async () => {
      await publishFixture(url, admin, { name: "alpha", version: "1.0.0", manifest: { description: "Alpha" } })
      await publishFixture(url, admin, { name: "alpha", version: "1.1.0", manifest: { description: "Alpha, newer" } })
      const get = async (p: string, headers: Record<string, string> = {}, method = "GET") =>
        answerOf(await fetch(`${url}${API}${p}`, { method, headers }))
      /** `p` asked `times` times: the app's first answer, then how many of the rest reached the app. */
      const repeat = async (p: string, headers: Record<string, string> = {}, times = 4, method = "GET") => {
        const first = await get(p, headers, method)
        const before = counter.reached
        for (let i = 1; i < times; i++) assert.deepStrictEqual(await get(p, headers, method), first, `${method} ${p}`)
        return { first, reachedApp: counter.reached - before }
      }
      const reads = [
        "/packages/alpha",
        "/packages/alpha/versions",
        "/packages/alpha/1.0.0",
        "/packages/search?q=alph"
      ]

      // anonymous reads: after the app's first answer, none reaches it (its 200 and its 304 alike)
      const etags: Record<string, string> = {}
      for (const p of reads) {
        const { first, reachedApp } = await repeat(p)
        assert.strictEqual(first.status, 200, p)
        assert.strictEqual(reachedApp, 0, `${p} reached the app`)
        const etag = first.headers["etag"]
        assert.isString(etag, p)
        etags[p] = etag ?? ""
        const unchanged = await repeat(p, { "if-none-match": etags[p] ?? "" })
        assert.strictEqual(unchanged.first.status, 304, p)
        assert.strictEqual(unchanged.first.body, "")
        assert.strictEqual(unchanged.reachedApp, 0, `${p} 304 reached the app`)
        const other = await repeat(p, { "if-none-match": "\"other\"" })
        assert.deepStrictEqual(other.first, first)
      }

      // with a token, a HEAD or a range: every one reaches the app
      assert.strictEqual((await repeat("/packages/alpha", { authorization: `Bearer ${reader}` })).reachedApp, 3)
      assert.strictEqual((await repeat("/packages/alpha", {}, 4, "HEAD")).reachedApp, 3)
      assert.strictEqual((await repeat("/packages/alpha", { range: "bytes=0-1" })).reachedApp, 3)
      // a download counts each time: it reaches the app, and the next read sees the count
      const download = await repeat("/packages/alpha/1.1.0/download")
      assert.strictEqual(download.reachedApp, 3)
      const counted = await repeat("/packages/alpha")
      assert.strictEqual(counted.first.status, 200)
      assert.include(Buffer.from(counted.first.body, "base64").toString(), "\"downloads\":4")
      assert.notStrictEqual(counted.first.headers["etag"], etags["/packages/alpha"])
      assert.strictEqual(counted.reachedApp, 0)

      // a publish: the next reads reach the app and tell it, an old ETag gets the new answer
      await publishFixture(url, admin, {
        name: "alpha",
        version: "1.2.0",
        manifest: { description: "Alpha, newest" }
      })
      for (const p of reads) {
        const before = counter.reached
        const after = await get(p, { "if-none-match": etags[p] ?? "" })
        assert.strictEqual(counter.reached - before, 1, `${p} after a publish`)
        assert.strictEqual(after.status, 200, p)
        assert.include(Buffer.from(after.body, "base64").toString(), "\"1.2.0\"", p)
      }
      // a yank, through the API: the same
      const yank = await fetch(`${url}${API}/packages/alpha/1.2.0/yank`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify({ reason: "broken" })
      })
      assert.strictEqual(yank.status, 200)
      const before = counter.reached
      const info = await get("/packages/alpha")
      assert.strictEqual(counter.reached - before, 1)
      assert.include(Buffer.from(info.body, "base64").toString(), "\"latest_version\":\"1.1.0\"")
      // unknown packages are the app's to answer, every time
      assert.strictEqual((await repeat("/packages/nope")).reachedApp, 3)
    })
    return url
  })

describe("the replay of the app's own answers", () => {
  it.scopedLive("RegistryServer.serve answers an anonymous read again without the app, byte for byte", () =>
    replays("serve"))
  it.scopedLive("so does an app mounting the registry on RegistryServer.nodeServerLayer, its own routes apart", () =>
    Effect.gen(function*() {
      const url = yield* replays("embedded")
      const hello = yield* Effect.promise(async () => (await fetch(`${url}/hello`)).text())
      assert.strictEqual(hello, "hello")
    }))
})
