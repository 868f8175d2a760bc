/**
 * FlowMason's Python client (as test/compat/flowmason_client.py re-creates it with the standard
 * library: JSON Content-Type on GETs, no redirects, {detail} errors, absolute download_url with a
 * SHA-256 check, multipart publish with `file` + `checksum`) works end to end against our server.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { fixtureArchive, publishFixture, TestServer, withServer } from "../helpers/server.js"

const CLIENT = fileURLToPath(new URL("./flowmason_client.py", import.meta.url))

const runPython = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      "python3",
      [CLIENT, ...args],
      { timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr })
    )
  })

layer(TestServer.layer(), { excludeTestServices: true })((it) => {
  it.scoped("FlowMason's Python client publishes, searches, resolves and downloads", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "fm-compat-"))),
        (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
      )
      yield* withServer(async (server) => {
        await publishFixture(server.url, server.adminToken, { name: "compat-flow", version: "0.9.0" })
        const file = path.join(dir, "compat-flow-1.2.0.fmpkg")
        fs.writeFileSync(
          file,
          fixtureArchive({ name: "compat-flow", version: "1.2.0", deps: { "compat-base": "^1.0.0" } })
        )
        const res = await runPython([server.url, server.adminToken, file, "compat-flow", "1.2.0"])
        assert.strictEqual(res.stderr, "")
        assert.strictEqual(res.code, 0)
        const seen = JSON.parse(res.stdout)
        assert.strictEqual(seen.health, "healthy")
        assert.match(seen.anonymous_publish, /authentication failed/)
        assert.containSubset(seen.published, { name: "compat-flow", version: "1.2.0" })
        assert.match(
          seen.published.download_url,
          /^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/registry\/packages\/compat-flow\/1\.2\.0\/download$/
        )
        assert.include(seen.search_names, "compat-flow")
        assert.strictEqual(seen.latest, "1.2.0")
        assert.strictEqual(seen.exact, "1.2.0")
        assert.deepStrictEqual(seen.versions, ["0.9.0", "1.2.0"])
        assert.isNull(seen.missing)
        assert.isTrue(seen.sha256_ok)
        assert.strictEqual(seen.downloaded_bytes, fs.statSync(file).size)
      })
    }))
})
