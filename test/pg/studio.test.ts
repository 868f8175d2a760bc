/**
 * `fm studio migrate --database-url ...` and replicas sharing an archive directory (`--blob-dir`),
 * through the real `fm studio` command tree.
 */
import * as crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { migrations } from "../../src/server/pg/PgMigrations.js"
import { pgEnabled, startReplica, usePgDatabase, withPg } from "../helpers/pg.js"
import type { Replica } from "../helpers/pg.js"
import { fixtureArchive, runStudio, uploadArchive } from "../helpers/server.js"

const enabled = await pgEnabled()

describe("fm studio migrate", () => {
  it("refuses to run without a database URL, and refuses a non-PostgreSQL URL", async () => {
    const refusal = (run: Promise<string>) =>
      run.then((out) => assert.fail(`expected a refusal, got: ${out}`), (e: unknown) => String(e))
    assert.match(await refusal(runStudio(["migrate"], { FM_DATABASE_URL: "" })), /--database-url/)
    assert.match(await refusal(runStudio(["migrate", "--database-url", "mysql://h/db"])), /not a PostgreSQL URL/)
  })
})

describe.skipIf(!enabled)("fm studio on PostgreSQL", () => {
  const { db } = usePgDatabase({ beforeAll, afterAll }, "studio")
  let dir = ""
  const replicas: Array<Replica> = []
  const ADMIN = `fmr_test_${crypto.randomBytes(8).toString("hex")}`
  beforeAll(() => {
    dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fm-studio-pg-"))
  })
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()))
    Fs.rmSync(dir, { recursive: true, force: true })
  })

  it("migrate applies the schema once (then reports it up to date), via the flag or FM_DATABASE_URL", async () => {
    const first = JSON.parse(await runStudio(["migrate", "--database-url", db().url, "--json"])) as {
      applied: Array<string>
      database: string
    }
    assert.deepStrictEqual(first.applied, Object.keys(migrations))
    const again = await runStudio(["migrate"], { FM_DATABASE_URL: db().url })
    assert.match(again, /up to date/)
  })

  it("replicas sharing --blob-dir serve each other's archives; tokens made with --database-url work on every replica", async () => {
    const blobDir = Path.join(dir, "shared-blobs")
    for (const i of [0, 1]) {
      replicas.push(
        await startReplica({ databaseUrl: db().url, dataDir: Path.join(dir, `r${i}`), blobDir, adminToken: ADMIN })
      )
    }
    const token = (JSON.parse(
      await runStudio([
        "token",
        "create",
        "--scope",
        "publish",
        "--database-url",
        db().url,
        "--data-dir",
        Path.join(dir, "cli"),
        "--json"
      ])
    ) as { token: string }).token
    const archive = fixtureArchive({ name: "shared-dir-pkg", version: "1.0.0" })
    const res = await uploadArchive(replicas[0]!.url, token, archive)
    assert.strictEqual(res.status, 201)
    const sha = crypto.createHash("sha256").update(archive).digest("hex")
    assert.isTrue(Fs.existsSync(Path.join(blobDir, "blobs", sha.slice(0, 2), sha)))
    const got = await fetch(`${replicas[1]!.url}/api/v1/registry/packages/shared-dir-pkg/1.0.0/download`)
    assert.strictEqual(got.status, 200)
    assert.strictEqual(crypto.createHash("sha256").update(new Uint8Array(await got.arrayBuffer())).digest("hex"), sha)
    // archives went to the directory, not into PostgreSQL
    const rows = await withPg(db().url, (sql) => sql<{ n: string }>`SELECT count(*)::text AS n FROM blobs`)
    assert.strictEqual(rows[0]!.n, "0")
  })
})
