/**
 * The client's layers, defined once (layers are memoized by reference): the services of
 * `Registries`, `Installer`, `Publisher`, `RegistryConfig` and `PackageCache`, with or without the
 * Node HTTP client and the FlowMason home.
 * @since 0.1.0
 */
import type { HttpClient } from "@effect/platform"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Layer } from "effect"
import { FlowmasonHome, layerAt } from "../shared/FlowmasonHome.js"
import { Installer } from "./Installer.js"
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
 * The client services, still needing an `HttpClient` and the `FlowmasonHome` (the CLI provides
 * both once in `bin.ts`).
 * @since 0.1.0
 * @category layers
 */
export const ClientServicesLive: Layer.Layer<ClientServices, never, HttpClient.HttpClient | FlowmasonHome> = Layer
  .mergeAll(Registries.Default, Installer.Default, Publisher.Default, RegistryConfig.Default, PackageCache.Default)

/**
 * Everything an Effect program needs to use the registries: the client services over Node's
 * (undici) HTTP client and the FlowMason home (`$FLOWMASON_HOME` or `~/.flowmason`).
 * @since 0.1.0
 * @category layers
 */
export const ClientLive: Layer.Layer<ClientServices | FlowmasonHome | HttpClient.HttpClient> = ClientServicesLive.pipe(
  Layer.provideMerge(Layer.mergeAll(NodeHttpClient.layerUndici, Layer.orDie(FlowmasonHome.Default)))
)

/**
 * {@link ClientLive} with a fixed FlowMason home directory (tests, embedding programs).
 * @since 0.1.0
 * @category layers
 */
export const clientLayerAt = (home: string): Layer.Layer<ClientServices | FlowmasonHome | HttpClient.HttpClient> =>
  ClientServicesLive.pipe(Layer.provideMerge(Layer.mergeAll(NodeHttpClient.layerUndici, layerAt(home))))
