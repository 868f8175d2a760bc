/**
 * A dead registry costs one connection attempt per command: with a registry that accepts and
 * drops every connection enabled at top priority, a 30-package project install succeeds from the
 * next registry, with at most one connection to the dead one and one warning line naming it.
 * A package pinned to the dead registry is an error that names it.
 */
import { NodeContext } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Cause, Context, Effect, Exit, FiberRef, HashSet, Layer, Logger, Option } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { clientLayerAt } from "../../src/client/ClientLayers.js"
import { Publisher } from "../../src/client/Publisher.js"
import { Registries } from "../../src/client/Registries.js"
import { ProjectInstall } from "../../src/resolver/ProjectInstall.js"
import { acquireServer, fixtureArchive, publishFixture, type ScopedServer } from "../helpers/server.js"

/** A temp directory removed when the scope closes. */
const tmp = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), prefix))),
    (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
  )

/** A listening socket on 127.0.0.1 that counts the connections it accepts and destroys each one; closed with the scope. */
const deadRegistry = Effect.gen(function*() {
  let accepts = 0
  const server = net.createServer((socket) => {
    accepts += 1
    socket.destroy()
  })
  yield* Effect.acquireRelease(
    Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
    () => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  )
  const address = server.address()
  if (address === null || typeof address === "string") return yield* Effect.die(new Error("no port"))
  return {
    url: `http://127.0.0.1:${address.port}`,
    accepts: () => accepts,
    reset: () => {
      accepts = 0
    }
  }
})

/** Runs `f` with the client services of `home`; gives its exit and the warnings logged. */
const withHome = <A, E>(home: string, f: Effect.Effect<A, E, ProjectInstall | Registries | Publisher>) =>
  Effect.suspend(() => {
    const warnings: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === "Warning") {
        warnings.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
      }
    })
    return f.pipe(
      Effect.provide(
        ProjectInstall.Default.pipe(Layer.provideMerge(clientLayerAt(home)), Layer.provideMerge(NodeContext.layer))
      ),
      Effect.locallyWith(FiberRef.currentLoggers, () => HashSet.make(logger)),
      Effect.exit,
      Effect.map((exit) => ({ exit, warnings }))
    )
  })

/** The main registry (30 packages `d0`..`d29`), the dead one, a client home with both, a project needing all 30. */
class Fixture extends Context.Tag("test/dead-registry/Fixture")<Fixture, {
  readonly main: ScopedServer
  readonly dead: Effect.Effect.Success<typeof deadRegistry>
  readonly home: string
  readonly project: string
}>() {}

const Prepared = Layer.scoped(
  Fixture,
  Effect.gen(function*() {
    const main = yield* acquireServer({ inProcess: true })
    const dead = yield* deadRegistry
    // 30 packages, each depending on up to two later ones
    yield* Effect.promise(async () => {
      for (let i = 0; i < 30; i++) {
        const deps: Record<string, string> = {}
        for (const j of [i + 1, i + 3]) if (j < 30) deps[`d${j}`] = "^1.0.0"
        await publishFixture(main.url, main.adminToken, { name: `d${i}`, version: "1.0.0", deps })
      }
    })
    const home = yield* tmp("fm-home-dead-")
    const project = yield* tmp("fm-project-dead-")
    fs.writeFileSync(
      path.join(home, "registries.json"),
      JSON.stringify({
        registries: [
          { name: "dead", url: dead.url, priority: 1, enabled: true, is_default: true },
          { name: "main", url: main.url, priority: 50, enabled: true }
        ]
      })
    )
    const deps: Record<string, string> = {}
    for (let i = 0; i < 30; i++) deps[`d${i}`] = "^1.0.0"
    fs.writeFileSync(
      path.join(project, "manifest.json"),
      JSON.stringify({ name: "deadproj", version: "1.0.0", dependencies: deps })
    )
    return { main, dead, home, project }
  })
)

layer(Prepared, { excludeTestServices: true, timeout: "300 seconds" })("a dead registry at top priority", (it) => {
  it.effect(
    "a 30-package project install succeeds with at most one connection to it and one warning naming it",
    () =>
      Effect.gen(function*() {
        const { dead, home, project } = yield* Fixture
        dead.reset()
        const { exit, warnings } = yield* withHome(
          home,
          Effect.flatMap(ProjectInstall, (p) => p.install({ dir: project }))
        )
        assert.strictEqual(Exit.isSuccess(exit) ? "ok" : String(exit.cause), "ok")
        if (!Exit.isSuccess(exit)) return
        assert.strictEqual(exit.value.packages.length, 30)
        assert.isTrue(exit.value.packages.every((p) => p.registry === "main"))
        assert.isAtMost(dead.accepts(), 1)
        const aboutDead = warnings.filter((w) => w.includes("dead"))
        assert.strictEqual(aboutDead.length, 1)
        assert.include(aboutDead[0], dead.url)
      }),
    120_000
  )

  it.effect("standalone fetches in one command also try it at most once", () =>
    Effect.gen(function*() {
      const { dead, home } = yield* Fixture
      dead.reset()
      const { exit } = yield* withHome(
        home,
        Effect.flatMap(
          Registries,
          (r) => Effect.forEach(["d1", "d2", "d3", "d4", "d5"], (n) => r.fetch(n), { concurrency: 3 })
        )
      )
      assert.strictEqual(Exit.isSuccess(exit) ? "ok" : String(exit.cause), "ok")
      assert.isAtMost(dead.accepts(), 1)
    }), 120_000)

  it.scoped("a package pinned to the dead registry is an error naming it", () =>
    Effect.gen(function*() {
      const { home } = yield* Fixture
      const dir = yield* tmp("fm-project-pinned-")
      fs.writeFileSync(
        path.join(dir, "manifest.json"),
        JSON.stringify({ name: "pinned", version: "1.0.0", dependencies: { d1: "^1.0.0" }, registries: { d1: "dead" } })
      )
      const { exit } = yield* withHome(home, Effect.flatMap(ProjectInstall, (p) => p.install({ dir })))
      assert.isTrue(Exit.isFailure(exit))
      const text = Exit.isFailure(exit) ? String(exit.cause) : ""
      assert.include(text, "d1")
      assert.include(text, "'dead'")
      assert.isFalse(fs.existsSync(path.join(dir, "fm_packages")))
    }), 120_000)

  it.effect(
    "publishing to the default registry while it is down says so, with --registry and fm registry set-default",
    () =>
      Effect.gen(function*() {
        const { dead, home, main } = yield* Fixture
        const file = path.join(home, "pub-1.0.0.fmpkg")
        fs.writeFileSync(file, fixtureArchive({ name: "pub", version: "1.0.0", deps: {} }))
        const withDefault = (registries: unknown) =>
          fs.writeFileSync(path.join(home, "registries.json"), JSON.stringify({ registries }))
        withDefault([
          { name: "dead", url: dead.url, priority: 1, enabled: true, is_default: true, can_publish: true },
          { name: "main", url: main.url, priority: 50, enabled: true }
        ])
        yield* Effect.gen(function*() {
          const { exit } = yield* withHome(home, Effect.flatMap(Publisher, (p) => p.publish(file)))
          assert.isTrue(Exit.isFailure(exit))
          const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
          const error = Option.getOrThrow(failure)
          assert.strictEqual(error._tag, "DefaultRegistryUnavailable")
          assert.include(error.message, `default registry dead (${dead.url}) is unavailable`)
          assert.match("hint" in error ? error.hint : "", /--registry NAME.*fm registry set-default NAME/)
        }).pipe(Effect.ensuring(Effect.sync(() =>
          withDefault([
            { name: "dead", url: dead.url, priority: 1, enabled: true, is_default: true },
            { name: "main", url: main.url, priority: 50, enabled: true }
          ])
        )))
      }),
    120_000
  )
})
