/**
 * Project installs (`fm install` in a project, with and without `fm.lock.json`) check the publish
 * log of every registry they take packages from, on the built `fm`:
 * - a good registry passes with ONE log request per registry per install, and the lock records
 *   each package's `log_index` (an older lock without indexes gets them);
 * - (a) a store edited behind the server's back is caught by a lockless install;
 * - (c) a rolled-back registry and (b) a fork (same key, fresh store) are caught by an install
 *   that follows the lock and finds every archive in the cache.
 * A failure names the registry and the log, and leaves fm_packages as it was.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { assertBuilt } from "../helpers/cli.js"
import {
  assertLogFailure,
  editStoredRelease,
  forkableRegistry,
  logRequests,
  logSetup,
  recordedOrigin,
  writeProject
} from "../helpers/publish-log.js"
import { within } from "../helpers/scoped.js"
import { acquireServer, fixtureArchive, publishFixture, uploadArchive } from "../helpers/server.js"

assertBuilt()

interface LockJson {
  packages: Record<string, { version: string; sha256: string; log_index?: number }>
}
const readLock = (dir: string): LockJson =>
  JSON.parse(fs.readFileSync(path.join(dir, "fm.lock.json"), "utf8")) as LockJson
const installed = (dir: string): Array<string> => {
  const target = path.join(dir, "fm_packages")
  return fs.existsSync(target) ? fs.readdirSync(target).sort() : []
}

describe("project installs check the registry's publish log (built binary)", () => {
  it.scopedLive(
    "one log request per install, log_index in the lock (old locks get it); (a) an edited store is caught",
    () =>
      Effect.gen(function*() {
        // metadata always revalidated: the install sees what the (edited) registry says now
        const { fm, home, root } = yield* logSetup({ FLOWMASON_METADATA_MAX_AGE: "0" })
        const dataDir = path.join(root, "data")
        const origin = yield* within(acquireServer({ dataDir, logRequests: true }), async (server) => {
          const token = server.adminToken
          await publishFixture(server.url, token, { name: "dep-pkg", version: "1.0.0" })
          await publishFixture(server.url, token, { name: "app-pkg", version: "1.0.0", deps: { "dep-pkg": "^1.0.0" } })
          await publishFixture(server.url, token, { name: "other", version: "1.0.0" })
          assert.strictEqual((await fm(["registry", "add", "r", server.url])).code, 0)
          const origin = recordedOrigin(home)

          const p1 = path.join(root, "p1")
          writeProject(p1, { "app-pkg": "^1.0.0", other: "^1.0.0" })
          const before = logRequests(server)
          const first = await fm(["install"], p1)
          assert.strictEqual(first.code, 0, first.stderr)
          assert.strictEqual(logRequests(server) - before, 1, "one log request for three packages")
          assert.notInclude(first.stderr, "notice: registry r publishes no log")
          const lock = readLock(p1)
          assert.deepStrictEqual(
            Object.fromEntries(Object.entries(lock.packages).map(([n, p]) => [n, p.log_index])),
            { "app-pkg": 1, "dep-pkg": 0, other: 2 }
          )

          // a lock made before the log: the install finds the indexes (one package answer each) and records them
          const stripped = {
            ...lock,
            packages: Object.fromEntries(
              Object.entries(lock.packages).map(([n, p]) => {
                const { log_index: _, ...rest } = p
                return [n, rest]
              })
            )
          }
          fs.writeFileSync(path.join(p1, "fm.lock.json"), JSON.stringify(stripped))
          const old = await fm(["install"], p1)
          assert.strictEqual(old.code, 0, old.stderr)
          assert.strictEqual(readLock(p1).packages["app-pkg"]?.log_index, 1)

          // following the lock, every archive cached: still one log request
          const mid = logRequests(server)
          const frozen = await fm(["install", "--frozen"], p1)
          assert.strictEqual(frozen.code, 0, frozen.stderr)
          assert.strictEqual(logRequests(server) - mid, 1, "one log request for a frozen install")
          return origin
        })

        // (a) behind the stopped server's back: other bytes and their checksum for dep-pkg@1.0.0
        editStoredRelease(dataDir, "dep-pkg", "1.0.0")
        yield* within(acquireServer({ dataDir, logRequests: true }), async (server) => {
          assert.strictEqual((await fm(["registry", "set", "r", "--url", server.url])).code, 0)
          const p2 = path.join(root, "p2")
          writeProject(p2, { "app-pkg": "^1.0.0" })
          const edited = await fm(["install"], p2)
          assertLogFailure(edited, origin, /log recorded SHA-256 [0-9a-f]{64}/)
          assert.include(edited.stderr, "dep-pkg@1.0.0")
          assert.deepStrictEqual(installed(p2), [], "nothing installed")
          assert.isFalse(fs.existsSync(path.join(p2, "fm.lock.json")), "no lock written")
        })
      }),
    240_000
  )

  it.scopedLive(
    "(c) a rollback and (b) a fork are caught by an install that follows the lock from the cache",
    () =>
      Effect.gen(function*() {
        const { fm, home, root } = yield* logSetup()
        const registry = yield* forkableRegistry(root, { name: "old-pkg", version: "1.0.0" }, {
          name: "new-pkg",
          version: "1.0.0"
        })
        const token = registry.token
        const project = path.join(root, "project")
        const origin = yield* within(registry.serve, async (server) => {
          assert.strictEqual((await fm(["registry", "add", "r", server.url])).code, 0)
          const origin = recordedOrigin(home)
          writeProject(project, { "old-pkg": "^1.0.0" })
          const ok = await fm(["install"], project)
          assert.strictEqual(ok.code, 0, ok.stderr)
          assert.strictEqual(readLock(project).packages["old-pkg"]?.log_index, 0)
          // the log grew to 2 entries since: the machine keeps that checkpoint
          const newer = await fm(["install", "new-pkg@1.0.0", "--registry", "r", "--dir", path.join(root, "single")])
          assert.strictEqual(newer.code, 0, newer.stderr)
          return origin
        })

        // (c) the store rolled back to the snapshot (one entry instead of two), same key
        yield* within(registry.rollBack, async (server) => {
          assert.strictEqual((await fm(["registry", "set", "r", "--url", server.url])).code, 0)
          fs.rmSync(path.join(project, "fm_packages"), { recursive: true })
          const rolled = await fm(["install", "--frozen"], project)
          assertLogFailure(rolled, origin, /shrank from 2 to 1 entries/)
          assert.deepStrictEqual(installed(project), [], "nothing installed")
        })

        // (b) the same key over a fresh store with other entries, and more of them
        yield* within(registry.fork, async (server) => {
          const forged = fixtureArchive({ name: "new-pkg", version: "1.0.0", files: { "README.md": "# forged\n" } })
          assert.strictEqual((await uploadArchive(server.url, token, forged)).status, 201)
          await publishFixture(server.url, token, { name: "old-pkg", version: "1.0.0" })
          await publishFixture(server.url, token, { name: "filler", version: "1.0.0" })
          assert.strictEqual((await fm(["registry", "set", "r", "--url", server.url])).code, 0)
          const forked = await fm(["install"], project)
          assertLogFailure(forked, origin, /does not extend the 2 entries seen before \(a fork/)
          assert.deepStrictEqual(installed(project), [], "nothing installed")
        })
      }),
    240_000
  )
})
