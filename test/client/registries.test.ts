import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { clientLayerAt } from "../../src/client/ClientLayers.js"
import { Installer } from "../../src/client/Installer.js"
import { Registries } from "../../src/client/Registries.js"
import { closedPort, makeFmpkg, type StandIn, startStandIn, writeRegistries } from "../helpers/quirky-server.js"
import { settingsLayer } from "../helpers/settings.js"

/** One retry 10 ms apart and a 5 s timeout: the servers here answer (or refuse) at once. */
const settings = settingsLayer({
  FLOWMASON_HTTP_RETRIES: "1",
  FLOWMASON_HTTP_RETRY_DELAY_MS: "10",
  FLOWMASON_HTTP_TIMEOUT: "5"
})
/** The client's layers over `home`, reading the settings above. */
const clientLayer = (home: string) => clientLayerAt(home).pipe(Layer.provide(settings))

const servers: Array<StandIn> = []
const dirs: Array<string> = []
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "fm-client-"))
  dirs.push(d)
  return d
}
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()))
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

let bytes: Record<string, Uint8Array> = {}
beforeAll(async () => {
  bytes = {
    "alpha@1.0.0": await makeFmpkg("alpha", "1.0.0"),
    "alpha@1.1.0": await makeFmpkg("alpha", "1.1.0"),
    "alpha@2.0.0": await makeFmpkg("alpha", "2.0.0"),
    "shared@1.0.0/primary": await makeFmpkg("shared", "1.0.0", { description: "primary copy" }),
    "shared@1.0.0/fallback": await makeFmpkg("shared", "1.0.0", { description: "fallback copy" }),
    "shared@0.9.0/fallback": await makeFmpkg("shared", "0.9.0", { description: "older fallback copy" }),
    "lower@0.3.0": await makeFmpkg("lower", "0.3.0"),
    "bad@1.0.0": await makeFmpkg("bad", "1.0.0")
  }
})

const start = async (o: Parameters<typeof startStandIn>[0]) => {
  const s = await startStandIn(o)
  servers.push(s)
  return s
}

const pkg = (key: string, name: string, version: string, extra: { yanked?: boolean; description?: string } = {}) => ({
  name,
  version,
  bytes: bytes[key]!,
  ...extra
})

/** Runs a program against a fresh FLOWMASON_HOME with the given registries. */
const withHome = <A, E>(
  registries: ReadonlyArray<Record<string, unknown>>,
  program: (home: string) => Effect.Effect<A, E, Registries | Installer>
) => {
  const home = tmp()
  writeRegistries(home, registries)
  return program(home).pipe(Effect.provide(clientLayer(home)))
}

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  const f = Cause.failureOption(exit.cause)
  if (Option.isNone(f)) throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return f.value
}

describe("Registries and Installer against real servers on 127.0.0.1", () => {
  it.live("a package only in the lower-priority registry is found there", () =>
    Effect.gen(function*() {
      const primary = yield* Effect.promise(() => start({ packages: [pkg("alpha@1.0.0", "alpha", "1.0.0")] }))
      const fallback = yield* Effect.promise(() => start({ packages: [pkg("lower@0.3.0", "lower", "0.3.0")] }))
      const result = yield* withHome([
        { name: "fallback", url: fallback.url, priority: 100 },
        { name: "primary", url: primary.url, priority: 10 }
      ], (home) =>
        Effect.gen(function*() {
          const installer = yield* Installer
          const r = yield* installer.install("lower", { dir: path.join(home, "pk") })
          return { r, files: fs.readdirSync(path.join(home, "pk")) }
        }))
      assert.strictEqual(result.r.registry, "fallback")
      assert.strictEqual(result.r.version, "0.3.0")
      assert.deepStrictEqual(result.files, ["lower-0.3.0.fmpkg"])
      assert.deepStrictEqual(new Uint8Array(fs.readFileSync(result.r.path)), bytes["lower@0.3.0"])
      // the primary was asked first and said 404
      assert.isTrue(primary.log.some((l) => l.url.includes("/packages/lower")))
    }))

  it.live("the same name in both: the higher priority (lower number) wins", () =>
    Effect.gen(function*() {
      const a = yield* Effect.promise(() => start({ packages: [pkg("shared@1.0.0/fallback", "shared", "1.0.0")] }))
      const b = yield* Effect.promise(() => start({ packages: [pkg("shared@1.0.0/primary", "shared", "1.0.0")] }))
      const r = yield* withHome([
        { name: "a", url: a.url, priority: 100 },
        { name: "b", url: b.url, priority: 5 }
      ], () => Effect.flatMap(Installer, (i) => i.installName("shared", { dir: tmp() })))
      assert.strictEqual(r.registry, "b")
      assert.deepStrictEqual(new Uint8Array(fs.readFileSync(r.path)), bytes["shared@1.0.0/primary"])
      assert.isFalse(a.log.some((l) => l.url.includes("download")))
    }))

  it.live("ties in priority keep config order", () =>
    Effect.gen(function*() {
      const a = yield* Effect.promise(() => start({ packages: [pkg("shared@1.0.0/fallback", "shared", "1.0.0")] }))
      const b = yield* Effect.promise(() => start({ packages: [pkg("shared@1.0.0/primary", "shared", "1.0.0")] }))
      const r = yield* withHome([
        { name: "first", url: a.url, priority: 10 },
        { name: "second", url: b.url, priority: 10 }
      ], () => Effect.flatMap(Registries, (reg) => reg.getPackage("shared")))
      assert.strictEqual(r.registry, "first")
    }))

  it.live("a registry that is down (closed port) falls through to the next", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(() => closedPort())
      const up = yield* Effect.promise(() => start({ packages: [pkg("alpha@1.1.0", "alpha", "1.1.0")] }))
      const r = yield* withHome([
        { name: "down", url: `http://127.0.0.1:${port}`, priority: 1 },
        { name: "up", url: up.url, priority: 2 }
      ], () => Effect.flatMap(Installer, (i) => i.installName("alpha", { dir: tmp() })))
      assert.strictEqual(r.registry, "up")
      assert.strictEqual(r.version, "1.1.0")
    }))

  it.live("all down and not cached: the error lists every registry's outcome", () =>
    Effect.gen(function*() {
      const p1 = yield* Effect.promise(() => closedPort())
      const five = yield* Effect.promise(() => start({ failAll: 503 }))
      const exit = yield* withHome([
        { name: "gone", url: `http://127.0.0.1:${p1}`, priority: 1 },
        { name: "sick", url: five.url, priority: 2 }
      ], () => Effect.flatMap(Installer, (i) => i.installName("alpha", { dir: tmp() }))).pipe(Effect.exit)
      const e = failureOf(exit)
      assert.strictEqual(e._tag, "RegistriesExhausted")
      assert.match(e.message, /alpha/)
      assert.match(e.message, /gone: unavailable/)
      assert.match(e.message, /sick: unavailable \(HTTP 503/)
      // 503 is transient: the first contact is one attempt; the registry answered, so the call is
      // made again with the retries left (FLOWMASON_HTTP_RETRIES=1) before moving on: retries + 1
      // requests in all, never one more
      assert.strictEqual(five.log.filter((l) => l.url.includes("/packages/alpha")).length, 2)
    }))

  it.live("tampered bytes: install fails naming the registry, nothing is installed, the next registry is not used", () =>
    Effect.gen(function*() {
      const evil = yield* Effect.promise(() =>
        start({ packages: [pkg("bad@1.0.0", "bad", "1.0.0")], tamper: ["bad@1.0.0"] })
      )
      const good = yield* Effect.promise(() => start({ packages: [pkg("bad@1.0.0", "bad", "1.0.0")] }))
      const dir = tmp()
      const exit = yield* withHome([
        { name: "evil", url: evil.url, priority: 1 },
        { name: "good", url: good.url, priority: 2 }
      ], (home) =>
        Effect.flatMap(Installer, (i) => i.installName("bad", { dir })).pipe(
          Effect.exit,
          Effect.tap(() =>
            Effect.sync(() => {
              // nothing in the cache's blobs and no temp file left behind
              const blobs = path.join(home, "cache", "packages", "blobs")
              const left = fs.existsSync(blobs) ? fs.readdirSync(blobs) : []
              assert.deepStrictEqual(left, [])
              const tmpd = path.join(home, "cache", "packages", "tmp")
              assert.deepStrictEqual(fs.existsSync(tmpd) ? fs.readdirSync(tmpd) : [], [])
            })
          )
        ))
      const e = failureOf(exit)
      assert.strictEqual(e._tag, "ChecksumMismatch")
      assert.match(e.message, /evil/)
      assert.match(e.message, /bad@1\.0\.0/)
      assert.deepStrictEqual(fs.readdirSync(dir), [])
      assert.strictEqual(good.log.length, 0)
    }))

  it.live("a registry that needs a token and has none: a clear AuthenticationFailed, not a fallback", () =>
    Effect.gen(function*() {
      const priv = yield* Effect.promise(() =>
        start({ packages: [pkg("alpha@1.0.0", "alpha", "1.0.0")], token: "s3cret" })
      )
      const pub = yield* Effect.promise(() => start({ packages: [pkg("alpha@1.0.0", "alpha", "1.0.0")] }))
      const exit = yield* withHome([
        { name: "private", url: priv.url, priority: 1, requires_auth: true },
        { name: "public", url: pub.url, priority: 2 }
      ], () => Effect.flatMap(Registries, (r) => r.getPackage("alpha"))).pipe(Effect.exit)
      const e = failureOf(exit)
      assert.strictEqual(e._tag, "AuthenticationFailed")
      assert.match(e.message, /registry private/)
      assert.match(e.message, /401/)
      assert.strictEqual(e._tag === "AuthenticationFailed" ? e.status : 0, 401)
      assert.match(e._tag === "AuthenticationFailed" ? e.hint : "", /--token|FLOWMASON_REGISTRY_TOKEN/)
      assert.strictEqual(pub.log.length, 0)
    }))

  it.live("the token goes to the registry's origin only, never to a download URL on another host", () =>
    Effect.gen(function*() {
      const files = yield* Effect.promise(() => start({ packages: [pkg("alpha@1.0.0", "alpha", "1.0.0")] }))
      const priv = yield* Effect.promise(() =>
        start({ packages: [pkg("alpha@1.0.0", "alpha", "1.0.0")], token: "s3cret", downloadBase: files.url })
      )
      const r = yield* withHome([
        { name: "private", url: priv.url, priority: 1, auth_token: "s3cret" }
      ], () => Effect.flatMap(Installer, (i) => i.installName("alpha", { version: "1.0.0", dir: tmp() })))
      assert.strictEqual(r.registry, "private")
      const downloads = files.log.filter((l) => l.url.endsWith("/download"))
      assert.strictEqual(downloads.length, 1)
      assert.isUndefined(downloads[0]!.headers.authorization)
      assert.strictEqual(downloads[0]!.headers["user-agent"], "fm/0.1.0")
      assert.isTrue(priv.log.every((l) => l.headers.authorization === "Bearer s3cret"))
    }))

  it.live("versions: exact, range, latest skips yanked and prereleases", () =>
    Effect.gen(function*() {
      const s = yield* Effect.promise(() =>
        start({
          packages: [
            pkg("alpha@1.0.0", "alpha", "1.0.0"),
            pkg("alpha@1.1.0", "alpha", "1.1.0"),
            pkg("alpha@2.0.0", "alpha", "2.0.0", { yanked: true })
          ]
        })
      )
      const got = yield* withHome([{ name: "s", url: s.url }], () =>
        Effect.gen(function*() {
          const r = yield* Registries
          const latest = yield* r.getPackage("alpha")
          const range = yield* r.getPackage("alpha", { version: "~1.0" })
          const exactYanked = yield* r.getPackage("alpha", { version: "2.0.0" })
          const none = yield* r.getPackage("alpha", { version: "^3" }).pipe(Effect.flip)
          const versions = yield* r.listVersions("alpha")
          return { latest, range, exactYanked, none, versions }
        }))
      assert.strictEqual(got.latest.info.version, "1.1.0")
      assert.strictEqual(got.range.info.version, "1.0.0")
      assert.strictEqual(got.exactYanked.info.version, "2.0.0")
      assert.strictEqual(got.none._tag, "RegistriesExhausted")
      assert.match(got.none.message, /alpha@\^3/)
      assert.deepStrictEqual(got.versions.releases.map((r) => [r.version, r.yanked]), [
        ["1.0.0", false],
        ["1.1.0", false],
        ["2.0.0", true]
      ])
      assert.isTrue(got.versions.supported)
    }))

  it.live("an interrupted download leaves no file and is retried", () =>
    Effect.gen(function*() {
      const big = yield* Effect.promise(() => makeFmpkg("big", "1.0.0", { padBytes: 256 * 1024 }))
      const s = yield* Effect.promise(() =>
        start({ packages: [{ name: "big", version: "1.0.0", bytes: big }], breakDownloads: { "big@1.0.0": 1 } })
      )
      const r = yield* withHome([{ name: "s", url: s.url }], () =>
        Effect.flatMap(Installer, (i) => i.installName("big", { dir: tmp() })))
      assert.deepStrictEqual(new Uint8Array(fs.readFileSync(r.path)), big)
      assert.strictEqual(
        s.log.filter((l) =>
          l.url.endsWith("/download")
        ).length,
        2
      )
    }))

  it.live("a warm cache downloads nothing; all registries down still installs an exact cached version; --offline uses only the cache", () =>
    Effect.gen(function*() {
      const s = yield* Effect.promise(() => start({ packages: [pkg("alpha@1.1.0", "alpha", "1.1.0")] }))
      const home = tmp()
      writeRegistries(home, [{ name: "s", url: s.url }])
      const layer = clientLayer(home)
      const first = yield* Effect.flatMap(Installer, (i) => i.installName("alpha", { dir: tmp() })).pipe(
        Effect.provide(layer)
      )
      assert.isFalse(first.fromCache)
      const second = yield* Effect.flatMap(Installer, (i) => i.installName("alpha", { dir: tmp() })).pipe(
        Effect.provide(layer)
      )
      assert.isTrue(second.fromCache)
      assert.strictEqual(s.log.filter((l) => l.url.endsWith("/download")).length, 1)
      const port = yield* Effect.promise(() => closedPort())
      writeRegistries(home, [{ name: "s", url: `http://127.0.0.1:${port}` }])
      const dir = tmp()
      const third = yield* Effect.flatMap(Installer, (i) => i.installName("alpha", { version: "1.1.0", dir })).pipe(
        Effect.provide(layer)
      )
      assert.isTrue(third.fromCache)
      assert.deepStrictEqual(fs.readdirSync(dir), ["alpha-1.1.0.fmpkg"])
      const notExact = yield* Effect.flatMap(Installer, (i) => i.installName("alpha", { dir: tmp() })).pipe(
        Effect.provide(layer),
        Effect.flip
      )
      assert.strictEqual(notExact._tag, "RegistriesExhausted")
      const offline = yield* Effect.flatMap(
        Installer,
        (i) => i.installName("alpha", { version: "1.1.0", offline: true, dir: tmp() })
      ).pipe(Effect.provide(layer))
      assert.strictEqual(offline.version, "1.1.0")
      const offlineRange = yield* Effect.flatMap(
        Installer,
        (i) => i.installName("alpha", { version: "^1", offline: true, dir: tmp() })
      ).pipe(Effect.provide(layer), Effect.flip)
      assert.strictEqual(offlineRange._tag, "OfflineNeedsVersion")
    }))

  it.live("search asks all registries at once, merges (priority wins a duplicate, whatever its version), reports failures beside results", () =>
    Effect.gen(function*() {
      const a = yield* Effect.promise(() =>
        start({ packages: [pkg("shared@1.0.0/primary", "shared", "1.0.0"), pkg("alpha@1.0.0", "alpha", "1.0.0")] })
      )
      const b = yield* Effect.promise(() =>
        start({
          packages: [
            // another version of a package the higher-priority registry has: still one line, from that one
            pkg("shared@0.9.0/fallback", "shared", "0.9.0"),
            pkg("lower@0.3.0", "lower", "0.3.0")
          ]
        })
      )
      const port = yield* Effect.promise(() => closedPort())
      const res = yield* withHome([
        { name: "b", url: b.url, priority: 20 },
        { name: "a", url: a.url, priority: 10 },
        { name: "down", url: `http://127.0.0.1:${port}`, priority: 1 }
      ], () => Effect.flatMap(Registries, (r) => r.search("")))
      const rows = res.packages.map((h) => `${h.package.name}@${h.package.version}:${h.registry}`).sort()
      assert.deepStrictEqual(rows, ["alpha@1.0.0:a", "lower@0.3.0:b", "shared@1.0.0:a"])
      assert.strictEqual(res.errors.length, 1)
      assert.strictEqual(res.errors[0]!.registry, "down")
      assert.strictEqual(res.errors[0]!.error._tag, "RegistryUnavailable")
      const unknown = yield* withHome(
        [{ name: "a", url: a.url }],
        () => Effect.flatMap(Registries, (r) => r.search("x", { registry: "nope" }))
      ).pipe(Effect.flip)
      assert.strictEqual(unknown._tag, "UnknownRegistry")
    }))

  it.live("a name that is not valid is refused before any request", () =>
    Effect.gen(function*() {
      const s = yield* Effect.promise(() => start({}))
      const e = yield* withHome([{ name: "s", url: s.url }], () =>
        Effect.flatMap(Installer, (i) => i.installName("Bad Name!", { dir: tmp() }))).pipe(Effect.flip)
      assert.strictEqual(e._tag, "InvalidPackageName")
      assert.strictEqual(s.log.length, 0)
    }))
})
