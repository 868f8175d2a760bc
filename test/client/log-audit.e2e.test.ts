/**
 * `fm registry verify` on the built `fm`, against real servers:
 * - NAME audits the whole log: a good log passes (exit 0, `--json`), the checkpoint is kept; a
 *   rolled-back or forked log fails; an honest log of a dishonest registry (one version published
 *   twice with other bytes) fails; every failure names the registry and the log (exit 1);
 * - `--gossip` compares checkpoints of one log across registries and checkpoint files: a split
 *   view (same key, same size, other roots) fails;
 * - `fm studio start --log-witness-file` keeps the latest checkpoint in a file after each append,
 *   and `--log-witness-url` POSTs it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { assertBuilt } from "../helpers/cli.js"
import { assertLogFailure, forkableRegistry, logKeyFile, logSetup, recordedOrigin } from "../helpers/publish-log.js"
import { listening, within } from "../helpers/scoped.js"
import { acquireServer, publishFixture } from "../helpers/server.js"

assertBuilt()

const jsonOf = (stdout: string) => JSON.parse(stdout) as Record<string, Record<string, unknown>>

/** Waits (bounded) until `file` holds a checkpoint of `size` entries. */
const waitForCheckpoint = async (file: string, size: number): Promise<string> => {
  for (let i = 0; i < 100; i++) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""
    if (text.split("\n")[1] === String(size)) return text
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${file} never held a checkpoint of ${size} entries`)
}

describe("fm registry verify (built binary)", () => {
  it.scopedLive("audits a good log, then catches a rollback and a fork", () =>
    Effect.gen(function*() {
      const { fm, home, root } = yield* logSetup()
      const registry = yield* forkableRegistry(root, { name: "a", version: "1.0.0" }, { name: "a", version: "1.1.0" })
      const token = registry.token
      const origin = yield* within(registry.serve, async (server) => {
        const yank = await fetch(`${server.url}/api/v1/registry/packages/a/1.0.0/yank`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ reason: "broken" })
        })
        assert.isTrue(yank.ok, await yank.text())
        assert.strictEqual((await fm(["registry", "add", "r", server.url])).code, 0)
        const origin = recordedOrigin(home)

        const first = await fm(["registry", "verify", "r", "--json"])
        assert.strictEqual(first.code, 0, first.stderr)
        const audit = jsonOf(first.stdout).audit
        assert.strictEqual(audit?.size, 3)
        assert.strictEqual(audit?.previous_size, null)
        assert.deepStrictEqual(audit?.operations, { publish: 2, yank: 1, unyank: 0, delete: 0 })
        assert.strictEqual(audit?.log, origin)
        await publishFixture(server.url, token, { name: "b", version: "1.0.0" })
        const second = await fm(["registry", "verify", "r"])
        assert.strictEqual(second.code, 0, second.stderr)
        assert.include(second.stdout, `log ${origin} verified: 4 entries`)
        assert.include(second.stdout, "consistent with the 3 entries seen before")
        return origin
      })

      // a rollback: the store of one entry, same key
      yield* within(registry.rollBack, async (server) => {
        assert.strictEqual((await fm(["registry", "set", "r", "--url", server.url])).code, 0)
        const rolled = await fm(["registry", "verify", "r"])
        assert.strictEqual(rolled.code, 1)
        assertLogFailure(rolled, origin, /shrank from 4 to 1 entries/)
      })

      // a fork: the same key over a fresh store with more entries
      yield* within(registry.fork, async (server) => {
        for (const v of ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4"]) {
          await publishFixture(server.url, token, { name: "c", version: v })
        }
        assert.strictEqual((await fm(["registry", "set", "r", "--url", server.url])).code, 0)
        const forked = await fm(["registry", "verify", "r", "--json"])
        assert.strictEqual(forked.code, 1)
        const error = jsonOf(forked.stdout).error
        assert.include(String(error?.message), "registry r")
        assert.include(String(error?.message), origin)
        assert.include(String(error?.message), "does not extend the 4 entries seen before")
      })
    }), 240_000)

  it.scopedLive("catches a version published twice with other bytes in the log itself", () =>
    Effect.gen(function*() {
      const { fm, home, root } = yield* logSetup()
      const dataDir = path.join(root, "data")
      const first = yield* within(
        acquireServer({ dataDir }),
        (server) => publishFixture(server.url, server.adminToken, { name: "twice", version: "1.0.0" })
      )
      // behind the stopped server's back, the registry logs a second publish of twice@1.0.0 with
      // other bytes: signed, consistent, but a lie
      execFileSync("sqlite3", [
        path.join(dataDir, "registry.db"),
        `INSERT INTO log_entries (idx, operation, name, version, sha256, size_bytes, at)
         VALUES (1, 'publish', 'twice', '1.0.0', '${"ab".repeat(32)}', 10, '2026-01-01T00:00:00Z')`
      ])
      yield* within(acquireServer({ dataDir }), async (server) => {
        assert.strictEqual((await fm(["registry", "add", "r", server.url])).code, 0)
        const r = await fm(["registry", "verify", "r"])
        assertLogFailure(r, recordedOrigin(home), /twice@1\.0\.0 was published before \(entry 0\) with other bytes/)
        assert.include(r.stderr, String(first.checksum))
      })
    }), 240_000)

  it.scopedLive(
    "--gossip: one log agrees across registries and witness files; a split view is caught",
    () =>
      Effect.gen(function*() {
        const { fm, root } = yield* logSetup()
        const keyArgs = ["--log-key", logKeyFile(root)]
        const witness = path.join(root, "witness", "checkpoint.txt")
        fs.mkdirSync(path.dirname(witness))
        const posted: Array<string> = []
        const sink = yield* listening(http.createServer((req, res) => {
          let body = ""
          req.on("data", (c: Buffer) => (body += c.toString("utf8")))
          req.on("end", () => {
            posted.push(body)
            res.writeHead(204).end()
          })
        }))
        const a = yield* acquireServer({
          dataDir: path.join(root, "a"),
          args: [...keyArgs, "--log-witness-file", witness, "--log-witness-url", `${sink}/witness`]
        })
        const b = yield* acquireServer({ dataDir: path.join(root, "b"), args: keyArgs })
        const other = yield* logSetup()
        yield* Effect.promise(async () => {
          await waitForCheckpoint(witness, 0)
          await publishFixture(a.url, a.adminToken, { name: "x", version: "1.0.0" })
          const note = await waitForCheckpoint(witness, 1)
          assert.match(note, /^fm-log\/[0-9a-f]{16}\n1\n[A-Za-z0-9+/]{43}=\n\n— fm-log\//)
          for (let i = 0; i < 50 && !posted.some((p) => p === note); i++) await new Promise((r) => setTimeout(r, 100))
          assert.include(posted, note, "the checkpoint was POSTed to the witness URL")

          // two names for one registry, and its witness file: they agree
          assert.strictEqual((await fm(["registry", "add", "r", a.url])).code, 0)
          assert.strictEqual((await fm(["registry", "add", "mirror", a.url])).code, 0)
          const agree = await fm(["registry", "verify", "--gossip", "--checkpoint", witness, "--json"])
          assert.strictEqual(agree.code, 0, agree.stderr)
          const report = jsonOf(agree.stdout).gossip
          assert.isAtLeast(Number(report?.comparisons), 3)

          // the same key serving another history of the same size elsewhere: a split view
          await publishFixture(b.url, b.adminToken, { name: "y", version: "1.0.0" })
          assert.strictEqual((await other.fm(["registry", "add", "r", b.url])).code, 0)
          const split = await other.fm(["registry", "verify", "--gossip", "--checkpoint", witness])
          assert.strictEqual(split.code, 1, split.stdout)
          assert.include(split.stderr, "registry r")
          assert.include(split.stderr, recordedOrigin(other.home))
          assert.match(split.stderr, /split view/)
        })
      }),
    240_000
  )
})
