/**
 * The client's layers, defined once (layers are memoized by reference): the services of
 * `Registries`, `Installer`, `Publisher`, `RegistryConfig` and `PackageCache`. The services
 * themselves need a `FileSystem`, an `HttpClient` and the `FlowmasonHome`
 * ({@link ClientServicesLive}: an app gives its own); the `*Live` layers provide Node's.
 * @since 0.1.0
 */
import type { FileSystem, HttpClient } from "@effect/platform"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Layer } from "effect"
import { FlowmasonHome, layerAt } from "../shared/FlowmasonHome.js"
import { Installer } from "./Installer.js"
import { layerLazyUndici } from "./LazyHttpClient.js"
import { PackageCache } from "./PackageCache.js"
import { Publisher } from "./Publisher.js"
import { Registries } from "./Registries.js"
import { RegistryConfig } from "./RegistryConfig.js"

/**
 * Every client service.
 * @since 0.1.0
 * @category models
 */
export type ClientServices = Registries | Installer | Publisher | RegistryConfig | PackageCache

/**
 * The client services over what the program provides: an `HttpClient`, a `FileSystem` and the
 * `FlowmasonHome` (`FlowmasonHome.layerAt(dir)`, or `FlowmasonHome.Default` for
 * `$FLOWMASON_HOME` / `~/.flowmason`). The CLI provides them once in `Main.ts`.
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
 * import { Effect, Layer } from "effect"
 * import { ClientServicesLive, FlowmasonHome, Registries } from "fm/client"
 *
 * const ClientLayer = ClientServicesLive.pipe(
 *   Layer.provide([FetchHttpClient.layer, NodeFileSystem.layer, FlowmasonHome.layerAt("/srv/app/flowmason")])
 * )
 *
 * const latest = Effect.gen(function*() {
 *   const registries = yield* Registries.Registries
 *   const { registry, info } = yield* registries.getPackage("text-tools", { version: "^1" })
 *   return `${info.name}@${info.version} from ${registry}`
 * }).pipe(
 *   Effect.catchTags({ RegistriesExhausted: (e) => Effect.succeed(e.message) }), // a ChecksumMismatch stays typed
 *   Effect.provide(ClientLayer)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const ClientServicesLive: Layer.Layer<
  ClientServices,
  never,
  HttpClient.HttpClient | FileSystem.FileSystem | FlowmasonHome
> = Layer.mergeAll(
  Registries.Default,
  Installer.Default,
  Publisher.Default,
  RegistryConfig.Default,
  PackageCache.Default
)

/**
 * `registries.json` over Node's file system (needs only the `FlowmasonHome`).
 * @since 0.1.0
 * @category layers
 */
export const RegistryConfigLive: Layer.Layer<RegistryConfig, never, FlowmasonHome> = RegistryConfig.Default.pipe(
  Layer.provide(NodeFileSystem.layer)
)

/**
 * The download cache over Node's file system (needs only the `FlowmasonHome`).
 * @since 0.1.0
 * @category layers
 */
export const PackageCacheLive: Layer.Layer<PackageCache, never, FlowmasonHome> = PackageCache.Default.pipe(
  Layer.provide(NodeFileSystem.layer)
)

/**
 * Everything an Effect program needs to use the registries: the client services over Node's
 * (undici, loaded on the first request) HTTP client, Node's file system and the FlowMason home (`$FLOWMASON_HOME` or `~/.flowmason`).
 * @since 0.1.0
 * @category layers
 */
export const ClientLive: Layer.Layer<ClientServices | FlowmasonHome | HttpClient.HttpClient> = ClientServicesLive.pipe(
  Layer.provideMerge(Layer.mergeAll(layerLazyUndici, Layer.orDie(FlowmasonHome.Default))),
  Layer.provide(NodeFileSystem.layer)
)

/**
 * {@link ClientLive} with a fixed FlowMason home directory (tests, embedding programs).
 * @since 0.1.0
 * @category layers
 */
export const clientLayerAt = (home: string): Layer.Layer<ClientServices | FlowmasonHome | HttpClient.HttpClient> =>
  ClientServicesLive.pipe(
    Layer.provideMerge(Layer.mergeAll(layerLazyUndici, layerAt(home))),
    Layer.provide(NodeFileSystem.layer)
  )
