/**
 * `fm/server`: the registry server as layers: the registry API to serve or to mount beside your
 * own routes, the storage layers (SQLite, PostgreSQL, blobs), authentication and the web UI.
 *
 * @example
 * ```ts
 * import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
 * import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
 * import { Layer } from "effect"
 * import { RegistryServer } from "fm/server"
 * import { createServer } from "node:http"
 *
 * // /api/v1/registry/... and a route of your own, on one Node server
 * const Hello = HttpApiBuilder.Router.use((router) => router.get("/hello", HttpServerResponse.text("hi")))
 * export const App = HttpApiBuilder.serve().pipe(
 *   Layer.provide(Hello),
 *   Layer.provide(RegistryServer.layer({ dataDir: "/srv/fm" })),
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 8080 }))
 * )
 * ```
 *
 * @since 0.1.0
 */

/**
 * The `HttpApi` definition of `/api/v1/registry`: server, typed client and OpenAPI.
 * @since 0.1.0
 */
export * as RegistryApi from "../api/RegistryApi.js"
/**
 * The wire JSON models (package object, search, versions, health, stats).
 * @since 0.1.0
 */
export * as ApiModels from "../api/Models.js"
/**
 * The API's errors, `{"detail": ...}` on the wire.
 * @since 0.1.0
 */
export * as ApiErrors from "../api/ApiErrors.js"
/**
 * The registry API as a layer to serve or to mount in another app.
 * @since 0.1.0
 */
export * as RegistryServer from "./RegistryServer.js"
/**
 * The registry server's options.
 * @since 0.1.0
 */
export * as ServerConfig from "./ServerConfig.js"
/**
 * The metadata store interface (SQLite and PostgreSQL layers).
 * @since 0.1.0
 */
export * as PackageStore from "./storage/PackageStore.js"
/**
 * The metadata store on SQLite (the embedded default).
 * @since 0.1.0
 */
export * as SqlitePackageStore from "./storage/SqlitePackageStore.js"
/**
 * The metadata store on PostgreSQL.
 * @since 0.1.0
 */
export * as PgPackageStore from "./pg/PgPackageStore.js"
/**
 * The PostgreSQL connection pool, migrations and health ping.
 * @since 0.1.0
 */
export * as PgDatabase from "./pg/PgDatabase.js"
/**
 * Archives stored in PostgreSQL, in chunks.
 * @since 0.1.0
 */
export * as PgBlobStore from "./pg/PgBlobStore.js"
/**
 * Archives in a directory shared by replicas.
 * @since 0.1.0
 */
export * as SharedDirBlobStore from "./storage/SharedDirBlobStore.js"
/**
 * Archive storage: the interface and its filesystem layer.
 * @since 0.1.0
 */
export * as BlobStore from "./storage/BlobStore.js"
/**
 * Storage chosen at start-up: SQLite or PostgreSQL, files, a shared directory or PostgreSQL blobs.
 * @since 0.1.0
 */
export * as Storage from "./selection/Storage.js"
/**
 * Tokens, scopes and the Authentication middleware.
 * @since 0.1.0
 */
export * as Auth from "./http/Auth.js"
/**
 * The web UI served at `/`.
 * @since 0.1.0
 */
export * as WebUi from "./webui/WebUi.js"
/**
 * The publish log's Ed25519 signing key (`--log-key`, or generated in the data dir).
 * @since 0.1.0
 */
export * as LogKey from "./log/LogKey.js"
