/**
 * Bounds on a response body from a registry: an idle timeout (no byte for that long ends the
 * transfer) and a size cap (the transfer ends as soon as it would pass the cap; a Content-Length
 * over the cap is refused before any byte is read). HTTP client timeouts cover only the wait for
 * the headers; these cover the body (style guide P15).
 * @since 0.1.0
 */
import type * as Headers from "@effect/platform/Headers"
import { type Duration, Effect, Stream } from "effect"

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

/**
 * The Content-Length a response announced, if it is a plain number.
 * @since 0.1.0
 */
export const announcedLength = (headers: Headers.Headers): number | undefined => {
  const value = headers["content-length"]
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value.trim()) : undefined
}

/**
 * `body` ended by the limits: fails with `onIdle()` when no chunk comes within `limits.idle`, and
 * with `onTooLarge()` (before passing the chunk on) once more than `limits.maxBytes` have come.
 * @since 0.1.0
 */
export const boundBody = <E, E1, E2>(
  body: Stream.Stream<Uint8Array, E>,
  limits: BodyLimits,
  onIdle: () => E1,
  onTooLarge: () => E2
): Stream.Stream<Uint8Array, E | E1 | E2> =>
  Stream.suspend(() => {
    let received = 0
    return body.pipe(
      Stream.timeoutFail(onIdle, limits.idle),
      Stream.mapEffect((chunk): Effect.Effect<Uint8Array, E2> => {
        received += chunk.length
        return received > limits.maxBytes ? Effect.fail(onTooLarge()) : Effect.succeed(chunk)
      })
    )
  })

/**
 * The whole of a bounded body (see {@link boundBody}) in memory.
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
