/**
 * The registry server as layers:
 * - {@link storageLayer}: the SQLite {@link PackageStore} at `<data-dir>/registry.db` and the
 *   {@link BlobStore} under `<data-dir>`, with the stray-blob sweep run at start.
 * - {@link handlersLayer}: the `RegistryApi` handler groups with authentication, for mounting in
 *   an app that has its own router (`HttpLayerRouter.addHttpApi(RegistryApi)`).
 * - {@link layer}: the whole API (`HttpApi.Api`) plus OpenAPI at `/api/v1/registry/openapi.json`
 *   and docs at `/api/v1/registry/docs`, for `HttpApiBuilder.serve()` — other routes can be added
 *   next to it with `HttpApiBuilder.Router.use(...)` (the web UI is mounted that way).
 * - {@link serve}: `layer` served by Node on `host:port` with request logging and `{detail}` errors.
 * @since 0.1.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as HttpApiSwagger from "@effect/platform/HttpApiSwagger"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { HttpServer } from "@effect/platform"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as OpenApi from "@effect/platform/OpenApi"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Cause, Effect, Layer, Scope } from "effect"
import { API_PREFIX, Authentication, RegistryApi } from "../api/RegistryApi.js"
import { PackageArchive } from "../archive/PackageArchive.js"
import * as Answers from "./Answers.js"
import { Auth, AuthenticationLive } from "./Auth.js"
import { BlobStore } from "./BlobStore.js"
import * as BlobStoreFs from "./BlobStore.js"
import { HandlersLive } from "./Handlers.js"
import { sqliteFile } from "./pg/StorageOptions.js"
import * as Upload from "./Upload.js"
import * as HotPaths from "./HotPaths.js"
import * as NodeServer from "./NodeServer.js"
import type { StoreError } from "./PackageStore.js"
import { PackageStore } from "./PackageStore.js"
import type { ServerOptions } from "./ServerConfig.js"
import * as ServerConfigLayer from "./ServerConfig.js"
import * as SqlitePackageStore from "./SqlitePackageStore.js"
import type { BlobError } from "./BlobStore.js"

/**
 * Options accepted by the layers: `dataDir` is required, the rest default
 * (see `ServerConfig.defaults`).
 * @since 0.1.0
 * @category models
 */
export type RegistryServerOptions = Partial<ServerOptions> & { readonly dataDir: string }

/**
 * The SQLite database file inside a data directory.
 * @since 0.1.0
 */
export const databaseFile: (dataDir: string) => string = sqliteFile

/**
 * Removes temp files and blobs no release refers to (what a crash mid-upload leaves behind).
 * @since 0.1.0
 * @category layers
 */
export const sweepLayer = BlobStoreFs.sweepLayer

/**
 * The default storage of a data directory: SQLite metadata + file-system blobs, swept at start.
 * Give your own `PackageStore` layer (e.g. PostgreSQL) with {@link storageLayerWith}.
 * @since 0.1.0
 * @category layers
 */
export const storageLayer = (dataDir: string): Layer.Layer<PackageStore | BlobStore, StoreError | BlobError> =>
  storageLayerWith(dataDir, SqlitePackageStore.layer(databaseFile(dataDir)))

/**
 * Storage with a given metadata store and file-system blobs under `dataDir`, swept at start.
 * @since 0.1.0
 * @category layers
 */
export const storageLayerWith = <E, R>(
  dataDir: string,
  store: Layer.Layer<PackageStore, E, R>
): Layer.Layer<PackageStore | BlobStore, E | StoreError | BlobError, R> =>
  BlobStoreFs.withSweep(Layer.merge(store, BlobStoreFs.layer(dataDir)))

/**
 * The handler groups of `RegistryApi` with authentication, over the storage in context. Mount
 * them with `HttpLayerRouter.addHttpApi(RegistryApi)` or `HttpApiBuilder.api(RegistryApi)`.
 * @since 0.1.0
 * @category layers
 */
export const handlersLayerFrom = (options: RegistryServerOptions) =>
  HandlersLive.pipe(
    Layer.provideMerge(Layer.merge(AuthenticationLive, Answers.JsonBodyLimitLive)),
    Layer.provideMerge(writeServicesFrom(options))
  )

/**
 * What authenticates and publishes, over the storage in context: `Auth`, the `Uploader` (with
 * `PackageArchive` and the server options). The handlers and the hot paths are given these same
 * layers, so a server builds each once.
 */
const writeServicesFrom = (options: RegistryServerOptions) =>
  Layer.mergeAll(Auth.Default, Upload.layer).pipe(
    Layer.provideMerge(PackageArchive.Default),
    Layer.provideMerge(ServerConfigLayer.layer(options))
  )

/**
 * {@link handlersLayerFrom} with the default storage of `options.dataDir`.
 * @since 0.1.0
 * @category layers
 */
export const handlersLayer = (options: RegistryServerOptions) =>
  handlersLayerFrom(options).pipe(Layer.provide(storageLayer(options.dataDir)))

/**
 * OpenAPI at `/api/v1/registry/openapi.json` and interactive docs at `/api/v1/registry/docs`,
 * open like the read endpoints (on a private registry they need `read`).
 * @since 0.1.0
 * @category layers
 */
export const docsLayer: Layer.Layer<never, never, HttpApi.Api | Authentication> = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function*() {
    // Both are built on their first request, not at start-up (the OpenAPI document alone takes
    // tens of milliseconds to derive from the schemas); then kept.
    const { api } = yield* HttpApi.Api
    // the same check as the read endpoints: anyone on a public registry, `read` on a private one
    const authentication = yield* Authentication
    const allowed = Effect.flatMap(HttpApiBuilder.securityDecode(HttpApiSecurity.bearer), authentication.bearer)
    const scope = yield* Effect.scope
    const openApi = yield* Effect.cached(HttpServerResponse.json(OpenApi.fromApi(api)).pipe(Effect.orDie))
    const swagger = yield* Effect.cached(
      HttpLayerRouter.toHttpEffect(HttpApiSwagger.layerHttpLayerRouter({ api, path: `${API_PREFIX}/docs` })).pipe(
        Scope.extend(scope)
      )
    )
    yield* router.get(`${API_PREFIX}/openapi.json`, Effect.zipRight(allowed, openApi))
    yield* router.get(`${API_PREFIX}/docs`, Effect.zipRight(allowed, Effect.flatten(swagger)))
  })
)

/**
 * The registry API (`HttpApi.Api`) with docs, over the storage in context.
 * @since 0.1.0
 * @category layers
 */
export const apiLayerFrom = (options: RegistryServerOptions) =>
  Layer.provideMerge(Layer.mergeAll(docsLayer, detailErrorsLayer, Answers.requestLimitsLayer), HttpApiBuilder.api(RegistryApi)).pipe(
    Layer.provide(handlersLayerFrom(options))
  )

/**
 * The registry API (`HttpApi.Api`) with docs and the default storage of `options.dataDir`: give
 * it to `HttpApiBuilder.serve()` in any @effect/platform app; add your own routes next to it with
 * `HttpApiBuilder.Router.use(...)`.
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: RegistryServerOptions) =>
  apiLayerFrom(options).pipe(Layer.provide(storageLayer(options.dataDir)))

/**
 * API-level middleware turning the platform's own request failures and defects into `{detail}`
 * answers (see `Answers.detailErrorsLayer`).
 * @since 0.1.0
 * @category layers
 */
export const detailErrorsLayer: Layer.Layer<never> = Answers.detailErrorsLayer

const reasons: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Payload Too Large",
  500: "Internal Server Error"
}

/** Gives an error response without a body the `{detail}` body clients expect. */
const withDetail = (response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse =>
  response.status >= 400 && response.body._tag === "Empty"
    ? HttpServerResponse.unsafeJson({ detail: reasons[response.status] ?? `HTTP ${response.status}` }, {
      status: response.status,
      headers: response.headers
    })
    : response

/**
 * The request log on stdout, for as long as its scope is open: lines are buffered and written
 * together once per turn of the event loop (stdout to a pipe or file writes synchronously; one
 * write per request would cost a system call each), in order, and flushed when the scope closes
 * or the process exits (the exit hook is removed with the scope). Gives the function appending
 * one line.
 * @since 0.1.0
 * @category utils
 */
export const requestLog: Effect.Effect<(line: string) => void, never, Scope.Scope> = Effect.map(
  Effect.acquireRelease(
    Effect.sync(() => {
      let pending: Array<string> = []
      const flush = () => {
        const lines = pending
        pending = []
        if (lines.length > 0) process.stdout.write(lines.join("\n") + "\n")
      }
      const append = (line: string): void => {
        if (pending.length === 0) setImmediate(flush)
        pending.push(line)
      }
      process.once("exit", flush)
      return { flush, append }
    }),
    ({ flush }) =>
      Effect.sync(() => {
        process.off("exit", flush)
        flush()
      })
  ),
  ({ append }) => append
)

/**
 * The HTTP middleware of the server: unknown routes answer 404 `{"detail":"Not Found"}`,
 * unexpected failures 500 `{detail}`, HttpApi decode errors 400 `{detail}` naming the field, and
 * (when `logRequests`) one line per request: method, path (no query string), status, ms.
 * @since 0.1.0
 * @category middleware
 */
export const middleware = (options: { readonly logRequests: boolean; readonly logLine: (line: string) => void }) =>
(app: HttpApp.Default): HttpApp.Default =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const started = performance.now()
    const response = yield* app.pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Answers.answerFailure(cause) ?? Answers.internalError(cause)
      ),
      Effect.map(withDetail)
    )
    if (options.logRequests) {
      const path = request.url.split("?")[0]!
      const ms = (performance.now() - started).toFixed(1)
      options.logLine(`${new Date().toISOString()} ${request.method} ${path} ${response.status} ${ms}ms`)
    }
    return response
  })

/**
 * Serves the registry API (plus any `extra` route layers, e.g. the web UI, added with
 * `HttpApiBuilder.Router.use`) with Node on `options.host:options.port`, over `storage` (default:
 * SQLite + blobs in `options.dataDir`, swept at start; PostgreSQL: `pg/Storage.layer`). The `HttpServer` (bound address), `PackageStore` and `BlobStore` stay in
 * the layer's output so the caller can read the address and bootstrap tokens.
 * @since 0.1.0
 * @category layers
 */
export const serve = <E = never, R = never, SE = StoreError | BlobError>(
  options: RegistryServerOptions,
  extra: Layer.Layer<never, E, R | HttpApi.Api> = Layer.empty as Layer.Layer<never, E, R | HttpApi.Api>,
  storage: Layer.Layer<PackageStore | BlobStore, SE> = storageLayer(options.dataDir) as Layer.Layer<
    PackageStore | BlobStore,
    SE
  >
) => {
  const config = { ...ServerConfigLayer.defaults(options.dataDir), ...options }
  return Layer.unwrapScoped(Effect.map(requestLog, (logLine) =>
    HttpApiBuilder.serve(middleware({ ...config, logLine })).pipe(
      Layer.provide(extra),
      Layer.provide(apiLayerFrom(config)),
      Layer.provideMerge(nodeServerLayer(config, logLine).pipe(Layer.provide(writeServicesFrom(config)))),
      Layer.provideMerge(storage)
    )))
}

/**
 * The Node HTTP server of {@link serve}, with the hot paths (`HotPaths`) over the storage, `Auth`
 * and the `Uploader` in context in front of the HttpApi app, logging to `logLine` (see
 * {@link requestLog}).
 * @since 0.1.0
 * @category layers
 */
export const nodeServerLayer = (config: ServerOptions, logLine: (line: string) => void) =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      const uploader = yield* Upload.Uploader
      const auth = yield* Auth
      const hot = HotPaths.make(config, yield* PackageStore, yield* BlobStore, logLine, { uploader, verify: auth.verify })
      return NodeHttpServer.layer(() => {
        const server = makeNodeServer()
        server.hot = hot
        return server
      }, { port: config.port, host: config.host })
    })
  )

/**
 * A `node:http` server (offering requests to its hot path first, see `HotPaths`) with the limits,
 * start-up answers and bounded stop of `NodeServer.harden`.
 * @since 0.1.0
 * @category utils
 */
export const makeNodeServer = (): HotPaths.HotServer => NodeServer.harden(new HotPaths.HotServer(NodeServer.serverOptions))

/**
 * The URL a running server listens on (`http://host:port`).
 * @since 0.1.0
 * @category utils
 */
export const listeningUrl = (server: HttpServer.HttpServer): string => {
  const a = server.address
  if (a._tag === "UnixAddress") return `unix:${a.path}`
  const host = a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname
  return `http://${host}:${a.port}`
}
