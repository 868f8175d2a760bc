/**
 * A stand-in for the ORIGINAL FlowMason Studio registry router (FastAPI, `flowmason_studio`
 * `api/routes/registry.py`), on 127.0.0.1 with real `.fmpkg` (ZIP) files in a directory on disk,
 * `<dir>/<name>-<version>.fmpkg`, read back on every request as the original does. It keeps the
 * original's behaviour, bugs included:
 * - routes are matched in the original's declaration order, so `GET packages/{name}/versions` is
 *   answered by `packages/{name}/{version}`: 404 `{"detail": "Package 'base@versions' not found"}`;
 * - `GET packages/search` lists ONE entry per stored file (so `q=base` returns base 1.0.0 and base
 *   1.2.0), matching `q` as a substring of name, description and tags, paged by `page` (>= 1) and
 *   `page_size` (1..100, else 422) as `[(page-1)*page_size, page*page_size)`, `total_count` all hits;
 * - package answers carry no `dependencies` (they live only in the archive's manifest), no
 *   `available_versions` (empty) and `latest_version` = the answer's own version;
 * - "latest" (`GET packages/{name}`) is the last of the files matching `{name}-*.fmpkg` in reverse
 *   filename order: `base-1.9.0` beats `base-1.10.0`, and `base-extra-1.0.0` beats `base-1.2.0`;
 * - `download_url` is relative (`/api/v1/registry/packages/{name}/{version}/download`);
 * - `published_at` is the file's mtime as a naive local time (the stand-in's zone is UTC);
 * - `components` is `[""]` when the manifest lists none.
 * Every request is logged (method and URL).
 */
import { Schema } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { buildZip } from "./archives.js"

/** A package to store: its manifest fields and when it was "published" (the file's mtime). */
export interface OriginalPackage {
  readonly name: string
  readonly version: string
  /** Registry dependencies written into the archive's `manifest.json` (absent when undefined). */
  readonly dependencies?: Readonly<Record<string, string>>
  readonly description?: string
  /** The file's mtime (default 2025-03-01T10:00:00Z). */
  readonly publishedAt?: Date
}

/** A running stand-in of the original server. */
export interface OriginalServer {
  /** Base URL (what a user puts in registries.json). */
  readonly url: string
  /** The directory holding the `.fmpkg` files. */
  readonly dir: string
  /** Every request: method and URL as received. */
  readonly log: Array<{ readonly method: string; readonly url: string }>
  /** Stores another archive (as an upload would). */
  readonly add: (pkg: OriginalPackage) => void
  /** The stored archive of `name@version`. */
  readonly archive: (name: string, version: string) => Buffer
  readonly stop: () => Promise<void>
}

/** The `.fmpkg` (ZIP, as FlowMason's `fm pack` writes) of a package: `manifest.json` and one pipeline. */
export const originalArchive = (pkg: OriginalPackage): Buffer =>
  buildZip([
    {
      name: "manifest.json",
      data: JSON.stringify(
        {
          name: pkg.name,
          version: pkg.version,
          description: pkg.description ?? `${pkg.name} ${pkg.version}`,
          author: "Jane Doe",
          license: "MIT",
          ...(pkg.dependencies === undefined ? {} : { dependencies: pkg.dependencies })
        },
        null,
        2
      )
    },
    { name: "pipelines/main.pipeline.json", data: `{"stages":[],"version":"${pkg.version}"}` }
  ])

/** Reads `manifest.json` out of a ZIP (central directory, stored or deflated), as `ZipFile.read` does. */
const zipManifest = (zip: Buffer): Record<string, unknown> => {
  let end = -1
  for (let i = zip.length - 22; i >= 0 && i >= zip.length - 22 - 65535; i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      end = i
      break
    }
  }
  if (end < 0) throw new Error("not a zip file")
  const count = zip.readUInt16LE(end + 10)
  let at = zip.readUInt32LE(end + 16)
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error("bad central directory")
    const method = zip.readUInt16LE(at + 10)
    const compressed = zip.readUInt32LE(at + 20)
    const nameLen = zip.readUInt16LE(at + 28)
    const extraLen = zip.readUInt16LE(at + 30)
    const commentLen = zip.readUInt16LE(at + 32)
    const local = zip.readUInt32LE(at + 42)
    const name = zip.subarray(at + 46, at + 46 + nameLen).toString("utf8")
    if (name === "manifest.json") {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28)
      const data = zip.subarray(start, start + compressed)
      const text = (method === 8 ? zlib.inflateRawSync(data) : data).toString("utf8")
      return Schema.decodeUnknownSync(Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.Unknown })))(
        text
      )
    }
    at += 46 + nameLen + extraLen + commentLen
  }
  throw new Error("Package missing manifest.json")
}

/**
 * Python's naive `datetime.isoformat()` (no timezone; microseconds only when non-zero) of the
 * server's local time, the stand-in's local zone being UTC whatever this machine's is.
 */
const naiveIso = (d: Date): string => {
  const p = (n: number, w = 2) => String(n).padStart(w, "0")
  const base = `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(d.getUTCHours())}:${
    p(d.getUTCMinutes())
  }:${p(d.getUTCSeconds())}`
  return d.getUTCMilliseconds() === 0 ? base : `${base}.${p(d.getUTCMilliseconds() * 1000, 6)}`
}

interface Stored {
  readonly file: string
  readonly manifest: Record<string, unknown>
  readonly checksum: string
  readonly size: number
  readonly mtime: Date
}

const API = "/api/v1/registry"

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined)

/** Starts the stand-in on 127.0.0.1 (random port), storing archives under `dir` (created). */
export const startOriginalServer = (dir: string, packages: ReadonlyArray<OriginalPackage>): Promise<OriginalServer> => {
  fs.mkdirSync(dir, { recursive: true })
  const log: Array<{ readonly method: string; readonly url: string }> = []
  const add = (pkg: OriginalPackage) => {
    const file = path.join(dir, `${pkg.name}-${pkg.version}.fmpkg`)
    fs.writeFileSync(file, originalArchive(pkg))
    const t = pkg.publishedAt ?? new Date("2025-03-01T10:00:00Z")
    fs.utimesSync(file, t, t)
  }
  for (const p of packages) add(p)

  const load = (file: string): Stored | undefined => {
    try {
      const bytes = fs.readFileSync(file)
      return {
        file,
        manifest: zipManifest(bytes),
        checksum: crypto.createHash("sha256").update(bytes).digest("hex"),
        size: bytes.length,
        mtime: fs.statSync(file).mtime
      }
    } catch {
      return undefined // the original skips files it cannot read
    }
  }
  /** `list_stored_packages`: every `*.fmpkg`, in directory order. */
  const listStored = (): Array<Stored> =>
    fs.readdirSync(dir).filter((f) => f.endsWith(".fmpkg")).flatMap((f) => {
      const s = load(path.join(dir, f))
      return s === undefined ? [] : [s]
    })
  /** `get_stored_package`: `{name}-{version}.fmpkg`, or the reverse-filename-sorted first of `{name}-*.fmpkg`. */
  const getStored = (name: string, version?: string): Stored | undefined => {
    const files = fs.readdirSync(dir)
    let matches = version !== undefined
      ? files.filter((f) => f === `${name}-${version}.fmpkg`)
      : files.filter((f) => f.startsWith(`${name}-`) && f.endsWith(".fmpkg"))
    if (matches.length === 0) matches = files.filter((f) => f === `${name}.fmpkg`)
    if (matches.length === 0) return undefined
    const full = matches.map((f) => path.join(dir, f))
    const chosen = version !== undefined
      ? full.find((f) => f.includes(`-${version}.fmpkg`))
      : [...full].sort().reverse()[0]
    return chosen === undefined ? undefined : load(chosen)
  }
  /** The original's `PackageInfo` (no dependencies, no available_versions). */
  const packageInfo = (s: Stored, urlName: string, urlVersion: string | undefined) => {
    const m = s.manifest
    const version = str(m.version) ?? urlVersion ?? "1.0.0"
    const components = Array.isArray(m.components) ? m.components.map(String) : [str(m.component_type) ?? ""]
    return {
      name: str(m.name) ?? urlName,
      version,
      description: str(m.description) ?? "",
      author: str(m.author) ?? null,
      author_email: str(m.author_email) ?? null,
      download_url: `${API}/packages/${urlName}/${urlVersion ?? version}/download`,
      checksum: s.checksum,
      size_bytes: s.size,
      components,
      component_count: components.length,
      tags: Array.isArray(m.tags) ? m.tags.map(String) : [],
      category: str(m.category) ?? null,
      license: str(m.license) ?? null,
      homepage: str(m.homepage) ?? null,
      repository: str(m.repository) ?? null,
      published_at: naiveIso(s.mtime),
      downloads: 0,
      available_versions: [],
      latest_version: version
    }
  }

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body)
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
    res.end(text)
  }
  const intParam = (url: URL, key: string, dflt: number, min: number, max: number): number | string => {
    const raw = url.searchParams.get(key)
    if (raw === null) return dflt
    const n = Number(raw)
    if (!/^-?\d+$/.test(raw)) return `${key}: Input should be a valid integer`
    if (n < min) return `${key}: Input should be greater than or equal to ${min}`
    if (n > max) return `${key}: Input should be less than or equal to ${max}`
    return n
  }

  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x")
    if (!url.pathname.startsWith(`${API}/`)) return send(res, 404, { detail: "Not Found" })
    const segs = url.pathname.slice(API.length + 1).split("/").map((s) => decodeURIComponent(s))
    const method = req.method ?? "GET"
    // routes in the original's declaration order
    if (method === "GET" && segs.length === 1 && segs[0] === "health") {
      const all = listStored()
      return send(res, 200, {
        status: "healthy",
        registry_name: "FlowMason Studio Registry",
        version: "1.0.0",
        packages_count: all.length,
        components_count: all.length
      })
    }
    if (method === "GET" && segs.length === 2 && segs[0] === "packages" && segs[1] === "search") {
      const page = intParam(url, "page", 1, 1, Number.MAX_SAFE_INTEGER)
      const pageSize = intParam(url, "page_size", 20, 1, 100)
      if (typeof page === "string" || typeof pageSize === "string") {
        return send(res, 422, { detail: [{ type: "query", msg: typeof page === "string" ? page : pageSize }] })
      }
      const q = url.searchParams.get("q") ?? ""
      const category = url.searchParams.get("category")
      const matching = listStored().filter((s) => {
        const m = s.manifest
        const tags = Array.isArray(m.tags) ? m.tags.map(String).join(" ") : ""
        const searchable = [str(m.name) ?? "", str(m.description) ?? "", tags].join(" ").toLowerCase()
        if (q !== "" && !searchable.includes(q.toLowerCase())) return false
        return category === null || category === "" || m.category === category
      })
      const start = (page - 1) * pageSize
      const items = matching.slice(start, start + pageSize).map((s) => {
        const info = packageInfo(s, str(s.manifest.name) ?? "", undefined)
        return { ...info, download_url: `${API}/packages/${info.name}/${info.version}/download` }
      })
      return send(res, 200, { packages: items, total_count: matching.length, page, page_size: pageSize, query: q })
    }
    if (method === "GET" && segs.length === 2 && segs[0] === "packages") {
      const name = segs[1] ?? ""
      const s = getStored(name)
      if (s === undefined) return send(res, 404, { detail: `Package '${name}' not found` })
      return send(res, 200, packageInfo(s, name, undefined))
    }
    if (method === "GET" && segs.length === 3 && segs[0] === "packages") {
      // also answers packages/{name}/versions (declared later, never reached)
      const [, name = "", version = ""] = segs
      const s = getStored(name, version)
      if (s === undefined) return send(res, 404, { detail: `Package '${name}@${version}' not found` })
      return send(res, 200, packageInfo(s, name, version))
    }
    if (method === "GET" && segs.length === 4 && segs[0] === "packages" && segs[3] === "download") {
      const [, name = "", version = ""] = segs
      const s = getStored(name, version)
      if (s === undefined) return send(res, 404, { detail: `Package '${name}@${version}' not found` })
      const bytes = fs.readFileSync(s.file)
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": bytes.length,
        "content-disposition": `attachment; filename="${name}-${version}.fmpkg"`
      })
      return res.end(bytes)
    }
    if (segs[0] === "packages" && segs.length >= 2 && segs.length <= 4) {
      return send(res, 405, { detail: "Method Not Allowed" })
    }
    return send(res, 404, { detail: "Not Found" })
  }

  const server = http.createServer((req, res) => {
    log.push({ method: req.method ?? "", url: req.url ?? "" })
    try {
      handle(req, res)
    } catch (e) {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "text/plain" })
        res.end("Internal Server Error")
      } else {
        res.destroy(e instanceof Error ? e : undefined)
      }
    }
  })
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? (address satisfies AddressInfo).port : 0
      resolve({
        url: `http://127.0.0.1:${port}`,
        dir,
        log,
        add,
        archive: (name, version) => fs.readFileSync(path.join(dir, `${name}-${version}.fmpkg`)),
        stop: () =>
          new Promise<void>((r) => {
            server.closeAllConnections()
            server.close(() => r())
          })
      })
    })
  })
}
