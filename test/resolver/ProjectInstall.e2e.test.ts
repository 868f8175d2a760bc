import { NodeContext } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Exit, Layer } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { clientLayerAt } from "../../src/client/ClientLayers.js"
import { ProjectInstall } from "../../src/resolver/ProjectInstall.js"
import { tempDir, using } from "../helpers/scoped.js"
import { acquireServer, publishFixture, type ScopedServer } from "../helpers/server.js"

const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

/** name -> sha256 of every file in a directory (recursive), for byte-identical comparisons. */
const snapshot = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out[path.relative(dir, p)] = crypto.createHash("sha256").update(fs.readFileSync(p)).digest("hex")
    }
  }
  walk(dir)
  return out
}

const writeRegistries = (home: string, regs: ReadonlyArray<{ name: string; url: string; priority: number }>) =>
  fs.writeFileSync(
    path.join(home, "registries.json"),
    JSON.stringify({
      registries: regs.map((r) => ({
        ...r,
        enabled: true,
        is_default: r.priority === Math.min(...regs.map((x) => x.priority))
      }))
    })
  )

const withProject = <A, E>(home: string, f: (p: ProjectInstall) => Effect.Effect<A, E>) =>
  Effect.runPromiseExit(
    Effect.flatMap(ProjectInstall, f).pipe(
      Effect.provide(
        ProjectInstall.Default.pipe(Layer.provideMerge(clientLayerAt(home)), Layer.provideMerge(NodeContext.layer))
      )
    )
  )

// A 50-package graph: g0..g49 with versions 1.0.0 and 1.1.0 (and a 2.0.0 for some); every
// version depends on up to three later packages; g7 1.1.0 asks for g9 ^2.0.0 while others ask for
// g9 ^1.0.0, so the resolver has to back off g7 to 1.0.0.
const graph = (): Array<{ name: string; version: string; deps: Record<string, string> }> => {
  const out: Array<{ name: string; version: string; deps: Record<string, string> }> = []
  for (let i = 0; i < 50; i++) {
    for (const version of ["1.0.0", "1.1.0"]) {
      const deps: Record<string, string> = {}
      for (const j of [i + 1, i + 2, i + 5]) if (j < 50 && (i + j) % 3 !== 0) deps[`g${j}`] = "^1.0.0"
      if (i === 7 && version === "1.1.0") deps.g9 = "^2.0.0"
      out.push({ name: `g${i}`, version, deps })
    }
    if (i === 9) out.push({ name: "g9", version: "2.0.0", deps: {} })
  }
  return out
}

/** `main` with the 50-package graph, an empty `other`, a home on `main` and a project needing g0..g49. */
class Fixture extends Context.Tag("test/ProjectInstall-e2e/Fixture")<Fixture, {
  readonly main: ScopedServer
  readonly other: ScopedServer
  readonly home: string
  readonly project: string
}>() {}

const Prepared = Layer.scoped(
  Fixture,
  Effect.gen(function*() {
    const main = yield* acquireServer({ inProcess: true })
    const other = yield* acquireServer({ inProcess: true })
    yield* Effect.promise(async () => {
      for (const spec of graph()) await publishFixture(main.url, main.adminToken, spec)
    })
    const home = yield* tempDir("fm-home-")
    const project = yield* tempDir("fm-project-")
    writeRegistries(home, [{ name: "main", url: main.url, priority: 50 }])
    const deps: Record<string, string> = {}
    for (let i = 0; i < 50; i++) deps[`g${i}`] = "^1.0.0"
    fs.writeFileSync(
      path.join(project, "manifest.json"),
      JSON.stringify({ name: "demo", version: "1.0.0", dependencies: deps }, null, 2)
    )
    return { main, other, home, project }
  })
)

layer(Prepared, { excludeTestServices: true, timeout: "300 seconds" })(
  "project installs against a real registry server",
  (it) => {
    it.effect(
      "installs, locks, and reinstalls byte-identically from the lock after the cache is cleared",
      () =>
        using(Fixture, async ({ home, main, project }) => {
          const first = await withProject(home, (p) => p.install({ dir: project }))
          assert.isTrue(Exit.isSuccess(first))
          if (!Exit.isSuccess(first)) return
          assert.isTrue(first.value.resolved)
          assert.strictEqual(first.value.packages.length, 50)
          const lock = JSON.parse(fs.readFileSync(path.join(project, "fm.lock.json"), "utf8"))
          assert.strictEqual(lock.packages.g7.version, "1.0.0") // backed off: g7 1.1.0 needs g9 ^2 while others need ^1
          assert.strictEqual(lock.packages.g9.version, "1.1.0")
          assert.containSubset(lock.packages.g0, { version: "1.1.0", registry: { name: "main", url: main.url } })
          assert.match(lock.packages.g0.sha256, /^[0-9a-f]{64}$/)
          const before = snapshot(path.join(project, "fm_packages"))
          assert.strictEqual(Object.keys(before).length, 50)

          fs.rmSync(path.join(home, "cache"), { recursive: true, force: true })
          fs.rmSync(path.join(project, "fm_packages"), { recursive: true, force: true })
          const lockText = fs.readFileSync(path.join(project, "fm.lock.json"), "utf8")
          const second = await withProject(home, (p) => p.install({ dir: project, frozen: true }))
          assert.isFalse(Exit.isSuccess(second) && second.value.resolved)
          assert.deepStrictEqual(snapshot(path.join(project, "fm_packages")), before)
          assert.strictEqual(fs.readFileSync(path.join(project, "fm.lock.json"), "utf8"), lockText)

          // everything cached: a reinstall from the lock needs no network at all
          const deadHome = tmp("fm-home-dead-")
          fs.cpSync(path.join(home, "cache"), path.join(deadHome, "cache"), { recursive: true })
          writeRegistries(deadHome, [{ name: "main", url: main.url, priority: 50 }])
          fs.rmSync(path.join(project, "fm_packages"), { recursive: true, force: true })
          const offlineLike = await withProject(deadHome, (p) => p.install({ dir: project }))
          assert.isTrue(Exit.isSuccess(offlineLike) && offlineLike.value.packages.every((x) => x.fromCache))
          fs.rmSync(deadHome, { recursive: true, force: true })
        }),
      300_000
    )

    it.effect("tree and outdated read the lock", () =>
      using(Fixture, async ({ home, project }) => {
        const tree = await withProject(home, (p) => p.tree({ dir: project }))
        assert.isTrue(Exit.isSuccess(tree) && tree.value.fromLock)
        if (Exit.isSuccess(tree)) {
          assert.strictEqual(
            tree.value.packages.find((p) => p.name === "g7")?.version,
            "1.0.0"
          )
        }
        const outdated = await withProject(home, (p) => p.outdated({ dir: project }))
        assert.isTrue(Exit.isSuccess(outdated))
        if (Exit.isSuccess(outdated)) {
          assert.deepStrictEqual(outdated.value.map((r) => `${r.name} ${r.current} ${r.wanted} ${r.latest}`), [
            "g7 1.0.0 1.1.0 1.1.0",
            "g9 1.1.0 1.1.0 2.0.0"
          ])
        }
      }), 120_000)

    it.effect(
      "--frozen fails when the lock does not satisfy the project file; a bad checksum leaves the install dir as it was",
      () =>
        using(Fixture, async ({ home, project }) => {
          const manifest = path.join(project, "manifest.json")
          const original = fs.readFileSync(manifest, "utf8")
          const json = JSON.parse(original)
          json.dependencies.g9 = "^2.0.0"
          fs.writeFileSync(manifest, JSON.stringify(json))
          const frozen = await withProject(home, (p) => p.install({ dir: project, frozen: true }))
          assert.isTrue(Exit.isFailure(frozen))
          assert.include(
            String(Exit.isFailure(frozen) ? frozen.cause : ""),
            "depends on g9 ^2.0.0, but fm.lock.json has 1.1.0"
          )
          fs.writeFileSync(manifest, original)

          const lockFile = path.join(project, "fm.lock.json")
          const lockText = fs.readFileSync(lockFile, "utf8")
          const before = snapshot(path.join(project, "fm_packages"))
          const tampered = JSON.parse(lockText)
          tampered.packages.g3.sha256 = "0".repeat(64)
          fs.writeFileSync(lockFile, JSON.stringify(tampered))
          fs.rmSync(path.join(home, "cache"), { recursive: true, force: true })
          const bad = await withProject(home, (p) => p.install({ dir: project }))
          assert.isTrue(Exit.isFailure(bad))
          assert.include(String(Exit.isFailure(bad) ? bad.cause : ""), "g3@")
          assert.deepStrictEqual(snapshot(path.join(project, "fm_packages")), before)
          assert.deepStrictEqual(fs.readdirSync(project).filter((f) => f.includes("staging")), [])
          fs.writeFileSync(lockFile, lockText)
        }),
      300_000
    )

    it.effect(
      "a higher-priority registry that later gains a dependency's name changes nothing locked, and is reported without a lock",
      () =>
        using(Fixture, async ({ home, main, other, project }) => {
          await publishFixture(other.url, other.adminToken, { name: "g5", version: "1.9.0", deps: {} })
          writeRegistries(home, [{ name: "other", url: other.url, priority: 10 }, {
            name: "main",
            url: main.url,
            priority: 50
          }])
          const before = snapshot(path.join(project, "fm_packages"))
          const lockText = fs.readFileSync(path.join(project, "fm.lock.json"), "utf8")
          const locked = await withProject(home, (p) => p.install({ dir: project }))
          assert.isFalse(Exit.isSuccess(locked) && locked.value.resolved)
          assert.deepStrictEqual(snapshot(path.join(project, "fm_packages")), before)
          assert.strictEqual(fs.readFileSync(path.join(project, "fm.lock.json"), "utf8"), lockText)

          fs.rmSync(path.join(project, "fm.lock.json"))
          const fresh = await withProject(home, (p) => p.install({ dir: project }))
          assert.isTrue(Exit.isSuccess(fresh))
          if (Exit.isSuccess(fresh)) {
            const g5 = fresh.value.packages.find((p) => p.name === "g5")
            assert.strictEqual(g5?.registry, "other")
            assert.include(fresh.value.warnings.join("\n"), "g5 is also published by registry 'main'")
          }
          writeRegistries(home, [{ name: "main", url: main.url, priority: 50 }])
          fs.writeFileSync(path.join(project, "fm.lock.json"), lockText)
        }),
      300_000
    )

    it.effect(
      "fm install NAME[@RANGE] in a project adds the dependency to the project file and the lock",
      () =>
        using(Fixture, async ({ home }) => {
          const dir = tmp("fm-project-add-")
          try {
            fs.writeFileSync(
              path.join(dir, "manifest.json"),
              JSON.stringify({ name: "adder", version: "0.1.0", custom: { keep: true } }, null, 2)
            )
            const added = await withProject(home, (p) => p.add("g45", { dir }))
            assert.isTrue(Exit.isSuccess(added))
            let manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"))
            assert.deepStrictEqual(manifest, {
              name: "adder",
              version: "0.1.0",
              custom: { keep: true },
              dependencies: { g45: "^1.1.0" }
            })
            const pinned = await withProject(home, (p) => p.add("g48@~1.0.0", { dir }))
            assert.isTrue(Exit.isSuccess(pinned))
            manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"))
            assert.deepStrictEqual(manifest.dependencies, { g45: "^1.1.0", g48: "~1.0.0" })
            const lock = JSON.parse(fs.readFileSync(path.join(dir, "fm.lock.json"), "utf8"))
            assert.strictEqual(lock.packages.g48.version, "1.0.0")
            assert.strictEqual(lock.packages.g45.version, "1.1.0") // kept from the first lock
            const bad = await withProject(home, (p) => p.add("g1@not-a-range", { dir }))
            assert.isTrue(Exit.isFailure(bad))
            assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")).dependencies, {
              g45: "^1.1.0",
              g48: "~1.0.0"
            })
          } finally {
            fs.rmSync(dir, { recursive: true, force: true })
          }
        }),
      300_000
    )
  }
)
