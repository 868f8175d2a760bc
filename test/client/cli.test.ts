/**
 * The built `fm` (dist/fm.js) against a real registry server and a stand-in: install, publish,
 * search, info and versions, with --json and exit codes.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { type FmResult, makeTempDir, parseJsonOut, removeDir, runFm } from "../helpers/cli.js"
import { closedPort, makeFmpkg, type StandIn, startStandIn, writeRegistries } from "../helpers/quirky-server.js"
import { tempDir, using } from "../helpers/scoped.js"
import { acquireServer, fixtureArchive, publishFixture, type ScopedServer } from "../helpers/server.js"

const env = { FLOWMASON_HTTP_RETRIES: "0", FLOWMASON_HTTP_RETRY_DELAY_MS: "10" }

/**
 * The real server (alpha 1.0.0 and 1.2.0), a stand-in mirror (lower 0.3.0), a closed port, a home
 * with both registries, a work dir, and `fm` run there.
 */
class Fixture extends Context.Tag("test/client-cli/Fixture")<Fixture, {
  readonly real: ScopedServer
  readonly standIn: StandIn
  readonly home: string
  readonly work: string
  readonly downPort: number
  readonly fm: (args: ReadonlyArray<string>, extraEnv?: Record<string, string | undefined>) => Promise<FmResult>
}>() {}

const Prepared = Layer.scoped(
  Fixture,
  Effect.gen(function*() {
    const real = yield* acquireServer({ inProcess: true })
    yield* Effect.promise(async () => {
      await publishFixture(real.url, real.adminToken, {
        name: "alpha",
        version: "1.0.0",
        manifest: { description: "first alpha" }
      })
      await publishFixture(real.url, real.adminToken, {
        name: "alpha",
        version: "1.2.0",
        manifest: { description: "alpha tools" }
      })
    })
    const standIn = yield* Effect.acquireRelease(
      Effect.promise(async () =>
        startStandIn({
          packages: [{
            name: "lower",
            version: "0.3.0",
            bytes: await makeFmpkg("lower", "0.3.0"),
            description: "only in the stand-in"
          }]
        })
      ),
      (standIn) => Effect.promise(() => standIn.stop())
    )
    const downPort = yield* Effect.promise(() => closedPort())
    const home = yield* tempDir("fm-cli-client-")
    const work = yield* tempDir("fm-cli-work-")
    writeRegistries(home, [
      { name: "main", url: real.url, priority: 10, auth_token: real.adminToken, can_publish: true, is_default: true },
      { name: "mirror", url: standIn.url, priority: 20 }
    ])
    const fm = (args: ReadonlyArray<string>, extraEnv: Record<string, string | undefined> = {}) =>
      runFm(args, { home, env: { ...env, ...extraEnv }, cwd: work })
    return { real, standIn, home, work, downPort, fm }
  })
)

layer(Prepared, { excludeTestServices: true, timeout: "120 seconds" })((it) => {
  describe("fm search / info / versions", () => {
    it.effect("search merges registries, shows a REGISTRY column, --json", () =>
      using(Fixture, async ({ fm }) => {
        const table = await fm(["search", "alpha"])
        assert.strictEqual(table.code, 0, table.stderr)
        assert.match(table.stdout, /NAME\s+VERSION\s+REGISTRY/)
        assert.match(table.stdout, /alpha\s+1\.2\.0\s+main/)
        const lower = await fm(["search", "lower"])
        assert.match(lower.stdout, /lower\s+0\.3\.0\s+mirror/)
        const js = parseJsonOut<{ packages: Array<{ name: string; registry: string }>; errors: Array<unknown> }>(
          await fm(["search", "alpha", "--json"])
        )
        assert.deepStrictEqual(js.packages.map((p) => `${p.name}:${p.registry}`), ["alpha:main"])
        assert.deepStrictEqual(js.errors, [])
      }))

    it.effect("search warns about a registry that is down and still exits 0; all down exits 1", () =>
      using(Fixture, async ({ downPort, standIn }) => {
        const h = makeTempDir("fm-cli-down-")
        try {
          writeRegistries(h, [
            { name: "down", url: `http://127.0.0.1:${downPort}`, priority: 1 },
            { name: "mirror", url: standIn.url, priority: 2 }
          ])
          const r = await runFm(["search", "lower"], { home: h, env })
          assert.strictEqual(r.code, 0, r.stderr)
          assert.match(r.stdout, /lower/)
          assert.match(r.stderr, /warning: registry down .* unavailable/)
          const only = await runFm(["search", "lower", "--registry", "down", "--json"], { home: h, env })
          assert.strictEqual(only.code, 1)
          // with --json the error is a JSON object on stdout
          const { error } = parseJsonOut<{ error: { code: string; message: string } }>(only)
          assert.strictEqual(error.code, "search_failed")
          assert.match(error.message, /no registry answered/)
        } finally {
          removeDir(h)
        }
      }))

    it.effect("an unknown --registry is an error naming the known ones", () =>
      using(Fixture, async ({ fm }) => {
        const r = await fm(["search", "x", "--registry", "nope"])
        assert.strictEqual(r.code, 1)
        assert.match(r.stderr, /no registry named 'nope'.*main, mirror/)
      }))

    it.effect("info NAME, NAME@VERSION and --json", () =>
      using(Fixture, async ({ fm }) => {
        const latest = parseJsonOut<{ name: string; version: string; registry: string; checksum: string }>(
          await fm(["info", "alpha", "--json"])
        )
        assert.containSubset(latest, { name: "alpha", version: "1.2.0", registry: "main" })
        assert.match(latest.checksum, /^[0-9a-f]{64}$/)
        const old = await fm(["info", "alpha@1.0.0"])
        assert.strictEqual(old.code, 0, old.stderr)
        assert.match(old.stdout, /version\s+1\.0\.0/)
        assert.match(old.stdout, /registry\s+main/)
        const missing = await fm(["info", "ghost"])
        assert.strictEqual(missing.code, 1)
        assert.match(missing.stderr, /ghost/)
        assert.match(missing.stderr, /main: not found/)
        assert.match(missing.stderr, /mirror: not found/)
      }))

    it.effect("versions lists newest first with the latest marked; --json", () =>
      using(Fixture, async ({ fm }) => {
        const r = await fm(["versions", "alpha"])
        assert.strictEqual(r.code, 0, r.stderr)
        const lines = r.stdout.split("\n")
        assert.match(lines[0], /VERSION\s+PUBLISHED\s+STATUS/)
        assert.match(lines[1], /^1\.2\.0\s+\d{4}-\d{2}-\d{2}\s+latest/)
        assert.match(lines[2], /^1\.0\.0/)
        const js = parseJsonOut<{ latest_version: string; versions: Array<{ version: string; yanked: boolean }> }>(
          await fm(["versions", "alpha", "--json"])
        )
        assert.strictEqual(js.latest_version, "1.2.0")
        assert.deepStrictEqual(js.versions.map((v) => [v.version, v.yanked]), [["1.0.0", false], ["1.2.0", false]])
      }))
  })

  describe("fm install", () => {
    it.effect("installs by name (latest, exact, range) with --json, from the right registry", () =>
      using(Fixture, async ({ fm, work }) => {
        const dir = path.join(work, "pk1")
        const r = parseJsonOut<{ name: string; version: string; registry: string; path: string; from_cache: boolean }>(
          await fm(["install", "alpha", "--dir", dir, "--json"])
        )
        assert.containSubset(r, { name: "alpha", version: "1.2.0", registry: "main", from_cache: false })
        assert.isTrue(fs.existsSync(path.join(dir, "alpha-1.2.0.fmpkg")))
        const again = parseJsonOut<{ from_cache: boolean }>(await fm(["install", "alpha", "--dir", dir, "--json"]))
        assert.isTrue(again.from_cache)
        const ranged = await fm(["install", "alpha", "--version", "~1.0", "--dir", dir])
        assert.strictEqual(ranged.code, 0, ranged.stderr)
        assert.match(ranged.stdout, /Installed alpha@1\.0\.0 from registry main/)
        const lower = await fm(["install", "lower", "--dir", dir])
        assert.strictEqual(lower.code, 0, lower.stderr)
        assert.match(lower.stdout, /lower@0\.3\.0 from registry mirror/)
        assert.deepStrictEqual(fs.readdirSync(dir).sort(), [
          "alpha-1.0.0.fmpkg",
          "alpha-1.2.0.fmpkg",
          "lower-0.3.0.fmpkg"
        ])
      }))

    it.effect("--extract unpacks into <dir>/<name>/<version>/", () =>
      using(Fixture, async ({ fm, work }) => {
        const dir = path.join(work, "pk2")
        const r = await fm(["install", "alpha", "--version", "1.0.0", "--dir", dir, "--extract"])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual(
          JSON.parse(fs.readFileSync(path.join(dir, "alpha", "1.0.0", "manifest.json"), "utf8")).version,
          "1.0.0"
        )
      }))

    it.effect("installs a local .fmpkg by path (validated, copied in)", () =>
      using(Fixture, async ({ fm, work }) => {
        const file = path.join(work, "local-pkg-2.0.0.fmpkg")
        fs.writeFileSync(file, fixtureArchive({ name: "local-pkg", version: "2.0.0" }))
        const dir = path.join(work, "pk3")
        const r = parseJsonOut<{ name: string; registry: null; path: string }>(
          await fm(["install", "./local-pkg-2.0.0.fmpkg", "--dir", dir, "--json"])
        )
        assert.containSubset(r, { name: "local-pkg", registry: null })
        assert.deepStrictEqual(fs.readFileSync(r.path), fs.readFileSync(file))
        fs.writeFileSync(path.join(work, "broken.fmpkg"), "not an archive")
        const bad = await fm(["install", "./broken.fmpkg", "--dir", dir])
        assert.strictEqual(bad.code, 1)
        assert.match(bad.stderr, /broken\.fmpkg/)
        assert.deepStrictEqual(fs.readdirSync(dir), ["local-pkg-2.0.0.fmpkg"])
      }))

    it.effect("exit codes: not found 1 (lists registries), no argument outside a project 1, bad option 2, offline without exact version 1", () =>
      using(Fixture, async ({ fm, work }) => {
        const nf = await fm(["install", "ghost", "--dir", path.join(work, "pk4")])
        assert.strictEqual(nf.code, 1)
        assert.match(nf.stderr, /package ghost could not be found in any registry/)
        assert.isFalse(fs.existsSync(path.join(work, "pk4")))
        // no NAME outside a project: the project install (RESOLVER) says there is no project
        const none = await fm(["install"])
        assert.strictEqual(none.code, 1)
        assert.match(none.stderr, /fm install NAME/)
        const usage = await fm(["install", "alpha", "--no-such-option"])
        assert.strictEqual(usage.code, 2)
        const off = await fm(["install", "alpha", "--offline"])
        assert.strictEqual(off.code, 1)
        assert.match(off.stderr, /--offline needs an exact --version/)
      }))
  })

  describe("fm publish", () => {
    it.effect("publishes to the default registry, then a second time is a 409 that says what to do", () =>
      using(Fixture, async ({ fm, work }) => {
        const file = path.join(work, "beta-1.0.0.fmpkg")
        fs.writeFileSync(file, fixtureArchive({ name: "beta", version: "1.0.0" }))
        const ok = parseJsonOut<{ registry: string; name: string; version: string; checksum: string }>(
          await fm(["publish", file, "--json"])
        )
        assert.containSubset(ok, { registry: "main", name: "beta", version: "1.0.0" })
        const info = parseJsonOut<{ version: string }>(await fm(["info", "beta", "--json"]))
        assert.strictEqual(info.version, "1.0.0")
        const dup = await fm(["publish", file])
        assert.strictEqual(dup.code, 1)
        assert.match(dup.stderr, /409/)
        assert.match(dup.stderr, /bump the version/)
      }))

    it.effect("refuses locally: a registry that is not publishable, and a private one without a token", () =>
      using(Fixture, async ({ fm, real, standIn, work }) => {
        const file = path.join(work, "gamma-1.0.0.fmpkg")
        fs.writeFileSync(file, fixtureArchive({ name: "gamma", version: "1.0.0" }))
        const notPub = await fm(["publish", file, "--registry", "mirror"])
        assert.strictEqual(notPub.code, 1)
        assert.match(notPub.stderr, /not marked for publishing/)
        assert.match(notPub.stderr, /--publish/)
        assert.isFalse(standIn.log.some((l) => l.method === "POST"))
        const h = makeTempDir("fm-cli-notoken-")
        try {
          writeRegistries(h, [{ name: "private", url: real.url, can_publish: true, requires_auth: true }])
          const r = await runFm(["publish", file], { home: h, env })
          assert.strictEqual(r.code, 1)
          assert.match(r.stderr, /requires authentication and no token is set/)
          assert.match(r.stderr, /FLOWMASON_REGISTRY_TOKEN/)
          // a wrong token: the server's 401 becomes a clear message
          const bad = await runFm(["publish", file], {
            home: h,
            env: { ...env, FLOWMASON_REGISTRY_TOKEN: "fmr_wrong" }
          })
          assert.strictEqual(bad.code, 1)
          assert.match(bad.stderr, /registry private rejected the credentials \(401\) for gamma@1\.0\.0/)
          assert.match(bad.stderr, /hint: .*fm login private/)
        } finally {
          removeDir(h)
        }
      }))

    it.effect("a file that is not an archive is refused before anything is sent", () =>
      using(Fixture, async ({ fm, work }) => {
        const file = path.join(work, "junk.fmpkg")
        fs.writeFileSync(file, "junk")
        const r = await fm(["publish", file])
        assert.strictEqual(r.code, 1)
        assert.match(r.stderr, /junk\.fmpkg/)
      }))
  })
})
