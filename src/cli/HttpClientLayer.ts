/**
 * The HTTP client of the CLI's commands (Node's undici, loaded on the first request: a command
 * that never goes to the network, such as a frozen install from the cache, never loads it).
 * @since 0.1.0
 */
import type { HttpClient } from "@effect/platform"
import type { Layer } from "effect"
import { layerLazyUndici } from "../client/LazyHttpClient.js"

/**
 * The `HttpClient` the CLI's commands use.
 * @since 0.1.0
 * @category layers
 */
export const HttpClientLive: Layer.Layer<HttpClient.HttpClient> = layerLazyUndici
