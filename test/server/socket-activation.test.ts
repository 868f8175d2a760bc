/**
 * `fm studio start` on an inherited listening socket (systemd socket activation, `--listen-fd`):
 * it serves on it, a successor started on the same socket takes over with no failed request while
 * the first one stops, and a socket meant for another process or a bad descriptor is a clear
 * usage error. Real processes (`node dist/fm.js`), a real socket on 127.0.0.1 held by a process
 * that never accepts (test/helpers/socket-holder.ts).
 */
import { assert } from "@effect/vitest"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, it } from "vitest"
import { fmBin, removeFmBinSnapshot, runFm } from "../helpers/cli.js"
import { rawRequest } from "../helpers/raw-http.js"
import { publishFixture } from "../helpers/server.js"
import type { HeldChild, SocketHolder } from "../helpers/socket-holder.js"
import { holdSocket } from "../helpers/socket-holder.js"

const API = "/api/v1/registry"
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const dirs: Array<string> = []
const holders: Array<SocketHolder> = []
afterAll(async () => {
  await Promise.all(holders.splice(0).map((h) => h.close()))
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
  removeFmBinSnapshot()
})

const tempDir = (prefix: string) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  dirs.push(d)
  return d
}

/** A registry's data dir, FlowMason home and admin token. */
const registry = () => ({
  dataDir: tempDir("fm-activation-data-"),
  home: tempDir("fm-activation-home-"),
  admin: `fmr_test${crypto.randomBytes(24).toString("base64url")}`
})

/** Starts `fm studio start` through the holder, on its socket. */
const startHeld = (
  holder: SocketHolder,
  r: ReturnType<typeof registry>,
  options: { readonly systemd: boolean }
): Promise<HeldChild> =>
  holder.spawn(
    [
      fmBin(),
      "studio",
      "start",
      "--data-dir",
      r.dataDir,
      "--quiet",
      "--no-ui",
      ...(options.systemd ? [] : ["--listen-fd", "3"])
    ],
    {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: r.home,
        FLOWMASON_HOME: r.home,
        NO_COLOR: "1",
        FM_ADMIN_TOKEN: r.admin
      },
      systemd: options.systemd,
      ready: /listening on (http:\/\/\S+)/
    }
  )

/** One request; its status (0: no answer), time and error. */
interface Outcome {
  readonly status: number
  readonly ms: number
  readonly error: string | undefined
}

/** GET `p` on 127.0.0.1:`port` with `agent` (false: a fresh connection), bounded by 5 s. */
const get = (port: number, p: string, agent: http.Agent | false): Promise<Outcome> =>
  new Promise((resolve) => {
    const t0 = performance.now()
    const req = http.get({ host: "127.0.0.1", port, path: p, agent }, (res) => {
      res.resume()
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, error: undefined }))
      res.on("error", (e) => resolve({ status: 0, ms: performance.now() - t0, error: e.message }))
    })
    req.setTimeout(5_000, () => req.destroy(new Error("no answer in 5 s")))
    req.on("error", (e: NodeJS.ErrnoException) =>
      resolve({ status: 0, ms: performance.now() - t0, error: e.code ?? e.message }))
  })

describe("fm studio start on an inherited socket", () => {
  it("serves on a socket passed by systemd socket activation, including a connection queued before it started", async () => {
    const holder = await holdSocket()
    holders.push(holder)
    const r = registry()
    // a request sent while no server runs waits in the socket's queue (the holder never accepts it)
    const early = rawRequest(
      `http://127.0.0.1:${holder.port}`,
      `GET ${API}/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
      undefined,
      60_000
    )
    await sleep(200)
    const server = await startHeld(holder, r, { systemd: true })
    assert.strictEqual(server.ready, `http://127.0.0.1:${holder.port}`)
    assert.match(server.output(), /inherited socket fd 3/)
    const answer = await early
    assert.strictEqual(answer === "no answer" ? 0 : answer.status, 200)
    const health = await fetch(`${server.ready}${API}/health`)
    assert.strictEqual(health.status, 200)
    await server.stop()
    assert.strictEqual(await server.exited, 143)
  })

  it("a successor started on the same socket takes over while the first stops: no failed or slow request", async () => {
    const holder = await holdSocket()
    holders.push(holder)
    const r = registry()
    const first = await startHeld(holder, r, { systemd: false })
    await publishFixture(first.ready, r.admin, { name: "rolling-pkg", version: "1.0.0" })

    // clients that never stop: 4 on keep-alive connections, 2 on a new connection per request
    let running = true
    const outcomes: Array<Outcome & { readonly at: number }> = []
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
    const client = async (keepAlive: boolean, p: string) => {
      while (running) {
        const o = await get(holder.port, p, keepAlive ? agent : false)
        outcomes.push({ ...o, at: Date.now() })
      }
    }
    const clients = [
      ...[0, 1].map(() => client(true, `${API}/packages/rolling-pkg`)),
      ...[0, 1].map(() => client(true, `${API}/health`)),
      client(false, `${API}/packages/rolling-pkg`),
      client(false, `${API}/health`)
    ]
    try {
      await sleep(500)
      const second = await startHeld(holder, r, { systemd: true })
      await sleep(300)
      const signalled = Date.now()
      await first.stop()
      const firstExited = Date.now()
      assert.strictEqual(await first.exited, 143)
      await sleep(700)
      running = false
      await Promise.all(clients)
      const failed = outcomes.filter((o) => o.status !== 200)
      assert.deepStrictEqual(failed, [])
      const slowest = Math.max(...outcomes.map((o) => o.ms))
      assert.isBelow(slowest, 1_000)
      // the clients kept going through the stop, and the successor answered after it
      assert.isAbove(outcomes.filter((o) => o.at >= signalled && o.at <= firstExited).length, 0)
      assert.isAbove(outcomes.filter((o) => o.at > firstExited).length, 20)
      await second.stop()
    } finally {
      running = false
      agent.destroy()
    }
  })

  it("a LISTEN_PID of another process, LISTEN_FDS other than 1, or a descriptor that is not an open listening socket is a clear error", async () => {
    const r = registry()
    const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
      runFm(["studio", "start", "--data-dir", r.dataDir, "--quiet", "--no-ui", ...args], {
        home: r.home,
        env,
        timeoutMs: 30_000
      })
    const otherPid = await start([], { LISTEN_FDS: "1", LISTEN_PID: "1" })
    assert.strictEqual(otherPid.code, 2)
    assert.match(otherPid.stderr, /LISTEN_PID is 1, but this process is \d+/)
    const two = await start([], { LISTEN_FDS: "2" })
    assert.strictEqual(two.code, 2)
    assert.match(two.stderr, /LISTEN_FDS is '2': fm serves exactly one inherited socket/)
    const closed = await start(["--listen-fd", "97"])
    assert.strictEqual(closed.code, 2)
    assert.match(closed.stderr, /--listen-fd 97: file descriptor 97 is not open/)
    // fd 0 here is a connected socket (Node's stdin pipe is a socketpair), not a listening one
    const connected = await start(["--listen-fd", "0"])
    assert.strictEqual(connected.code, 1)
    assert.match(connected.stderr, /cannot start the server on the inherited socket: listen EINVAL/)
    assert.match(connected.stderr, /must be a listening TCP or Unix socket/)
    // systemd's fd 3 not passed at all
    const missing = await start([], { LISTEN_FDS: "1" })
    assert.strictEqual(missing.code, 2)
    assert.match(missing.stderr, /LISTEN_FDS \(systemd socket activation\): file descriptor 3 is not (open|a socket)/)
  })
})
