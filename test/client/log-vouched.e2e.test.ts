/**
 * What the publish log vouched for is remembered with the stored checkpoint (built `fm`): an
 * install of packages the log already proved asks only for the signed checkpoint and the
 * consistency proof from the stored one (the request carries no indexes), a new package is proven
 * on its own, and a package whose bytes differ from what was proven is proven again.
 * The registry's requests are recorded by a forwarding proxy on 127.0.0.1.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { assertBuilt } from "../helpers/cli.js"
import { logSetup, writeProject } from "../helpers/publish-log.js"
import { listening } from "../helpers/scoped.js"
import { acquireServer, publishFixture } from "../helpers/server.js"

assertBuilt()

/** A proxy to `target` on 127.0.0.1 until the scope closes, recording the path and query of every request. */
const recordingProxy = (target: string) =>
  Effect.gen(function*() {
    const seen: Array<string> = []
    const upstream = new URL(target)
    const url = yield* listening(http.createServer((req, res) => {
      seen.push(req.url ?? "")
      const forward = http.request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        }
      )
      forward.on("error", () => res.destroy())
      req.pipe(forward)
    }))
    return {
      url,
      /** The log requests recorded since the last call, with their query decoded. */
      take: (): Array<URLSearchParams & { path: string }> => {
        const out = seen.splice(0).filter((u) => u.includes("/api/v1/registry/log/"))
        return out.map((u) => {
          const parsed = new URL(u, "http://x")
          return Object.assign(parsed.searchParams, { path: parsed.pathname })
        })
      }
    }
  })

describe("the stored log remembers what it vouched for (built binary)", () => {
  it.scopedLive(
    "a repeat install asks for no inclusion proof; a new package is proven alone",
    () =>
      Effect.gen(function*() {
        const { fm, home, root } = yield* logSetup({ FLOWMASON_METADATA_MAX_AGE: "0" })
        const server = yield* acquireServer({ dataDir: path.join(root, "data") })
        const proxy = yield* recordingProxy(server.url)
        yield* Effect.promise(async () => {
          const token = server.adminToken
          await publishFixture(server.url, token, { name: "dep-pkg", version: "1.0.0" })
          await publishFixture(server.url, token, { name: "app-pkg", version: "1.0.0", deps: { "dep-pkg": "^1.0.0" } })
          assert.strictEqual((await fm(["registry", "add", "r", proxy.url])).code, 0)
          proxy.take()

          const project = path.join(root, "project")
          /** Installs (afresh: no fm_packages) and answers the one log request it made. */
          const install = async (args: ReadonlyArray<string>) => {
            fs.rmSync(path.join(project, "fm_packages"), { recursive: true, force: true })
            const r = await fm(args, project)
            assert.strictEqual(r.code, 0, r.stderr)
            const [asked, ...more] = proxy.take()
            assert.deepStrictEqual(more, [], "one log request")
            assert.strictEqual(asked?.path, "/api/v1/registry/log/proof/inclusions")
            return asked
          }
          writeProject(project, { "app-pkg": "^1.0.0" })
          const first = await install(["install"])
          assert.deepStrictEqual(first?.get("indexes")?.split(",").sort(), ["0", "1"])

          // everything proven before: the checkpoint and the consistency proof from it, no inclusion proof
          const again = await install(["install", "--frozen"])
          assert.strictEqual(again?.get("indexes"), "")
          assert.strictEqual(again?.get("old"), "2")

          // a new package: its proof alone
          await publishFixture(server.url, token, { name: "other", version: "1.0.0" })
          writeProject(project, { "app-pkg": "^1.0.0", other: "^1.0.0" })
          const third = await install(["install"])
          assert.strictEqual(third?.get("indexes"), "2")
          assert.strictEqual(third?.get("old"), "2")

          // a remembered package whose recorded bytes differ (the lock says other bytes): proven again
          const lockFile = path.join(project, "fm.lock.json")
          const lock = JSON.parse(fs.readFileSync(lockFile, "utf8")) as {
            packages: Record<string, { sha256: string }>
          }
          const logs = path.join(home, "logs")
          const [state] = fs.readdirSync(logs).filter((f) => f.endsWith(".json"))
          const stored = JSON.parse(fs.readFileSync(path.join(logs, state ?? ""), "utf8")) as {
            vouched: Array<{ name: string; sha256: string }>
          }
          assert.deepStrictEqual(stored.vouched.map((v) => v.name).sort(), ["app-pkg", "dep-pkg", "other"])
          const dep = stored.vouched.find((v) => v.name === "dep-pkg")
          assert.strictEqual(dep?.sha256, lock.packages["dep-pkg"]?.sha256)
          fs.writeFileSync(
            path.join(logs, state ?? ""),
            JSON.stringify({
              ...stored,
              vouched: stored.vouched.map((v) => (v.name === "dep-pkg" ? { ...v, sha256: "0".repeat(64) } : v))
            })
          )
          const fourth = await install(["install", "--frozen"])
          assert.strictEqual(fourth?.get("indexes"), "0")
        })
      }),
    240_000
  )
})
