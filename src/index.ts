/**
 * fm as a library: the FlowMason package registry's client, server and formats as Effect
 * services and layers. Programs that do not use Effect start at {@link getRemoteRegistry}.
 * @since 0.1.0
 */

// ---- shared domain ----------------------------------------------------------------------
/** Package names: validation and `-`/`_`/`.` equivalence. @since 0.1.0 */
export * as PackageName from "./domain/PackageName.js"
/** Strict semver versions, ranges and the "latest" rule. @since 0.1.0 */
export * as Version from "./domain/Version.js"
/** The unified manifest decoded from either FlowMason dialect. @since 0.1.0 */
export * as Manifest from "./domain/Manifest.js"

// ---- the registry API (shared by server and client) --------------------------------------
/** The `HttpApi` definition of `/api/v1/registry`: server, typed client and OpenAPI. @since 0.1.0 */
export * as RegistryApi from "./api/RegistryApi.js"
/** The wire JSON models (package object, search, versions, health, stats). @since 0.1.0 */
export * as ApiModels from "./api/Models.js"
/** The API's errors, `{"detail": ...}` on the wire. @since 0.1.0 */
export * as ApiErrors from "./api/ApiErrors.js"

// ---- files, archives, checksums ----------------------------------------------------------
/** `~/.flowmason` (or `$FLOWMASON_HOME`) and the paths below it. @since 0.1.0 */
export * as FlowmasonHome from "./shared/FlowmasonHome.js"
/** Text a terminal shows and never obeys (escape codes and control characters removed). @since 0.1.0 */
export * as TerminalText from "./shared/TerminalText.js"
/** Streaming SHA-256 and `ChecksumMismatch`. @since 0.1.0 */
export * as Checksum from "./shared/Checksum.js"
/** The file I/O error every service reports. @since 0.1.0 */
export * as FileError from "./shared/FileError.js"
/** `.fmpkg` archives (ZIP or gzip tar): open, read the manifest, extract safely, pack. @since 0.1.0 */
export * as PackageArchive from "./archive/PackageArchive.js"

// ---- client ------------------------------------------------------------------------------
/** `registries.json`: the configured registries. @since 0.1.0 */
export * as RegistryConfig from "./client/RegistryConfig.js"
/** The verified, content-addressed download cache. @since 0.1.0 */
export * as PackageCache from "./client/PackageCache.js"
/** A client for one registry, derived from the API definition. @since 0.1.0 */
export * as RemoteRegistry from "./client/RemoteRegistry.js"
/** All enabled registries in priority order, with the typed fallback and merged search. @since 0.1.0 */
export * as Registries from "./client/Registries.js"
/** Installing a package by name or from a file. @since 0.1.0 */
export * as Installer from "./client/Installer.js"
/** The check a registry's archive passes before it is installed, and `PackageRefused`. @since 0.1.0 */
export * as VerifiedArchive from "./client/VerifiedArchive.js"
/** Publishing a `.fmpkg` to a registry. @since 0.1.0 */
export * as Publisher from "./client/Publisher.js"
/** The client's layers, ready to provide. @since 0.1.0 */
export * as ClientLayers from "./client/ClientLayers.js"
/** The promise facade for programs that do not use Effect. @since 0.1.0 */
export * as RemoteRegistryClient from "./client/RemoteRegistryClient.js"
/** Creates the promise client (the spec's `get_remote_registry()`). @since 0.1.0 */
export { getRemoteRegistry } from "./client/RemoteRegistryClient.js"
/** The whole client as one layer (needs nothing). @since 0.1.0 */
export { ClientLive, clientLayerAt } from "./client/ClientLayers.js"

// ---- dependency resolution ---------------------------------------------------------------
/** The pure PubGrub solver and its explanations. @since 0.1.0 */
export * as Pubgrub from "./resolver/Pubgrub.js"
/** Where the resolver reads package metadata from. @since 0.1.0 */
export * as MetadataSource from "./resolver/MetadataSource.js"
/** The resolver service over a metadata source. @since 0.1.0 */
export * as Resolver from "./resolver/Resolver.js"
/** The metadata source over the configured registries (one registry per name, pins). @since 0.1.0 */
export * as RegistryMetadata from "./resolver/RegistryMetadata.js"
/** Project files (`manifest.json` / `flowmason.json`) and `fm.lock.json`. @since 0.1.0 */
export * as ProjectFile from "./resolver/ProjectFile.js"
/** Project installs: resolve, lock, install all or nothing, tree, outdated. @since 0.1.0 */
export * as ProjectInstall from "./resolver/ProjectInstall.js"

// ---- server ------------------------------------------------------------------------------
/** The registry server's options. @since 0.1.0 */
export * as ServerConfig from "./server/ServerConfig.js"
/** The metadata store interface (SQLite and PostgreSQL layers). @since 0.1.0 */
export * as PackageStore from "./server/PackageStore.js"
/** The metadata store on SQLite (the embedded default). @since 0.1.0 */
export * as SqlitePackageStore from "./server/SqlitePackageStore.js"
/** The metadata store on PostgreSQL. @since 0.1.0 */
export * as PgPackageStore from "./server/pg/PgPackageStore.js"
/** The PostgreSQL connection pool, migrations and health ping. @since 0.1.0 */
export * as PgDatabase from "./server/pg/PgDatabase.js"
/** Archives stored in PostgreSQL, in chunks. @since 0.1.0 */
export * as PgBlobStore from "./server/pg/PgBlobStore.js"
/** Archives in a directory shared by replicas. @since 0.1.0 */
export * as SharedDirBlobStore from "./server/pg/SharedDirBlobStore.js"
/** Archive storage: the interface and its filesystem layer. @since 0.1.0 */
export * as BlobStore from "./server/BlobStore.js"
/** Storage chosen at start-up: SQLite or PostgreSQL, files, a shared directory or PostgreSQL blobs. @since 0.1.0 */
export * as Storage from "./server/pg/Storage.js"
/** Tokens, scopes and the Authentication middleware. @since 0.1.0 */
export * as Auth from "./server/Auth.js"
/** The registry API as a layer to serve or to mount in another app. @since 0.1.0 */
export * as RegistryServer from "./server/RegistryServer.js"
/** The web UI served at `/`. @since 0.1.0 */
export * as WebUi from "./server/WebUi.js"
