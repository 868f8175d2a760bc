/**
 * The `node:http` side of the registry server: size and time limits on what a client may send,
 * an answer for every request accepted while the app is not attached, and a stop that waits for
 * in-flight requests only so long.
 * @since 0.1.0
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http"

/**
 * Largest request head (request line and headers), in bytes: 16 KiB; past it Node answers 431.
 * @since 0.1.0
 */
export const MAX_HEADER_SIZE = 16 * 1024

/**
 * Time a client has to send a request's head: 20 s.
 * @since 0.1.0
 */
export const HEADERS_TIMEOUT_MS = 20_000

/**
 * Time a client has to send a whole request, body included: 10 min (a large upload on a slow link).
 * @since 0.1.0
 */
export const REQUEST_TIMEOUT_MS = 600_000

/**
 * Idle keep-alive connections outlive the clients' (which close first): 65 s.
 * @since 0.1.0
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000

/**
 * How long a stop waits for requests in flight before closing their connections: 5 s.
 * @since 0.1.0
 */
export const STOP_GRACE_MS = 5_000

/**
 * Options for the `node:http` server constructor.
 * @since 0.1.0
 */
export const serverOptions = { maxHeaderSize: MAX_HEADER_SIZE, requestTimeout: REQUEST_TIMEOUT_MS } as const

/** An unread body up to this size is discarded after the answer rather than dropped with its connection: 1 MiB. */
const DISCARD_LIMIT = 1024 * 1024

/** How long the rest of an unread body is discarded before its connection is dropped. */
const LINGER_MS = 2_000

const unavailable = JSON.stringify({ detail: "The registry is starting or stopping; retry shortly" })

/**
 * Answers a request nothing else listens for: `NodeHttpServer` listens while its layer is built
 * and attaches the app later (and detaches it first at a stop), so a request accepted in between
 * would never be answered. It gets 503 with `Retry-After` and its connection is closed. And once
 * a request is answered before its body was read (a 401, 403 or 413), its connection is closed
 * unless the body is small, so the rest of a large body is not read at all.
 */
const guard = (server: Server) => (req: IncomingMessage, res: ServerResponse) => {
  res.once("finish", () => {
    // a small body is read and discarded by Node (the client then reads the answer and may
    // reuse the connection); a larger or unsized one is not
    const length = Number(req.headers["content-length"] ?? NaN)
    if (req.complete || length <= DISCARD_LIMIT) return
    // end our side now; what the client still sends is discarded for a moment, then the
    // connection is dropped (dropping it at once could reset it before the answer is read)
    const socket = req.socket
    socket.end()
    setTimeout(() => socket.destroy(), LINGER_MS).unref()
  })
  if (server.listenerCount("request") > 1) return
  res.writeHead(503, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(unavailable)),
    "retry-after": "1",
    connection: "close"
  })
  res.end(unavailable)
}

/**
 * Applies the limits above to `server` (the timeouts and keep-alive; the header size and request
 * timeout must also be passed to its constructor, see {@link serverOptions}), answers requests
 * accepted while no app is attached with 503, and makes `close()` close idle connections at once
 * and every other connection after {@link STOP_GRACE_MS}, so a stop is bounded whatever clients do.
 * @since 0.1.0
 * @category utils
 */
export const harden = <S extends Server>(server: S): S => {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
  server.headersTimeout = HEADERS_TIMEOUT_MS
  server.requestTimeout = REQUEST_TIMEOUT_MS
  server.on("request", guard(server))
  const close = server.close.bind(server)
  server.close = (callback?: (err?: Error) => void) => {
    const timer = setTimeout(() => server.closeAllConnections(), STOP_GRACE_MS)
    timer.unref()
    close((err) => {
      clearTimeout(timer)
      callback?.(err)
    })
    server.closeIdleConnections()
    return server
  }
  return server
}
