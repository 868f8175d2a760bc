/**
 * `npm run bench:publish`: where the time of one publish goes, against floors measured in the
 * same run with the same client (a keep-alive `node:http` agent sending pre-built multipart
 * bodies, as the peer benchmark's publisher does), 1 and 8 uploads in flight:
 *
 * - ceiling: a bare `node:http` server (`bench/bare.ts`) that reads each body and answers 201
 *   with the bytes fm answered the first publish with;
 * - fm's request path alone: the same uploads with a wrong `checksum` field, so the server
 *   authenticates, reads and parses the body and hashes the archive, then answers 400 (no
 *   archive check, no disk);
 * - fm's publish: distinct 20 KiB packages on a fresh data directory (archive checked, blob and
 *   row written and made durable, then 201);
 * - the durable writes alone, one publish after another: what the blob store and the SQLite
 *   store must sync before a publish may be answered (the blob: `open`, `write`, `fsync`,
 *   `rename`, `close`, the directory's `fsync`; then one page appended to a log and
 *   `fdatasync`ed, a lower bound of the -wal file's sync), through libuv's thread pool as the
 *   server runs them, on the file system of the data directories.
 *
 * Each server is warmed up first (`WARMUP` uploads with a wrong checksum and `WARMUP` publishes of
 * other packages, not counted), so no row pays for compiling the code it runs. Each row gives the
 * rate, the round trip it implies, and the server's CPU time per request (all threads, /proc).
 * `BENCH_PUBLISHES` (1,000) uploads per run. A peer registry is not measured here: its figures
 * come from ../shared/bench/peer/side-by-side.sh, which runs both in one session.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { bareServer, cpuMs, type Server, startChild } from "./servers.js"
import { archive, uploadBody } from "./uploads.js"

const PUBLISHES = Number(process.env["BENCH_PUBLISHES"] ?? 1000)
/** Uploads of each kind sent to a server before its measured runs. */
const WARMUP = 200
const CONCURRENCIES = [1, 8] as const
const PAYLOAD = 20 * 1024
const UPLOAD = "/api/v1/registry/packages/upload"
const ADMIN = `fmr_bench_${crypto.randomBytes(12).toString("hex")}`
const BOUNDARY = `fmbench${crypto.randomBytes(8).toString("hex")}`

/** One run's outcome: how many answers of each status, how long, and the server's CPU time. */
interface Run {
  readonly perSecond: number
  readonly statuses: Readonly<Record<number, number>>
  readonly serverCpuMs: number
  readonly clientCpuMs: number
  readonly firstBody: Buffer
}

/** Sends every body once (a POST each), `concurrency` in flight over keep-alive connections. */
const drive = async (
  server: Server,
  bodies: ReadonlyArray<Buffer>,
  concurrency: number
): Promise<Run> => {
  const url = new URL(server.url)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  const headers = {
    authorization: `Bearer ${ADMIN}`,
    "content-type": `multipart/form-data; boundary=${BOUNDARY}`
  }
  const post = (body: Buffer) =>
    new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const req = http.request({
        method: "POST",
        hostname: url.hostname,
        port: url.port,
        path: UPLOAD,
        headers: { ...headers, "content-length": String(body.length) },
        agent,
        timeout: 60_000
      }, (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
        res.on("error", reject)
      })
      req.on("timeout", () => req.destroy(new Error(`POST ${UPLOAD}: no answer in 60 s`)))
      req.on("error", reject)
      req.end(body)
    })
  const statuses: Record<number, number> = {}
  let firstBody: Buffer = Buffer.alloc(0)
  let next = 0
  const worker = async () => {
    while (next < bodies.length) {
      const i = next++
      const r = await post(bodies[i]!)
      statuses[r.status] = (statuses[r.status] ?? 0) + 1
      if (i === 0) firstBody = r.body
    }
  }
  const cpu0 = cpuMs(server.pid)
  const client0 = process.cpuUsage()
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  const seconds = (performance.now() - t0) / 1000
  const client = process.cpuUsage(client0)
  agent.destroy()
  return {
    perSecond: bodies.length / seconds,
    statuses,
    serverCpuMs: (cpuMs(server.pid) - cpu0) / bodies.length,
    clientCpuMs: (client.user + client.system) / 1000 / bodies.length,
    firstBody
  }
}

/** The durable writes of one publish, one after another, `n` times; mean ms per publish. */
const durableWrites = async (dir: string, n: number): Promise<number> => {
  const blob = crypto.randomBytes(PAYLOAD)
  const page = crypto.randomBytes(4096)
  const call = <A>(f: (cb: (e: NodeJS.ErrnoException | null, a: A) => void) => void) =>
    new Promise<A>((resolve, reject) => f((e, a) => (e === null ? resolve(a) : reject(e))))
  const done = (f: (cb: (e: NodeJS.ErrnoException | null) => void) => void) =>
    new Promise<void>((resolve, reject) => f((e) => (e === null ? resolve() : reject(e))))
  const directory = await call<number>((cb) => fs.open(dir, "r", cb))
  const log = await call<number>((cb) => fs.open(path.join(dir, "log"), "a", cb))
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    const part = path.join(dir, `b${i}.part`)
    const fd = await call<number>((cb) => fs.open(part, "wx", 0o644, cb))
    await call<number>((cb) => fs.write(fd, blob, 0, blob.length, 0, cb))
    await done((cb) => fs.fsync(fd, cb))
    await done((cb) => fs.rename(part, path.join(dir, `b${i}`), cb))
    await done((cb) => fs.close(fd, cb))
    await done((cb) => fs.fsync(directory, cb))
    await call<number>((cb) => fs.write(log, page, cb))
    await done((cb) => fs.fdatasync(log, cb))
  }
  const mean = (performance.now() - t0) / n
  fs.closeSync(directory)
  fs.closeSync(log)
  return mean
}

/** A fresh `fm studio start` on a new data directory, removed with the server. */
const freshServer = async (): Promise<Server> => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-bench-publish-"))
  const server = await startChild(dataDir, ADMIN)
  return {
    ...server,
    stop: async () => {
      await server.stop()
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

interface Row {
  readonly name: string
  readonly runs: ReadonlyArray<Run>
}

const main = async () => {
  console.log(
    `machine: ${os.cpus().length} cpus, load ${
      os.loadavg().map((l) => l.toFixed(1)).join(" ")
    }; ${PUBLISHES} uploads of ${PAYLOAD / 1024} KiB per run`
  )
  const archives = Array.from({ length: PUBLISHES }, (_, i) => archive(`pub-${i}`, "1.0.0", PAYLOAD))
  const good = archives.map((a) => uploadBody(a, BOUNDARY))
  const wrong = archives.map((a) => uploadBody(a, BOUNDARY, "0".repeat(64)))
  const warmups = Array.from({ length: WARMUP }, (_, i) => uploadBody(archive(`warm-${i}`, "1.0.0", PAYLOAD), BOUNDARY))
  const warmupsWrong = wrong.slice(0, WARMUP)

  const publishes: Array<Run> = []
  const refused: Array<Run> = []
  for (const c of CONCURRENCIES) {
    const server = await freshServer()
    try {
      await drive(server, warmupsWrong, c)
      await drive(server, warmups, c)
      refused.push(await drive(server, wrong, c))
      publishes.push(await drive(server, good, c))
    } finally {
      await server.stop()
    }
  }
  for (const [name, runs, status] of [["publish", publishes, 201], ["wrong checksum", refused, 400]] as const) {
    for (const r of runs) {
      if (r.statuses[status] !== PUBLISHES) {
        throw new Error(`${name}: expected ${PUBLISHES} answers ${status}, got ${JSON.stringify(r.statuses)}`)
      }
    }
  }
  const bare = await bareServer(publishes[0]!.firstBody, { "content-type": "application/json" }, 201)
  const ceiling: Array<Run> = []
  try {
    await drive(bare, warmups, 1)
    for (const c of CONCURRENCIES) ceiling.push(await drive(bare, good, c))
  } finally {
    await bare.stop()
  }
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "fm-bench-durable-"))
  let durableMs: number
  try {
    durableMs = await durableWrites(scratch, Math.min(PUBLISHES, 500))
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true })
  }

  const rows: ReadonlyArray<Row> = [
    { name: "ceiling: bare node:http, reads the body, 201 from memory", runs: ceiling },
    { name: "fm, request path alone (auth, body, multipart, SHA-256; 400 at the checksum)", runs: refused },
    { name: "fm, publish (checked, stored, durable; 201)", runs: publishes }
  ]
  console.log(
    "\n| path | 1 in flight /s | round trip ms | server CPU ms | 8 in flight /s | server CPU ms | client CPU ms |"
  )
  console.log("|---|---:|---:|---:|---:|---:|---:|")
  for (const { name, runs } of rows) {
    const [one, eight] = runs
    console.log(
      `| ${name} | ${one!.perSecond.toFixed(0)} | ${(1000 / one!.perSecond).toFixed(2)} | ${
        one!.serverCpuMs.toFixed(2)
      } | ${eight!.perSecond.toFixed(0)} | ${eight!.serverCpuMs.toFixed(2)} | ${eight!.clientCpuMs.toFixed(2)} |`
    )
  }
  const floorMs = 1000 / refused[0]!.perSecond
  console.log(
    `\ndurable writes alone (blob: open, write, fsync, rename, close, directory fsync; one 4 KiB page ` +
      `appended and fdatasynced), one after another: ${durableMs.toFixed(2)} ms per publish`
  )
  console.log(
    `lowest round trip of a durable publish through fm's request path (request path + durable writes, ` +
      `no archive check, no SQL): ${(floorMs + durableMs).toFixed(2)} ms = at most ${
        (1000 / (floorMs + durableMs)).toFixed(0)
      } publishes/s at 1 in flight`
  )
}

main().catch((e: unknown) => {
  console.error(e)
  process.exitCode = 1
})
