/**
 * `npm run bench:abuse`: for BENCH_SECONDS (default 60) s, honest clients share one `fm studio
 * start` (a child process, SQLite, 200 packages) with hostile ones, and the honest side is
 * measured.
 *
 * Honest, at a steady rate (open loop): package info 40/s, search 10/s, download 20/s, publish
 * 2/s (distinct 20 KiB packages). Like fm's client they retry a refused or reset connection and a
 * `503` (honouring `Retry-After`) for up to 5 s; latency counts from the first try. An honest
 * error is an answer other than the expected one, or no answer within 5 s.
 *
 * Hostile, all the time: oversized JSON bodies to `yank` (64 MiB each, anonymous and with a
 * read-scoped token, 4 in flight); uploads declaring 2 GiB (anonymous and read-scoped, 2 in
 * flight); searches of 3,500 one-letter words (2 in flight); 20 slow uploads (one byte a
 * second, reopened when closed); malformed multipart uploads with a publish token (no boundary,
 * garbage, truncated; 2 in flight). At 1/3 and 2/3 of the run the server restarts while 200 new
 * connections burst in. BENCH_RESTART picks how:
 * - `handover` (the default): a zero-gap restart. A holder process (test/helpers/socket-holder.ts,
 *   which never accepts) keeps the listening socket; each server gets it as systemd does (fd 3,
 *   LISTEN_FDS/LISTEN_PID). The successor starts on it first; once it listens, the old process
 *   gets SIGTERM, stops accepting at once and finishes what it has.
 * - `stop-start`: SIGTERM, then a new process on the same port (clients retry while none listens).
 *
 * The server is `node dist/fm.js studio start` (as users run it; `npm run build` first), else the
 * test bundle of `src/server/main.ts`.
 *
 * Prints honest p50/p99 and errors (by kind), the server's peak RSS and its event-loop delay p99
 * (sampled inside the server by bench/loop-delay.mjs, preloaded with `--import`), against the
 * targets: 0 honest errors, p99 < 50 ms, RSS < 512 MiB, loop delay p99 < 50 ms.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import type { Readable } from "node:stream"
import { fileURLToPath } from "node:url"
import { runStudio, serverBundle } from "../test/helpers/server.js"
import { holdSocket } from "../test/helpers/socket-holder.js"
import { archive, uploadBody } from "./uploads.js"

const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 60)
const PACKAGES = 200
const API = "/api/v1/registry"
const ADMIN = `fmr_bench_${crypto.randomBytes(12).toString("hex")}`
const HERE = path.dirname(fileURLToPath(import.meta.url))
const RETRY_BUDGET_MS = 5_000
const RESTART = process.env["BENCH_RESTART"] ?? "handover"
if (RESTART !== "handover" && RESTART !== "stop-start") {
  throw new Error(`BENCH_RESTART: '${RESTART}' is not handover or stop-start`)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** A free port on 127.0.0.1 (the server is restarted on the same one). */
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer()
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })

interface Server {
  readonly pid: number
  readonly loopFile: string
  readonly stop: () => Promise<void>
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-bench-abuse-"))
/** The built CLI (`npm run build`); without it the server runs from the test bundle. */
const FM_CLI = path.join(HERE, "..", "dist", "fm.js")
const home = fs.mkdtempSync(path.join(os.tmpdir(), "fm-bench-abuse-home-"))
/** In `handover` mode, the listening socket every server shares. */
const holder = RESTART === "handover" ? await holdSocket() : undefined
const port = holder?.port ?? await freePort()
const base = `http://127.0.0.1:${port}`
let generation = 0

const start = async (): Promise<Server> => {
  const loopFile = path.join(dataDir, `..`, `${path.basename(dataDir)}-loop-${generation++}.json`)
  // `fm studio start` as users run it (the built CLI, with its code cache), else the test bundle
  const command = fs.existsSync(FM_CLI) ? [FM_CLI, "studio", "start"] : [await serverBundle(), "start"]
  const args = [
    // BENCH_NODE_ARGS: extra node flags for the server (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
    ...(process.env["BENCH_NODE_ARGS"] ?? "").split(" ").filter((a) => a !== ""),
    "--import",
    path.join(HERE, "loop-delay.mjs"),
    ...command,
    "--data-dir",
    dataDir,
    "--quiet",
    "--no-ui"
  ]
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v
  Object.assign(env, { FM_ADMIN_TOKEN: ADMIN, NO_COLOR: "1", FM_BENCH_LOOP_FILE: loopFile, FLOWMASON_HOME: home })
  if (holder !== undefined) {
    // on the held socket, as systemd socket activation passes it
    const held = await holder.spawn(args, { env, systemd: true, ready: /listening on/ })
    return { pid: held.pid, loopFile, stop: held.stop }
  }
  const child: ChildProcessByStdio<null, Readable, null> = spawn(
    process.execPath,
    [...args, "--port", String(port)],
    { env, stdio: ["ignore", "pipe", "inherit"] }
  )
  const exited = new Promise((r) => child.once("exit", r))
  await new Promise<void>((resolve, reject) => {
    let out = ""
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString()
      if (/listening on/.test(out)) resolve()
    })
    child.once("exit", (c) => reject(new Error(`fm studio start exited ${c}: ${out}`)))
  })
  child.stdout.resume()
  return {
    pid: child.pid!,
    loopFile,
    stop: async () => {
      child.kill("SIGTERM")
      const forced = setTimeout(() => child.kill("SIGKILL"), 10_000)
      await exited
      clearTimeout(forced)
    }
  }
}

/** One request with node:http (a fresh agent per client kind, keep-alive). */
const request = (
  agent: http.Agent | false,
  method: string,
  p: string,
  headers: Record<string, string> = {},
  body?: Buffer
) =>
  new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path: p, headers, agent }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on("error", reject)
    })
    req.setTimeout(RETRY_BUDGET_MS, () => req.destroy(new Error("timeout")))
    req.on("error", reject)
    req.end(body)
  })

// ---------------------------------------------------------------------------------------------
// honest clients

interface HonestResult {
  readonly kind: string
  readonly ms: number
  readonly error: string | undefined
  readonly at: number
}
const honest: Array<HonestResult> = []
const honestAgent = new http.Agent({ keepAlive: true, maxSockets: 64 })

/** An honest request: retried on refused/reset connections and 503 within the budget. */
const honestCall = async (
  kind: string,
  expect: number,
  send: () => Promise<{ status: number; headers: http.IncomingHttpHeaders }>
) => {
  const t0 = performance.now()
  let error: string | undefined
  for (;;) {
    try {
      const r = await send()
      if (r.status === 503 && performance.now() - t0 < RETRY_BUDGET_MS) {
        await sleep(Math.min(1000, Number(r.headers["retry-after"] ?? 0) * 1000 || 50))
        continue
      }
      error = r.status === expect ? undefined : `status ${r.status}`
      break
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message
      if (
        (code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EPIPE") &&
        performance.now() - t0 < RETRY_BUDGET_MS
      ) {
        await sleep(25)
        continue
      }
      error = code
      break
    }
  }
  honest.push({ kind, ms: performance.now() - t0, error, at: Date.now() })
}

const pkg = (i: number) => `pkg-${String(i).padStart(4, "0")}`
const every = (perSecond: number, f: () => Promise<void>) => {
  const timer = setInterval(() => void f(), 1000 / perSecond)
  return () => clearInterval(timer)
}

// ---------------------------------------------------------------------------------------------
// hostile clients

const hostileCounts: Record<string, number> = {}
const count = (kind: string) => (hostileCounts[kind] = (hostileCounts[kind] ?? 0) + 1)
let running = true

/** Streams `total` bytes of `chunk` as a request body until the server answers or hangs up. */
const flood = (p: string, headers: Record<string, string>, chunk: Buffer, total: number) =>
  new Promise<void>((resolve) => {
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path: p, headers, agent: false }, (res) => {
      res.resume()
      res.on("end", () => resolve())
      res.on("error", () => resolve())
      req.destroy()
    })
    req.on("error", () => resolve())
    req.setTimeout(30_000, () => req.destroy())
    let sent = 0
    const pump = () => {
      while (sent < total && running) {
        sent += chunk.length
        if (!req.write(chunk)) return void req.once("drain", pump)
      }
      req.end()
    }
    pump()
  })

const loop = async (kind: string, f: () => Promise<unknown>) => {
  while (running) {
    try {
      await f()
    } catch {
      // hostile clients expect to be refused
    }
    count(kind)
    await sleep(5)
  }
}

/** A slow upload: headers, then one byte a second; reopened when the server closes it. */
const slowUpload = async () => {
  while (running) {
    await new Promise<void>((resolve) => {
      const s = net.connect(port, "127.0.0.1")
      let timer: ReturnType<typeof setInterval> | undefined
      s.on("connect", () => {
        count("slow upload opened")
        s.write(
          `POST ${API}/packages/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN}\r\n` +
            `Content-Type: multipart/form-data; boundary=slow\r\nContent-Length: 10485760\r\n\r\n--slow\r\n`
        )
        timer = setInterval(() => (running ? s.write("x") : s.destroy()), 1000)
      })
      s.on("error", () => undefined)
      s.on("close", () => {
        if (timer !== undefined) clearInterval(timer)
        resolve()
      })
      s.resume()
    })
    await sleep(100)
  }
}

const burst = async (n: number) => {
  await Promise.all(
    Array.from(
      { length: n },
      () => request(false, "GET", `${API}/health`).then(() => count("burst answered"), () => count("burst refused"))
    )
  )
}

// ---------------------------------------------------------------------------------------------

const loadFixture = async () => {
  const boundary = "fmabusefixture"
  for (let i = 0; i < PACKAGES; i++) {
    const r = await request(honestAgent, "POST", `${API}/packages/upload`, {
      authorization: `Bearer ${ADMIN}`,
      "content-type": `multipart/form-data; boundary=${boundary}`
    }, uploadBody(archive(pkg(i), "1.0.0", 20 * 1024), boundary))
    if (r.status !== 201) throw new Error(`fixture upload ${pkg(i)}: ${r.status} ${r.body.toString()}`)
  }
}

const percentile = (xs: ReadonlyArray<number>, p: number) => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

const main = async () => {
  console.log(
    `machine: ${os.cpus().length} cpus, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}; ${SECONDS} s; ` +
      `restarts: ${RESTART}`
  )
  let server = await start()
  const servers: Array<Server> = [server]
  await loadFixture()
  const reader =
    (await runStudio(["token", "create", "--scope", "read", "--name", "abuse-reader", "--data-dir", dataDir, "--json"]))
      .match(/"token":\s*"([^"]+)"/)?.[1]
  if (reader === undefined) throw new Error("could not create a read token")
  console.log(`fixture: ${PACKAGES} packages; server pid ${server.pid} on ${base}`)

  // RSS of whichever server process runs, every 100 ms
  let rssPeak = 0
  const rssTimer = setInterval(() => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${server.pid}/status`, "utf8"))
      if (m) rssPeak = Math.max(rssPeak, Number(m[1]) * 1024)
    } catch {
      // between processes
    }
  }, 100)

  const startedAt = Date.now()
  /** Times of each restart (ms since the epoch): `handover` starts the successor, then stops the old one. */
  const restarts: Array<{ from: number; stopped: number; listening: number; to: number }> = []
  let published = 0
  const boundary = "fmabusehonest"
  const stops = [
    every(
      40,
      () =>
        honestCall("info", 200, () => request(honestAgent, "GET", `${API}/packages/${pkg(crypto.randomInt(PACKAGES))}`))
    ),
    every(
      10,
      () =>
        honestCall(
          "search",
          200,
          () => request(honestAgent, "GET", `${API}/packages/search?q=${pkg(crypto.randomInt(PACKAGES)).slice(0, 7)}`)
        )
    ),
    every(
      20,
      () =>
        honestCall(
          "download",
          200,
          () => request(honestAgent, "GET", `${API}/packages/${pkg(crypto.randomInt(PACKAGES))}/1.0.0/download`)
        )
    ),
    every(2, () => {
      const body = uploadBody(archive(`honest-${published++}`, "1.0.0", 20 * 1024), boundary)
      return honestCall("publish", 201, () =>
        request(honestAgent, "POST", `${API}/packages/upload`, {
          authorization: `Bearer ${ADMIN}`,
          "content-type": `multipart/form-data; boundary=${boundary}`
        }, body))
    })
  ]

  const mib = Buffer.alloc(1024 * 1024, 0x20)
  const hostile = [
    ...[undefined, undefined, reader, reader].map((token) =>
      loop(
        token === undefined ? "oversized yank (anonymous)" : "oversized yank (read token)",
        () =>
          flood(
            `${API}/packages/${pkg(1)}/1.0.0/yank`,
            {
              "content-type": "application/json",
              ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
            },
            mib,
            64 * 1024 * 1024
          )
      )
    ),
    ...[undefined, reader].map((token) =>
      loop(
        token === undefined ? "2 GiB upload (anonymous)" : "2 GiB upload (read token)",
        () =>
          flood(
            `${API}/packages/upload`,
            {
              "content-type": "multipart/form-data; boundary=big",
              "content-length": String(2 * 1024 * 1024 * 1024),
              ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
            },
            mib,
            64 * 1024 * 1024
          )
      )
    ),
    ...[0, 1].map(() =>
      loop(
        "long search",
        () =>
          request(
            false,
            "GET",
            `${API}/packages/search?q=${
              encodeURIComponent(Array.from({ length: 3500 }, (_, i) => "abcdefghijklmnopqrstuvwxyz"[i % 26]).join(" "))
            }`
          )
      )
    ),
    ...Array.from({ length: 20 }, () => slowUpload()),
    ...[0, 1].map((i) =>
      loop("malformed multipart", () => {
        const bodies = [
          { type: "multipart/form-data", body: crypto.randomBytes(4096) },
          { type: "multipart/form-data; boundary=zz", body: crypto.randomBytes(4096) },
          {
            type: "multipart/form-data; boundary=zz",
            body: Buffer.from("--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\ntruncated")
          }
        ]
        const b = bodies[(i + crypto.randomInt(3)) % 3]!
        return request(false, "POST", `${API}/packages/upload`, {
          authorization: `Bearer ${ADMIN}`,
          "content-type": b.type
        }, b.body)
      })
    )
  ]

  for (const at of [1 / 3, 2 / 3]) {
    await sleep(startedAt + SECONDS * 1000 * at - Date.now())
    const from = Date.now()
    const bursting = burst(200)
    if (RESTART === "handover") {
      const old = server
      server = await start()
      const listening = Date.now()
      servers.push(server)
      await old.stop()
      const stopped = Date.now()
      await bursting
      await burst(200)
      restarts.push({ from, stopped, listening, to: Date.now() })
    } else {
      await server.stop()
      const stopped = Date.now()
      server = await start()
      const listening = Date.now()
      servers.push(server)
      await bursting
      await burst(200)
      restarts.push({ from, stopped, listening, to: Date.now() })
    }
  }
  await sleep(startedAt + SECONDS * 1000 - Date.now())
  for (const stop of stops) stop()
  await sleep(RETRY_BUDGET_MS + 500) // let the last honest requests finish
  running = false
  clearInterval(rssTimer)
  await Promise.race([Promise.all(hostile), sleep(15_000)])
  const loops = servers.map((s) => {
    try {
      return JSON.parse(fs.readFileSync(s.loopFile, "utf8")) as {
        p50: number
        p99: number
        max: number
        rssPeak: number
      }
    } catch {
      return undefined
    }
  })
  await server.stop()

  const inRestart = (r: HonestResult) => restarts.some((w) => r.at >= w.from && r.at - r.ms <= w.to)
  const errors = honest.filter((r) => r.error !== undefined)
  const ms = honest.map((r) => r.ms)
  const steadyResults = honest.filter((r) => !inRestart(r))
  const steady = steadyResults.map((r) => r.ms)
  const loopP99 = Math.max(...loops.map((l) => l?.p99 ?? NaN))
  const peakMiB = Math.max(rssPeak, ...loops.map((l) => l?.rssPeak ?? 0)) / (1024 * 1024)
  const p99 = percentile(ms, 99)

  console.log("\nhonest clients")
  console.log("| kind | requests | p50 ms | p99 ms | errors |")
  console.log("|---|---:|---:|---:|---:|")
  for (const kind of ["info", "search", "download", "publish"]) {
    const rs = honest.filter((r) => r.kind === kind)
    console.log(
      `| ${kind} | ${rs.length} | ${percentile(rs.map((r) => r.ms), 50).toFixed(1)} | ${
        percentile(rs.map((r) => r.ms), 99).toFixed(1)
      } | ${rs.filter((r) => r.error !== undefined).length} |`
    )
  }
  console.log(
    `| all (restarts: ${RESTART}) | ${honest.length} | ${percentile(ms, 50).toFixed(1)} | ${
      p99.toFixed(1)
    } | ${errors.length} |`
  )
  console.log(
    `| all, outside the ${restarts.length} restarts | ${steady.length} | ${percentile(steady, 50).toFixed(1)} | ${
      percentile(steady, 99).toFixed(1)
    } | ${steadyResults.filter((r) => r.error !== undefined).length} |`
  )
  if (errors.length > 0) {
    const byKind = new Map<string, number>()
    for (const e of errors) byKind.set(`${e.kind}: ${e.error}`, (byKind.get(`${e.kind}: ${e.error}`) ?? 0) + 1)
    console.log(`honest errors: ${[...byKind].map(([k, n]) => `${k} x${n}`).join(", ")}`)
  }
  console.log("\nhostile requests made")
  for (const [k, n] of Object.entries(hostileCounts)) console.log(`- ${k}: ${n}`)
  console.log(
    RESTART === "handover"
      ? `restarts (handover: successor spawn to listening, then the old one's SIGTERM to exit; the window with both bursts): ${
        restarts.map((r) => `${r.listening - r.from} + ${r.stopped - r.listening} ms (${r.to - r.from} ms)`).join(", ")
      }`
      : `restarts (SIGTERM to exit + spawn to listening; the window with both bursts): ${
        restarts.map((r) => `${r.stopped - r.from} + ${r.listening - r.stopped} ms (${r.to - r.from} ms)`).join(", ")
      }`
  )
  console.log(
    `server event-loop delay (per process): ${
      loops.map((
        l
      ) => (l === undefined ? "n/a" : `p50 ${l.p50.toFixed(1)} / p99 ${l.p99.toFixed(1)} / max ${l.max.toFixed(0)} ms`))
        .join("; ")
    }`
  )

  console.log("\n| target | goal | measured | met |")
  console.log("|---|---|---|---|")
  console.log(`| honest errors | 0 | ${errors.length} | ${errors.length === 0 ? "yes" : "no"} |`)
  console.log(`| honest p99 (restarts: ${RESTART}) | < 50 ms | ${p99.toFixed(1)} ms | ${p99 < 50 ? "yes" : "no"} |`)
  console.log(`| server peak RSS | < 512 MiB | ${peakMiB.toFixed(0)} MiB | ${peakMiB < 512 ? "yes" : "no"} |`)
  console.log(`| event-loop delay p99 | < 50 ms | ${loopP99.toFixed(1)} ms | ${loopP99 < 50 ? "yes" : "no"} |`)
}

try {
  await main()
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true })
  fs.rmSync(home, { recursive: true, force: true })
  for (const f of fs.readdirSync(path.dirname(dataDir))) {
    if (f.startsWith(`${path.basename(dataDir)}-loop-`)) fs.rmSync(path.join(path.dirname(dataDir), f), { force: true })
  }
  honestAgent.destroy()
  await holder?.close()
}
process.exit(0)
