/**
 * `npm run bench:scale`: the registry on PostgreSQL with one and with three replicas, beside one
 * SQLite server (the baseline), in the same run. Every server is a real `fm studio start` process
 * on 127.0.0.1; each PostgreSQL scenario gets its own fresh database, dropped at the end.
 *
 * Measured per scenario:
 * - package info (`GET packages/{name}`): requests/s and latency with autocannon (programmatic API;
 *   with three replicas, one autocannon per replica at the same time, summed);
 * - publish: uploads/s of distinct `name@version`s (multipart, 8 concurrent uploaders spread over
 *   the replicas), and how many of 30 concurrent uploads of ONE `name@version` succeeded (must be 1).
 *
 * Bounded: ~5 s per load phase; the whole run stays under ~3 minutes. Environment:
 * FM_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_SECONDS (default 5).
 */
import * as crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { buildZip, projectManifest } from "../test/helpers/archives.js"
import { uploadArchive } from "../test/helpers/server.js"
import type { Replica, TestDatabase } from "../test/helpers/pg.js"
import { createTestDatabase, pgAvailable, PG_ADMIN_URL, startReplica } from "../test/helpers/pg.js"
import { autocannon } from "./autocannon.js"


const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 5)
const ADMIN = `fmr_bench_${crypto.randomBytes(8).toString("hex")}`
const API = "/api/v1/registry"
const SEED = 20


const archive = (name: string, version: string, description = "A benchmark package") =>
  buildZip([
    { name: "manifest.json", data: projectManifest(name, version, { description, keywords: ["bench", "scale"] }) },
    { name: "pipelines/main.pipeline.json", data: `{"stages":[],"pad":"${"x".repeat(2048)}"}` }
  ])

const upload = async (base: string, data: Uint8Array): Promise<number> => {
  const res = await uploadArchive(base, ADMIN, data, "pkg.fmpkg")
  await res.arrayBuffer()
  return res.status
}

interface Row {
  readonly scenario: string
  readonly infoRps: number
  readonly infoP50: number
  readonly infoP99: number
  readonly infoErrors: number
  readonly publishPerSec: number
  readonly publishErrors: number
  readonly raceWinners: number
}

const measure = async (scenario: string, replicas: ReadonlyArray<Replica>): Promise<Row> => {
  // seed
  for (let i = 0; i < SEED; i++) {
    const status = await upload(replicas[i % replicas.length]!.url, archive(`bench-pkg-${i}`, "1.0.0"))
    if (status !== 201) throw new Error(`${scenario}: seeding bench-pkg-${i} answered ${status}`)
  }
  // package info: one autocannon per replica, at the same time (after a 1 s warm-up of each)
  const connections = Math.max(4, Math.round(24 / replicas.length))
  await Promise.all(replicas.map((r) => autocannon({ url: `${r.url}${API}/packages/bench-pkg-0`, connections: 4, duration: 1 })))
  const results = await Promise.all(
    replicas.map((r, i) =>
      autocannon({ url: `${r.url}${API}/packages/bench-pkg-${i % SEED}`, connections, duration: SECONDS })
    )
  )
  const infoRps = results.reduce((n, r) => n + r.requests.total / r.duration, 0)
  const infoP50 = Math.max(...results.map((r) => r.latency.p50))
  const infoP99 = Math.max(...results.map((r) => r.latency.p99))
  const infoErrors = results.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0)
  if (replicas.length > 1) {
    process.stderr.write(`  per replica info req/s: ${results.map((r) => (r.requests.total / r.duration).toFixed(0)).join(", ")}\n`)
  }

  // publish rate: 8 uploaders spread over the replicas, for SECONDS
  let published = 0
  let publishErrors = 0
  let k = 0
  const until = performance.now() + SECONDS * 1000
  const started = performance.now()
  await Promise.all(Array.from({ length: 8 }, async (_, w) => {
    while (performance.now() < until) {
      const i = k++
      const status = await upload(replicas[(w + i) % replicas.length]!.url, archive(`pub-${w}`, `1.0.${i}`))
      if (status === 201) published++
      else publishErrors++
    }
  }))
  const publishPerSec = published / ((performance.now() - started) / 1000)

  // the race: 30 uploads of one name@version at once
  const statuses = await Promise.all(
    Array.from({ length: 30 }, (_, i) => upload(replicas[i % replicas.length]!.url, archive("race", "1.0.0", `attempt ${i}`)))
  )
  const raceWinners = statuses.filter((s) => s === 201).length
  return { scenario, infoRps, infoP50, infoP99, infoErrors, publishPerSec, publishErrors, raceWinners }
}

const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")
  console.log(line(headers))
  console.log(widths.map((w) => "-".repeat(w)).join("  "))
  for (const r of rows) console.log(line(r))
}

const main = async () => {
  if (!(await pgAvailable())) {
    console.error(`bench:scale needs PostgreSQL at ${PG_ADMIN_URL} (set FM_TEST_PG_URL to use another server)`)
    process.exitCode = 1
    return
  }
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fm-bench-scale-"))
  const databases: Array<TestDatabase> = []
  const running: Array<Replica> = []
  const rows: Array<Row> = []
  const t0 = performance.now()
  try {
    const scenario = async (name: string, start: () => Promise<ReadonlyArray<Replica>>) => {
      const t = performance.now()
      const replicas = await start()
      running.push(...replicas)
      try {
        process.stderr.write(`${name}: started in ${((performance.now() - t) / 1000).toFixed(1)} s, measuring ...\n`)
        rows.push(await measure(name, replicas))
      } finally {
        await Promise.all(replicas.map((r) => r.stop()))
      }
    }
    await scenario("SQLite, 1 server", async () => [
      await startReplica({ dataDir: Path.join(dir, "sqlite"), adminToken: ADMIN })
    ])
    await scenario("PostgreSQL, 1 replica", async () => {
      const db = await createTestDatabase("bench1")
      databases.push(db)
      return [await startReplica({ databaseUrl: db.url, dataDir: Path.join(dir, "pg1"), adminToken: ADMIN })]
    })
    await scenario("PostgreSQL, 3 replicas", async () => {
      const db = await createTestDatabase("bench3")
      databases.push(db)
      return Promise.all([0, 1, 2].map((i) =>
        startReplica({ databaseUrl: db.url, dataDir: Path.join(dir, `pg3-${i}`), adminToken: ADMIN })
      ))
    })
  } finally {
    await Promise.all(running.map((r) => r.stop()))
    for (const db of databases) await db.drop().catch(() => undefined)
    Fs.rmSync(dir, { recursive: true, force: true })
  }

  console.log(
    `\nfm registry scale bench — ${Os.cpus().length} CPU(s), node ${process.version}, ${SECONDS} s per load phase, ` +
      `archives in PostgreSQL for the PostgreSQL scenarios\n`
  )
  table(
    ["scenario", "info req/s", "p50 ms", "p99 ms", "non-2xx", "publish/s", "pub errors", "race winners (of 30)"],
    rows.map((r) => [
      r.scenario,
      r.infoRps.toFixed(0),
      r.infoP50.toFixed(1),
      r.infoP99.toFixed(1),
      String(r.infoErrors),
      r.publishPerSec.toFixed(1),
      String(r.publishErrors),
      String(r.raceWinners)
    ])
  )
  const base = rows[0]
  if (base !== undefined) {
    console.log("\nrelative to one SQLite server:")
    table(
      ["scenario", "info req/s", "publish/s"],
      rows.map((r) => [r.scenario, `${(r.infoRps / base.infoRps).toFixed(2)}x`, `${(r.publishPerSec / base.publishPerSec).toFixed(2)}x`])
    )
  }
  console.log(`\ntotal bench time ${((performance.now() - t0) / 1000).toFixed(0)} s`)
  if (rows.some((r) => r.raceWinners !== 1)) {
    console.error("FAILED: a race of 30 uploads of one name@version did not have exactly one winner")
    process.exitCode = 1
  }
}

await main()
