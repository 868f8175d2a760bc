/**
 * Bounds on a response body from a registry: an idle timeout (no byte for that long ends the
 * transfer) and a size cap (the transfer ends as soon as it would pass the cap; a Content-Length
 * over the cap is refused before any byte is read). HTTP client timeouts cover only the wait for
 * the headers; these cover the body (style guide P15).
 * @since 0.1.0
 */
import type * as Headers from "@effect/platform/Headers"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { type Duration, Effect, Stream } from "effect"

/**
 * The most bytes of a JSON answer from a registry (package info, versions, search, health, an
 * error's body): 16 MiB.
 * @since 0.1.0
 */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024

/**
 * The limits of one body.
 * @since 0.1.0
 * @category models
 */
export interface BodyLimits {
  /** Longest wait for the next chunk. */
  readonly idle: Duration.Duration
  /** Most bytes accepted. */
  readonly maxBytes: number
}

/** The Content-Length a response announced, if it is a plain number. */
const announcedLength = (headers: Headers.Headers): number | undefined => {
  const value = headers["content-length"]
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value.trim()) : undefined
}

/**
 * The body of `response` ended by the limits: refused at once with `onTooLarge(announced)` when
 * its Content-Length is over `limits.maxBytes`; else a stream that fails with `onIdle()` when no
 * chunk comes within `limits.idle`, and with `onTooLarge(undefined)` (before passing the chunk on)
 * once more than `limits.maxBytes` have come.
 * @since 0.1.0
 */
export const boundedBody = <E1, E2>(
  response: HttpClientResponse.HttpClientResponse,
  limits: BodyLimits,
  onIdle: () => E1,
  onTooLarge: (announced: number | undefined) => E2
): Effect.Effect<Stream.Stream<Uint8Array, HttpClientError.ResponseError | E1 | E2>, E2> => {
  const announced = announcedLength(response.headers)
  if (announced !== undefined && announced > limits.maxBytes) return Effect.fail(onTooLarge(announced))
  return Effect.succeed(Stream.suspend(() => {
    let received = 0
    return response.stream.pipe(
      Stream.timeoutFail(onIdle, limits.idle),
      Stream.mapEffect((chunk): Effect.Effect<Uint8Array, E2> => {
        received += chunk.length
        return received > limits.maxBytes ? Effect.fail(onTooLarge(undefined)) : Effect.succeed(chunk)
      })
    )
  }))
}

/**
 * The whole of a bounded body (see {@link boundedBody}) in memory.
 * @since 0.1.0
 */
export const readBounded = <E>(body: Stream.Stream<Uint8Array, E>): Effect.Effect<Uint8Array<ArrayBuffer>, E> =>
  Effect.map(Stream.runCollect(body), (chunks) => {
    let size = 0
    for (const c of chunks) size += c.length
    const out = new Uint8Array(size)
    let at = 0
    for (const c of chunks) {
      out.set(c, at)
      at += c.length
    }
    return out
  })
