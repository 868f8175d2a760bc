/**
 * Every failure is an answer, in an app that mounts `RegistryServer.layer` next to its own routes
 * (served by a plain `node:http` server): a defect answers 500 `internal error <id>` and logs one
 * line with that id and the cause; a URL over the limit answers 414; a JSON body is refused before
 * it is read (401 without a token; 413 when declared over 64 KiB; 400 when chunked).
 */
import { HttpApiBuilder, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Logger } from "effect"
import * as fs from "node:fs"
import { createServer } from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { Auth } from "../../src/server/http/Auth.js"
import * as RegistryServer from "../../src/server/RegistryServer.js"
import * as SqlitePackageStore from "../../src/server/storage/SqlitePackageStore.js"
import { detailOf, rawRequest } from "../helpers/raw-http.js"

const logs: Array<string> = []

/** The embedding app, running: its URL and a publish token. */
class Embedder extends Context.Tag("test/Embedder")<Embedder, { readonly url: string; readonly publisher: string }>() {}

const EmbedderLive = Layer.scoped(
  Embedder,
  Effect.gen(function*() {
    // removed when the layer's scope closes, after the app (built later) has stopped
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "fm-answers-"))),
      (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
    )
    const publisher = yield* Effect.flatMap(Auth, (auth) => auth.create({ name: "publisher", scope: "publish" })).pipe(
      Effect.map((t) => t.token),
      Effect.provide(Auth.Default),
      Effect.provide(SqlitePackageStore.layer(RegistryServer.databaseFile(dir)))
    )
    // the embedding app's own route, with a bug
    const Boom = HttpApiBuilder.Router.use((router) =>
      router.get("/boom", Effect.die(new Error("kaboom\nsecond line")))
    )
    const CaptureLogs = Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ logLevel, message }) => {
        logs.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
      })
    )
    const App = HttpApiBuilder.serve().pipe(
      Layer.provide(Boom),
      Layer.provide(RegistryServer.layer({ dataDir: dir, logRequests: false })),
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
      Layer.provide(CaptureLogs)
    )
    const ctx = yield* Layer.build(App)
    return { url: RegistryServer.listeningUrl(Context.get(ctx, HttpServer.HttpServer)), publisher }
  })
)

layer(EmbedderLive, { excludeTestServices: true })("failures as answers", (it) => {
  it.effect("a defect answers 500 'internal error <id>' and logs one line with the id and the cause", () =>
    Effect.flatMap(Embedder, ({ url }) =>
      Effect.promise(async () => {
        const res = await fetch(`${url}/boom`)
        assert.strictEqual(res.status, 500)
        const { detail } = await res.json() as { detail: string }
        const id = /^internal error ([0-9a-f]{12})$/.exec(detail)?.[1]
        assert.isDefined(id)
        const lines = logs.filter((l) => l.includes(id!))
        assert.lengthOf(lines, 1)
        assert.match(lines[0], /^ERROR internal error [0-9a-f]{12}: Error: kaboom second line \(at /)
        assert.notMatch(lines[0], /\n/)
      })))

  it.effect("a URL over 8 KiB answers 414 with a detail", () =>
    Effect.flatMap(Embedder, ({ url }) =>
      Effect.promise(async () => {
        const res = await fetch(`${url}/api/v1/registry/packages/search?q=${"a".repeat(9 * 1024)}`)
        assert.strictEqual(res.status, 414)
        assert.match((await res.json() as { detail: string }).detail, /URL too long/)
      })))

  it.effect("a JSON body: anonymous 401 before it is read; with a token, 413 past 64 KiB and 400 when chunked", () =>
    Effect.flatMap(Embedder, ({ publisher, url }) =>
      Effect.promise(async () => {
        const yank = (auth: string, framing: string) =>
          `POST /api/v1/registry/packages/x/1.0.0/yank HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\n${framing}\r\n`
        const anonymous = await rawRequest(url, yank("", "Content-Length: 100000\r\n"), Buffer.from("{"))
        assert.strictEqual(anonymous === "no answer" ? 0 : anonymous.status, 401)
        const bearer = `Authorization: Bearer ${publisher}\r\n`
        const big = await rawRequest(url, yank(bearer, "Content-Length: 100000\r\n"), Buffer.from("{"))
        assert.strictEqual(big === "no answer" ? 0 : big.status, 413)
        assert.match(detailOf(big), /64 KiB/)
        const chunked = await rawRequest(url, yank(bearer, "Transfer-Encoding: chunked\r\n"), Buffer.from("1\r\n{\r\n"))
        assert.strictEqual(chunked === "no answer" ? 0 : chunked.status, 400)
        assert.match(detailOf(chunked), /Content-Length/)
      })))
})
