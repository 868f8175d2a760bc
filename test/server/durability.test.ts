/**
 * Atomic publishes: `kill -9` of the server mid-upload leaves nothing behind after a restart
 * (no temp file, no blob, no row), stray blobs are swept at start, and 20 concurrent uploads of
 * one name@version give exactly one 2xx, 19 409s and one blob on disk.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { acquireTestDatabase, storedBlobs, testBackends, usesPostgres, usesS3 } from "../helpers/pg.js"
import type { TestS3 } from "../helpers/s3.js"
import { acquireS3 } from "../helpers/s3.js"
import { tempDir, within } from "../helpers/scoped.js"
import type { ScopedServer } from "../helpers/server.js"
import { acquireServer, fixtureArchive, pidOf, publishFixture, uploadArchive } from "../helpers/server.js"

const listFiles = (dir: string): Array<string> => {
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    // Node before 20.12 names the entry's directory `path` (typed only as `parentPath` since)
    .map((e) => path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
}

const waitFor = async (cond: () => boolean, ms: number) => {
  const until = Date.now() + ms
  while (!cond()) {
    if (Date.now() > until) throw new Error("timed out waiting")
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** `kill -9` of a child-process server (the release of its scope then only waits for the exit). */
const killHard = (server: ScopedServer): void => {
  process.kill(pidOf(server), "SIGKILL")
}

/** The s3rver of the S3 backend (none on the others), shared by the tests of one backend. */
class S3 extends Context.Tag("test/durability/S3")<S3, TestS3 | undefined>() {}

// The whole suite runs once per storage backend: SQLite, then PostgreSQL when reachable (CI
// requires it: FM_REQUIRE_POSTGRES=1), then with the archives in S3 (s3rver, started for the
// backend's tests). Each test gets a fresh database and S3 prefix (as a fresh data dir), dropped
// with its scope; a restart within a test keeps them. FM_DATABASE_URL and the S3 variables go to
// the servers as their environment. On PostgreSQL the archives are in the database (blobs
// table), not in <data-dir>/blobs.
describe.each(await testBackends({ s3: true }))("on %s", (backend) => {
  /** A fresh storage for one test: the servers' environment and readers of the archives it holds. */
  const freshStorage = Effect.gen(function*() {
    const s3 = yield* S3
    const db = usesPostgres(backend) ? yield* acquireTestDatabase("durab") : undefined
    const prefix = `durab-${crypto.randomBytes(4).toString("hex")}`
    const env: Record<string, string> = {
      ...(db === undefined ? {} : { FM_DATABASE_URL: db.url }),
      ...(s3 === undefined ? {} : s3.envFor(prefix))
    }
    return {
      s3,
      prefix,
      env,
      /** The stored archives: S3 keys, PostgreSQL blob rows, or files under <data-dir>/blobs. */
      storedArchives: async (dataDir: string): Promise<ReadonlyArray<string>> =>
        s3 !== undefined
          ? s3.keys(`${prefix}/blobs/`)
          : db !== undefined
          ? [...(await storedBlobs(db.url))]
          : listFiles(path.join(dataDir, "blobs")),
      /** Objects staged in S3 and not yet copied into place (none on the other backends). */
      stagedArchives: async (): Promise<ReadonlyArray<string>> => s3 === undefined ? [] : s3.keys(`${prefix}/tmp/`)
    }
  })

  layer(Layer.scoped(S3, usesS3(backend) ? acquireS3() : Effect.succeed(undefined)), { excludeTestServices: true })(
    (it) => {
      describe("crash safety", () => {
        it.scoped("kill -9 mid-upload: after restart no temp file, no blob, no row; stray blobs are swept", () =>
          Effect.gen(function*() {
            const { env, prefix, s3, stagedArchives, storedArchives } = yield* freshStorage
            // our own data dir, kept across the restart (removed with the test's scope)
            const dataDir = yield* tempDir("fm-crash-")
            const tmp = path.join(dataDir, "tmp")
            // larger than the in-memory upload limit (4 MiB), so it streams through a temp file
            const big = fixtureArchive({
              name: "half-done",
              version: "1.0.0",
              files: { "blob.bin": crypto.randomBytes(6_000_000) }
            })
            const adminToken = yield* within(acquireServer({ dataDir, env }), async (first) => {
              await publishFixture(first.url, first.adminToken, { name: "survivor", version: "1.0.0" })
              const boundary = "----fmcrash"
              const head = Buffer.from(
                `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="half-done.fmpkg"\r\n` +
                  "Content-Type: application/octet-stream\r\n\r\n"
              )
              const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
              const url = new URL(`${first.url}/api/v1/registry/packages/upload`)
              const req = http.request({
                host: url.hostname,
                port: url.port,
                path: url.pathname,
                method: "POST",
                headers: {
                  authorization: `Bearer ${first.adminToken}`,
                  "content-type": `multipart/form-data; boundary=${boundary}`,
                  "content-length": String(head.length + big.length + tail.length)
                }
              })
              req.on("error", () => undefined)
              req.write(head)
              // half the archive, slowly
              const half = Math.floor(big.length / 2)
              for (let off = 0; off < half; off += 100_000) {
                req.write(big.subarray(off, Math.min(off + 100_000, half)))
                await new Promise((r) => setTimeout(r, 20))
              }
              await waitFor(() => listFiles(tmp).some((f) => fs.statSync(f).size > 0), 30_000)
              killHard(first)
              req.destroy()
              return first.adminToken
            })
            assert.isAbove(listFiles(tmp).length, 0) // the partial upload is on disk, uncommitted

            // a stray blob, as if the crash had come after the rename but before the row, and a small
            // upload's half-written file beside its content address
            const stray = "ab".repeat(32)
            fs.mkdirSync(path.join(dataDir, "blobs", "ab"), { recursive: true })
            fs.writeFileSync(path.join(dataDir, "blobs", "ab", stray), "stray")
            fs.writeFileSync(path.join(dataDir, "blobs", "ab", `${"ab".repeat(32)}.0123456789ab.part`), "half")
            if (s3 !== undefined) {
              // in the bucket: a stray object at a content address and a staged one without a row, both
              // older than the sweep's minimum age (younger ones may be another replica's upload in flight)
              const old = new Date(Date.now() - 2 * 3600_000)
              for (const key of [`${prefix}/blobs/${stray}`, `${prefix}/tmp/${stray}/0123456789abcdef`]) {
                yield* Effect.promise(() => s3.put(key, "stray"))
                s3.age(key, old)
              }
            }

            yield* within(acquireServer({ dataDir, adminToken, env }), async (second) => {
              assert.deepStrictEqual(listFiles(tmp), [])
              const blobs = await storedArchives(dataDir)
              assert.lengthOf(blobs, 1) // only survivor's
              assert.isFalse(blobs.some((b) => b.endsWith(stray)))
              assert.deepStrictEqual(await stagedArchives(), [])
              assert.strictEqual((await fetch(`${second.url}/api/v1/registry/packages/half-done`)).status, 404)
              const survivor = await (await fetch(`${second.url}/api/v1/registry/packages/survivor`)).json() as {
                checksum: string
              }
              assert.isTrue(blobs[0]?.endsWith(survivor.checksum))
              // and the store still takes the upload that was cut off
              const ok = await uploadArchive(second.url, second.adminToken, big)
              assert.strictEqual(ok.status, 201)
            })
          }))
      })

      describe("concurrency", () => {
        it.scoped("20 concurrent uploads of one name@version: one 201, 19 409s, one blob", () =>
          Effect.gen(function*() {
            const { env, stagedArchives, storedArchives } = yield* freshStorage
            const server = yield* acquireServer({ env })
            yield* Effect.promise(async () => {
              const archives = Array.from(
                { length: 20 },
                (_, i) => fixtureArchive({ name: "race-pkg", version: "1.0.0", files: { "n.txt": `upload ${i}` } })
              )
              const results = await Promise.all(archives.map((a) => uploadArchive(server.url, server.adminToken, a)))
              const statuses = results.map((r) => r.status).sort()
              await Promise.all(results.map((r) => r.arrayBuffer()))
              assert.lengthOf(statuses.filter((s) => s === 201), 1)
              assert.lengthOf(statuses.filter((s) => s === 409), 19)
              const blobs = await storedArchives(server.dataDir)
              assert.lengthOf(blobs, 1)
              const info = await (await fetch(`${server.url}/api/v1/registry/packages/race-pkg`)).json() as {
                checksum: string
              }
              assert.isTrue(blobs[0]?.endsWith(info.checksum))
              assert.deepStrictEqual(listFiles(path.join(server.dataDir, "tmp")), [])
              assert.deepStrictEqual(await stagedArchives(), [])
              const got = Buffer.from(
                await (await fetch(`${server.url}/api/v1/registry/packages/race-pkg/1.0.0/download`)).arrayBuffer()
              )
              assert.strictEqual(crypto.createHash("sha256").update(got).digest("hex"), info.checksum)
            })
          }))
      })
    }
  )
})

// SQLite + files only: the marker belongs to a data directory one server owns.
describe("clean shutdown (SQLite + files)", () => {
  it.scopedLive("a graceful stop leaves a marker that lets the next start skip walking the blobs; a crash does not", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir("fm-clean-")
      const marker = path.join(dataDir, ".fm-clean-shutdown")
      const adminToken = yield* within(acquireServer({ dataDir }), async (first) => {
        await publishFixture(first.url, first.adminToken, { name: "kept", version: "1.0.0" })
        assert.isFalse(fs.existsSync(marker))
        return first.adminToken
      })
      // the scope closed with SIGTERM: a graceful stop
      assert.isTrue(fs.existsSync(marker))

      // trusted: the start consumes the marker and walks no blob (a file planted meanwhile stays)
      const planted = path.join(dataDir, "blobs", "cd", "cd".repeat(32))
      fs.mkdirSync(path.dirname(planted), { recursive: true })
      fs.writeFileSync(planted, "planted after the clean stop")
      yield* within(acquireServer({ dataDir, adminToken }), async (second) => {
        assert.isFalse(fs.existsSync(marker))
        assert.isTrue(fs.existsSync(planted))
        await publishFixture(second.url, second.adminToken, { name: "kept", version: "1.1.0" })
        killHard(second)
      })
      assert.isFalse(fs.existsSync(marker))

      // after a crash: the full sweep, which removes what no release refers to
      yield* within(acquireServer({ dataDir, adminToken }), async (third) => {
        assert.isFalse(fs.existsSync(planted))
        const info = await (await fetch(`${third.url}/api/v1/registry/packages/kept`)).json() as {
          available_versions: Array<string>
        }
        assert.deepStrictEqual(info.available_versions, ["1.0.0", "1.1.0"])
        assert.lengthOf(listFiles(path.join(dataDir, "blobs")), 2)
      })
    }))
})
