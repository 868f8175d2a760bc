import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assertBuilt, FM_BIN, fmEnv, type FmResult, makeTempDir, parseJsonOut, removeDir } from "../helpers/cli.js"
import { tempDir, using } from "../helpers/scoped.js"
import { acquireServer, publishFixture, type ScopedServer } from "../helpers/server.js"

/** Runs the built `fm` (dist/fm.js) to completion in `cwd`. */
const runFm = (args: ReadonlyArray<string>, options: { home: string; cwd: string }): Promise<FmResult> =>
  new Promise((resolve) => {
    const t0 = Date.now()
    execFile(
      process.execPath,
      [FM_BIN, ...args],
      { cwd: options.cwd, env: fmEnv({ home: options.home }), timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
        resolve({ stdout, stderr, code, signal: error?.signal ?? null, ms: Date.now() - t0 })
      }
    )
  })

/** The server (six packages), a client home pointing at it and a project needing `app-core` and `json-tool`. */
class Fixture extends Context.Tag("test/resolver-cli/Fixture")<Fixture, {
  readonly server: ScopedServer
  readonly home: string
  readonly project: string
}>() {}

const Prepared = Layer.scoped(
  Fixture,
  Effect.gen(function*() {
    assertBuilt()
    const server = yield* acquireServer({ inProcess: true })
    const pub = (name: string, version: string, deps: Record<string, string> = {}) =>
      publishFixture(server.url, server.adminToken, { name, version, deps })
    yield* Effect.promise(async () => {
      await pub("app-core", "1.0.0", { "json-tool": "^1.0.0", logger: "^1.0.0" })
      await pub("json-tool", "1.0.0", { logger: "^1.0.0" })
      await pub("json-tool", "1.2.0", { logger: "^1.1.0" })
      await pub("logger", "1.0.0")
      await pub("logger", "1.1.0")
      await pub("legacy", "1.0.0", { logger: "^2.0.0" })
    })
    const home = yield* tempDir("fm-home-")
    const project = yield* tempDir("fm-project-")
    fs.writeFileSync(
      path.join(home, "registries.json"),
      JSON.stringify({ registries: [{ name: "main", url: server.url, priority: 10, enabled: true, is_default: true }] })
    )
    fs.writeFileSync(
      path.join(project, "manifest.json"),
      JSON.stringify(
        { name: "demo", version: "1.0.0", dependencies: { "app-core": "^1.0.0", "json-tool": "1.0.0" } },
        null,
        2
      )
    )
    return { server, home, project }
  })
)

layer(Prepared, { excludeTestServices: true, timeout: "120 seconds" })(
  "fm tree / outdated / update (built CLI, real server)",
  (it) => {
    it.effect(
      "update resolves, installs and locks; tree prints the graph",
      () =>
        using(Fixture, async ({ home, project }) => {
          const up = await runFm(["update"], { home, cwd: project })
          assert.strictEqual(up.code, 0, up.stderr)
          assert.include(up.stdout, "+ json-tool 1.0.0")
          assert.deepStrictEqual(fs.readdirSync(path.join(project, "fm_packages")).sort(), [
            "app-core-1.0.0.fmpkg",
            "json-tool-1.0.0.fmpkg",
            "logger-1.1.0.fmpkg"
          ])
          const lock = JSON.parse(fs.readFileSync(path.join(project, "fm.lock.json"), "utf8"))
          assert.deepStrictEqual(Object.keys(lock.packages), ["app-core", "json-tool", "logger"])

          const tree = await runFm(["tree"], { home, cwd: project })
          assert.strictEqual(tree.code, 0, tree.stderr)
          assert.deepStrictEqual(tree.stdout.trim().split("\n"), [
            "demo",
            "├── app-core 1.0.0 (main)",
            "│   ├── json-tool 1.0.0",
            "│   │   └── logger 1.1.0",
            "│   └── logger 1.1.0",
            "└── json-tool 1.0.0 (main) (*)"
          ])
          const json = parseJsonOut<{ fromLock: boolean; packages: Array<{ name: string; version: string }> }>(
            await runFm(["tree", "--json"], { home, cwd: project })
          )
          assert.isTrue(json.fromLock)
          assert.deepStrictEqual(
            json.packages.map((p) => `${p.name}@${p.version}`).sort(),
            [
              "app-core@1.0.0",
              "json-tool@1.0.0",
              "logger@1.1.0"
            ]
          )
        }),
      120_000
    )

    it.effect("outdated lists what has newer versions (--json too)", () =>
      using(Fixture, async ({ home, project }) => {
        const out = await runFm(["outdated", "--json"], { home, cwd: project })
        assert.strictEqual(out.code, 0, out.stderr)
        assert.deepStrictEqual(JSON.parse(out.stdout), [
          { name: "json-tool", current: "1.0.0", wanted: "1.0.0", latest: "1.2.0", registry: "main", direct: true }
        ])
        const table = await runFm(["outdated"], { home, cwd: project })
        assert.match(table.stdout, /json-tool\s+1\.0\.0\s+1\.0\.0\s+1\.2\.0\s+main\s+direct/)
      }), 120_000)

    it.effect(
      "update explains a conflict in plain lines and changes nothing",
      () =>
        using(Fixture, async ({ home, project }) => {
          const manifest = path.join(project, "manifest.json")
          const original = fs.readFileSync(manifest, "utf8")
          const lock = fs.readFileSync(path.join(project, "fm.lock.json"), "utf8")
          fs.writeFileSync(
            manifest,
            JSON.stringify({ name: "demo", version: "1.0.0", dependencies: { "app-core": "^1.0.0", legacy: "^1.0.0" } })
          )
          const up = await runFm(["update"], { home, cwd: project })
          assert.strictEqual(up.code, 1)
          assert.include(up.stderr, "cannot resolve the dependencies of demo")
          assert.include(up.stderr, "legacy 1.0.0 depends on logger ^2.0.0, but no version of logger matches ^2.0.0")
          assert.strictEqual(fs.readFileSync(path.join(project, "fm.lock.json"), "utf8"), lock)
          fs.writeFileSync(manifest, original)
        }),
      120_000
    )

    it.effect(
      "fm install (no NAME) follows the lock; --frozen refuses a stale lock; fm install NAME adds to the project",
      () =>
        using(Fixture, async ({ home, project }) => {
          const fromLock = await runFm(["install"], { home, cwd: project })
          assert.strictEqual(fromLock.code, 0, fromLock.stderr)
          assert.include(fromLock.stdout, "Installed 3 packages")
          assert.include(fromLock.stdout, "from fm.lock.json")
          const asJson = JSON.parse((await runFm(["install", "--json"], { home, cwd: project })).stdout)
          assert.isFalse(asJson.resolved)
          assert.isTrue(asJson.packages.every((p: { from_cache: boolean }) => p.from_cache))

          const manifest = path.join(project, "manifest.json")
          const original = fs.readFileSync(manifest, "utf8")
          fs.writeFileSync(
            manifest,
            JSON.stringify({
              name: "demo",
              version: "1.0.0",
              dependencies: { "app-core": "^1.0.0", "json-tool": "^1.2.0" }
            })
          )
          const frozen = await runFm(["install", "--frozen"], { home, cwd: project })
          assert.strictEqual(frozen.code, 1)
          assert.include(frozen.stderr, "fm.lock.json does not satisfy the project file (--frozen)")
          assert.include(frozen.stderr, "depends on json-tool ^1.2.0, but fm.lock.json has 1.0.0")
          fs.writeFileSync(manifest, original)

          const add = await runFm(["install", "logger"], { home, cwd: project })
          assert.strictEqual(add.code, 0, add.stderr)
          assert.include(add.stdout, "Added logger ^1.1.0 to manifest.json")
          assert.deepStrictEqual(JSON.parse(fs.readFileSync(manifest, "utf8")).dependencies, {
            "app-core": "^1.0.0",
            "json-tool": "1.0.0",
            logger: "^1.1.0"
          })
          fs.writeFileSync(manifest, original)
        }),
      180_000
    )

    it.effect("outside a project: a clear error, exit 1", () =>
      using(Fixture, async ({ home }) => {
        const empty = makeTempDir("fm-empty-")
        try {
          const r = await runFm(["tree"], { home, cwd: empty })
          assert.strictEqual(r.code, 1)
          assert.include(r.stderr, "no project file in")
        } finally {
          removeDir(empty)
        }
      }), 60_000)
  }
)
