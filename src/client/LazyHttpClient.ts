/**
 * Node's HTTP client (undici), loaded on the first request rather than when the layer is built:
 * a command that never goes to the network (`fm install --frozen` with a warm cache, say) does not
 * pay for loading and initialising undici. The dispatcher lives in the layer's scope, as with
 * `NodeHttpClient.layerUndici` itself.
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import { Context, Effect, Layer } from "effect"

/**
 * The `HttpClient` over undici, loaded on first use.
 * @since 0.1.0
 * @category layers
 */
export const layerLazyUndici: Layer.Layer<HttpClient.HttpClient> = Layer.scoped(
  HttpClient.HttpClient,
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    // built once, on the first request, into this layer's scope (closed with it)
    const client = yield* Effect.cached(
      Effect.promise(() => import("@effect/platform-node/NodeHttpClient")).pipe(
        Effect.flatMap((m) => Layer.buildWithScope(m.layerUndici, scope)),
        Effect.map((context) => Context.get(context, HttpClient.HttpClient))
      )
    )
    // a plain delegate: the undici client adds its own span, abort signal and response handling.
    // Loading happens in the request's preprocessing, so it is never counted in a timeout or retry
    // (`HttpClient.transform`, which timeouts and retries use, wraps only what follows it).
    const delegate: HttpClient.HttpClient = HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
      (request) => Effect.flatMap(request, (r) => Effect.flatMap(client, (c) => c.execute(r))),
      (request) => Effect.as(client, request)
    )
    return delegate
  })
)
