/**
 * The built `fm` (dist/fm.js) checks every install against the registry's publish log:
 * (a) a server whose store was edited behind its back (other bytes and checksum for a published
 *     version) is caught;
 * (b) a registry restarted with the same key and a fresh store where a version has other bytes
 *     (a fork of the log) is caught;
 * (c) a rolled-back registry (an older copy of its store: a smaller tree) is caught;
 * (d) a good registry passes, with one log request per install, and `fm registry add` records its
 *     key (trust on first use) in registries.json.
 * A failure names the registry and the log, and installs nothing.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { assertBuilt } from "../helpers/cli.js"
import { editStoredRelease, forkableRegistry, logRequests, logSetup, recordedOrigin } from "../helpers/publish-log.js"
import { listening, within } from "../helpers/scoped.js"
import { acquireServer, fixtureArchive, publishFixture, uploadArchive } from "../helpers/server.js"

assertBuilt()

const assertCaught = (result: { code: number | null; stderr: string }, origin: string, dir: string, reason: RegExp) => {
  assert.notStrictEqual(result.code, 0, result.stderr)
  assert.include(result.stderr, "registry r")
  assert.include(result.stderr, origin)
  assert.match(result.stderr, reason)
  assert.isFalse(fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith(".fmpkg")), "nothing installed")
}

describe("fm install checks the registry's publish log (built binary)", () => {
  it.scopedLive("(d) a good registry passes with one log request per install; (a) an edited store is caught", () =>
    Effect.gen(function*() {
      const { fm, home, root } = yield* logSetup()
      const dataDir = path.join(root, "data")
      const origin = yield* within(acquireServer({ dataDir, logRequests: true }), async (server) => {
        const token = server.adminToken
        await publishFixture(server.url, token, { name: "good-pkg", version: "1.0.0" })
        const added = await fm(["registry", "add", "r", server.url])
        assert.strictEqual(added.code, 0, added.stderr)
        const origin = recordedOrigin(home)
        assert.match(origin, /^fm-log\/[0-9a-f]{16}$/)

        const before = logRequests(server)
        const first = await fm(["install", "good-pkg@1.0.0", "--registry", "r", "--dir", path.join(root, "d1")])
        assert.strictEqual(first.code, 0, first.stderr)
        assert.strictEqual(logRequests(server) - before, 1, "one log request per install")
        assert.isTrue(fs.existsSync(path.join(home, "logs", `${origin.replace("/", "_")}.json`)))

        await publishFixture(server.url, token, { name: "good-pkg", version: "1.1.0" })
        const mid = logRequests(server)
        const second = await fm(["install", "good-pkg@1.1.0", "--registry", "r", "--dir", path.join(root, "d2")])
        assert.strictEqual(second.code, 0, second.stderr)
        assert.strictEqual(logRequests(server) - mid, 1)
        assert.notInclude(second.stderr, "notice")
        return origin
      })

      // (a) behind the stopped server's back: other bytes and their checksum for good-pkg@1.0.0
      editStoredRelease(dataDir, "good-pkg", "1.0.0")
      yield* within(acquireServer({ dataDir, logRequests: true }), async (server) => {
        assert.strictEqual((await fm(["registry", "set", "r", "--url", server.url])).code, 0)
        const edited = await fm(["install", "good-pkg@1.0.0", "--registry", "r", "--dir", path.join(root, "d3")])
        assertCaught(edited, origin, path.join(root, "d3"), /log recorded SHA-256 [0-9a-f]{64}/)
      })
    }))

  it.scopedLive("(b) a fork (same key, fresh store, other bytes) and (c) a rollback (an older store) are caught", () =>
    Effect.gen(function*() {
      const { fm, home, root } = yield* logSetup()
      const registry = yield* forkableRegistry(root, { name: "old-pkg", version: "1.0.0" }, {
        name: "new-pkg",
        version: "1.0.0"
      })
      const token = registry.token
      const origin = yield* within(registry.serve, async (server) => {
        assert.strictEqual((await fm(["registry", "add", "r", server.url])).code, 0)
        const ok = await fm(["install", "new-pkg@1.0.0", "--registry", "r", "--dir", path.join(root, "ok")])
        assert.strictEqual(ok.code, 0, ok.stderr)
        return recordedOrigin(home)
      })

      // (c) the store rolled back to the snapshot (one entry instead of two), same key
      yield* within(registry.rollBack, async (server) => {
        assert.strictEqual((await fm(["registry", "set", "r", "--url", server.url])).code, 0)
        const rolled = await fm(["install", "old-pkg@1.0.0", "--registry", "r", "--dir", path.join(root, "c")])
        assertCaught(rolled, origin, path.join(root, "c"), /shrank from 2 to 1 entries/)
      })

      // (b) the same key over a fresh store where new-pkg@1.0.0 has other bytes, and more entries
      yield* within(registry.fork, async (server) => {
        const forged = fixtureArchive({ name: "new-pkg", version: "1.0.0", files: { "README.md": "# forged\n" } })
        assert.strictEqual((await uploadArchive(server.url, token, forged)).status, 201)
        await publishFixture(server.url, token, { name: "filler", version: "1.0.0" })
        await publishFixture(server.url, token, { name: "filler", version: "1.0.1" })
        assert.strictEqual((await fm(["registry", "set", "r", "--url", server.url])).code, 0)
        const forkedResult = await fm(["install", "new-pkg@1.0.0", "--registry", "r", "--dir", path.join(root, "b")])
        assertCaught(forkedResult, origin, path.join(root, "b"), /does not extend the 2 entries seen before \(a fork/)
      })
    }))

  it.scopedLive("a registry without a log still installs, with one notice", () =>
    Effect.gen(function*() {
      const { fm, root } = yield* logSetup()
      const server = yield* acquireServer({})
      yield* Effect.promise(() => publishFixture(server.url, server.adminToken, { name: "plain", version: "1.0.0" }))
      // the original FlowMason server has no log: a stand-in that strips the log from our answers
      const proxy = yield* listening(http.createServer((req, res) => {
        void fetch(`${server.url}${req.url ?? "/"}`).then(async (up) => {
          let body = Buffer.from(await up.arrayBuffer())
          if ((up.headers.get("content-type") ?? "").includes("json")) {
            body = Buffer.from(body.toString("utf8").replace(/,"log_(index|key)":("[^"]*"|\d+)/g, ""))
          }
          res.writeHead(req.url?.includes("/log/") === true ? 404 : up.status, {
            "content-type": up.headers.get("content-type") ?? ""
          })
          res.end(body)
        })
      }))
      yield* Effect.promise(async () => {
        assert.strictEqual((await fm(["registry", "add", "r", proxy])).code, 0)
        const result = await fm(["install", "plain@1.0.0", "--registry", "r", "--dir", path.join(root, "p")])
        assert.strictEqual(result.code, 0, result.stderr)
        assert.strictEqual(result.stderr.split("publishes no log").length - 1, 1)
        assert.isTrue(fs.existsSync(path.join(root, "p", "plain-1.0.0.fmpkg")))
      })
    }))
})
