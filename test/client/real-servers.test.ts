/**
 * End to end against REAL fm registry servers (test/helpers/server.ts) on 127.0.0.1, each seen
 * through a small recording node:http proxy (which can also tamper with downloads).
 */
import { assert, layer } from "@effect/vitest"
import type { Scope } from "effect"
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import { clientLayerAt } from "../../src/client/ClientLayers.js"
import { Installer } from "../../src/client/Installer.js"
import { Registries } from "../../src/client/Registries.js"
import { closedPort, writeRegistries } from "../helpers/quirky-server.js"
import { listening, tempDir } from "../helpers/scoped.js"
import { acquireServer, fixtureArchive, publishFixture, type ScopedServer } from "../helpers/server.js"
import { settingsLayer } from "../helpers/settings.js"

/** One retry, 10 ms apart: the servers here answer at once, so the tests stay quick. */
const settings = settingsLayer({ FLOWMASON_HTTP_RETRIES: "1", FLOWMASON_HTTP_RETRY_DELAY_MS: "10" })

interface Proxy {
  readonly url: string
  readonly log: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders }>
}

/**
 * A recording reverse proxy to `target`, closed when the scope closes; `tamper` flips the last byte
 * of every download.
 */
const proxy = (
  target: string | (() => string),
  options: { readonly tamper?: boolean } = {}
): Effect.Effect<Proxy, never, Scope.Scope> => {
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
  return Effect.map(listening(server), (url): Proxy => ({ url, log }))
}

/** The file's servers: `a`, `b`, a private one, and one whose download_url points at `cdn`. */
class Servers extends Context.Tag("test/real-servers/Servers")<Servers, {
  readonly a: ScopedServer
  readonly b: ScopedServer
  readonly priv: ScopedServer
  readonly cdnTarget: ScopedServer
  readonly cdn: Proxy
}>() {}

const Started = Layer.scoped(
  Servers,
  Effect.gen(function*() {
    const [a, b, priv] = yield* Effect.all([
      acquireServer({ inProcess: true }),
      acquireServer({ inProcess: true }),
      acquireServer({ inProcess: true, private: true })
    ])
    yield* Effect.promise(async () => {
      await publishFixture(a.url, a.adminToken, { name: "both", version: "1.0.0", manifest: { description: "from A" } })
      await publishFixture(b.url, b.adminToken, { name: "both", version: "1.0.0", manifest: { description: "from B" } })
      await publishFixture(b.url, b.adminToken, { name: "only-b", version: "2.0.0" })
      await publishFixture(priv.url, priv.adminToken, { name: "secret", version: "1.0.0" })
    })
    // a registry whose download_url points at another origin (a recording proxy, "the CDN"): the
    // proxy starts first (its URL is the server's public URL), then learns the server's address
    let cdnBackend = ""
    const cdn = yield* proxy(() => cdnBackend)
    const cdnTarget = yield* acquireServer({ inProcess: true, publicUrl: cdn.url })
    cdnBackend = cdnTarget.url
    return { a, b, priv, cdnTarget, cdn }
  })
)

/** A temp directory removed when the test's scope closes. */
const tmp = tempDir("fm-real-")

const withHome = <A, E>(
  registries: ReadonlyArray<Record<string, unknown>>,
  program: Effect.Effect<A, E, Registries | Installer>
) =>
  Effect.gen(function*() {
    const home = yield* tmp
    writeRegistries(home, registries)
    return yield* program.pipe(Effect.provide(clientLayerAt(home).pipe(Layer.provide(settings))))
  })

layer(Started, { excludeTestServices: true, timeout: "180 seconds" })("real fm registry servers", (it) => {
  it.scoped("lower-priority only, same name in both (higher priority wins), and a down registry first", () =>
    Effect.gen(function*() {
      const { a, b } = yield* Servers
      const down = yield* Effect.promise(() => closedPort())
      const pa = yield* proxy(a.url)
      const pb = yield* proxy(b.url)
      const regs = [
        { name: "down", url: `http://127.0.0.1:${down}`, priority: 1 },
        { name: "b", url: pb.url, priority: 20 },
        { name: "a", url: pa.url, priority: 10 }
      ]
      const dir = yield* tmp
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

  it.scoped("tampered download: ChecksumMismatch naming the registry, nothing installed, the next registry not used", () =>
    Effect.gen(function*() {
      const { b } = yield* Servers
      const evil = yield* proxy(b.url, { tamper: true })
      const honest = yield* proxy(b.url)
      const dir = yield* tmp
      const e = yield* withHome([
        { name: "evil", url: evil.url, priority: 1 },
        { name: "honest", url: honest.url, priority: 2 }
      ], Effect.flatMap(Installer, (i) => i.installName("only-b", { dir }))).pipe(Effect.flip)
      assert.strictEqual(e._tag, "ChecksumMismatch")
      assert.match(e.message, /only-b@2\.0\.0 from registry evil/)
      assert.deepStrictEqual(fs.readdirSync(dir), [])
      assert.strictEqual(honest.log.length, 0)
    }))

  it.scoped("a private registry without a token: AuthenticationFailed (401) naming it; with the token: installs", () =>
    Effect.gen(function*() {
      const { priv } = yield* Servers
      const e = yield* withHome(
        [{ name: "private", url: priv.url }],
        Effect.flatMap(Registries, (r) => r.getPackage("secret"))
      ).pipe(
        Effect.flip
      )
      assert.strictEqual(e._tag, "AuthenticationFailed")
      const dir = yield* tmp
      assert.match(e.message, /registry private/)
      const ok = yield* withHome(
        [{ name: "private", url: priv.url, auth_token: priv.adminToken }],
        Effect.flatMap(Installer, (i) => i.installName("secret", { dir }))
      )
      assert.strictEqual(ok.version, "1.0.0")
    }))

  it.scoped("download_url on another origin: the token never reaches it", () =>
    Effect.gen(function*() {
      const { cdn, cdnTarget } = yield* Servers
      yield* Effect.promise(() =>
        publishFixture(cdnTarget.url, cdnTarget.adminToken, { name: "cdn-pkg", version: "1.0.0" }).then(() => undefined)
      )
      const dir = yield* tmp
      const r = yield* withHome(
        [{ name: "tokened", url: cdnTarget.url, auth_token: cdnTarget.adminToken }],
        Effect.gen(function*() {
          const found = yield* Effect.flatMap(Registries, (reg) => reg.getPackage("cdn-pkg"))
          const installed = yield* Effect.flatMap(Installer, (i) => i.installName("cdn-pkg", { dir }))
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
