/**
 * The `node:http` side of the registry server: size and time limits on what a client may send,
 * an answer for every request accepted while the app is not attached, a stop that waits for
 * in-flight requests only so long, and answers held in memory sent without waiting for the socket.
 * @since 0.1.0
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Cookies from "@effect/platform/Cookies"
import * as HttpApp from "@effect/platform/HttpApp"
import { Effect, Layer, Option } from "effect"
import type { IncomingMessage, Server } from "node:http"
import { ServerResponse } from "node:http"
import type { Socket } from "node:net"

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
 * How long a stop waits for requests in flight before closing their connections: 5 s. Only
 * requests that make progress get it (see {@link STOP_MIN_BYTES_PER_SECOND}).
 * @since 0.1.0
 */
export const STOP_GRACE_MS = 5_000

/**
 * During a stop, a request whose body is still arriving keeps its connection only while the body
 * arrives at least this fast (16 KiB/s, judged every {@link STOP_CHECK_MS}); a stalled or trickling
 * upload is cut within two looks, so it cannot hold a restart for the whole grace period. A request whose
 * body is complete (the server's turn to answer) keeps the whole grace.
 * @since 0.1.0
 */
export const STOP_MIN_BYTES_PER_SECOND = 16 * 1024

/**
 * How often a stop looks at the connections still open: 100 ms.
 * @since 0.1.0
 */
export const STOP_CHECK_MS = 100

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

/** What a connection is doing, as a stop sees it. */
interface Connection {
  /** The request being answered on it, if any (undefined: idle keep-alive, or no request yet). */
  request: IncomingMessage | undefined
  response: ServerResponse | undefined
  /** Bytes read from it when the stop last looked. */
  seen: number
  /** Looks in a row that found its body arriving too slowly. */
  slow: number
}

/**
 * Applies the limits above to `server` (the timeouts and keep-alive; the header size and request
 * timeout must also be passed to its constructor, see {@link serverOptions}), answers requests
 * accepted while no app is attached with 503, and makes `close()` bounded whatever clients do:
 * idle connections (keep-alive, or no request yet) close at once, and so does every connection as
 * soon as its answer is sent; an upload whose body stalls or trickles (below
 * {@link STOP_MIN_BYTES_PER_SECOND}) is cut at once; the rest get {@link STOP_GRACE_MS}, then close.
 * @since 0.1.0
 * @category utils
 */
export const harden = <S extends Server>(server: S): S => {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
  server.headersTimeout = HEADERS_TIMEOUT_MS
  server.requestTimeout = REQUEST_TIMEOUT_MS
  const connections = new Map<Socket, Connection>()
  let stopping = false
  server.on("connection", (socket: Socket) => {
    connections.set(socket, { request: undefined, response: undefined, seen: 0, slow: 0 })
    socket.once("close", () => connections.delete(socket))
  })
  const answered = guard(server)
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const c = connections.get(req.socket)
    if (c !== undefined) {
      c.request = req
      c.response = res
      c.seen = req.socket.bytesRead
      c.slow = 0
      res.once("finish", () => {
        if (c.response !== res) return
        c.request = undefined
        c.response = undefined
        // while stopping, a connection closes once its answer is sent
        if (stopping) req.socket.destroySoon()
      })
    }
    // while stopping, no connection is kept alive past its answer
    if (stopping && !res.headersSent) res.shouldKeepAlive = false
    answered(req, res)
  })
  /** One look at the open connections during a stop: closes the idle and the stalled. */
  const sweep = () => {
    const minBytes = (STOP_MIN_BYTES_PER_SECOND * STOP_CHECK_MS) / 1000
    for (const [socket, c] of connections) {
      const req = c.request
      if (req === undefined || c.response === undefined) {
        socket.destroy()
        continue
      }
      if (!c.response.headersSent) c.response.shouldKeepAlive = false
      if (req.complete) continue
      // two slow looks in a row (one late timer after a busy event loop is not a stall)
      const read = socket.bytesRead
      c.slow = read - c.seen < minBytes ? c.slow + 1 : 0
      c.seen = read
      if (c.slow >= 2) socket.destroy()
    }
  }
  const close = server.close.bind(server)
  server.close = (callback?: (err?: Error) => void) => {
    stopping = true
    const started = Date.now()
    // the first look comes one interval in: an upload gets that long to show it progresses
    for (const c of connections.values()) c.seen = c.request?.socket.bytesRead ?? 0
    const timer = setInterval(() => {
      if (Date.now() - started >= STOP_GRACE_MS) {
        clearInterval(timer)
        server.closeAllConnections()
        for (const socket of connections.keys()) socket.destroy()
        return
      }
      sweep()
    }, STOP_CHECK_MS)
    timer.unref()
    close((err) => {
      clearInterval(timer)
      callback?.(err)
    })
    server.closeIdleConnections()
    for (const [socket, c] of connections) if (c.request === undefined) socket.destroy()
    return server
  }
  return server
}

/**
 * Writes an answer whose body is already in memory (bytes, no cookies, not to a `HEAD`) to the
 * Node response at once, as the platform would (`writeHead(status, headers)`, `end(bytes)`), so
 * the request's fiber ends here instead of suspending until the socket reports the bytes written;
 * the platform then finds the response ended and writes nothing. Anything else is left to the
 * platform.
 */
const sendAtOnce: HttpApp.PreResponseHandler = (request, response) =>
  Effect.sync(() => {
    const body = response.body
    if (body._tag !== "Uint8Array" || request.method === "HEAD" || !Cookies.isEmpty(response.cookies)) return response
    const res: unknown = NodeHttpServerRequest.toServerResponse(request)
    if (!(res instanceof ServerResponse) || res.headersSent) return response
    res.writeHead(response.status, response.headers)
    res.end(body.body)
    return response
  })

/**
 * Sends every answer of the apps `serve` runs whose body is already in memory (cached answers,
 * metadata, small downloads, errors) at once: same status, headers and bytes, written when the
 * answer is ready rather than after the platform has waited for the socket to drain, which costs
 * more than a cached answer. Apply it to an `HttpApiBuilder.serve()` layer on `NodeHttpServer`, as
 * `RegistryServer.serve` does. It is the first pre-response handler of every request: a handler a
 * request appends (`HttpApp.appendPreResponseHandler`, as `HttpApiBuilder.securitySetCookie` does)
 * would find an in-memory answer already sent, so do not combine the two.
 * @since 0.1.0
 * @category layers
 */
export const sendInMemoryAnswersAtOnce = <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, E, R> =>
  Layer.locally(layer, HttpApp.currentPreResponseHandlers, Option.some(sendAtOnce))
