/**
 * `npm run bench:server`: the registry server under load, with a bare `node:http` server sending
 * the same bytes measured in the same run as the ceiling (in a process of its own, as the
 * registry server is: `bench/bare.ts`). Besides the rates, each row gives the server's CPU time
 * per request (from /proc), which a busy machine disturbs far less than the rates.
 *
 * Setup: 10,000 packages x 3 versions bulk-loaded (schema by the store's migrations, rows in one
 * transaction with prepared statements), every release with a real blob file; plus real uploads of a 20 KiB and a 1 MiB package. The
 * server runs as a child process (`fm studio start`, bundled), like in production.
 *
 * Measured with autocannon (programmatic, 50 connections, BENCH_SECONDS s each, loopback):
 * package info, download of 20 KiB and 1 MiB, search; then a publish rate (20 KiB packages,
 * 16 concurrent uploads for BENCH_SECONDS s); server start-up (spawn to listening, and the time
 * the server itself reports to build its layers); peak RSS of the server (VmHWM).
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { databaseFile } from "../src/server/RegistryServer.js"
import { PackageStore } from "../src/server/storage/PackageStore.js"
import * as SqlitePackageStore from "../src/server/storage/SqlitePackageStore.js"
import { autocannon } from "./autocannon.js"
import { bareServer, cpuMs, listeningUrlOf, peakRssMb, startChild as startServer } from "./servers.js"
import { archive, uploadBody } from "./uploads.js"

const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 10)
const PACKAGES = Number(process.env["BENCH_PACKAGES"] ?? 10_000)
const CONNECTIONS = 50
const API = "/api/v1/registry"
const ADMIN = `fmr_bench_${crypto.randomBytes(12).toString("hex")}`
const sha = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex")
const ms = (n: number) => n.toFixed(2)

/**
 * Publishes distinct 20 KiB packages for `seconds` s with 16 uploads in flight (autocannon, each
 * request takes the next pre-built body); the rate counts 201 answers only.
 */
const publishRate = async (base: string, seconds: number, pid: number) => {
  const boundary = `fmbench${crypto.randomBytes(8).toString("hex")}`
  // enough for 1,000 publishes/s; past that the last body repeats and answers 409 (not counted)
  const bodies = Array.from(
    { length: seconds * 1000 },
    (_, i) => uploadBody(archive(`pub-${i}`, "1.0.0", 20 * 1024), boundary)
  )
  let next = 0
  const before = cpuMs(pid)
  const r = await autocannon({
    url: base,
    connections: 16,
    duration: seconds,
    requests: [{
      method: "POST",
      path: `${API}/packages/upload`,
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": `multipart/form-data; boundary=${boundary}` },
      setupRequest: (req) => ({ ...req, body: bodies[Math.min(next++, bodies.length - 1)]! })
    }]
  })
  const ok = r["2xx"]
  const cpuUs = ((cpuMs(pid) - before) * 1000) / Math.max(1, r.requests.total)
  return { rate: ok / r.duration, ok, failed: r.requests.total - ok, p50: r.latency.p50, p99: r.latency.p99, cpuUs }
}

const upload = async (base: string, data: Uint8Array): Promise<number> => {
  const form = new FormData()
  form.append("file", new Blob([new Uint8Array(data)], { type: "application/octet-stream" }), "pkg.fmpkg")
  form.append("checksum", sha(data))
  const res = await fetch(`${base}${API}/packages/upload`, {
    method: "POST",
    body: form,
    headers: { authorization: `Bearer ${ADMIN}` }
  })
  await res.arrayBuffer()
  return res.status
}

/** The few better-sqlite3 calls the bulk loader uses (the driver under @effect/sql-sqlite-node). */
interface Db {
  prepare(sql: string): { run(...params: ReadonlyArray<unknown>): { lastInsertRowid: number | bigint } }
  transaction(f: () => void): () => void
  close(): void
}
const Database: new(file: string) => Db = createRequire(import.meta.url)("better-sqlite3")

/**
 * Loads PACKAGES x 3 versions: the schema is created by the store's own migrations, then every
 * row (release keys, packages, releases, dependencies, search index) is inserted in ONE
 * transaction with prepared statements, and the blob files are written directly (a fixture: no
 * fsync). The rows are what `PackageStore.publish` would write (checked by reading one back).
 */
const load = async (dataDir: string) => {
  const started = performance.now()
  const blobs = path.join(dataDir, "blobs")
  const categories = ["data", "io", "ai", "web", "text"]
  const file = databaseFile(dataDir)
  // create + migrate through the store (same schema as the server's)
  await Effect.runPromise(
    Effect.flatMap(PackageStore, (s) => s.stats).pipe(
      Effect.provide(SqlitePackageStore.layerFromClient),
      Effect.provide(SqlitePackageStore.clientLayer(file))
    )
  )
  for (let d = 0; d < 256; d++) fs.mkdirSync(path.join(blobs, d.toString(16).padStart(2, "0")), { recursive: true })
  const db = new Database(file)
  const at = new Date().toISOString()
  const key = db.prepare("INSERT INTO release_keys (name_norm, version, published_at) VALUES (?, ?, ?)")
  const pkg = db.prepare(
    "INSERT INTO packages (name_norm, name, latest_release_id, latest_version, versions_json, downloads, created_at, updated_at) VALUES (?, ?, NULL, NULL, '[]', 0, ?, ?)"
  )
  const rel = db.prepare(`INSERT INTO releases (package_id, name, name_norm, version, description, author, author_email,
    license, category, homepage, repository, tags_json, components_json, component_count, python_requirements_json,
    deps_json, flowmason_version, kind, checksum, size_bytes, downloads, published_at, yanked, yank_reason)
    VALUES (?, ?, ?, ?, ?, 'bench', NULL, 'MIT', ?, NULL, NULL, ?, ?, 1, '[]', ?, NULL, 'project', ?, ?, 0, ?, 0, NULL)`)
  const dep = db.prepare("INSERT INTO release_deps (release_id, dep_name, dep_range) VALUES (?, ?, '^1.0.0')")
  const latest = db.prepare(
    "UPDATE packages SET latest_release_id = ?, latest_version = '2.0.0', versions_json = ? WHERE id = ?"
  )
  const fts = db.prepare("INSERT INTO packages_fts (rowid, name, description, tags, components) VALUES (?, ?, ?, ?, ?)")
  const versions = ["1.0.0", "1.1.0", "2.0.0"]
  db.transaction(() => {
    for (let i = 0; i < PACKAGES; i++) {
      const name = `pkg-${String(i).padStart(5, "0")}`
      const category = categories[i % 5]!
      const description = `Benchmark package number ${i} for ${category} pipelines`
      const tags = JSON.stringify(["bench", category])
      const components = JSON.stringify([`components/c${i}.py`])
      const deps = i > 0 ? { [`pkg-${String(i - 1).padStart(5, "0")}`]: "^1.0.0" } : {}
      const packageId = Number(pkg.run(name, name, at, at).lastInsertRowid)
      let releaseId = 0
      for (const version of versions) {
        const bytes = Buffer.from(`${name}@${version} ${"x".repeat(1000)}`)
        const checksum = sha(bytes)
        fs.writeFileSync(path.join(blobs, checksum.slice(0, 2), checksum), bytes)
        key.run(name, version, at)
        releaseId = Number(
          rel.run(
            packageId,
            name,
            name,
            version,
            description,
            category,
            tags,
            components,
            JSON.stringify(deps),
            checksum,
            bytes.length,
            at
          )
            .lastInsertRowid
        )
        for (const d of Object.keys(deps)) dep.run(releaseId, d)
      }
      latest.run(releaseId, JSON.stringify(versions), packageId)
      fts.run(packageId, name, description, tags, components)
    }
  })()
  db.close()
  // the bulk rows read back through the store like published ones
  const check = await Effect.runPromise(
    Effect.flatMap(PackageStore, (s) => s.getPackage("pkg-00001")).pipe(
      Effect.provide(SqlitePackageStore.layerFromClient),
      Effect.provide(SqlitePackageStore.clientLayer(file))
    )
  )
  if (check._tag !== "Some" || check.value.latest.version !== "2.0.0" || check.value.versions.length !== 3) {
    throw new Error("bulk load: pkg-00001 does not read back as published")
  }
  return performance.now() - started
}

const startChild = (dataDir: string) => startServer(dataDir, ADMIN)

/** In-process layer build time on the loaded data dir (what the server itself needs to start). */
const layerStartMs = async (dataDir: string): Promise<number> => {
  const { listeningUrl, serve } = await import("../src/server/RegistryServer.js")
  const { HttpServer } = await import("@effect/platform")
  const { Context, Exit, Layer, Scope } = await import("effect")
  const scope = Effect.runSync(Scope.make())
  const t0 = performance.now()
  const ctx = await Effect.runPromise(Layer.buildWithScope(serve({ dataDir, port: 0, logRequests: false }), scope))
  const url = listeningUrl(Context.get(ctx, HttpServer.HttpServer))
  await (await fetch(`${url}${API}/health`)).arrayBuffer()
  const elapsed = performance.now() - t0
  await Effect.runPromise(Scope.close(scope, Exit.void))
  return elapsed
}

/**
 * `fm studio start` as users run it (`node dist/fm.js`, its V8 code cache warmed by a first run):
 * spawn to listening, and to the first health answer; median of 5 (after the warm-up run).
 */
const cliStartMs = async (dataDir: string): Promise<{ listening: number; health: number } | undefined> => {
  const fm = path.join(path.dirname(new URL(import.meta.url).pathname), "..", "dist", "fm.js")
  if (!fs.existsSync(fm)) return undefined
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "fm-bench-home-"))
  const runs: Array<{ listening: number; health: number }> = []
  try {
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now()
      const child = spawn(process.execPath, [
        fm,
        "studio",
        "start",
        "--port",
        "0",
        "--data-dir",
        dataDir,
        "--quiet",
        "--no-ui"
      ], {
        // the environment of a plain shell (as bench:client): no NODE_OPTIONS, no extra CA bundle to load
        env: {
          PATH: process.env["PATH"] ?? "",
          HOME: home,
          FLOWMASON_HOME: home,
          FM_ADMIN_TOKEN: ADMIN,
          NO_COLOR: "1"
        },
        stdio: ["ignore", "pipe", "inherit"]
      })
      const exited = new Promise((r) => child.once("exit", r))
      const url = await listeningUrlOf(child)
      const listening = performance.now() - t0
      await (await fetch(`${url}${API}/health`)).arrayBuffer()
      const health = performance.now() - t0
      child.kill("SIGTERM")
      await exited
      if (i > 0) runs.push({ listening, health })
    }
  } finally {
    fs.rmSync(home, { recursive: true, force: true })
  }
  const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  return { listening: median(runs.map((r) => r.listening)), health: median(runs.map((r) => r.health)) }
}

/** The headers of an answer that describe it (the rest, `date`, `connection`..., node:http adds). */
const ANSWER_HEADERS = ["content-type", "etag", "cache-control", "content-disposition", "accept-ranges"]

/**
 * The ceiling: a bare node:http server in a child process of its own (as fm runs), answering
 * every request with the status, headers and bytes fm answered `url` with, from memory.
 */
const bareLike = async (url: string) => {
  const res = await fetch(url)
  const body = Buffer.from(await res.arrayBuffer())
  const headers: Record<string, string> = {}
  for (const h of ANSWER_HEADERS) {
    const v = res.headers.get(h)
    if (v !== null) headers[h] = v
  }
  return bareServer(body, headers, res.status)
}

interface Row {
  readonly name: string
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly mbs: number
  readonly errors: number
  /** Server CPU per request, µs. */
  readonly cpuUs: number
}
const run = async (name: string, url: string, pid: number): Promise<Row> => {
  const before = cpuMs(pid)
  const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS })
  return {
    name,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    mbs: r.throughput.average / (1024 * 1024),
    errors: r.errors + r.non2xx,
    cpuUs: ((cpuMs(pid) - before) * 1000) / Math.max(1, r.requests.total)
  }
}

const main = async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-bench-server-"))
  try {
    console.log(
      `machine: ${os.cpus().length} cpus, load ${
        os.loadavg().map((l) => l.toFixed(1)).join(" ")
      }; ${SECONDS} s per run, ${CONNECTIONS} connections`
    )
    const loadMs = await load(dataDir)
    console.log(`loaded ${PACKAGES} packages x 3 versions (with blobs) in ${(loadMs / 1000).toFixed(1)} s`)

    // first start after the bulk load: no clean-shutdown marker, so the full blob sweep runs
    const startup = await layerStartMs(dataDir)
    const cli = await cliStartMs(dataDir)
    const server = await startChild(dataDir)
    console.log(
      `start-up: layers built + first health answered in-process ${ms(startup)} ms (first start: full blob sweep)`
    )
    if (cli !== undefined) {
      console.log(
        `start-up: \`node dist/fm.js studio start\` (median of 5, after a clean stop): spawn to listening ${
          ms(cli.listening)
        } ms, to first health ${ms(cli.health)} ms`
      )
    }

    const small = archive("dl-small", "1.0.0", 20 * 1024)
    const large = archive("dl-large", "1.0.0", 1024 * 1024)
    if ((await upload(server.url, small)) !== 201 || (await upload(server.url, large)) !== 201) {
      throw new Error("setup uploads failed")
    }

    const infoUrl = `${server.url}${API}/packages/pkg-04242`
    const searchUrl = `${server.url}${API}/packages/search?q=pkg-0424`

    const rows: Array<Row> = []
    const ceilings: Array<Row> = []
    rows.push(await run("package info", infoUrl, server.pid))
    const bareInfo = await bareLike(infoUrl)
    ceilings.push(await run("package info (bare node:http)", bareInfo.url, bareInfo.pid))
    await bareInfo.stop()

    for (const [label, name] of [["download 20 KiB", "dl-small"], ["download 1 MiB", "dl-large"]] as const) {
      const url = `${server.url}${API}/packages/${name}/1.0.0/download`
      rows.push(await run(label, url, server.pid))
      const b = await bareLike(url)
      ceilings.push(await run(`${label} (bare node:http)`, b.url, b.pid))
      await b.stop()
    }
    rows.push(await run("search q=pkg-0424", searchUrl, server.pid))
    rows.push(await run("search q=data (matches 2,000)", `${server.url}${API}/packages/search?q=data`, server.pid))

    // publish rate: distinct 20 KiB packages (multipart bodies built beforehand, so the load
    // generator only sends bytes), 16 uploads in flight through autocannon
    const pub = await publishRate(server.url, SECONDS, server.pid)
    const rss = peakRssMb(server.pid)
    await server.stop()

    const table = (title: string, rs: ReadonlyArray<Row>) => {
      console.log(`\n${title}`)
      console.log("| scenario | req/s | p50 ms | p99 ms | MB/s | errors | server CPU µs/req |")
      console.log("|---|---:|---:|---:|---:|---:|---:|")
      for (const r of rs) {
        console.log(
          `| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.mbs.toFixed(1)} | ${r.errors} | ${
            r.cpuUs.toFixed(0)
          } |`
        )
      }
    }
    table("fm registry server", rows)
    table("ceiling: bare node:http, same bytes from memory", ceilings)
    console.log(
      `\npublish (20 KiB, 16 in flight): ${
        pub.rate.toFixed(0)
      } packages/s (${pub.ok} ok, ${pub.failed} failed; p50 ${pub.p50} ms, p99 ${pub.p99} ms; server CPU ${
        (pub.cpuUs / 1000).toFixed(2)
      } ms per upload)`
    )
    console.log(`server peak RSS: ${rss.toFixed(0)} MiB`)

    const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`
    console.log("\n| target | goal | measured | met |")
    console.log("|---|---|---|---|")
    const info = rows[0]!
    const dl20 = rows[1]!
    const dl1m = rows[2]!
    const search = rows[3]!
    console.log(
      `| package info vs ceiling req/s | >= 50% | ${pct(info.rps, ceilings[0]!.rps)} | ${
        info.rps >= ceilings[0]!.rps * 0.5 ? "yes" : "no"
      } |`
    )
    console.log(
      `| download 20 KiB vs ceiling MB/s | >= 70% | ${pct(dl20.mbs, ceilings[1]!.mbs)} | ${
        dl20.mbs >= ceilings[1]!.mbs * 0.7 ? "yes" : "no"
      } |`
    )
    console.log(
      `| download 1 MiB vs ceiling MB/s | >= 70% | ${pct(dl1m.mbs, ceilings[2]!.mbs)} | ${
        dl1m.mbs >= ceilings[2]!.mbs * 0.7 ? "yes" : "no"
      } |`
    )
    console.log(`| search p99 | < 20 ms | ${search.p99} ms | ${search.p99 < 20 ? "yes" : "no"} |`)
    console.log(`| publish 20 KiB | >= 300/s | ${pub.rate.toFixed(0)}/s | ${pub.rate >= 300 ? "yes" : "no"} |`)
    console.log(`| start-up (layers + first health) | < 300 ms | ${ms(startup)} ms | ${startup < 300 ? "yes" : "no"} |`)
    if (cli !== undefined) {
      console.log(
        `| start-up (process: spawn to first health) | < 300 ms | ${ms(cli.health)} ms | ${
          cli.health < 300 ? "yes" : "no"
        } |`
      )
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

await main()
