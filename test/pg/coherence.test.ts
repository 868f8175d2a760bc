/**
 * Coherent caches on PostgreSQL replicas (two `fm studio start` processes on one database): each
 * replica caches package answers, a write on one is seen by the other promptly (LISTEN/NOTIFY),
 * a replica whose LISTEN connection is killed drops its whole cache and keeps answering right,
 * and download counts batched in memory survive a graceful stop.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { buildZip, projectManifest } from "../helpers/archives.js"
import type { Replica, TestDatabase } from "../helpers/pg.js"
import { createTestDatabase, eventually, pgEnabled, startReplica, withPg } from "../helpers/pg.js"
import { uploadArchive } from "../helpers/server.js"

const enabled = await pgEnabled()

const ADMIN = `fmr_test_admin_${crypto.randomBytes(8).toString("hex")}`
const API = "/api/v1/registry"

const archive = (name: string, version: string, description = "coherence") =>
  buildZip([
    { name: "manifest.json", data: projectManifest(name, version, { description }) },
    { name: "pipelines/main.pipeline.json", data: `{"stages":[],"nonce":"${crypto.randomBytes(6).toString("hex")}"}` }
  ])

const publish = async (base: string, name: string, version: string, description?: string) => {
  const res = await uploadArchive(base, ADMIN, archive(name, version, description), "pkg.fmpkg")
  await res.arrayBuffer()
  assert.strictEqual(res.status, 201, `publishing ${name}@${version} on ${base}`)
}

interface Info {
  readonly status: number
  readonly version: unknown
  readonly description: unknown
  readonly downloads: unknown
}

const info = async (base: string, name: string): Promise<Info> => {
  const res = await fetch(`${base}${API}/packages/${name}`)
  const text = await res.text()
  if (res.status !== 200) return { status: res.status, version: undefined, description: text, downloads: undefined }
  return { status: 200, ...decodeInfo(text) }
}

const decodeInfo = Schema.decodeUnknownSync(
  Schema.parseJson(Schema.Struct({ version: Schema.String, description: Schema.String, downloads: Schema.Number }))
)

const auth = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }

/** The pid of `replica`'s LISTEN connection (its `application_name` names the replica's pid). */
const listenerPid = (db: TestDatabase, replica: Replica): Promise<number | undefined> =>
  withPg(db.url, (sql) =>
    sql<{ pid: number }>`SELECT pid FROM pg_stat_activity
      WHERE application_name = ${`fm-registry-listen-${replica.pid}`}`).then((rows) => rows[0]?.pid)

describe.skipIf(!enabled)("coherent caches on two PostgreSQL replicas", () => {
  let db: TestDatabase
  let dir = ""
  let a: Replica
  let b: Replica

  beforeAll(async () => {
    db = await createTestDatabase("coherence")
    dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fm-coherence-"))
    ;[a, b] = await Promise.all(
      [0, 1].map((i) => startReplica({ databaseUrl: db.url, dataDir: Path.join(dir, `r${i}`), adminToken: ADMIN }))
    )
  }, 120_000)

  afterAll(async () => {
    await Promise.all([a, b].filter((r) => r !== undefined).map((r) => r.stop()))
    if (db !== undefined) await db.drop()
    if (dir !== "") Fs.rmSync(dir, { recursive: true, force: true })
  })

  it("shows a publish, a yank and a delete on replica A in replica B's cached answers promptly", async () => {
    await publish(a.url, "seen", "1.0.0")
    // B reads it (and keeps the answer) until it shows 1.0.0
    assert.strictEqual((await eventually(() => info(b.url, "seen"), (r) => r.version === "1.0.0")).version, "1.0.0")
    assert.strictEqual((await info(b.url, "seen")).version, "1.0.0")

    const visible = async (what: string, expected: string, write: () => Promise<void>) => {
      const t0 = performance.now()
      await write()
      const seen = await eventually(() => info(b.url, "seen"), (r) => r.version === expected, 5_000)
      const ms = performance.now() - t0
      assert.strictEqual(seen.version, expected, `${what}: replica B still answers ${String(seen.version)}`)
      // never stale again once seen
      for (let i = 0; i < 20; i++) assert.strictEqual((await info(b.url, "seen")).version, expected)
      return ms
    }
    const times = [
      await visible("publish 1.1.0", "1.1.0", () => publish(a.url, "seen", "1.1.0")),
      await visible("yank 1.1.0", "1.0.0", async () => {
        const res = await fetch(`${a.url}${API}/packages/seen/1.1.0/yank`, {
          method: "POST",
          headers: auth,
          body: JSON.stringify({ reason: "broken" })
        })
        assert.strictEqual(res.status, 200)
      }),
      await visible("publish 1.2.0", "1.2.0", () => publish(a.url, "seen", "1.2.0")),
      await visible("delete 1.2.0", "1.0.0", async () => {
        const res = await fetch(`${a.url}${API}/packages/seen/1.2.0`, { method: "DELETE", headers: auth })
        assert.strictEqual(res.status, 200)
      })
    ]
    // each includes the write's own round trip; well under a second even on a loaded machine
    for (const ms of times) assert.isBelow(ms, 1_000)
  })

  it("drops replica B's whole cache when its LISTEN connection is killed, and keeps answering right", async () => {
    await publish(a.url, "listen-kill", "1.0.0", "before")
    assert.strictEqual(
      (await eventually(() => info(b.url, "listen-kill"), (r) => r.status === 200)).description,
      "before"
    )
    assert.strictEqual((await info(b.url, "listen-kill")).description, "before")

    // A write no replica announces (made behind their backs): B's cached answer does not see it,
    // which shows the answer is cached ...
    await withPg(db.url, (sql) => sql`UPDATE releases SET description = 'behind' WHERE name_norm = 'listen-kill'`)
    for (let i = 0; i < 5; i++) assert.strictEqual((await info(b.url, "listen-kill")).description, "before")

    // ... until B's LISTEN connection dies: then B cannot know what it missed and drops everything
    const pid = await listenerPid(db, b)
    assert.isDefined(pid, "replica B has a LISTEN connection")
    await withPg(db.url, (sql) => sql`SELECT pg_terminate_backend(${pid ?? 0})`)
    const after = await eventually(() => info(b.url, "listen-kill"), (r) => r.description === "behind", 2_000)
    assert.strictEqual(after.status, 200)
    assert.strictEqual(after.description, "behind")

    // writes on A go on being seen by B, while it reconnects and after
    await publish(a.url, "listen-kill", "1.1.0", "after")
    const newer = await eventually(() => info(b.url, "listen-kill"), (r) => r.version === "1.1.0", 5_000)
    assert.strictEqual(newer.version, "1.1.0")
    assert.strictEqual(newer.description, "after")

    // B listens again (a new connection) and hears A's writes through it
    const again = await eventually(() => listenerPid(db, b), (p) => p !== undefined && p !== pid, 10_000)
    assert.isDefined(again)
    assert.notStrictEqual(again, pid)
    await info(b.url, "listen-kill")
    await publish(a.url, "listen-kill", "1.2.0", "reconnected")
    const last = await eventually(() => info(b.url, "listen-kill"), (r) => r.version === "1.2.0", 5_000)
    assert.strictEqual(last.version, "1.2.0")
  })

  it("writes every download count batched in memory when a replica stops gracefully", async () => {
    await publish(a.url, "counted-stop", "1.0.0")
    const dataDir = Path.join(dir, "r-stop")
    const c = await startReplica({ databaseUrl: db.url, dataDir, adminToken: ADMIN })
    const n = 40
    try {
      const got = await Promise.all(Array.from({ length: n }, async () => {
        const res = await fetch(`${c.url}${API}/packages/counted-stop/1.0.0/download`)
        await res.arrayBuffer()
        return res.status
      }))
      assert.deepStrictEqual(got.filter((s) => s !== 200), [])
    } finally {
      await c.stop() // SIGTERM right after the last download: counts still in memory are written
    }
    const rows = await withPg(
      db.url,
      (sql) =>
        sql<{ r: string; p: string }>`SELECT r.downloads::text AS r, p.downloads::text AS p
        FROM releases r JOIN packages p ON p.id = r.package_id WHERE r.name_norm = 'counted-stop'`
    )
    assert.strictEqual(rows[0]?.r, String(n))
    assert.strictEqual(rows[0]?.p, String(n))
    // and the other replicas were told
    const seen = await eventually(() => info(b.url, "counted-stop"), (r) => r.downloads === n)
    assert.strictEqual(seen.downloads, n)
  })
})
