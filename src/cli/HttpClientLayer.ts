/**
 * The HTTP client of the CLI's commands (Node's undici). Only commands that talk to a registry
 * load this module (it pulls undici into the process), so `fm registry list` and friends stay quick.
 * @since 0.1.0
 */
import type { HttpClient } from "@effect/platform"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type { Layer } from "effect"

/**
 * The `HttpClient` the CLI's commands use.
 * @since 0.1.0
 * @category layers
 */
export const HttpClientLive: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerUndici
