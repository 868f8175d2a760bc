/**
 * Every failure is an answer, in an app that mounts `RegistryServer.layer` next to its own routes
 * (served by a plain `node:http` server): a defect answers 500 `internal error <id>` and logs one
 * line with that id and the cause; a URL over the limit answers 414; a JSON body is refused before
 * it is read (401 without a token; 413 when declared over 64 KiB; 400 when chunked).
 */
import { HttpApiBuilder, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, Logger, Scope } from "effect"
import * as fs from "node:fs"
import { createServer } from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Auth } from "../../src/server/http/Auth.js"
import * as RegistryServer from "../../src/server/RegistryServer.js"
import * as SqlitePackageStore from "../../src/server/storage/SqlitePackageStore.js"
import { detailOf, rawRequest } from "../helpers/raw-http.js"

const logs: Array<string> = []
let url = ""
let close: () => Promise<void> = async () => undefined
let dir = ""
let publisher = ""

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-answers-"))
  publisher = await Effect.runPromise(
    Effect.flatMap(Auth, (auth) => auth.create({ name: "publisher", scope: "publish" })).pipe(
      Effect.map((t) => t.token),
      Effect.provide(Auth.Default),
      Effect.provide(SqlitePackageStore.layer(RegistryServer.databaseFile(dir)))
    )
  )
  // the embedding app's own route, with a bug
  const Boom = HttpApiBuilder.Router.use((router) => router.get("/boom", Effect.die(new Error("kaboom\nsecond line"))))
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
  const scope = Effect.runSync(Scope.make())
  const ctx = await Effect.runPromise(Layer.buildWithScope(App, scope))
  url = RegistryServer.listeningUrl(Context.get(ctx, HttpServer.HttpServer))
  close = () => Effect.runPromise(Scope.close(scope, Exit.void))
})

afterAll(async () => {
  await close()
  fs.rmSync(dir, { recursive: true, force: true })
})

describe("failures as answers", () => {
  it("a defect answers 500 'internal error <id>' and logs one line with the id and the cause", async () => {
    const res = await fetch(`${url}/boom`)
    expect(res.status).toBe(500)
    const { detail } = await res.json() as { detail: string }
    const id = /^internal error ([0-9a-f]{12})$/.exec(detail)?.[1]
    expect(id).toBeDefined()
    const lines = logs.filter((l) => l.includes(id!))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^ERROR internal error [0-9a-f]{12}: Error: kaboom second line \(at /)
    expect(lines[0]).not.toMatch(/\n/)
  })

  it("a URL over 8 KiB answers 414 with a detail", async () => {
    const res = await fetch(`${url}/api/v1/registry/packages/search?q=${"a".repeat(9 * 1024)}`)
    expect(res.status).toBe(414)
    expect((await res.json() as { detail: string }).detail).toMatch(/URL too long/)
  })

  it("a JSON body: anonymous 401 before it is read; with a token, 413 past 64 KiB and 400 when chunked", async () => {
    const yank = (auth: string, framing: string) =>
      `POST /api/v1/registry/packages/x/1.0.0/yank HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\n${framing}\r\n`
    const anonymous = await rawRequest(url, yank("", "Content-Length: 100000\r\n"), Buffer.from("{"))
    expect(anonymous === "no answer" ? 0 : anonymous.status).toBe(401)
    const bearer = `Authorization: Bearer ${publisher}\r\n`
    const big = await rawRequest(url, yank(bearer, "Content-Length: 100000\r\n"), Buffer.from("{"))
    expect(big === "no answer" ? 0 : big.status).toBe(413)
    expect(detailOf(big)).toMatch(/64 KiB/)
    const chunked = await rawRequest(url, yank(bearer, "Transfer-Encoding: chunked\r\n"), Buffer.from("1\r\n{\r\n"))
    expect(chunked === "no answer" ? 0 : chunked.status).toBe(400)
    expect(detailOf(chunked)).toMatch(/Content-Length/)
  })
})
