/**
 * The registry server as layers:
 * - {@link storageLayer}: the SQLite {@link PackageStore} at `<data-dir>/registry.db` and the
 *   {@link BlobStore} under `<data-dir>`, with the stray-blob sweep run at start.
 * - {@link handlersLayer}: the `RegistryApi` handler groups with authentication, for mounting in
 *   an app that has its own router (`HttpLayerRouter.addHttpApi(RegistryApi)`).
 * - {@link layer}: the whole API (`HttpApi.Api`) plus OpenAPI at `/api/v1/registry/openapi.json`
 *   and docs at `/api/v1/registry/docs`, for `HttpApiBuilder.serve()` — other routes can be added
 *   next to it with `HttpApiBuilder.Router.use(...)` (the web UI is mounted that way).
 *   Every answer passes one middleware chain (`ServerMiddleware`: request log, `{detail}` errors,
 *   request limits, `304`s, the cache of the app's own answers, ETags), so an app that mounts
 *   `layer` serves the registry exactly as `fm studio start` does.
 * - {@link serve}: `layer` served by a hardened `node:http` server on `host:port`, plus extra
 *   routes (the web UI).
 * @since 0.1.0
 */
import type { HttpServer } from "@effect/platform"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as HttpApiSwagger from "@effect/platform/HttpApiSwagger"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import { Effect, FiberRef, Layer, Scope } from "effect"
import type * as Http from "node:http"
import { API_PREFIX, Authentication, RegistryApi } from "../api/RegistryApi.js"
import { PackageArchive } from "../archive/PackageArchive.js"
import * as AnswerCache from "./http/AnswerCache.js"
import * as Answers from "./http/Answers.js"
import { Auth, AuthenticationLive } from "./http/Auth.js"
import { HandlersLive } from "./http/Handlers.js"
import * as NodeServer from "./http/NodeServer.js"
import * as ServerMiddleware from "./http/ServerMiddleware.js"
import * as PublishLog from "./log/PublishLog.js"
import { sqliteFile } from "./selection/StorageOptions.js"
import type { ServerOptions } from "./ServerConfig.js"
import * as ServerConfigLayer from "./ServerConfig.js"
import type { BlobError, BlobStore } from "./storage/BlobStore.js"
import * as BlobStoreFs from "./storage/BlobStore.js"
import type { PackageStore, StoreError } from "./storage/PackageStore.js"
import * as SqlitePackageStore from "./storage/SqlitePackageStore.js"
import * as Upload from "./uploads/Upload.js"

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
 * `PackageArchive` and the server options).
 */
const writeServicesFrom = (options: RegistryServerOptions) =>
  Layer.mergeAll(Auth.Default, Upload.layer, PublishLog.layerFromConfig).pipe(
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
    const openApi = yield* Effect.cached(
      Effect.suspend(() => HttpServerResponse.json(OpenApi.fromApi(api))).pipe(Effect.orDie)
    )
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
  Layer.provideMerge(Layer.merge(docsLayer, ServerMiddleware.layer), HttpApiBuilder.api(RegistryApi)).pipe(
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
 * Serves the registry API (plus any `extra` route layers, e.g. the web UI, added with
 * `HttpApiBuilder.Router.use`) with Node on `options.host:options.port`, or on the inherited
 * listening socket `options.listenFd`, over `storage` (default: SQLite + blobs in
 * `options.dataDir`, swept at start; PostgreSQL: `selection/Storage.layer`): exactly
 * {@link layer}'s app, on a `node:http` server with the limits of `NodeServer.harden`. It listens
 * once the app is built, and at the end stops accepting before the app is released (see
 * `NodeServer.layer`). The `HttpServer` (bound address), `PackageStore` and `BlobStore` stay in
 * the layer's output so the caller can read the address and bootstrap tokens.
 * @since 0.1.0
 * @category layers
 */
export const serve = <E = never, R = never, SE = StoreError | BlobError>(
  options: RegistryServerOptions,
  extra: Layer.Layer<never, E, R | HttpApi.Api> = Layer.empty,
  storage?: Layer.Layer<PackageStore | BlobStore, SE>
) => {
  const config = { ...ServerConfigLayer.defaults(options.dataDir), ...options }
  const stores: Layer.Layer<PackageStore | BlobStore, SE | StoreError | BlobError> = storage ??
    storageLayer(options.dataDir)
  const listenOn: NodeServer.ListenOn = config.listenFd === undefined
    ? { host: config.host, port: config.port }
    : { fd: config.listenFd }
  const app = HttpApiBuilder.serve().pipe(
    // no span per request: nothing exports them here, and making one costs more than a cached answer
    HttpMiddleware.withTracerDisabledWhen(() => true),
    // nor any span inside a request (store, SQL, archive): each would be made and dropped
    (served) => Layer.locally(served, FiberRef.currentTracerEnabled, false),
    // an answer held in memory is written at once, without waiting for the socket to drain
    sendInMemoryAnswersAtOnce
  )
  return NodeServer.layer(app, listenOn).pipe(
    Layer.provide(extra),
    Layer.provide(apiLayerFrom(config)),
    Layer.provideMerge(NodeHttpServer.layerContext),
    Layer.provideMerge(stores)
  )
}

/**
 * Writes every answer whose body is already in memory as soon as it is ready, instead of keeping
 * the request's fiber waiting for the socket to drain (`NodeServer.sendInMemoryAnswersAtOnce`):
 * {@link serve} applies it to its `HttpApiBuilder.serve()` layer; an app that serves {@link layer}
 * on `NodeHttpServer` can do the same.
 * @since 0.1.0
 * @category layers
 */
export const sendInMemoryAnswersAtOnce = NodeServer.sendInMemoryAnswersAtOnce

/**
 * What {@link layer} gives beside `HttpApi.Api`: the app's own final answers to repeated anonymous
 * package reads, which the server of {@link nodeServerLayer} (and {@link serve}) replays before
 * the app runs. Other servers ignore it.
 * @since 0.1.0
 * @category tags
 */
export const AnswerReplay = AnswerCache.Replay

/**
 * The service type of {@link AnswerReplay}, as it appears in {@link layer}'s output.
 * @since 0.1.0
 * @category tags
 */
export type AnswerReplay = AnswerCache.Replay

/**
 * The `node:http` server `fm studio start` serves on, as a layer for an app that mounts
 * {@link layer} (in place of `NodeHttpServer.layer(createServer, { host, port })`): the limits and
 * bounded stop of `NodeServer.harden`, and the registry's own answers to repeated anonymous
 * package reads replayed before the app runs, as `fm studio start` does (`NodeServer.serverLayer`).
 * @since 0.1.0
 * @category layers
 */
export const nodeServerLayer = NodeServer.serverLayer

/**
 * A `node:http` server with the limits, start-up answers and bounded stop of `NodeServer.harden`.
 * @since 0.1.0
 * @category utils
 */
export const makeNodeServer = (): Http.Server => NodeServer.make()

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
