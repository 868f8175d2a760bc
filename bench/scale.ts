/**
 * `npm run bench:scale`: the registry on PostgreSQL with one and with two replicas, beside one
 * SQLite server (the baseline), in the same run. Every server is a real `fm studio start` process
 * on 127.0.0.1; each PostgreSQL scenario gets its own fresh database, dropped at the end.
 *
 * Measured per scenario:
 * - package info (`GET packages/{name}`, over 20 packages): requests/s and latency with
 *   autocannon (with two replicas, one autocannon per replica at the same time, summed);
 * - publish: uploads/s of distinct `name@version`s (multipart, 8 concurrent uploaders spread over
 *   the replicas), and how many of 30 concurrent uploads of ONE `name@version` succeeded (must be 1);
 * - CPU per request, for the scale model: the replicas' process CPU (utime + stime from
 *   /proc/PID/stat) and the CPU of the PostgreSQL backends serving this database, around each
 *   phase (info, search over 20 queries, search with a new query each time, download, publish),
 *   divided by the requests served;
 * - with two replicas: write -> visible on the other replica. A publish on one replica while the
 *   other is polled (its answer cached); the latency from the publish's 201 to the first answer
 *   showing the new version (p50/p99/max), and every later read checked (stale reads must be 0).
 *
 * Bounded: ~5 s per main load phase, 3 s per CPU phase; the whole run stays under ~4 minutes.
 * Environment: FM_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_SECONDS
 * (default 5), BENCH_VISIBILITY (writes measured for visibility, default 100).
 */
import * as crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { buildZip, projectManifest } from "../test/helpers/archives.js"
import type { Replica, TestDatabase } from "../test/helpers/pg.js"
import { createTestDatabase, PG_ADMIN_URL, pgAvailable, startReplica, withPg } from "../test/helpers/pg.js"
import { uploadArchive } from "../test/helpers/server.js"
import type { AutocannonRequest } from "./autocannon.js"
import { autocannon } from "./autocannon.js"

const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 5)
const CPU_SECONDS = 3
const VISIBILITY = Number(process.env["BENCH_VISIBILITY"] ?? 100)
const ADMIN = `fmr_bench_${crypto.randomBytes(8).toString("hex")}`
const API = "/api/v1/registry"
const SEED = 20
const CLOCK_TICKS_PER_SECOND = 100 // USER_HZ: /proc/PID/stat counts in 1/100 s on Linux

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

/** CPU time (user + system) of a process so far, in ms; 0 once it is gone. */
const processCpuMs = (pid: number): number => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND
  } catch {
    return 0
  }
}

/** The PostgreSQL backends connected to `database` (pool and LISTEN connections of the replicas). */
const backendsOf = (database: string | undefined): Promise<ReadonlyArray<number>> =>
  database === undefined ?
    Promise.resolve([]) :
    withPg(PG_ADMIN_URL, (sql) =>
      sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = ${database} AND pid <> pg_backend_pid()`)
      .then((rows) =>
        rows.map((r) =>
          Number(r.pid)
        )
      )

interface Cpu {
  readonly replicaMs: number
  readonly databaseMs: number
}

/** CPU the replicas and the database's backends spent while `run` ran. */
const measureCpu = async <A>(
  replicas: ReadonlyArray<Replica>,
  database: string | undefined,
  run: () => Promise<A>
): Promise<[A, Cpu]> => {
  const before = new Map<number, number>()
  for (const pid of await backendsOf(database)) before.set(pid, processCpuMs(pid))
  const replicasBefore = replicas.map((r) => processCpuMs(r.pid))
  const result = await run()
  const replicaMs = replicas.reduce((n, r, i) => n + processCpuMs(r.pid) - replicasBefore[i]!, 0)
  let databaseMs = 0
  // backends that came during the phase count from zero; those gone are lost (the pools keep theirs)
  for (const pid of await backendsOf(database)) databaseMs += processCpuMs(pid) - (before.get(pid) ?? 0)
  return [result, { replicaMs, databaseMs }]
}

interface Cost {
  readonly kind: string
  readonly perSecond: number
  readonly replicaMs: number
  readonly databaseMs: number
}

interface Visibility {
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly staleAfter: number
  readonly samples: number
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
  readonly costs: ReadonlyArray<Cost>
  readonly visibility: Visibility | undefined
}

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN

const versionOf = async (base: string, name: string): Promise<string | undefined> => {
  const res = await fetch(`${base}${API}/packages/${name}`)
  const text = await res.text()
  if (res.status !== 200) return undefined
  return /"version":"([^"]+)"/.exec(text)?.[1]
}

/** Publishes on one replica while polling the other; see the module comment. */
const measureVisibility = async (replicas: ReadonlyArray<Replica>): Promise<Visibility> => {
  const latencies: Array<number> = []
  let staleAfter = 0
  if ((await upload(replicas[0]!.url, archive("vis", "1.0.0"))) !== 201) {
    throw new Error("visibility: seeding 'vis' failed")
  }
  for (let k = 1; k <= VISIBILITY; k++) {
    const writer = replicas[k % replicas.length]!
    const reader = replicas[(k + 1) % replicas.length]!
    const expected = `1.0.${k}`
    // the reader's answer is the cached one before the write
    await versionOf(reader.url, "vis")
    await versionOf(reader.url, "vis")
    let acknowledged = Infinity
    let seenAt = NaN
    const publishing = upload(writer.url, archive("vis", expected)).then((status) => {
      acknowledged = performance.now()
      if (status !== 201) throw new Error(`visibility: publishing vis@${expected} answered ${status}`)
    })
    const deadline = performance.now() + 5_000
    while (performance.now() < deadline) {
      const v = await versionOf(reader.url, "vis")
      if (v === expected) {
        seenAt = performance.now()
        break
      }
    }
    await publishing
    if (Number.isNaN(seenAt)) throw new Error(`visibility: vis@${expected} not seen on the other replica within 5 s`)
    // seen before the writer's answer arrived counts as 0
    latencies.push(Math.max(0, seenAt - acknowledged))
    for (let i = 0; i < 5; i++) if ((await versionOf(reader.url, "vis")) !== expected) staleAfter++
  }
  latencies.sort((x, y) => x - y)
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? NaN,
    staleAfter,
    samples: latencies.length
  }
}

/** GETs spread over the replicas for CPU_SECONDS, each connection's path from `path(n)`. */
const load = async (replicas: ReadonlyArray<Replica>, path: (n: number) => string, seconds = CPU_SECONDS) => {
  let n = 0
  const requests = [{ method: "GET", setupRequest: (req: AutocannonRequest) => ({ ...req, path: path(n++) }) }]
  const results = await Promise.all(
    replicas.map((r) =>
      autocannon({
        url: `${r.url}${path(0)}`,
        connections: Math.max(4, Math.round(16 / replicas.length)),
        duration: seconds,
        requests
      })
    )
  )
  return {
    total: results.reduce((s, r) => s + r["2xx"], 0),
    rps: results.reduce((s, r) => s + r.requests.total / r.duration, 0),
    errors: results.reduce((s, r) => s + r.non2xx + r.errors + r.timeouts, 0),
    results
  }
}

const measure = async (
  scenario: string,
  replicas: ReadonlyArray<Replica>,
  database: string | undefined
): Promise<Row> => {
  // seed
  for (let i = 0; i < SEED; i++) {
    const status = await upload(replicas[i % replicas.length]!.url, archive(`bench-pkg-${i}`, "1.0.0"))
    if (status !== 201) throw new Error(`${scenario}: seeding bench-pkg-${i} answered ${status}`)
  }
  const costs: Array<Cost> = []
  const cost = (kind: string, served: number, seconds: number, cpu: Cpu) =>
    costs.push({
      kind,
      perSecond: served / seconds,
      replicaMs: cpu.replicaMs / served,
      databaseMs: cpu.databaseMs / served
    })

  // package info: one autocannon per replica, at the same time (after a 1 s warm-up of each)
  await load(replicas, (n) => `${API}/packages/bench-pkg-${n % SEED}`, 1)
  const [info, infoCpu] = await measureCpu(
    replicas,
    database,
    () => load(replicas, (n) => `${API}/packages/bench-pkg-${n % SEED}`, SECONDS)
  )
  const infoRps = info.rps
  const infoP50 = Math.max(...info.results.map((r) => r.latency.p50))
  const infoP99 = Math.max(...info.results.map((r) => r.latency.p99))
  cost("info", info.total, SECONDS, infoCpu)
  if (replicas.length > 1) {
    process.stderr.write(
      `  per replica info req/s: ${info.results.map((r) => (r.requests.total / r.duration).toFixed(0)).join(", ")}\n`
    )
  }

  // search: 20 queries again and again (answered from the caches), then a new query each time
  const [hot, hotCpu] = await measureCpu(
    replicas,
    database,
    () => load(replicas, (n) => `${API}/packages/search?q=bench-pkg-${n % SEED}`)
  )
  cost("search (20 queries)", hot.total, CPU_SECONDS, hotCpu)
  const run = crypto.randomBytes(3).toString("hex")
  const [fresh, freshCpu] = await measureCpu(
    replicas,
    database,
    () => load(replicas, (n) => `${API}/packages/search?q=bench+w${run}${n}`)
  )
  cost("search (new query each)", fresh.total, CPU_SECONDS, freshCpu)
  const [downloads, downloadCpu] = await measureCpu(
    replicas,
    database,
    () => load(replicas, (n) => `${API}/packages/bench-pkg-${n % SEED}/1.0.0/download`)
  )
  cost("download", downloads.total, CPU_SECONDS, downloadCpu)
  for (const [what, r] of [["search", hot], ["search (new)", fresh], ["download", downloads]] as const) {
    if (r.errors > 0) process.stderr.write(`  ${scenario}: ${r.errors} failed ${what} request(s)\n`)
  }

  // publish rate: 8 uploaders spread over the replicas, for SECONDS
  let published = 0
  let publishErrors = 0
  let k = 0
  const started = performance.now()
  const [, publishCpu] = await measureCpu(replicas, database, () => {
    const until = performance.now() + SECONDS * 1000
    return Promise.all(Array.from({ length: 8 }, async (_, w) => {
      while (performance.now() < until) {
        const i = k++
        const status = await upload(replicas[(w + i) % replicas.length]!.url, archive(`pub-${w}`, `1.0.${i}`))
        if (status === 201) published++
        else publishErrors++
      }
    }))
  })
  const publishSeconds = (performance.now() - started) / 1000
  const publishPerSec = published / publishSeconds
  cost("publish", published, publishSeconds, publishCpu)

  // the race: 30 uploads of one name@version at once
  const statuses = await Promise.all(
    Array.from(
      { length: 30 },
      (_, i) => upload(replicas[i % replicas.length]!.url, archive("race", "1.0.0", `attempt ${i}`))
    )
  )
  const raceWinners = statuses.filter((s) => s === 201).length
  const visibility = replicas.length > 1 ? await measureVisibility(replicas) : undefined
  return {
    scenario,
    infoRps,
    infoP50,
    infoP99,
    infoErrors: info.errors,
    publishPerSec,
    publishErrors,
    raceWinners,
    costs,
    visibility
  }
}

const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")
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
  const loadBefore = Os.loadavg().map((l) => l.toFixed(1)).join(" ")
  try {
    const scenario = async (name: string, start: () => Promise<ReadonlyArray<Replica>>, database?: () => string) => {
      const t = performance.now()
      const replicas = await start()
      for (const replica of replicas) running.push(replica)
      try {
        process.stderr.write(`${name}: started in ${((performance.now() - t) / 1000).toFixed(1)} s, measuring ...\n`)
        rows.push(await measure(name, replicas, database?.()))
      } finally {
        await Promise.all(replicas.map((r) => r.stop()))
      }
    }
    await scenario("SQLite, 1 server", async () => [
      await startReplica({ dataDir: Path.join(dir, "sqlite"), adminToken: ADMIN })
    ])
    const latest = () => databases.at(-1)?.name ?? ""
    await scenario("PostgreSQL, 1 replica", async () => {
      const db = await createTestDatabase("bench1")
      databases.push(db)
      return [await startReplica({ databaseUrl: db.url, dataDir: Path.join(dir, "pg1"), adminToken: ADMIN })]
    }, latest)
    await scenario("PostgreSQL, 2 replicas", async () => {
      const db = await createTestDatabase("bench2")
      databases.push(db)
      return Promise.all(
        [0, 1].map((i) => startReplica({ databaseUrl: db.url, dataDir: Path.join(dir, `pg2-${i}`), adminToken: ADMIN }))
      )
    }, latest)
  } finally {
    await Promise.all(running.map((r) => r.stop()))
    for (const db of databases) await db.drop().catch(() => undefined)
    Fs.rmSync(dir, { recursive: true, force: true })
  }

  console.log(
    `\nfm registry scale bench — ${Os.cpus().length} CPU(s), node ${process.version}, ${SECONDS} s per load phase, ` +
      `archives in PostgreSQL for the PostgreSQL scenarios; load average ${loadBefore} before, ` +
      `${Os.loadavg().map((l) => l.toFixed(1)).join(" ")} after\n`
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
      rows.map((
        r
      ) => [
        r.scenario,
        `${(r.infoRps / base.infoRps).toFixed(2)}x`,
        `${(r.publishPerSec / base.publishPerSec).toFixed(2)}x`
      ])
    )
  }
  console.log("\nCPU per request (ms): the replicas' processes, and the PostgreSQL backends of the scenario's database")
  table(
    ["scenario", "kind", "req/s", "replica ms/req", "database ms/req"],
    rows.flatMap((r) =>
      r.costs.map((
        c
      ) => [
        r.scenario,
        c.kind,
        c.perSecond.toFixed(0),
        c.replicaMs.toFixed(3),
        r.scenario.startsWith("SQLite") ? "-" : c.databaseMs.toFixed(3)
      ])
    )
  )
  const visible = rows.flatMap((r) => (r.visibility === undefined ? [] : [{ scenario: r.scenario, ...r.visibility }]))
  if (visible.length > 0) {
    console.log(
      "\nwrite on one replica -> visible on the other (ms from the publish's 201 to the first answer showing it)"
    )
    table(
      ["scenario", "writes", "p50 ms", "p99 ms", "max ms", "stale reads after"],
      visible.map((
        v
      ) => [v.scenario, String(v.samples), v.p50.toFixed(1), v.p99.toFixed(1), v.max.toFixed(1), String(v.staleAfter)])
    )
  }
  console.log(`\ntotal bench time ${((performance.now() - t0) / 1000).toFixed(0)} s`)
  if (rows.some((r) => (r.visibility?.staleAfter ?? 0) > 0)) {
    console.error("FAILED: a replica answered with a stale version after it had shown the new one")
    process.exitCode = 1
  }
  if (rows.some((r) => r.raceWinners !== 1)) {
    console.error("FAILED: a race of 30 uploads of one name@version did not have exactly one winner")
    process.exitCode = 1
  }
}

await main()
