/**
 * The processes the server benchmarks measure: `fm studio start` (the bundled server, a child
 * process as in production) and the bare `node:http` ceiling (`bench/bare.ts`), plus what they
 * read from /proc about a process (CPU time, peak RSS).
 */
import { type ChildProcessByStdio, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Readable } from "node:stream"
import { serverBundle } from "../test/helpers/server.js"

/** A server started by a benchmark: where it listens, its PID, and how to stop it. */
export interface Server {
  readonly url: string
  readonly pid: number
  readonly stop: () => Promise<void>
}

/** The URL a starting server (`fm studio start`, the bare ceiling) prints when it listens (fails if it exits first). */
export const listeningUrlOf = (child: ChildProcessByStdio<null, Readable, null>): Promise<string> => {
  let out = ""
  return new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString()
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) resolve(m[1]!)
    })
    child.once("exit", (c) => reject(new Error(`server exited ${c} before listening: ${out}`)))
  })
}

/** `fm studio start` (bundled) on `dataDir`, port 0, `adminToken` as its admin token (`FM_ADMIN_TOKEN`). */
export const startChild = async (dataDir: string, adminToken: string): Promise<Server> => {
  const bundle = await serverBundle()
  const child = spawn(process.execPath, [bundle, "start", "--port", "0", "--data-dir", dataDir, "--quiet", "--no-ui"], {
    env: { ...process.env, FM_ADMIN_TOKEN: adminToken, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "inherit"]
  })
  const exited = new Promise((r) => child.once("exit", r))
  const url = await listeningUrlOf(child)
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      child.kill("SIGTERM")
      await exited
    }
  }
}

/**
 * The ceiling: a bare node:http server in a child process of its own (as fm runs), answering
 * every request with `status`, `headers` and `body`, from memory; its URL is the root.
 */
export const bareServer = async (body: Uint8Array, headers: Record<string, string>, status = 200): Promise<Server> => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fm-bench-bare-")), "body")
  fs.writeFileSync(file, body)
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), "bare.ts")
  const child = spawn(process.execPath, ["--import", "tsx", script, file, JSON.stringify(headers), String(status)], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  const exited = new Promise((r) => child.once("exit", r))
  const listening = await listeningUrlOf(child)
  return {
    url: `${listening}/`,
    pid: child.pid!,
    stop: async () => {
      child.kill("SIGTERM")
      await exited
      fs.rmSync(path.dirname(file), { recursive: true, force: true })
    }
  }
}

/**
 * CPU time (user + system, all threads) a process has used, in ms: what a server spends per
 * request does not depend on how busy the machine is, unlike the request rate.
 */
export const cpuMs = (pid: number): number => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return (Number(fields[11]) + Number(fields[12])) * (1000 / 100) // clock ticks of 10 ms
}

/** Peak resident memory of a process (VmHWM), MiB; NaN when it cannot be read. */
export const peakRssMb = (pid: number): number => {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const m = /VmHWM:\s+(\d+) kB/.exec(status)
    return m ? Number(m[1]) / 1024 : NaN
  } catch {
    return NaN
  }
}
