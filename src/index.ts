/**
 * `fm`: the FlowMason package registry's client side as Effect services and layers: the domain
 * types, the registry API definition and its wire models, `.fmpkg` archives, the configured
 * registries, the download cache, install, publish and dependency resolution. Programs that do not
 * use Effect start at {@link getRemoteRegistry}. The server is in `fm/server`; `fm/client` and
 * `fm/archive` are narrower entry points.
 * @since 0.1.0
 */

/**
 * Package names: validation and `-`/`_`/`.` equivalence.
 * @since 0.1.0
 */
export * as PackageName from "./domain/PackageName.js"
/**
 * Strict semver versions, ranges and the "latest" rule.
 * @since 0.1.0
 */
export * as Version from "./domain/Version.js"

/**
 * The `HttpApi` definition of `/api/v1/registry`: server, typed client and OpenAPI.
 * @since 0.1.0
 */
export * as RegistryApi from "./api/RegistryApi.js"
/**
 * The wire JSON models (package object, search, versions, health, stats).
 * @since 0.1.0
 */
export * as ApiModels from "./api/Models.js"
/**
 * The API's errors, `{"detail": ...}` on the wire.
 * @since 0.1.0
 */
export * as ApiErrors from "./api/ApiErrors.js"

/**
 * Everything in `fm/archive`: `PackageArchive`, `Checksum`, `FileError`, `Manifest`.
 * @since 0.1.0
 */
export * from "./archive/index.js"
/**
 * Everything in `fm/client`: the client services and layers, the resolver, the promise facade.
 * @since 0.1.0
 */
export * from "./client/index.js"
