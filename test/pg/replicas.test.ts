/**
 * Several registry server processes on one PostgreSQL database: publish through one, read and
 * download through the others; the publish race; exact download counts; yanks, deletes and
 * token revocations seen by every replica at once; a database outage (connections killed with
 * pg_terminate_backend, new ones refused) answered with 503 and recovered from without restart.
 */
import * as crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { hashToken } from "../../src/server/http/Auth.js"
import { buildZip, projectManifest } from "../helpers/archives.js"
import type { Replica, TestDatabase } from "../helpers/pg.js"
import {
  allowConnections,
  blockConnections,
  createTestDatabase,
  eventually,
  pgEnabled,
  startReplica,
  withPg
} from "../helpers/pg.js"
import { uploadArchive } from "../helpers/server.js"

const enabled = await pgEnabled()

const ADMIN = `fmr_test_admin_${crypto.randomBytes(8).toString("hex")}`
const API = "/api/v1/registry"

const archive = (name: string, version: string, extra: Record<string, unknown> = {}) =>
  buildZip([
    { name: "manifest.json", data: projectManifest(name, version, extra) },
    { name: "pipelines/main.pipeline.json", data: `{"stages":[],"nonce":"${crypto.randomBytes(6).toString("hex")}"}` }
  ])

const sha = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex")

const upload = async (base: string, data: Uint8Array, token = ADMIN) => {
  const res = await uploadArchive(base, token, data, "pkg.fmpkg")
  return { status: res.status, body: parse(res.status, await res.text()) }
}

/** The JSON body, or (when it is not JSON) a body whose `detail` says what came instead. */
const parse = (status: number, text: string): Record<string, unknown> => {
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    return { detail: `status ${status}, not JSON: '${text.slice(0, 200)}'`, notJson: true }
  }
}

const getJson = async (base: string, path: string, init: RequestInit = {}) => {
  const res = await fetch(`${base}${API}${path}`, init)
  return { status: res.status, body: parse(res.status, await res.text()) }
}

const download = async (base: string, name: string, version: string) => {
  const res = await fetch(`${base}${API}/packages/${name}/${version}/download`)
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) }
}

describe.skipIf(!enabled)("three registry replicas on one PostgreSQL database", () => {
  let db: TestDatabase
  let dir = ""
  let replicas: Array<Replica> = []
  const at = (i: number) => replicas[i % replicas.length]!.url

  beforeAll(async () => {
    db = await createTestDatabase("replicas")
    dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fm-replicas-"))
    // Started together: they migrate the fresh database concurrently.
    replicas = await Promise.all(
      [0, 1, 2].map((i) => startReplica({ databaseUrl: db.url, dataDir: Path.join(dir, `r${i}`), adminToken: ADMIN }))
    )
  }, 120_000)

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()))
    if (db !== undefined) await db.drop()
    if (dir !== "") Fs.rmSync(dir, { recursive: true, force: true })
  })

  it("publishes through one replica; the others serve its info, versions, search and bytes", async () => {
    const data = archive("shared-pkg", "1.0.0", { description: "Shared between replicas", keywords: ["replica"] })
    const published = await upload(at(0), data)
    assert.strictEqual(published.status, 201)
    assert.strictEqual(published.body.checksum, sha(data))
    for (const i of [1, 2]) {
      const info = await getJson(at(i), "/packages/shared-pkg")
      assert.strictEqual(info.status, 200)
      assert.strictEqual(info.body.version, "1.0.0")
      assert.strictEqual(info.body.checksum, sha(data))
      const versions = await getJson(at(i), "/packages/shared-pkg/versions")
      assert.deepStrictEqual(versions.body.versions, ["1.0.0"])
      const search = await getJson(at(i), "/packages/search?q=shared")
      assert.deepStrictEqual((search.body.packages as Array<{ name: string }>).map((p) => p.name), ["shared-pkg"])
      const got = await download(at(i), "shared-pkg", "1.0.0")
      assert.strictEqual(got.status, 200)
      assert.strictEqual(sha(got.bytes), sha(data))
    }
    const health = await getJson(at(2), "/health")
    assert.strictEqual(health.status, 200)
    assert.strictEqual(health.body.database, "pg")
  })

  it("lets exactly one of 30 concurrent uploads of one name@version (spread over the replicas) succeed", async () => {
    const archives = Array.from({ length: 30 }, (_, i) => archive("race-pkg", "2.0.0", { description: `attempt ${i}` }))
    const results = await Promise.all(archives.map((a, i) => upload(at(i), a)))
    const statuses = results.map((r) => r.status)
    assert.strictEqual(statuses.filter((s) => s === 201).length, 1)
    assert.strictEqual(statuses.filter((s) => s === 409).length, 29)
    const winner = archives[statuses.indexOf(201)]!
    for (const r of results.filter((r) => r.status === 409)) assert.include(String(r.body.detail), "race-pkg@2.0.0")
    for (const i of [0, 1, 2]) {
      const got = await download(at(i), "race-pkg", "2.0.0")
      assert.strictEqual(sha(got.bytes), sha(winner))
    }
    // the losers' archives were not kept
    const blobs = await withPg(db.url, (sql) => sql<{ sha256: string }>`SELECT sha256 FROM blobs`)
    const kept = new Set(blobs.map((b) => b.sha256))
    for (const a of archives) assert.strictEqual(kept.has(sha(a)), a === winner)
  })

  it("adds up download counts exactly across replicas", async () => {
    const data = archive("counted", "1.0.0")
    assert.strictEqual((await upload(at(1), data)).status, 201)
    const n = 60
    const got = await Promise.all(Array.from({ length: n }, (_, i) => download(at(i), "counted", "1.0.0")))
    assert.isTrue(got.every((g) => g.status === 200 && sha(g.bytes) === sha(data)))
    // every replica writes its batch of counts within 50 ms and tells the others
    for (const i of [0, 1, 2]) {
      const info = await eventually(() => getJson(at(i), "/packages/counted"), (r) => r.body.downloads === n)
      assert.strictEqual(info.body.downloads, n)
    }
    const stats = await getJson(at(2), "/stats")
    const total = stats.body.total_downloads
    assert.isNumber(total)
    assert.isAtLeast(Number(total), n)
  })

  it("sees a yank, an unyank, a delete and a token revocation from every replica at once", async () => {
    assert.strictEqual((await upload(at(0), archive("lifecycle", "1.0.0"))).status, 201)
    assert.strictEqual((await upload(at(0), archive("lifecycle", "1.1.0"))).status, 201)
    const auth = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }
    const yank = await getJson(at(1), "/packages/lifecycle/1.1.0/yank", {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ reason: "broken" })
    })
    assert.strictEqual(yank.status, 200)
    for (const i of [0, 2]) {
      assert.strictEqual((await getJson(at(i), "/packages/lifecycle")).body.latest_version, "1.0.0")
    }
    assert.strictEqual(
      (await getJson(at(2), "/packages/lifecycle/1.1.0/unyank", { method: "POST", headers: auth })).status,
      200
    )
    for (const i of [0, 1]) {
      assert.strictEqual((await getJson(at(i), "/packages/lifecycle")).body.latest_version, "1.1.0")
    }
    assert.strictEqual(
      (await getJson(at(0), "/packages/lifecycle/1.1.0", { method: "DELETE", headers: auth })).status,
      200
    )
    for (const i of [1, 2]) {
      assert.strictEqual((await getJson(at(i), "/packages/lifecycle/1.1.0")).status, 404)
      assert.strictEqual((await getJson(at(i), "/packages/lifecycle")).body.latest_version, "1.0.0")
    }
    // re-publishing a deleted version is refused on every replica
    assert.strictEqual((await upload(at(2), archive("lifecycle", "1.1.0"))).status, 409)

    // a publish token, revoked in the database: refused by every replica from then on
    const token = `fmr_test_pub_${crypto.randomBytes(8).toString("hex")}`
    await withPg(
      db.url,
      (sql) =>
        sql`INSERT INTO tokens (name, prefix, hash, scope, created_at) VALUES ('ci', 'fmr_test', ${
          hashToken(token)
        }, 'publish', ${new Date().toISOString()})`
    )
    assert.strictEqual((await upload(at(1), archive("tokened", "1.0.0"), token)).status, 201)
    await withPg(db.url, (sql) => sql`UPDATE tokens SET revoked_at = ${new Date().toISOString()} WHERE name = 'ci'`)
    for (const i of [0, 1, 2]) {
      assert.strictEqual((await upload(at(i), archive("tokened", `1.0.${i + 1}`), token)).status, 401)
    }
  })

  it("answers 503 while PostgreSQL is unreachable, recovers without a restart, and never half-publishes", async () => {
    const pids = replicas.map((r) => r.pid)
    let stop = false
    const seen: Array<{ status: number; detail: unknown }> = []
    const published: Array<{ name: string; version: string; sha: string }> = []
    const failed: Array<{ name: string; version: string; sha: string }> = []
    let k = 0
    const traffic = async (worker: number) => {
      while (!stop) {
        const i = k++
        try {
          if (i % 3 === 0) {
            const version = `1.0.${i}`
            const data = archive(`outage-${worker}`, version, { description: "x".repeat(200) })
            const r = await upload(at(i), data)
            seen.push({ status: r.body.notJson === true ? -2 : r.status, detail: r.body.detail })
            if (r.status === 201) published.push({ name: `outage-${worker}`, version, sha: sha(data) })
            else failed.push({ name: `outage-${worker}`, version, sha: sha(data) })
          } else {
            const path = i % 3 === 1 ? "/packages/shared-pkg" : "/health"
            const r = await getJson(at(i), path)
            seen.push({ status: r.body.notJson === true ? -2 : r.status, detail: `${path}: ${String(r.body.detail)}` })
          }
        } catch (e) {
          seen.push({ status: -1, detail: String(e) })
        }
      }
    }
    const workers = [0, 1, 2, 3].map(traffic)
    await new Promise((r) => setTimeout(r, 500))
    // PostgreSQL "goes away" for this database: open connections killed, new ones refused.
    await blockConnections(db.name)
    const outageStart = seen.length
    await new Promise((r) => setTimeout(r, 2_000))
    const during = seen.slice(outageStart)
    await allowConnections(db.name)
    // recovery: every replica answers again, by itself
    const deadline = Date.now() + 15_000
    const healthy = new Set<number>()
    while (healthy.size < 3 && Date.now() < deadline) {
      for (const i of [0, 1, 2]) {
        if ((await getJson(at(i), "/health")).status === 200) healthy.add(i)
      }
      if (healthy.size < 3) await new Promise((r) => setTimeout(r, 200))
    }
    await new Promise((r) => setTimeout(r, 500))
    stop = true
    await Promise.all(workers)

    assert.strictEqual(healthy.size, 3)
    assert.deepStrictEqual(replicas.map((r) => r.pid), pids)
    const unavailable = during.filter((s) => s.status === 503)
    assert.isAbove(unavailable.length, 0)
    for (const u of unavailable) assert.isTrue(typeof u.detail === "string" && u.detail.length > 0)
    assert.deepStrictEqual(during.filter((s) => s.status !== 503 && s.status !== 200 && s.status !== 201), [])
    assert.deepStrictEqual(seen.filter((s) => s.status < 0 || s.status === 500), [])
    assert.isAbove(published.length, 0)

    // Nothing half-published: what was acknowledged is complete, what failed is absent.
    for (const p of published) {
      const got = await download(at(1), p.name, p.version)
      assert.strictEqual(got.status, 200)
      assert.strictEqual(sha(got.bytes), p.sha)
    }
    for (const f of failed) {
      const r = await getJson(at(2), `/packages/${f.name}/${f.version}`)
      if (r.status === 200) {
        // only when the connection died during a COMMIT that took effect: then it is complete too
        assert.strictEqual(sha((await download(at(0), f.name, f.version)).bytes), f.sha)
      } else {
        assert.strictEqual(r.status, 404)
      }
    }
    const broken = await withPg(
      db.url,
      (sql) =>
        sql<{ n: string }>`SELECT count(*)::text AS n FROM releases r LEFT JOIN blobs b ON b.sha256 = r.checksum
        WHERE b.id IS NULL OR b.chunk_count <> (SELECT count(*) FROM blob_chunks c WHERE c.blob_id = b.id)`
    )
    assert.strictEqual(broken[0]!.n, "0")
    const keys = await withPg(
      db.url,
      (sql) =>
        sql<{ n: string }>`SELECT count(*)::text AS n FROM release_keys k WHERE k.deleted_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM releases r WHERE r.name_norm = k.name_norm AND r.version = k.version)`
    )
    assert.strictEqual(keys[0]!.n, "0")
  }, 60_000)
})
