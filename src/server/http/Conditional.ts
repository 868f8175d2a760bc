/**
 * Conditional requests (`If-None-Match`), decided one way for every answer the server gives:
 * package metadata, archive downloads and the web UI's files.
 * @since 0.1.0
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Option } from "effect"

/**
 * Whether an `If-None-Match` header lists `etag` (weak comparison, as RFC 9110 asks for
 * `If-None-Match`: `W/"x"` matches `"x"` and the other way round; `*` matches anything).
 * @since 0.1.0
 * @category utils
 */
export const etagMatches = (ifNoneMatch: string | undefined, etag: string): boolean =>
  ifNoneMatch !== undefined &&
  ifNoneMatch.split(",").some((t) => {
    const v = t.trim()
    return v === "*" || v === etag || v === `W/${etag}` || `W/${v}` === etag
  })

/** Headers a `304` must not carry: they describe a body it does not have. */
const BODY_HEADERS = new Set(["content-type", "content-length", "content-encoding", "content-range"])

/**
 * The `304 Not Modified` answer to `request` when its `If-None-Match` lists `headers.etag`,
 * carrying the headers of the full answer except those that describe its body; none otherwise.
 * @since 0.1.0
 * @category utils
 */
export const notModified = (
  request: HttpServerRequest.HttpServerRequest,
  headers: Readonly<Record<string, string>>
): Option.Option<HttpServerResponse.HttpServerResponse> => {
  const etag = headers["etag"]
  if (etag === undefined || !etagMatches(request.headers["if-none-match"], etag)) return Option.none()
  const kept: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) if (!BODY_HEADERS.has(k)) kept[k] = v
  return Option.some(HttpServerResponse.empty({ status: 304, headers: kept }))
}
