/**
 * A dead registry costs one connection attempt per command: with a registry that accepts and
 * drops every connection enabled at top priority, a 30-package project install succeeds from the
 * next registry, with at most one connection to the dead one and one warning line naming it.
 * A package pinned to the dead registry is an error that names it.
 */
import { NodeContext } from "@effect/platform-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, FiberRef, HashSet, Layer, Logger, Option } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { clientLayerAt } from "../../src/client/ClientLayers.js"
import { Publisher } from "../../src/client/Publisher.js"
import { Registries } from "../../src/client/Registries.js"
import { ProjectInstall } from "../../src/resolver/ProjectInstall.js"
import { fixtureArchive, publishFixture, type RunningServer, startServer } from "../helpers/server.js"

const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

/** A listening socket on 127.0.0.1 that counts the connections it accepts and destroys each one. */
const deadRegistry = async () => {
  let accepts = 0
  const server = net.createServer((socket) => {
    accepts += 1
    socket.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("no port")
  return {
    url: `http://127.0.0.1:${address.port}`,
    accepts: () => accepts,
    reset: () => {
      accepts = 0
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

/** Runs `f` with the client services of `home`; returns its exit and the warnings logged. */
const withHome = async <A, E>(home: string, f: Effect.Effect<A, E, ProjectInstall | Registries | Publisher>) => {
  const warnings: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    if (logLevel._tag === "Warning") warnings.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
  })
  const exit = await Effect.runPromiseExit(
    f.pipe(
      Effect.provide(
        ProjectInstall.Default.pipe(Layer.provideMerge(clientLayerAt(home)), Layer.provideMerge(NodeContext.layer))
      ),
      Effect.locallyWith(FiberRef.currentLoggers, () => HashSet.make(logger))
    )
  )
  return { exit, warnings }
}

describe("a dead registry at top priority", () => {
  let main: RunningServer
  let dead: Awaited<ReturnType<typeof deadRegistry>>
  let home: string
  let project: string

  beforeAll(async () => {
    main = await startServer({ inProcess: true })
    dead = await deadRegistry()
    // 30 packages, each depending on up to two later ones
    for (let i = 0; i < 30; i++) {
      const deps: Record<string, string> = {}
      for (const j of [i + 1, i + 3]) if (j < 30) deps[`d${j}`] = "^1.0.0"
      await publishFixture(main.url, main.adminToken, { name: `d${i}`, version: "1.0.0", deps })
    }
    home = tmp("fm-home-dead-")
    project = tmp("fm-project-dead-")
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
  }, 300_000)

  afterAll(async () => {
    await main?.stop()
    await dead?.stop()
    for (const d of [home, project]) if (d !== undefined) fs.rmSync(d, { recursive: true, force: true })
  })

  it("a 30-package project install succeeds with at most one connection to it and one warning naming it", async () => {
    dead.reset()
    const { exit, warnings } = await withHome(home, Effect.flatMap(ProjectInstall, (p) => p.install({ dir: project })))
    assert.strictEqual(Exit.isSuccess(exit) ? "ok" : String(exit.cause), "ok")
    if (!Exit.isSuccess(exit)) return
    assert.strictEqual(exit.value.packages.length, 30)
    assert.isTrue(exit.value.packages.every((p) => p.registry === "main"))
    assert.isAtMost(dead.accepts(), 1)
    const aboutDead = warnings.filter((w) => w.includes("dead"))
    assert.strictEqual(aboutDead.length, 1)
    assert.include(aboutDead[0], dead.url)
  }, 120_000)

  it("standalone fetches in one command also try it at most once", async () => {
    dead.reset()
    const { exit } = await withHome(
      home,
      Effect.flatMap(
        Registries,
        (r) => Effect.forEach(["d1", "d2", "d3", "d4", "d5"], (n) => r.fetch(n), { concurrency: 3 })
      )
    )
    assert.strictEqual(Exit.isSuccess(exit) ? "ok" : String(exit.cause), "ok")
    assert.isAtMost(dead.accepts(), 1)
  }, 120_000)

  it("a package pinned to the dead registry is an error naming it", async () => {
    const dir = tmp("fm-project-pinned-")
    try {
      fs.writeFileSync(
        path.join(dir, "manifest.json"),
        JSON.stringify({ name: "pinned", version: "1.0.0", dependencies: { d1: "^1.0.0" }, registries: { d1: "dead" } })
      )
      const { exit } = await withHome(home, Effect.flatMap(ProjectInstall, (p) => p.install({ dir })))
      assert.isTrue(Exit.isFailure(exit))
      const text = Exit.isFailure(exit) ? String(exit.cause) : ""
      assert.include(text, "d1")
      assert.include(text, "'dead'")
      assert.isFalse(fs.existsSync(path.join(dir, "fm_packages")))
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it(
    "publishing to the default registry while it is down says so, with --registry and fm registry set-default",
    async () => {
      const file = path.join(home, "pub-1.0.0.fmpkg")
      fs.writeFileSync(file, fixtureArchive({ name: "pub", version: "1.0.0", deps: {} }))
      const withDefault = (registries: unknown) =>
        fs.writeFileSync(path.join(home, "registries.json"), JSON.stringify({ registries }))
      withDefault([
        { name: "dead", url: dead.url, priority: 1, enabled: true, is_default: true, can_publish: true },
        { name: "main", url: main.url, priority: 50, enabled: true }
      ])
      try {
        const { exit } = await withHome(home, Effect.flatMap(Publisher, (p) => p.publish(file)))
        assert.isTrue(Exit.isFailure(exit))
        const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
        const error = Option.getOrThrow(failure)
        assert.strictEqual(error._tag, "DefaultRegistryUnavailable")
        assert.include(error.message, `default registry dead (${dead.url}) is unavailable`)
        assert.match("hint" in error ? error.hint : "", /--registry NAME.*fm registry set-default NAME/)
      } finally {
        withDefault([
          { name: "dead", url: dead.url, priority: 1, enabled: true, is_default: true },
          { name: "main", url: main.url, priority: 50, enabled: true }
        ])
      }
    },
    120_000
  )
})
