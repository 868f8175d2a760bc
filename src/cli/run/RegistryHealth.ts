/**
 * The health check of `fm registry add` (loaded with `import()` by that command only, with the
 * HTTP client it needs).
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Duration, Effect, Option, Schema } from "effect"
import { boundedBody, MAX_ANSWER_BYTES, readBounded } from "../../client/BoundedBody.js"
import { fieldOf } from "../../shared/Fields.js"
import { USER_AGENT } from "../../shared/FmVersion.js"
import { HttpClientLive } from "../HttpClientLayer.js"

/**
 * What a health check found.
 * @since 0.1.0
 * @category models
 */
export interface Health {
  readonly ok: boolean
  readonly status?: string
  readonly registry_name?: string
  readonly packages_count?: number
  /** The verifier key of the registry's publish log (fm registries). */
  readonly log_key?: string
  readonly error?: string
}

/** A short reason for a failed request: the OS error code when there is one. */
const describeFailure = (e: unknown): string => {
  let cur: unknown = e
  for (let i = 0; i < 6 && cur !== undefined && cur !== null; i++) {
    if (typeof cur === "object") {
      const code = fieldOf(cur, "code")
      if (typeof code === "string" && /^E[A-Z_]+$/.test(code)) {
        return code === "ECONNREFUSED"
          ? "connection refused (ECONNREFUSED)"
          : code === "ENOTFOUND"
          ? "host not found (ENOTFOUND)"
          : code
      }
      cur = fieldOf(cur, "cause")
    } else break
  }
  return e instanceof Error ? e.message : String(e)
}

/**
 * GET <url>/api/v1/registry/health with a 5 s timeout, over the CLI's HTTP client. Never fails.
 * @since 0.1.0
 */
export const checkHealth = (url: string, token: Option.Option<string>) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const healthUrl = `${url.replace(/\/+$/, "")}/api/v1/registry/health`
    let request = HttpClientRequest.get(healthUrl).pipe(
      HttpClientRequest.setHeaders({ "user-agent": USER_AGENT, accept: "application/json" })
    )
    if (Option.isSome(token)) request = HttpClientRequest.bearerToken(request, token.value)
    const response = yield* client.execute(request).pipe(Effect.timeout(Duration.seconds(5)))
    if (response.status < 200 || response.status >= 300) {
      return { ok: false, error: `HTTP ${response.status} from ${healthUrl}` } satisfies Health
    }
    const failed = (description: string) =>
      new HttpClientError.ResponseError({ request, response, reason: "Decode", description })
    // bounded like every registry answer: 5 s without data, or more than MAX_ANSWER_BYTES, ends it
    const bytes = yield* boundedBody(
      response,
      { idle: Duration.seconds(5), maxBytes: MAX_ANSWER_BYTES },
      () => failed("no data for 5 seconds"),
      () => failed(`the answer is over ${MAX_ANSWER_BYTES} bytes`)
    ).pipe(Effect.flatMap(readBounded), Effect.timeout(Duration.seconds(5)))
    const body = yield* Schema.decodeUnknown(Schema.parseJson())(new TextDecoder().decode(bytes))
    const rec = {
      status: fieldOf(body, "status"),
      registry_name: fieldOf(body, "registry_name"),
      packages_count: fieldOf(body, "packages_count"),
      log_key: fieldOf(body, "log_key")
    }
    return {
      ok: true,
      ...(typeof rec.status === "string" ? { status: rec.status } : {}),
      ...(typeof rec.registry_name === "string" ? { registry_name: rec.registry_name } : {}),
      ...(typeof rec.packages_count === "number" ? { packages_count: rec.packages_count } : {}),
      ...(typeof rec.log_key === "string" ? { log_key: rec.log_key } : {})
    } satisfies Health
  }).pipe(
    Effect.catchAll((e) =>
      Effect.succeed<Health>({
        ok: false,
        error: e._tag === "TimeoutException" ? "no answer within 5 seconds" : describeFailure(e)
      })
    ),
    Effect.provide(HttpClientLive)
  )
