/**
 * A stand-in registry server on 127.0.0.1 (node:http), for client tests. Two dialects:
 * - `fm`: our API as defined in src/api (absolute download_url, a working `/versions`, ISO dates).
 * - `flowmason`: the existing FlowMason server WITH its bugs (relative download_url, `/versions`
 *   answering 404 `Package 'x@versions' not found`, "latest" by filename order, `published_at`
 *   without timezone, `author` a string, `components: [""]`). It lists `available_versions` and one
 *   search entry per name, which the original does not: `original-server.ts` is the faithful one.
 * Knobs for failure tests: a required token, tampered download bytes, a download URL on another
 * server, a download that breaks off mid-transfer, a path prefix. Every request is logged with its
 * headers.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as tar from "tar"

/** A package version the stand-in serves. */
export interface StandInPackage {
  readonly name: string
  readonly version: string
  readonly bytes: Uint8Array
  readonly description?: string
  readonly category?: string
  readonly yanked?: boolean
  readonly publishedAt?: string
}

/** A logged request. */
export interface LoggedRequest {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
}

/** Options of {@link startStandIn}. */
export interface StandInOptions {
  readonly dialect?: "fm" | "flowmason"
  readonly packages?: ReadonlyArray<StandInPackage>
  /** Registry name reported by health. */
  readonly registryName?: string
  /** Every request needs `Authorization: Bearer <token>` (else 401). */
  readonly token?: string
  /** `name@version`s whose download serves different bytes than their checksum says. */
  readonly tamper?: ReadonlyArray<string>
  /** Base URL (another server) for download_url instead of this one. */
  readonly downloadBase?: string
  /** `name@version`s whose first N downloads break off halfway. */
  readonly breakDownloads?: Readonly<Record<string, number>>
  /** Mount everything below this path (e.g. `/prefix`). */
  readonly prefix?: string
  /** Answer every request with this status (e.g. 503). */
  readonly failAll?: number
  /** Accept uploads (multipart `file` + `checksum`). */
  readonly acceptUploads?: boolean
}

/** A running stand-in. */
export interface StandIn {
  /** Base URL (with the prefix). */
  readonly url: string
  readonly port: number
  readonly log: Array<LoggedRequest>
  readonly packages: Array<StandInPackage>
  readonly stop: () => Promise<void>
}

const API = "/api/v1/registry"

const sha = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex")
const norm = (n: string) => n.toLowerCase().replace(/[-_.]+/g, "-")

const cmpSemver = (a: string, b: string): number => {
  const pa = a.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x))
  const pb = b.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x))
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i]
    const y = pb[i]
    if (x === y) continue
    if (x === undefined) return 1
    if (y === undefined) return -1
    if (typeof x === "number" && typeof y === "number") return x - y
    return String(x) < String(y) ? -1 : 1
  }
  return 0
}

/** Starts a stand-in registry on 127.0.0.1 (random port). */
export const startStandIn = (options: StandInOptions = {}): Promise<StandIn> => {
  const dialect = options.dialect ?? "fm"
  const packages: Array<StandInPackage> = [...(options.packages ?? [])]
  const log: Array<LoggedRequest> = []
  const prefix = options.prefix ?? ""
  const breaks = new Map(Object.entries(options.breakDownloads ?? {}))
  let base = ""

  const versionsOf = (name: string) => packages.filter((p) => norm(p.name) === norm(name))

  const info = (p: StandInPackage) => {
    const all = versionsOf(p.name).map((x) => x.version)
    const publishedAt = p.publishedAt ?? "2025-03-01T10:00:00"
    const downloadPath = `${API}/packages/${p.name}/${p.version}/download`
    const common = {
      name: p.name,
      version: p.version,
      description: p.description ?? `${p.name} package`,
      checksum: sha(p.bytes),
      size_bytes: p.bytes.length,
      tags: [],
      category: p.category ?? null,
      license: "MIT",
      homepage: null,
      repository: null,
      downloads: 0,
      available_versions: all
    }
    if (dialect === "flowmason") {
      return {
        ...common,
        author: "Jane Doe",
        author_email: null,
        download_url: options.downloadBase !== undefined ? `${options.downloadBase}${downloadPath}` : downloadPath,
        components: [""],
        component_count: 0,
        published_at: publishedAt.replace(/Z$/, ""),
        latest_version: [...all].sort().at(-1) ?? p.version
      }
    }
    return {
      ...common,
      author: null,
      author_email: null,
      download_url: `${options.downloadBase ?? base}${downloadPath}`,
      components: ["main"],
      component_count: 1,
      published_at: publishedAt.endsWith("Z") ? publishedAt : `${publishedAt}Z`,
      latest_version:
        [...all].filter((v) => !versionsOf(p.name).find((x) => x.version === v)?.yanked).sort(cmpSemver).at(-1) ?? null,
      dependencies: {},
      yanked: p.yanked ?? false
    }
  }

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body)
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
    res.end(text)
  }

  const server = http.createServer((req, res) => {
    log.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers })
    void handle(req, res).catch((e) => {
      if (!res.headersSent) send(res, 500, { detail: String(e) })
      else res.destroy()
    })
  })

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (options.failAll !== undefined) return send(res, options.failAll, { detail: "failing on purpose" })
    const url = new URL(req.url ?? "/", "http://x")
    let p = url.pathname
    if (prefix !== "") {
      if (!p.startsWith(`${prefix}/`)) return send(res, 404, { detail: "Not Found (outside prefix)" })
      p = p.slice(prefix.length)
    }
    if (!p.startsWith(API)) return send(res, 404, { detail: "Not Found" })
    p = p.slice(API.length)
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}` && p !== "/health") {
      return send(res, 401, { detail: "Invalid or missing token" })
    }
    const segs = p.split("/").filter((s) => s !== "").map((s) => decodeURIComponent(s))
    if (req.method === "GET" && p === "/health") {
      return send(res, 200, {
        status: "healthy",
        registry_name: options.registryName ?? "stand-in",
        version: "1.0.0",
        packages_count: packages.length,
        components_count: 0
      })
    }
    if (req.method === "GET" && p === "/packages/search") {
      const q = (url.searchParams.get("q") ?? "").toLowerCase()
      const cat = url.searchParams.get("category")
      const hits = [...new Set(packages.map((x) => norm(x.name)))]
        .map((n) => {
          const vs = versionsOf(n).filter((x) => !x.yanked).sort((a, b) => cmpSemver(a.version, b.version))
          return vs.at(-1)
        })
        .filter((x): x is StandInPackage => x !== undefined)
        .filter((x) => x.name.includes(q) || (x.description ?? "").toLowerCase().includes(q))
        .filter((x) => cat === null || x.category === cat)
      return send(res, 200, { packages: hits.map(info), total_count: hits.length, page: 1, page_size: 20, query: q })
    }
    if (req.method === "POST" && p === "/packages/upload") {
      if (options.acceptUploads !== true) return send(res, 403, { detail: "uploads are disabled" })
      const chunks: Array<Buffer> = []
      for await (const c of req) chunks.push(c as Buffer)
      const form = await new Response(Buffer.concat(chunks), {
        headers: { "content-type": req.headers["content-type"] ?? "" }
      }).formData()
      const file = form.get("file")
      if (!(file instanceof Blob)) return send(res, 400, { detail: "missing file" })
      const bytes = new Uint8Array(await file.arrayBuffer())
      const sum = form.get("checksum")
      if (typeof sum === "string" && sum !== sha(bytes)) return send(res, 400, { detail: "checksum mismatch" })
      const fname = (file as File).name
      const m = /^(.+)-(\d+\.\d+\.\d+[^/]*)\.fmpkg$/.exec(fname)
      if (m === null) return send(res, 400, { detail: `bad file name ${fname}` })
      if (packages.some((x) => x.name === m[1] && x.version === m[2])) {
        return send(res, 409, { detail: `Package ${m[1]}@${m[2]} already exists` })
      }
      const pkg: StandInPackage = { name: m[1]!, version: m[2]!, bytes }
      packages.push(pkg)
      return send(res, 201, info(pkg))
    }
    if (req.method !== "GET" || segs[0] !== "packages") return send(res, 404, { detail: "Not Found" })
    const [, name, version, action] = segs
    if (name === undefined) return send(res, 404, { detail: "Not Found" })
    const all = versionsOf(name)
    if (version === undefined) {
      if (all.length === 0) return send(res, 404, { detail: `Package '${name}' not found` })
      const latest = dialect === "flowmason"
        ? [...all].sort((a, b) => (a.version < b.version ? -1 : 1)).at(-1)! // filename order: the bug
        : [...all].filter((x) => !x.yanked).sort((a, b) => cmpSemver(a.version, b.version)).at(-1) ?? all[0]!
      return send(res, 200, info(latest))
    }
    if (version === "versions" && action === undefined) {
      if (dialect === "flowmason") return send(res, 404, { detail: `Package '${name}@versions' not found` })
      if (all.length === 0) return send(res, 404, { detail: `Package '${name}' not found` })
      const sorted = [...all].sort((a, b) => cmpSemver(a.version, b.version))
      return send(res, 200, {
        name: all[0]!.name,
        versions: sorted.map((x) => x.version),
        latest_version: sorted.filter((x) => !x.yanked).at(-1)?.version ?? null,
        releases: sorted.map((x) => ({
          version: x.version,
          yanked: x.yanked ?? false,
          yank_reason: x.yanked === true ? "broken" : null,
          published_at: info(x).published_at,
          checksum: sha(x.bytes),
          size_bytes: x.bytes.length,
          downloads: 0,
          download_url: info(x).download_url,
          dependencies: {}
        }))
      })
    }
    const pkg = all.find((x) => x.version === version)
    if (pkg === undefined) return send(res, 404, { detail: `Package '${name}@${version}' not found` })
    if (action === undefined) return send(res, 200, info(pkg))
    if (action !== "download") return send(res, 404, { detail: "Not Found" })
    const key = `${pkg.name}@${pkg.version}`
    let bytes = Buffer.from(pkg.bytes)
    if (options.tamper?.includes(key)) {
      bytes = Buffer.from(bytes)
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff
    }
    const remaining = breaks.get(key) ?? 0
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length })
    if (remaining > 0) {
      breaks.set(key, remaining - 1)
      res.write(bytes.subarray(0, Math.floor(bytes.length / 2)))
      setTimeout(() => res.destroy(), 20)
      return
    }
    res.end(bytes)
  }

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      base = `http://127.0.0.1:${port}${prefix}`
      resolve({
        url: base,
        port,
        log,
        packages,
        stop: () =>
          new Promise<void>((r) => {
            server.closeAllConnections()
            server.close(() => r())
          })
      })
    })
  })
}

/** A port on 127.0.0.1 with nothing listening (bound, then closed). */
export const closedPort = async (): Promise<number> => {
  const s = http.createServer()
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

/**
 * Builds a real `.fmpkg` (gzip tar with `manifest.json` at the root and one component file),
 * padded with `padBytes` of incompressible data. Returns its bytes.
 */
export const makeFmpkg = async (
  name: string,
  version: string,
  options: { readonly padBytes?: number; readonly description?: string } = {}
): Promise<Uint8Array> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-pkg-"))
  try {
    const src = path.join(dir, "src")
    fs.mkdirSync(path.join(src, "components"), { recursive: true })
    fs.writeFileSync(
      path.join(src, "manifest.json"),
      JSON.stringify(
        {
          name,
          version,
          description: options.description ?? `${name} for tests`,
          author: "Test Author",
          license: "MIT",
          dependencies: {},
          components: ["components/main.py"]
        },
        null,
        2
      )
    )
    fs.writeFileSync(path.join(src, "components", "main.py"), `# ${name} ${version}\n`)
    if ((options.padBytes ?? 0) > 0) {
      fs.writeFileSync(path.join(src, "components", "data.bin"), crypto.randomBytes(options.padBytes!))
    }
    const out = path.join(dir, "out.fmpkg")
    await tar.create({ gzip: true, file: out, cwd: src, portable: true }, ["manifest.json", "components"])
    return new Uint8Array(fs.readFileSync(out))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** SHA-256 hex of bytes. */
export const sha256 = sha

/** Writes a registries.json into `home`. */
export const writeRegistries = (
  home: string,
  registries: ReadonlyArray<Record<string, unknown>>
): void => {
  fs.mkdirSync(home, { recursive: true })
  fs.writeFileSync(path.join(home, "registries.json"), JSON.stringify({ registries }, null, 2))
}
