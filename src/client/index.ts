/**
 * `fm/client`: the registry client as Effect services and layers (configured registries, the
 * verified download cache, install, publish, dependency resolution) and the promise facade for
 * programs that do not use Effect. Loads no database driver and no server code.
 * @since 0.1.0
 */

/**
 * `~/.flowmason` (or `$FLOWMASON_HOME`) and the paths below it.
 * @since 0.1.0
 */
export * as FlowmasonHome from "../shared/FlowmasonHome.js"
/**
 * Text a terminal shows and never obeys (escape codes and control characters removed).
 * @since 0.1.0
 */
export * as TerminalText from "../shared/TerminalText.js"
/**
 * `registries.json`: the configured registries.
 * @since 0.1.0
 */
export * as RegistryConfig from "./RegistryConfig.js"
/**
 * The verified, content-addressed download cache.
 * @since 0.1.0
 */
export * as PackageCache from "./PackageCache.js"
/**
 * A client for one registry, derived from the API definition.
 * @since 0.1.0
 */
export * as RemoteRegistry from "./RemoteRegistry.js"
/**
 * All enabled registries in priority order, with the typed fallback and merged search.
 * @since 0.1.0
 */
export * as Registries from "./Registries.js"
/**
 * Installing a package by name or from a file.
 * @since 0.1.0
 */
export * as Installer from "./Installer.js"
/**
 * The check a registry's archive passes before it is installed, and `PackageRefused`.
 * @since 0.1.0
 */
export * as VerifiedArchive from "./VerifiedArchive.js"
/**
 * Publishing a `.fmpkg` to a registry.
 * @since 0.1.0
 */
export * as Publisher from "./Publisher.js"
/**
 * The client's layers, ready to provide.
 * @since 0.1.0
 */
export * as ClientLayers from "./ClientLayers.js"
/**
 * The promise facade for programs that do not use Effect.
 * @since 0.1.0
 */
export {
  /**
   * `ClientLive` with a fixed FlowMason home directory.
   * @since 0.1.0
   */
  clientLayerAt,
  /**
   * The whole client as one layer over Node's HTTP client, file system and the FlowMason home.
   * @since 0.1.0
   */
  ClientLive,
  /**
   * The client services over your own `HttpClient`, `FileSystem` and `FlowmasonHome`.
   * @since 0.1.0
   */
  ClientServicesLive
} from "./ClientLayers.js"
export * as RemoteRegistryClient from "./RemoteRegistryClient.js"
export {
  /**
   * Creates the promise client (the spec's `get_remote_registry()`).
   * @since 0.1.0
   */
  getRemoteRegistry
} from "./RemoteRegistryClient.js"

/**
 * The pure PubGrub solver and its explanations.
 * @since 0.1.0
 */
export * as Pubgrub from "../resolver/Pubgrub.js"
/**
 * Where the resolver reads package metadata from.
 * @since 0.1.0
 */
export * as MetadataSource from "../resolver/MetadataSource.js"
/**
 * The resolver service over a metadata source.
 * @since 0.1.0
 */
export * as Resolver from "../resolver/Resolver.js"
/**
 * The metadata source over the configured registries (one registry per name, pins).
 * @since 0.1.0
 */
export * as RegistryMetadata from "../resolver/RegistryMetadata.js"
/**
 * Project files (`manifest.json` / `flowmason.json`) and `fm.lock.json`.
 * @since 0.1.0
 */
export * as ProjectFile from "../resolver/ProjectFile.js"
/**
 * Project installs: resolve, lock, install all or nothing, tree, outdated.
 * @since 0.1.0
 */
export * as ProjectInstall from "../resolver/ProjectInstall.js"
/**
 * The publish-log check every install makes (inclusion and consistency against the registry's key).
 * @since 0.1.0
 */
export * as LogVerifier from "./LogVerifier.js"
