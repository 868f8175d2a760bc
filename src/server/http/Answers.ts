/**
 * How the registry's HttpApi app answers what goes wrong, and how much of a body it reads: every
 * failure is a `{"detail"}` answer (malformed requests 4xx naming the problem, defects 500
 * `internal error <id>` with one log line carrying that id and the cause), and no body is read
 * past {@link JSON_BODY_LIMIT} unless the route says otherwise (uploads: `--max-upload-size`).
 * Both are steps of the registry's middleware chain (`ServerMiddleware`), so an app embedding
 * `RegistryServer.layer` gets them.
 * @since 0.1.0
 */
import * as HttpApiError from "@effect/platform/HttpApiError"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Multipart from "@effect/platform/Multipart"
import { Cause, Effect, Layer, Option, Predicate } from "effect"
import { randomBytes } from "node:crypto"
import { BadRequest, PayloadTooLarge } from "../../api/ApiErrors.js"
import { JsonBodyLimit } from "../../api/RegistryApi.js"

/**
 * The largest request body read by any route but the upload: 64 KiB.
 * @since 0.1.0
 */
export const JSON_BODY_LIMIT = 64 * 1024

const json = (status: number, detail: string): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson({ detail }, { status })

/**
 * The longest request URL (path and query) answered: 8 KiB; longer ones get 414.
 * @since 0.1.0
 */
export const MAX_URL_LENGTH = 8 * 1024

/**
 * Bounds what a request may make the server read: a URL over {@link MAX_URL_LENGTH} answers 414
 * at once, and every request body is capped at {@link JSON_BODY_LIMIT} (a route that takes more,
 * the upload, sets its own limit with `HttpIncomingMessage.withMaxBodySize`). Nothing is read
 * here: the cap applies when a handler reads, and a body over it answers 413. Part of the
 * registry's middleware chain (`ServerMiddleware`).
 * @since 0.1.0
 * @category middleware
 */
export const requestLimits = <E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    request.url.length > MAX_URL_LENGTH
      ? Effect.succeed(json(414, `URL too long: ${request.url.length} characters, at most ${MAX_URL_LENGTH} are read`))
      : HttpIncomingMessage.withMaxBodySize(app, Option.some(JSON_BODY_LIMIT)))

/** The detail of a 413 for a body over {@link JSON_BODY_LIMIT}. */
const tooLargeDetail = `Request body too large: at most ${JSON_BODY_LIMIT / 1024} KiB are read`

/**
 * The {@link JsonBodyLimit} middleware: 413 when `Content-Length` is over {@link JSON_BODY_LIMIT},
 * 400 for a body without `Content-Length` (`Transfer-Encoding: chunked`).
 * @since 0.1.0
 * @category layers
 */
export const JsonBodyLimitLive: Layer.Layer<JsonBodyLimit> = Layer.succeed(
  JsonBodyLimit,
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request): Effect.Effect<void, BadRequest | PayloadTooLarge> => {
    if (request.headers["transfer-encoding"] !== undefined) {
      return Effect.fail(new BadRequest({ detail: "Send a JSON body with a Content-Length (not chunked)" }))
    }
    const length = Number(request.headers["content-length"] ?? 0)
    return length > JSON_BODY_LIMIT ? Effect.fail(new PayloadTooLarge({ detail: tooLargeDetail })) : Effect.void
  })
)

const decodeErrorDetail = (e: HttpApiError.HttpApiDecodeError): string => {
  const parts = e.issues.map((i) => {
    const where = i.path.map(String).join(".")
    return where === "" ? i.message : `'${where}': ${i.message}`
  })
  return `Invalid request: ${parts.length > 0 ? [...new Set(parts)].join("; ") : e.message}`
}

/** The platform's signal that a body went past `MaxBodySize` (the Node reader's message). */
const isOverLimit = (e: HttpServerError.RequestError): boolean =>
  e.cause instanceof Error && e.cause.message === "maxBytes exceeded"

/** One line for the log: the error's name and message and where it was thrown (no full stack). */
const oneLine = (cause: Cause.Cause<unknown>): string => {
  const e = Cause.squash(cause)
  if (!(e instanceof Error)) return String(e).replace(/\s+/g, " ")
  const at = e.stack?.split("\n").find((l) => l.trim().startsWith("at "))?.trim()
  return `${e.name}: ${e.message}`.replace(/\s+/g, " ") + (at === undefined ? "" : ` (${at})`)
}

/**
 * The answer to an unexpected failure: 500 `{"detail": "internal error <id>"}`, and one error log
 * line `internal error <id>: <cause>` so the two can be matched.
 * @since 0.1.0
 * @category utils
 */
export const internalError = (cause: Cause.Cause<unknown>): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
  const id = randomBytes(6).toString("hex")
  return Effect.as(Effect.logError(`internal error ${id}: ${oneLine(cause)}`), json(500, `internal error ${id}`))
}

/**
 * The answer to a failure of the platform's own kinds: 400 for an undecodable request or an
 * unreadable or malformed (multipart) body, 413 for a body over its limit, 404 for an unknown
 * route, the response itself for a failure that is a response. `undefined` for anything else (an
 * API error, which HttpApi encodes itself; an interruption; an unexpected failure, for
 * {@link internalError}).
 * @since 0.1.0
 * @category utils
 */
export const answerFailure = (
  cause: Cause.Cause<unknown>
): Effect.Effect<HttpServerResponse.HttpServerResponse> | undefined => {
  if (Cause.isInterruptedOnly(cause)) return undefined
  const failure: Option.Option<unknown> = Cause.failureOption(cause)
  const e = Option.isSome(failure) ? failure.value : Cause.squash(cause)
  if (e instanceof HttpApiError.HttpApiDecodeError) return Effect.succeed(json(400, decodeErrorDetail(e)))
  if (e instanceof HttpServerError.RequestError) {
    if (isOverLimit(e)) return Effect.succeed(json(413, tooLargeDetail))
    const why = e.cause instanceof Error ? e.cause.message : e.message
    return Effect.succeed(json(400, `Invalid request body: ${why}`))
  }
  if (e instanceof Multipart.MultipartError) {
    return Effect.succeed(
      e.reason === "FileTooLarge" || e.reason === "FieldTooLarge" || e.reason === "BodyTooLarge" ||
        e.reason === "TooManyParts"
        ? json(413, `Multipart body too large (${e.reason})`)
        : json(400, `Bad multipart body: ${multipartDetail(e)}`)
    )
  }
  if (e instanceof HttpServerError.RouteNotFound) return Effect.succeed(json(404, "Not Found"))
  if (HttpServerResponse.isServerResponse(e)) return Effect.succeed(e)
  return undefined
}

const multipartDetail = (e: Multipart.MultipartError): string => {
  const inner = Predicate.hasProperty(e.cause, "_tag") ? String(e.cause._tag) : undefined
  return inner === "InvalidBoundary" ? "no boundary in the Content-Type header" : inner ?? e.message
}
