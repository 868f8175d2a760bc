/**
 * Hot read paths answered straight from `node:http`, before the HttpApi router: anonymous `GET`
 * of package info, search and whole-archive download on a public registry. They send exactly the
 * bytes and headers the HttpApi handlers send (same body builders, same headers), and take a
 * request only when its answer is a plain success; anything else (a token, `Range`,
 * `If-None-Match`, bad parameters, not found, a store failure, a private registry) is passed on
 * untouched to the HttpApi app, which answers it as before.
 *
 * Why: the HttpApi pipeline (router, schema decoding, security middleware, fibers per stage)
 * costs far more CPU per request than the database lookup behind these reads.
 * @since 0.1.0
 */
import { Cause, Effect, Exit, Option } from "effect"
import type { IncomingMessage, ServerResponse } from "node:http"
import { Server } from "node:http"
import type { Unauthorized, Unavailable } from "../api/ApiErrors.js"
import { toWire } from "../api/ApiErrors.js"
import { API_PREFIX } from "../api/RegistryApi.js"
import { scopeIncludes } from "./Auth.js"
import { boundaryOf } from "./FormBody.js"
import { outOfBounds } from "./SearchQuery.js"
import * as Upload from "./Upload.js"
import type { BlobStoreService } from "./BlobStore.js"
import { sha256Hex } from "../shared/Checksum.js"
import { etagMatches } from "./Handlers.js"
import { baseUrlFromHeaders, downloadHeaders, infoBody, searchBody } from "./WireBodies.js"
import type { PackageStoreService, TokenRow } from "./PackageStore.js"
import type { ServerOptions } from "./ServerConfig.js"

/**
 * Takes a request (`true`: it will answer it, or call `next` to hand it on) or declines (`false`).
 * @since 0.1.0
 * @category models
 */
export type HotPath = (req: IncomingMessage, res: ServerResponse, next: () => void) => boolean

/** Archives up to this size are read in one go and sent with one write. */
const READ_WHOLE_LIMIT = 2 * 1024 * 1024
/** Archives up to this size are kept in memory once read, up to this many bytes in all. */
const ARCHIVE_CACHE_ENTRY = 256 * 1024
const ARCHIVE_CACHE_BYTES = 32 * 1024 * 1024

/**
 * Least-recently-used archive bytes by SHA-256, bounded in total bytes; larger archives are not kept.
 * @since 0.1.0
 * @category models
 */
export class ArchiveCache {
  private readonly entries = new Map<string, Buffer>()
  private bytes = 0
  constructor(readonly maxBytes: number, readonly maxEntryBytes: number) {}
  /**
   * The bytes of `sha256`, if kept (and marks them recently used).
   * @since 0.1.0
   */
  get(sha256: string): Buffer | undefined {
    const hit = this.entries.get(sha256)
    if (hit !== undefined) {
      this.entries.delete(sha256)
      this.entries.set(sha256, hit)
    }
    return hit
  }
  /**
   * Keeps `bytes` (unless too large), dropping the least recently used beyond the budget.
   * @since 0.1.0
   */
  set(sha256: string, bytes: Buffer): void {
    if (bytes.length > this.maxEntryBytes || this.entries.has(sha256)) return
    this.entries.set(sha256, bytes)
    this.bytes += bytes.length
    for (const [key, value] of this.entries) {
      if (this.bytes <= this.maxBytes) break
      this.entries.delete(key)
      this.bytes -= value.length
    }
  }
  /** Bytes held. */
  get size(): number {
    return this.bytes
  }
}
const PACKAGES = `${API_PREFIX}/packages/`
const UPLOAD = `${API_PREFIX}/packages/upload`

/**
 * What the upload hot path needs: the upload pipeline and the token check.
 * @since 0.1.0
 * @category models
 */
export interface UploadPath {
  readonly uploader: Upload.UploaderService
  /** `Auth.verify`: the token's row, or 401 / 503. */
  readonly verify: (token: string) => Effect.Effect<TokenRow, Unauthorized | Unavailable>
}
const SEARCH_KEYS = new Set(["q", "category", "page", "page_size"])

const decode = (segment: string): string | undefined => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

/** A strict integer parameter within bounds, the default when absent, else undefined (let HttpApi answer 422). */
const intParam = (raw: string | null, fallback: number, min: number, max: number): number | undefined => {
  if (raw === null || raw === "") return fallback
  const n = Number(raw)
  return Number.isInteger(n) && n >= min && n <= max ? n : undefined
}

/**
 * Builds the hot paths over a store, a blob store and the server options. `log` receives one
 * request-log line (without newline) per answered request when `options.logRequests`.
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: ServerOptions,
  store: PackageStoreService,
  blobs: BlobStoreService,
  log: (line: string) => void,
  writes?: UploadPath
): HotPath => {
  // small archives, by SHA-256: content-addressed, so an entry never goes stale
  const archives = new ArchiveCache(ARCHIVE_CACHE_BYTES, ARCHIVE_CACHE_ENTRY)
  const logAnswer = (req: IncomingMessage, path: string, status: number, started: number) => {
    if (options.logRequests) {
      log(`${new Date().toISOString()} ${req.method} ${path} ${status} ${(performance.now() - started).toFixed(1)}ms`)
    }
  }
  const send = (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    started: number,
    headers: Record<string, string>,
    body: string | Uint8Array
  ) => {
    res.writeHead(200, headers)
    res.end(body)
    if (options.logRequests) {
      log(`${new Date().toISOString()} ${req.method} ${path} 200 ${(performance.now() - started).toFixed(1)}ms`)
    }
  }
  /**
   * Serialized answers by the store result they were made from: a single-writer store hands out
   * the same row object until a write, so repeated reads skip building, stringifying and hashing.
   */
  const rendered = new WeakMap<object, { readonly key: string; readonly body: Buffer; readonly etag: string }>()
  const json = (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    started: number,
    source: object,
    key: string,
    build: () => unknown
  ) => {
    let answer = rendered.get(source)
    if (answer === undefined || answer.key !== key) {
      const body = Buffer.from(JSON.stringify(build()))
      // the same strong ETag the HttpApi path gives metadata (MetadataEtagLive), so clients revalidate
      answer = { key, body, etag: `"${sha256Hex(body)}"` }
      rendered.set(source, answer)
    }
    const { body, etag } = answer
    if (etagMatches(req.headers["if-none-match"], etag)) {
      res.writeHead(304, { etag })
      res.end()
      return logAnswer(req, path, 304, started)
    }
    send(req, res, path, started, {
      "content-type": "application/json",
      "content-length": String(body.length),
      etag
    }, body)
  }
  const run = <A, E>(
    res: ServerResponse,
    effect: Effect.Effect<A, E>,
    next: () => void,
    then: (a: A) => void | Promise<void>
  ) => {
    const fallBack = () => {
      if (!res.headersSent) next()
    }
    Effect.runPromiseExit(effect).then(
      (exit) => (Exit.isSuccess(exit) ? then(exit.value) : next()),
      fallBack
    ).catch(fallBack)
  }

  const info = (req: IncomingMessage, res: ServerResponse, next: () => void, path: string, name: string, started: number) => {
    run(res, store.getPackage(name), next, (found) => {
      if (Option.isNone(found)) return next()
      const base = baseUrlFromHeaders(req.headers, options)
      json(req, res, path, started, found.value, base, () => infoBody(found.value, base))
    })
    return true
  }

  const search = (req: IncomingMessage, res: ServerResponse, next: () => void, path: string, query: string, started: number) => {
    const params = new URLSearchParams(query)
    const keys = [...params.keys()]
    if (keys.some((k) => !SEARCH_KEYS.has(k)) || new Set(keys).size !== keys.length) return false
    const page = intParam(params.get("page"), 1, 1, 1_000_000)
    const pageSize = intParam(params.get("page_size"), 20, 1, 100)
    if (page === undefined || pageSize === undefined) return false
    const q = params.get("q") ?? ""
    if (outOfBounds(q) !== undefined) return false // HttpApi answers 400
    const c = params.get("category")
    const category = c === null || c === "" ? undefined : c
    run(res, store.search({ q, category, page, pageSize }), next, (result) => {
      const base = baseUrlFromHeaders(req.headers, options)
      json(req, res, path, started, result, `${base}\u0000${q}\u0000${page}\u0000${pageSize}`, () =>
        searchBody(result, base, { q, page, pageSize }))
    })
    return true
  }

  const download = (
    req: IncomingMessage,
    res: ServerResponse,
    next: () => void,
    path: string,
    name: string,
    version: string,
    started: number
  ) => {
    if (req.headers["range"] !== undefined || req.headers["if-none-match"] !== undefined) return false
    run(res, store.findArchive(name, version), next, async (found) => {
      if (Option.isNone(found)) return next()
      const r = found.value
      if (r.sizeBytes > READ_WHOLE_LIMIT) return next()
      let bytes = archives.get(r.checksum)
      if (bytes === undefined) {
        const read = await Effect.runPromiseExit(blobs.readAll(r.checksum))
        if (Exit.isFailure(read)) return next() // missing archive: the HttpApi path answers 503 naming it
        bytes = Buffer.from(read.value.buffer, read.value.byteOffset, read.value.byteLength)
        archives.set(r.checksum, bytes)
      }
      const counted = await Effect.runPromiseExit(store.recordDownload(r.name, r.version))
      if (Exit.isFailure(counted)) return next()
      send(req, res, path, started, {
        ...downloadHeaders(r),
        "content-type": "application/octet-stream",
        "content-length": String(bytes.length)
      }, bytes)
    })
    return true
  }

  /**
   * `POST upload` of a small form (declared `Content-Length` up to `Upload.IN_MEMORY_UPLOAD`)
   * with a token: the token is checked first, and anything but a token of publish scope is handed
   * on untouched (HttpApi answers 401/403/503 the same way). From then on the body is read here
   * and every answer (201, or the API error's status and `{detail}`) is sent from here.
   */
  const upload = (req: IncomingMessage, res: ServerResponse, next: () => void, path: string, started: number) => {
    if (writes === undefined) return false
    const { uploader, verify } = writes
    const length = Number(req.headers["content-length"] ?? NaN)
    const boundary = boundaryOf(req.headers["content-type"])
    if (!Number.isFinite(length) || length > Upload.IN_MEMORY_UPLOAD || length > uploader.limit + Upload.MULTIPART_SLACK) return false
    if (boundary === undefined) return false
    const token = (req.headers.authorization ?? "").slice("Bearer ".length).trim()
    if (token === "") return false
    run(res, verify(token), next, (row) => {
      if (!scopeIncludes(row.scope, "publish")) return next()
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.once("error", () => res.destroy())
      req.once("end", () => {
        const body = Buffer.concat(chunks)
        const publish = Effect.flatMap(
          uploader.readForm(body, boundary),
          (form) => uploader.publish(form, baseUrlFromHeaders(req.headers, options))
        )
        Effect.runPromiseExit(publish).then((exit) => {
          if (Exit.isSuccess(exit)) {
            const json = JSON.stringify(exit.value)
            res.writeHead(201, { "content-type": "application/json", "content-length": String(Buffer.byteLength(json)) })
            res.end(json)
            return logAnswer(req, path, 201, started)
          }
          const failure = Cause.failureOption(exit.cause)
          if (Option.isNone(failure)) {
            Effect.runFork(Effect.logError("request failed", exit.cause))
            const json = JSON.stringify({ detail: "Internal Server Error" })
            res.writeHead(500, { "content-type": "application/json", "content-length": String(Buffer.byteLength(json)) })
            res.end(json)
            return logAnswer(req, path, 500, started)
          }
          const wire = toWire(failure.value)
          res.writeHead(wire.status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(wire.body)) })
          res.end(wire.body)
          logAnswer(req, path, wire.status, started)
        }, () => res.destroy())
      })
    })
    return true
  }

  return (req, res, next) => {
    if (req.method === "POST" && req.url === UPLOAD && req.headers.authorization !== undefined) {
      return upload(req, res, next, UPLOAD, performance.now())
    }
    if (options.private || req.method !== "GET" || req.headers.authorization !== undefined) return false
    const url = req.url ?? ""
    if (!url.startsWith(PACKAGES)) return false
    const q = url.indexOf("?")
    const path = q === -1 ? url : url.slice(0, q)
    const parts = path.slice(PACKAGES.length).split("/")
    const started = performance.now()
    if (parts.length === 1) {
      if (parts[0] === "search") return search(req, res, next, path, q === -1 ? "" : url.slice(q + 1), started)
      const name = decode(parts[0]!)
      return name === undefined || name === "" ? false : info(req, res, next, path, name, started)
    }
    if (parts.length === 3 && parts[2] === "download") {
      const name = decode(parts[0]!)
      const version = decode(parts[1]!)
      if (name === undefined || version === undefined || name === "" || version === "") return false
      return download(req, res, next, path, name, version, started)
    }
    return false
  }
}

/**
 * A `node:http` server that offers every request to a hot path first (set with `hot`), and emits
 * it as a normal `request` event (to the HttpApi app) when the hot path declines or hands it on.
 * @since 0.1.0
 * @category constructors
 */
export class HotServer extends Server {
  /**
   * The hot path, if any.
   * @since 0.1.0
   */
  hot: HotPath | undefined = undefined

  /**
   * Offers a `request` event to the hot path before the HttpApi app.
   * @since 0.1.0
   */
  override emit(event: string, ...args: Array<unknown>): boolean {
    const hot = this.hot
    if (event === "request" && hot !== undefined) {
      const req = args[0] as IncomingMessage
      const res = args[1] as ServerResponse
      if (hot(req, res, () => void super.emit("request", req, res))) return true
    }
    return super.emit(event, ...args)
  }
}
