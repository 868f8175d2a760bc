/**
 * Serves the web UI (built into `dist/ui` by `npm run build`) at `/` next to the registry API:
 * correct content types, gzip when the browser accepts it, ETags with `304`, long-lived caching
 * for the content-hashed `assets/`, `no-cache` for `index.html`, and the single-page-app fallback
 * (any other GET path without a file extension gets `index.html`) but never for `/api/*`, which
 * answers a JSON `404 {"detail": ...}` instead.
 *
 * Files are read and compressed once, when the layer is built.
 * @since 0.1.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Data, Effect, Layer, Option } from "effect"
import { existsSync } from "node:fs"
import { readdir, readFile, stat } from "node:fs/promises"
import { extname, join, relative, sep } from "node:path"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"
import { sha256Base64Url } from "../../shared/Hash.js"
import * as Settings from "../../shared/Settings.js"
import { notModified } from "../http/Conditional.js"
import { noApiEndpoint } from "../http/WireBodies.js"

/**
 * The UI directory could not be read.
 * @since 0.1.0
 * @category errors
 */
export class WebUiError extends Data.TaggedError("WebUiError")<{ readonly dir: string; readonly reason: string }> {
  /** Names the directory and what to do. */
  override get message(): string {
    return `Cannot serve the web UI from ${this.dir}: ${this.reason}. Rebuild it with \`npm run build\`.`
  }
}

/**
 * Where the built UI lives. Without `dir`: `$FM_UI_DIR` if set, else the first of
 * `<bundle dir>/ui` (the published `dist/fm.js` next to `dist/ui`), `<bundle dir>/../dist/ui` and
 * `<repo>/dist/ui` (running from source) that holds an `index.html`.
 * @since 0.1.0
 * @category models
 */
export interface WebUiOptions {
  readonly dir?: string | undefined
}

/** One file ready to send. */
interface Asset {
  readonly body: Uint8Array
  readonly gzip: Uint8Array | undefined
  readonly contentType: string
  readonly etag: string
  readonly cacheControl: string
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2"
}

const STATIC_EXTENSIONS = new Set([
  ...Object.keys(CONTENT_TYPES).filter((e) => e !== ".html"),
  ".jpg",
  ".jpeg",
  ".gif",
  ".webp",
  ".xml",
  ".webmanifest",
  ".woff",
  ".ttf",
  ".php",
  ".env"
])

const COMPRESSIBLE = new Set([".html", ".js", ".mjs", ".css", ".json", ".map", ".svg", ".txt"])

/** The Content-Security-Policy of the UI page: only its own scripts, styles and API. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'"
].join("; ")

const MAX_FILES = 500
const MAX_TOTAL_BYTES = 32 * 1024 * 1024

/**
 * The default UI directory (see {@link WebUiOptions}): `$FM_UI_DIR`, else the build next to this
 * code, else `undefined` when none is built.
 * @since 0.1.0
 * @category utils
 */
export const defaultDir: Effect.Effect<string | undefined> = Effect.map(
  // a string setting fails only with a broken ConfigProvider: that is a defect
  Effect.orDie(Settings.optional("FM_UI_DIR")),
  Option.getOrElse(builtDir)
)

/** The UI built next to this code, if any. */
function builtDir(): string | undefined {
  // dist/fm.js -> dist/ui; a bundle in another top-level folder (.tmp/) -> dist/ui; src/server/webui -> dist/ui
  const candidates = ["./ui/", "../dist/ui/", "../../../dist/ui/"].map((p) => new URL(p, import.meta.url))
  for (const c of candidates) {
    if (c.protocol !== "file:") continue
    const dir = fileURLToPath(c)
    if (existsSync(join(dir, "index.html"))) return dir
  }
  return undefined
}

const listFiles = async (dir: string): Promise<Array<string>> => {
  const out: Array<string> = []
  const walk = async (d: string, depth: number): Promise<void> => {
    if (depth > 8) return
    for (const entry of await readdir(d, { withFileTypes: true })) {
      if (out.length >= MAX_FILES) throw new Error(`more than ${MAX_FILES} files`)
      const p = join(d, entry.name)
      if (entry.isDirectory()) await walk(p, depth + 1)
      else if (entry.isFile()) out.push(p)
    }
  }
  await walk(dir, 0)
  return out
}

const loadAssets = async (dir: string): Promise<Map<string, Asset>> => {
  const assets = new Map<string, Asset>()
  let total = 0
  for (const file of await listFiles(dir)) {
    const size = (await stat(file)).size
    total += size
    if (total > MAX_TOTAL_BYTES) throw new Error(`more than ${MAX_TOTAL_BYTES} bytes of files`)
    const body = new Uint8Array(await readFile(file))
    const urlPath = "/" + relative(dir, file).split(sep).join("/")
    const ext = extname(file).toLowerCase()
    let gzip: Uint8Array | undefined
    if (COMPRESSIBLE.has(ext) && body.byteLength > 256) {
      const z = gzipSync(body, { level: 9 })
      if (z.byteLength < body.byteLength * 0.9) gzip = new Uint8Array(z)
    }
    const hashed = urlPath.startsWith("/assets/")
    assets.set(urlPath, {
      body,
      gzip,
      contentType: CONTENT_TYPES[ext] ?? "application/octet-stream",
      etag: `"${sha256Base64Url(body).slice(0, 22)}"`,
      cacheControl: hashed
        ? "public, max-age=31536000, immutable"
        : ext === ".html"
        ? "no-cache"
        : "public, max-age=3600"
    })
  }
  return assets
}

const acceptsGzip = (header: string | undefined): boolean => {
  if (!header) return false
  for (const part of header.split(",")) {
    const [coding = "", ...params] = part.trim().toLowerCase().split(";")
    if (coding.trim() !== "gzip" && coding.trim() !== "*") continue
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="))
    return q === undefined || Number.parseFloat(q.slice(2)) > 0
  }
  return false
}

const notBuilt = (dir: string): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(
    `<!doctype html><html lang="en"><meta charset="utf-8"><title>fm registry</title>` +
      `<main><h1>The web UI is not built</h1><p>No index.html in ${dir.replace(/[<>&]/g, "")}. ` +
      `Run <code>npm run build</code>. The registry API is at <a href="/api/v1/registry/health">/api/v1/registry/</a>.</p></main>`,
    { status: 503, contentType: "text/html; charset=utf-8", headers: { "cache-control": "no-store" } }
  )

const send = (
  asset: Asset,
  request: HttpServerRequest.HttpServerRequest,
  status: number
): HttpServerResponse.HttpServerResponse => {
  const headers: Record<string, string> = {
    "cache-control": asset.cacheControl,
    etag: asset.etag,
    "x-content-type-options": "nosniff"
  }
  if (asset.gzip) headers["vary"] = "Accept-Encoding"
  if (asset.contentType.startsWith("text/html")) {
    headers["content-security-policy"] = CSP
    headers["referrer-policy"] = "no-referrer"
    headers["x-frame-options"] = "DENY"
  }
  const unchanged = notModified(request, headers)
  if (Option.isSome(unchanged)) return unchanged.value
  if (asset.gzip && acceptsGzip(request.headers["accept-encoding"])) {
    headers["content-encoding"] = "gzip"
    return HttpServerResponse.uint8Array(asset.gzip, { status, headers, contentType: asset.contentType })
  }
  return HttpServerResponse.uint8Array(asset.body, { status, headers, contentType: asset.contentType })
}

/**
 * Builds the UI service over `options.dir` (or {@link defaultDir}). A missing build is not an
 * error: pages then answer `503` with how to build it, and the API keeps working.
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("WebUi.make")(function*(options?: WebUiOptions) {
  const dir = options?.dir ?? (yield* defaultDir)
  const assets = dir === undefined || !existsSync(join(dir, "index.html"))
    ? undefined
    : yield* Effect.tryPromise({
      try: () => loadAssets(dir),
      catch: (e) => new WebUiError({ dir, reason: e instanceof Error ? e.message : String(e) })
    })
  const shownDir = dir ?? "dist/ui"
  if (assets) yield* Effect.logDebug(`web UI: serving ${assets.size} files from ${shownDir}`)
  else yield* Effect.logWarning(`web UI: no build found in ${shownDir}; run \`npm run build\``)
  const index = assets?.get("/index.html")

  /** Answers one GET request for a UI path (never for `/api/*`, which gets the API's JSON 404). */
  const respond = (
    request: HttpServerRequest.HttpServerRequest
  ): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
    Effect.sync(() => {
      let path: string
      try {
        path = decodeURIComponent(new URL(request.url, "http://localhost").pathname)
      } catch {
        return HttpServerResponse.text("Bad request path", { status: 400 })
      }
      if (path === "/api" || path.startsWith("/api/")) return noApiEndpoint(request)
      if (!assets || !index) return notBuilt(shownDir)
      const asset = path === "/" ? index : assets.get(path)
      if (asset) return send(asset, request, 200)
      // A missing asset or well-known file is a 404; any other path (versions contain dots) is
      // a client-side route.
      const ext = extname(path).toLowerCase()
      if (path.startsWith("/assets/") || (!path.startsWith("/packages/") && STATIC_EXTENSIONS.has(ext))) {
        return HttpServerResponse.text(`Not found: ${path}`, {
          status: 404,
          headers: { "x-content-type-options": "nosniff" }
        })
      }
      // A client-side route (/packages/x, /categories, ...): the app renders it.
      return send(index, request, 200)
    })

  return {
    /** The directory served, if a build was found. */
    dir: assets ? dir : undefined,
    /** Answers one GET request for a UI path (never for `/api/*`, which gets a JSON 404). */
    respond,
    /** The same, as a router handler reading the current request. */
    handler: Effect.flatMap(HttpServerRequest.HttpServerRequest, respond)
  } as const
})

/**
 * The web UI: static files of the built app and the SPA fallback.
 * @since 0.1.0
 * @category services
 */
export class WebUi extends Effect.Service<WebUi>()("fm/server/WebUi", {
  effect: make()
}) {
  /** The service over an explicit directory (tests, custom builds). */
  static readonly layerAt = (dir: string): Layer.Layer<WebUi, WebUiError> =>
    Layer.effect(WebUi, Effect.map(make({ dir }), (s) => WebUi.make(s)))
}

type AddRoute = (path: "/" | "/*", handler: WebUi["handler"]) => Effect.Effect<void>

// GET only: the router answers HEAD with the GET route of the path (Node sends no body), so a
// HEAD of an API route reaches the API, not the UI's catch-all.
const addRoutes = (router: { readonly get: AddRoute }) =>
  Effect.gen(function*() {
    const ui = yield* WebUi
    for (const path of ["/", "/*"] as const) yield* router.get(path, ui.handler)
  })

/**
 * Adds the UI routes (`GET` `/` and `/*`, and so `HEAD`) to the `HttpApiBuilder` router, for a server built
 * with `HttpApiBuilder.serve()`: `serve().pipe(Layer.provide(WebUi.layer(ui)), ...)`. The API's
 * own routes are more specific, so they win; unknown `/api/*` paths get a JSON 404.
 * @since 0.1.0
 * @category layers
 */
export const layer = (ui: Layer.Layer<WebUi, WebUiError> = WebUi.Default): Layer.Layer<never, WebUiError> =>
  HttpApiBuilder.Router.use((router) => addRoutes(router)).pipe(Layer.provide(ui))

/**
 * The same routes for a server built with `HttpLayerRouter` (`HttpLayerRouter.serve(...)` with
 * `HttpLayerRouter.addHttpApi(RegistryApi)`).
 * @since 0.1.0
 * @category layers
 */
export const layerHttpLayerRouter = (
  ui: Layer.Layer<WebUi, WebUiError> = WebUi.Default
): Layer.Layer<never, WebUiError, HttpLayerRouter.HttpRouter> =>
  HttpLayerRouter.use((router) =>
    Effect.gen(function*() {
      const svc = yield* WebUi
      yield* router.add("GET", "/", svc.handler)
      yield* router.add("GET", "/*", svc.handler)
    })
  ).pipe(Layer.provide(ui))
