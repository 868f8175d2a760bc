/**
 * A hostile registry stand-in on 127.0.0.1 (node:http) serving ONE package version, for tests of
 * what `fm` does when a registry misbehaves on purpose: bodies that stall mid-way, never end, lie
 * about their length or are far too large, archives that do not match what was asked for, and
 * strings laced with terminal escape codes. Also runs the built `fm` under a pseudo-terminal
 * (`script -qec`) so tests can assert on the exact bytes a terminal would receive.
 */
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { fmBin, fmEnv, type FmOptions, type FmResult, waitForExit } from "./cli.js"

/** How the download (or a JSON answer) misbehaves. */
export type BodyMode =
  /** The real bytes, with a correct Content-Length. */
  | "normal"
  /** Headers with the real Content-Length, `stallAfter` bytes, then silence (the socket stays open). */
  | "stall"
  /** No Content-Length, bytes forever (until the client goes away). */
  | "endless"
  /** Content-Length: 10 GiB, then bytes forever. */
  | "lying-length"

/** Options of {@link startHostile}. */
export interface HostileOptions {
  readonly name: string
  readonly version: string
  /** The archive served by the download (its SHA-256 is announced as the checksum). */
  readonly archive: Uint8Array
  /** Fields merged over the package info (description, author, ... e.g. laced with escape codes). */
  readonly info?: Readonly<Record<string, unknown>>
  /** The download's behaviour; default `normal`. */
  readonly download?: BodyMode
  /** Package info and version answers: `stall` (half the JSON, then silence) or `huge` (`hugeBytes` of JSON). */
  readonly metadata?: "normal" | "stall" | "huge"
  /** Health answers: `huge` (`hugeBytes` of JSON). */
  readonly health?: "normal" | "huge"
  /** Search answers: `huge` (`hugeBytes` of JSON). */
  readonly search?: "normal" | "huge"
  /** Size of a `huge` answer; default 20 MiB. */
  readonly hugeBytes?: number
  /** Bytes sent before a `stall` stops; default 10. */
  readonly stallAfter?: number
  /**
   * Answer the download with this status and `{detail}` instead (e.g. 403 with escape codes); with
   * `download: "endless"`, the status and then a JSON body that never ends.
   */
  readonly downloadError?: { readonly status: number; readonly detail: string }
}

/** A running hostile registry. */
export interface Hostile {
  readonly url: string
  /** Bytes of download bodies written to clients so far. */
  readonly downloadBytesSent: () => number
  readonly stop: () => Promise<void>
}

const API = "/api/v1/registry"
const GiB = 1024 * 1024 * 1024

/** Starts a hostile registry on 127.0.0.1 (random port). */
export const startHostile = (options: HostileOptions): Promise<Hostile> => {
  let base = ""
  let sent = 0
  const sha = crypto.createHash("sha256").update(options.archive).digest("hex")
  const info = () => ({
    name: options.name,
    version: options.version,
    description: "a package",
    author: "someone",
    author_email: null,
    license: "MIT",
    category: "tools",
    tags: ["one"],
    homepage: null,
    repository: null,
    downloads: 0,
    checksum: sha,
    size_bytes: options.archive.length,
    components: ["main"],
    component_count: 1,
    available_versions: [options.version],
    latest_version: options.version,
    published_at: "2025-03-01T10:00:00Z",
    dependencies: {},
    yanked: false,
    download_url: `${base}${API}/packages/${options.name}/${options.version}/download`,
    ...options.info
  })

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body)
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
    res.end(text)
  }

  /** Writes `chunk` again and again while the client reads (stops when it goes away). */
  const forever = (res: http.ServerResponse, chunk: Buffer, onWrite: (n: number) => void = () => {}) => {
    let open = true
    res.on("close", () => (open = false))
    const pump = () => {
      while (open) {
        onWrite(chunk.length)
        if (!res.write(chunk)) return void res.once("drain", pump)
      }
    }
    pump()
  }

  /** A JSON document of about `size` bytes: `prefix`, then padding inside a string, then `suffix`. */
  const huge = (res: http.ServerResponse, prefix: string, suffix: string) => {
    const size = options.hugeBytes ?? 20 * 1024 * 1024
    res.writeHead(200, { "content-type": "application/json", "content-length": size })
    const pad = size - Buffer.byteLength(prefix) - Buffer.byteLength(suffix)
    res.write(prefix)
    const block = Buffer.alloc(64 * 1024, "a")
    let left = pad
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, block.length)
        left -= n
        if (!res.write(block.subarray(0, n))) return void res.once("drain", pump)
      }
      res.end(suffix)
    }
    pump()
  }

  const metadata = (res: http.ServerResponse, body: unknown) => {
    if (options.metadata === "huge") {
      const text = JSON.stringify(body)
      return huge(res, `${text.slice(0, -1)},"padding":"`, "\"}")
    }
    if (options.metadata === "stall") {
      const text = JSON.stringify(body)
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
      res.write(text.slice(0, Math.floor(text.length / 2)))
      return
    }
    send(res, 200, body)
  }

  const download = (res: http.ServerResponse) => {
    if (options.downloadError !== undefined) {
      if (options.download === "endless") {
        res.writeHead(options.downloadError.status, { "content-type": "application/json" })
        res.write("{\"detail\":\"")
        return forever(res, Buffer.alloc(64 * 1024, "x"))
      }
      return send(res, options.downloadError.status, { detail: options.downloadError.detail })
    }
    const bytes = Buffer.from(options.archive)
    const count = (n: number) => (sent += n)
    switch (options.download ?? "normal") {
      case "normal":
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length })
        count(bytes.length)
        return res.end(bytes)
      case "stall": {
        const n = Math.min(options.stallAfter ?? 10, bytes.length)
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length })
        count(n)
        return res.write(bytes.subarray(0, n))
      }
      case "endless":
        res.writeHead(200, { "content-type": "application/octet-stream" })
        return forever(res, crypto.randomBytes(64 * 1024), count)
      case "lying-length":
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": 10 * GiB })
        return forever(res, crypto.randomBytes(64 * 1024), count)
    }
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x")
    const p = url.pathname.startsWith(API) ? url.pathname.slice(API.length) : ""
    const segs = p.split("/").filter((s) => s !== "").map(decodeURIComponent)
    if (p === "/health") {
      if (options.health === "huge") return huge(res, "{\"status\":\"healthy\",\"registry_name\":\"", "\"}")
      return send(res, 200, {
        status: "healthy",
        registry_name: "hostile",
        version: "1.0.0",
        packages_count: 1,
        components_count: 0
      })
    }
    if (p === "/packages/search") {
      if (options.search === "huge") {
        return huge(res, "{\"packages\":[],\"total_count\":0,\"page\":1,\"page_size\":20,\"query\":\"", "\"}")
      }
      return send(res, 200, {
        packages: [info()],
        total_count: 1,
        page: 1,
        page_size: 20,
        query: url.searchParams.get("q") ?? ""
      })
    }
    const [first, name, version, action] = segs
    if (first !== "packages" || name !== options.name) return send(res, 404, { detail: "Not Found" })
    if (version === undefined) return metadata(res, info())
    if (version === "versions" && action === undefined) {
      const i = info()
      return metadata(res, {
        name: options.name,
        versions: [options.version],
        latest_version: options.version,
        releases: [{
          version: options.version,
          yanked: false,
          yank_reason: null,
          published_at: i.published_at,
          checksum: i.checksum,
          size_bytes: i.size_bytes,
          downloads: 0,
          download_url: i.download_url,
          dependencies: {}
        }]
      })
    }
    if (version !== options.version) return send(res, 404, { detail: "Not Found" })
    if (action === undefined) return metadata(res, info())
    if (action === "download") return download(res)
    send(res, 404, { detail: "Not Found" })
  })

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      base = `http://127.0.0.1:${port}`
      resolve({
        url: base,
        downloadBytesSent: () => sent,
        stop: () =>
          new Promise<void>((r) => {
            server.closeAllConnections()
            server.close(() => r())
          })
      })
    })
  })
}

/** A string quoted for `sh -c`. */
const shellQuote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`

/** What a run under a pseudo-terminal produced: every byte the terminal got (stdout and stderr interleaved). */
export interface PtyResult extends Omit<FmResult, "stdout" | "stderr"> {
  readonly screen: Buffer
}

/**
 * Runs the built `fm` under a pseudo-terminal (`script -qec CMD /dev/null`): stdout and stderr are
 * TTYs, so `fm` behaves as in a terminal. `NO_COLOR` is unset unless `env` sets it. `keys` are typed
 * into the terminal (e.g. `"\x03"`, Ctrl-C) once `keysWhen` is true of the output so far.
 */
export const runFmPty = async (
  args: ReadonlyArray<string>,
  options: FmOptions & { readonly keys?: string; readonly keysWhen?: (screen: string) => boolean }
): Promise<PtyResult> => {
  const started = performance.now()
  const env = fmEnv({ ...options, env: { NO_COLOR: undefined, TERM: "xterm-256color", ...options.env } })
  const command = [process.execPath, fmBin(), ...args].map(shellQuote).join(" ")
  const child = spawn("script", ["-qec", command, "/dev/null"], {
    cwd: options.cwd ?? options.home,
    env,
    stdio: ["pipe", "pipe", "pipe"]
  })
  const chunks: Array<Buffer> = []
  let typed = false
  child.stdout!.on("data", (d: Buffer) => {
    chunks.push(d)
    if (
      !typed && options.keys !== undefined && (options.keysWhen?.(Buffer.concat(chunks).toString("latin1")) ?? true)
    ) {
      typed = true
      child.stdin!.write(options.keys)
    }
  })
  child.stderr!.on("data", (d: Buffer) => chunks.push(d))
  const exited = waitForExit(child, started, options.timeoutMs ?? 30_000)
  if (options.keys === undefined) child.stdin!.end()
  const done = await exited // after the child closed: all output is in
  return { screen: Buffer.concat(chunks), ...done }
}
