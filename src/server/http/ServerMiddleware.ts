/**
 * The registry's HTTP middleware, one chain around every route of the app (API, docs, and whatever
 * else is mounted next to them, such as the web UI), in this order from the outside in:
 * 1. the request log: one line per answer (method, path without query string, status, ms);
 * 2. failures as answers: API errors `{detail}` with their status, unknown routes 404, the
 *    platform's own failures and anything unexpected as `Answers.answerFailure` says;
 *    request limits (`Answers.requestLimits`: URL length, body size) apply to what is inside;
 * 3. conditional answers: a `200` with an `ETag` listed by `If-None-Match` becomes `304`;
 * 4. the answer cache (`AnswerCache`) of package reads;
 * 5. metadata ETags: every `200` metadata answer gets the quoted hex SHA-256 of its body.
 *
 * It is part of `RegistryServer.layer`, so an app that mounts the registry serves it exactly as
 * `fm studio start` does. The layer also gives `AnswerCache.Replay`: the chain's own final answers
 * to anonymous package reads, which `NodeServer.layer` replays before the app runs (same bytes,
 * same log line), while the cache holds them.
 * @since 0.1.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Cause, Context, Effect, Layer, Option } from "effect"
import type { Scope } from "effect"
import { isApiError, toWire } from "../../api/ApiErrors.js"
import { RegistryApi } from "../../api/RegistryApi.js"
import { sha256Hex } from "../../shared/Hash.js"
import { ServerConfig } from "../ServerConfig.js"
import { PackageStore } from "../storage/PackageStore.js"
import * as AnswerCache from "./AnswerCache.js"
import * as Answers from "./Answers.js"
import { Auth } from "./Auth.js"
import { notModified } from "./Conditional.js"
import { baseUrlFromHeaders, noApiEndpoint } from "./WireBodies.js"

/**
 * The request log on stdout, for as long as its scope is open: lines are buffered and written
 * together once per turn of the event loop (stdout to a pipe or file writes synchronously; one
 * write per request would cost a system call each), in order, and flushed when the scope closes
 * or the process exits (the exit hook is removed with the scope). Gives the function appending
 * one line.
 * @since 0.1.0
 * @category utils
 */
export const requestLog: Effect.Effect<(line: string) => void, never, Scope.Scope> = Effect.map(
  Effect.acquireRelease(
    Effect.sync(() => {
      let pending: Array<string> = []
      const flush = () => {
        const lines = pending
        pending = []
        if (lines.length > 0) process.stdout.write(lines.join("\n") + "\n")
      }
      const append = (line: string): void => {
        if (pending.length === 0) setImmediate(flush)
        pending.push(line)
      }
      process.once("exit", flush)
      return { flush, append }
    }),
    ({ flush }) =>
      Effect.sync(() => {
        process.off("exit", flush)
        flush()
      })
  ),
  ({ append }) => append
)

const reasons: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Payload Too Large",
  416: "Range Not Satisfiable",
  500: "Internal Server Error"
}

const detail = (text: string, status: number, headers?: HttpServerResponse.Options["headers"]) =>
  HttpServerResponse.unsafeJson({ detail: text }, { status, ...(headers === undefined ? {} : { headers }) })

/**
 * Gives an error answer without a body (a 416, an empty platform error) the `{detail}` body
 * clients expect.
 * @since 0.1.0
 * @category utils
 */
export const withDetail = (response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse =>
  response.status >= 400 && response.body._tag === "Empty"
    ? detail(reasons[response.status] ?? `HTTP ${response.status}`, response.status, response.headers)
    : response

const pathOf = (url: string) => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

/**
 * The answer to a request that failed with `cause`: an API error its `{detail}` with its status, an
 * unknown route 404 (under `/api`, naming the path), anything else as `Answers.answerFailure` says
 * (an unexpected failure 500 `internal error <id>`). Interruptions stay interruptions.
 */
const answerFailure = (
  request: HttpServerRequest.HttpServerRequest,
  cause: Cause.Cause<unknown>
): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.interrupt
  const failure: Option.Option<unknown> = Cause.failureOption(cause)
  const e = Option.isSome(failure) ? failure.value : Cause.squash(cause)
  if (isApiError(e)) {
    const wire = toWire(e)
    return Effect.succeed(HttpServerResponse.text(wire.body, { status: wire.status, contentType: "application/json" }))
  }
  if (e instanceof HttpServerError.RouteNotFound) {
    const path = pathOf(request.url)
    return Effect.succeed(
      path === "/api" || path.startsWith("/api/") ? noApiEndpoint(request) : detail("Not Found", 404)
    )
  }
  return Answers.answerFailure(cause) ?? Answers.internalError(cause)
}

/**
 * Sets the metadata `ETag` (quoted hex SHA-256 of the body) on a `200` answer to a metadata read.
 * @since 0.1.0
 * @category utils
 */
export const withMetadataEtag = (
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse
): HttpServerResponse.HttpServerResponse => {
  const body = response.body
  if (response.status !== 200 || body._tag !== "Uint8Array" || response.headers["etag"] !== undefined) return response
  if (!AnswerCache.isMetadataRead(request)) return response
  return HttpServerResponse.setHeader(response, "etag", `"${sha256Hex(body.body)}"`)
}

/**
 * The answer to `request` given `response`: `304` (see `Conditional.notModified`) instead of a
 * `200` whose `ETag` the request's `If-None-Match` lists; an error answer without a body gets
 * its `{detail}`.
 * @since 0.1.0
 * @category utils
 */
export const finish = (
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse
): HttpServerResponse.HttpServerResponse =>
  response.status === 200
    ? request.headers["if-none-match"] === undefined
      ? response
      : Option.getOrElse(notModified(request, response.headers), () => response)
    : withDetail(response)

/**
 * Writes the request log line of an answer with `status` to `method url`, begun at `started`
 * (`performance.now()`): time, method, path without query string, status, ms.
 */
const logAnswer = (
  logLine: (line: string) => void,
  method: string,
  url: string,
  status: number,
  started: number
): void => {
  const ms = (performance.now() - started).toFixed(1)
  logLine(`${new Date().toISOString()} ${method} ${pathOf(url)} ${status} ${ms}ms`)
}

/** The chain and the replay of its answers, made together over one cache and one log. */
class Chain extends Context.Tag("fm/server/ServerMiddleware/Chain")<Chain, {
  readonly middleware: (app: HttpApp.Default) => HttpApp.Default
  readonly replay: Context.Tag.Service<AnswerCache.Replay>
}>() {}

const chain = Layer.scoped(
  Chain,
  Effect.gen(function*() {
    const store = yield* PackageStore
    const config = yield* ServerConfig
    const cache = AnswerCache.make(
      store,
      (request) => baseUrlFromHeaders(request.headers, config),
      AnswerCache.authClass(yield* Auth)
    )
    const logLine = config.logRequests ? yield* requestLog : undefined
    const middleware = (app: HttpApp.Default): HttpApp.Default => {
      const limited = Answers.requestLimits(app)
      const handled = (request: HttpServerRequest.HttpServerRequest) =>
        Effect.matchCauseEffect(
          cache.answer(request, Effect.map(limited, (response) => withMetadataEtag(request, response))),
          {
            onFailure: (cause) => Effect.map(answerFailure(request, cause), withDetail),
            onSuccess: (response) => Effect.succeed(finish(request, response))
          }
        )
      return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
        if (logLine === undefined) return handled(request)
        const started = performance.now()
        return Effect.tap(
          handled(request),
          (response) => logAnswer(logLine, request.method, request.url, response.status, started)
        )
      })
    }
    const attach = (): AnswerCache.Replayer => {
      const finalAnswer = cache.replayFinal()
      return (head, send) => {
        const started = logLine === undefined ? 0 : performance.now()
        const answer = finalAnswer(head)
        if (answer === undefined) return false
        send(answer)
        if (logLine !== undefined) logAnswer(logLine, "GET", head.url ?? "", answer.status, started)
        return true
      }
    }
    return { middleware, replay: { attach } }
  })
)

/**
 * The whole chain (see the module doc) as an `HttpApi` middleware layer, over the store, the
 * server options and `Auth` in context; it also gives the replay of the chain's final answers
 * (`AnswerCache.Replay`).
 * @since 0.1.0
 * @category layers
 */
export const layer = Layer.merge(
  HttpApiBuilder.middleware(RegistryApi, Effect.map(Chain, (c) => c.middleware)),
  Layer.effect(AnswerCache.Replay, Effect.map(Chain, (c) => c.replay))
).pipe(Layer.provide(chain))
