/**
 * End to end against REAL fm registry servers (test/helpers/server.ts) on 127.0.0.1, each seen
 * through a small recording node:http proxy (which can also tamper with downloads).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { clientLayerAt } from "../../src/client/ClientLayers.js"
import { Installer } from "../../src/client/Installer.js"
import { Registries } from "../../src/client/Registries.js"
import { closedPort, writeRegistries } from "../helpers/quirky-server.js"
import { fixtureArchive, publishFixture, type RunningServer, startServer } from "../helpers/server.js"
import { settingsLayer } from "../helpers/settings.js"

/** One retry, 10 ms apart: the servers here answer at once, so the tests stay quick. */
const settings = settingsLayer({ FLOWMASON_HTTP_RETRIES: "1", FLOWMASON_HTTP_RETRY_DELAY_MS: "10" })

interface Proxy {
  readonly url: string
  readonly log: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders }>
  readonly stop: () => Promise<void>
}

/** A recording reverse proxy to `target`; `tamper` flips the last byte of every download. */
const startProxy = (target: string | (() => string), options: { readonly tamper?: boolean } = {}): Promise<Proxy> => {
  const log: Proxy["log"] = []
  const server = http.createServer((req, res) => {
    const t = new URL(typeof target === "string" ? target : target())
    log.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers })
    const headers = { ...req.headers } // keep Host: the server builds download_url from it
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers }, (ur) => {
      if (options.tamper === true && (req.url ?? "").endsWith("/download") && ur.statusCode === 200) {
        const chunks: Array<Buffer> = []
        ur.on("data", (c: Buffer) => chunks.push(c))
        ur.on("end", () => {
          const body = Buffer.concat(chunks)
          body[body.length - 1] = body[body.length - 1]! ^ 0xff
          res.writeHead(200, { ...ur.headers, "content-length": body.length })
          res.end(body)
        })
        return
      }
      res.writeHead(ur.statusCode ?? 502, ur.headers)
      ur.pipe(res)
    })
    up.on("error", () => res.destroy())
    req.pipe(up)
  })
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        log,
        stop: () =>
          new Promise<void>((r) => {
            server.closeAllConnections()
            server.close(() => r())
          })
      }))
  )
}

let a: RunningServer
let b: RunningServer
let priv: RunningServer
let cdnTarget: RunningServer
let cdn: Proxy
const proxies: Array<Proxy> = []
const dirs: Array<string> = []
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "fm-real-"))
  dirs.push(d)
  return d
}

beforeAll(async () => {
  a = await startServer({ inProcess: true })
  b = await startServer({ inProcess: true })
  priv = await startServer({ inProcess: true, private: true })
  await publishFixture(a.url, a.adminToken, { name: "both", version: "1.0.0", manifest: { description: "from A" } })
  await publishFixture(b.url, b.adminToken, { name: "both", version: "1.0.0", manifest: { description: "from B" } })
  await publishFixture(b.url, b.adminToken, { name: "only-b", version: "2.0.0" })
  await publishFixture(priv.url, priv.adminToken, { name: "secret", version: "1.0.0" })
  // a registry whose download_url points at another origin (a recording proxy, "the CDN"): the
  // proxy starts first (its URL is the server's public URL), then learns the server's address
  let cdnBackend = ""
  cdn = await startProxy(() => cdnBackend)
  cdnTarget = await startServer({ inProcess: true, publicUrl: cdn.url })
  cdnBackend = cdnTarget.url
}, 180_000)

afterAll(async () => {
  await Promise.all([
    a?.stop(),
    b?.stop(),
    priv?.stop(),
    cdnTarget?.stop(),
    cdn?.stop(),
    ...proxies.map((p) => p.stop())
  ])
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

const proxy = async (target: string, options: { readonly tamper?: boolean } = {}) => {
  const p = await startProxy(target, options)
  proxies.push(p)
  return p
}

const withHome = <A, E>(
  registries: ReadonlyArray<Record<string, unknown>>,
  program: Effect.Effect<A, E, Registries | Installer>
) => {
  const home = tmp()
  writeRegistries(home, registries)
  return program.pipe(Effect.provide(clientLayerAt(home).pipe(Layer.provide(settings))))
}

describe("real fm registry servers", () => {
  it.live("lower-priority only, same name in both (higher priority wins), and a down registry first", () =>
    Effect.gen(function*() {
      const down = yield* Effect.promise(() => closedPort())
      const pa = yield* Effect.promise(() => proxy(a.url))
      const pb = yield* Effect.promise(() => proxy(b.url))
      const regs = [
        { name: "down", url: `http://127.0.0.1:${down}`, priority: 1 },
        { name: "b", url: pb.url, priority: 20 },
        { name: "a", url: pa.url, priority: 10 }
      ]
      const dir = tmp()
      const got = yield* withHome(
        regs,
        Effect.gen(function*() {
          const installer = yield* Installer
          const onlyB = yield* installer.installName("only-b", { dir })
          const both = yield* installer.installName("both", { dir })
          const info = yield* Effect.flatMap(Registries, (r) => r.getPackage("both"))
          return { onlyB, both, info }
        })
      )
      assert.strictEqual(got.onlyB.registry, "b")
      assert.strictEqual(got.onlyB.version, "2.0.0")
      assert.strictEqual(got.both.registry, "a")
      assert.strictEqual(got.info.info.description, "from A")
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), ["both-1.0.0.fmpkg", "only-b-2.0.0.fmpkg"])
      assert.isFalse(pb.log.some((l) => l.url.includes("/packages/both")))
    }))

  it.live("tampered download: ChecksumMismatch naming the registry, nothing installed, the next registry not used", () =>
    Effect.gen(function*() {
      const evil = yield* Effect.promise(() => proxy(b.url, { tamper: true }))
      const honest = yield* Effect.promise(() => proxy(b.url))
      const dir = tmp()
      const e = yield* withHome([
        { name: "evil", url: evil.url, priority: 1 },
        { name: "honest", url: honest.url, priority: 2 }
      ], Effect.flatMap(Installer, (i) => i.installName("only-b", { dir }))).pipe(Effect.flip)
      assert.strictEqual(e._tag, "ChecksumMismatch")
      assert.match(e.message, /only-b@2\.0\.0 from registry evil/)
      assert.deepStrictEqual(fs.readdirSync(dir), [])
      assert.strictEqual(honest.log.length, 0)
    }))

  it.live("a private registry without a token: AuthenticationFailed (401) naming it; with the token: installs", () =>
    Effect.gen(function*() {
      const e = yield* withHome(
        [{ name: "private", url: priv.url }],
        Effect.flatMap(Registries, (r) => r.getPackage("secret"))
      ).pipe(
        Effect.flip
      )
      assert.strictEqual(e._tag, "AuthenticationFailed")
      assert.match(e.message, /registry private/)
      const ok = yield* withHome(
        [{ name: "private", url: priv.url, auth_token: priv.adminToken }],
        Effect.flatMap(Installer, (i) => i.installName("secret", { dir: tmp() }))
      )
      assert.strictEqual(ok.version, "1.0.0")
    }))

  it.live("download_url on another origin: the token never reaches it", () =>
    Effect.gen(function*() {
      yield* Effect.promise(() =>
        publishFixture(cdnTarget.url, cdnTarget.adminToken, { name: "cdn-pkg", version: "1.0.0" }).then(() => undefined)
      )
      const r = yield* withHome(
        [{ name: "tokened", url: cdnTarget.url, auth_token: cdnTarget.adminToken }],
        Effect.gen(function*() {
          const found = yield* Effect.flatMap(Registries, (reg) => reg.getPackage("cdn-pkg"))
          const installed = yield* Effect.flatMap(Installer, (i) => i.installName("cdn-pkg", { dir: tmp() }))
          return { found, installed }
        })
      )
      assert.isTrue(r.found.info.download_url.startsWith(cdn.url))
      assert.deepStrictEqual(fs.readFileSync(r.installed.path), fixtureArchive({ name: "cdn-pkg", version: "1.0.0" }))
      const downloads = cdn.log.filter((l) => l.url.endsWith("/download"))
      assert.strictEqual(downloads.length, 1)
      assert.isUndefined(downloads[0]!.headers.authorization)
    }))
})
