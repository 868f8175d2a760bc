/**
 * The `node:http` side of the registry server: size and time limits on what a client may send,
 * an answer for every request accepted while the app is not attached, a stop that stops
 * accepting at once and waits for in-flight requests only so long, {@link layer}, which
 * listens on a host and port or on an inherited socket (shared with a successor process, for a
 * restart without a gap), answers held in memory sent without waiting for the socket, and the
 * app's own final answers to anonymous package reads replayed before the app runs
 * (`AnswerCache.Replay`).
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Cookies from "@effect/platform/Cookies"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServer from "@effect/platform/HttpServer"
import { Effect, Layer, Option } from "effect"
import * as Http from "node:http"
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import type * as Net from "node:net"
import * as AnswerCache from "./AnswerCache.js"

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
 * During a stop, an idle keep-alive connection is closed once no answer has gone out on it for
 * this long (250 ms; at the first look after the signal, {@link STOP_CHECK_MS}, if it was already
 * that quiet): a client that has just had an answer may be sending its next request on it, and
 * closing it then would reset that request. A request that does arrive is answered, with
 * `Connection: close`.
 * @since 0.1.0
 */
export const STOP_QUIET_MS = 250

/**
 * How long a request accepted before the app is attached waits for it (5 s), then gets 503.
 * @since 0.1.0
 */
export const START_WAIT_MS = 5_000

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

/** Answers 503 with `Retry-After` and closes the connection. */
const answerUnavailable = (res: ServerResponse) => {
  if (res.headersSent) return
  res.writeHead(503, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(unavailable)),
    "retry-after": "1",
    connection: "close"
  })
  res.end(unavailable)
}

/**
 * Once a request is answered before its body was read (a 401, 403 or 413), its connection is
 * closed unless the body is small, so the rest of a large body is not read at all.
 */
const closeUnread = (req: IncomingMessage, res: ServerResponse) =>
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

/** What a connection is doing, as a stop sees it. */
interface Connection {
  /** The request being answered on it, if any (undefined: idle keep-alive, or no request yet). */
  request: IncomingMessage | undefined
  response: ServerResponse | undefined
  /** When it opened or its last answer went out (ms since the epoch). */
  quietSince: number
  /**
   * Looks by a stop that found it idle. A request whose bytes have arrived but not been read yet
   * (the event loop was busy) is read between two looks, so one look is never enough to close it.
   */
  idleLooks: number
  /** Bytes read from it when the stop last looked. */
  seen: number
  /** Looks in a row that found its body arriving too slowly. */
  slow: number
}

/** A request accepted before the app attached, waiting for it. */
interface Waiting {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly timer: ReturnType<typeof setTimeout>
}

/**
 * Applies the limits above to `server` (the timeouts and keep-alive; the header size and request
 * timeout must also be passed to its constructor, see {@link serverOptions}) and makes its
 * start and stop safe for clients:
 * - `NodeHttpServer` listens while its layer is built and attaches the app later, so a request
 *   accepted before the app is attached waits for it (up to {@link START_WAIT_MS}, then 503 with
 *   `Retry-After`); one that arrives during a stop, after the app is detached, gets 503 at once.
 * - `close()` stops accepting at once (on a shared socket, a successor takes the new
 *   connections) and is bounded whatever clients do: an idle connection closes once quiet for
 *   {@link STOP_QUIET_MS}, every connection closes as soon as its answer is sent (with
 *   `Connection: close`), an upload whose body stalls or trickles (below
 *   {@link STOP_MIN_BYTES_PER_SECOND}) is cut at once; the rest get {@link STOP_GRACE_MS}, then close.
 * @since 0.1.0
 * @category utils
 */
export const harden = <S extends Server>(server: S): S => {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
  server.headersTimeout = HEADERS_TIMEOUT_MS
  server.requestTimeout = REQUEST_TIMEOUT_MS
  const connections = new Map<Net.Socket, Connection>()
  const waiting = new Set<Waiting>()
  let stopping = false
  server.on("connection", (socket: Net.Socket) => {
    connections.set(socket, {
      request: undefined,
      response: undefined,
      quietSince: Date.now(),
      idleLooks: 0,
      seen: 0,
      slow: 0
    })
    socket.once("close", () => connections.delete(socket))
  })
  // the app attaches (another "request" listener): what waited for it goes to it
  server.on("newListener", (event: string | symbol, listener: (req: IncomingMessage, res: ServerResponse) => void) => {
    if (event !== "request" || waiting.size === 0) return
    const ready = [...waiting]
    waiting.clear()
    for (const w of ready) clearTimeout(w.timer)
    process.nextTick(() => {
      for (const w of ready) listener(w.req, w.res)
    })
  })
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
        c.quietSince = Date.now()
        c.idleLooks = 0
        // while stopping, a connection closes once its answer is sent
        if (stopping) req.socket.destroySoon()
      })
    }
    // while stopping, no connection is kept alive past its answer
    if (stopping && !res.headersSent) res.shouldKeepAlive = false
    closeUnread(req, res)
    if (server.listenerCount("request") > 1) return
    if (stopping) return answerUnavailable(res)
    const w: Waiting = {
      req,
      res,
      timer: setTimeout(() => {
        waiting.delete(w)
        answerUnavailable(res)
      }, START_WAIT_MS).unref()
    }
    waiting.add(w)
  })
  /**
   * Closes the idle connections that have been quiet for {@link STOP_QUIET_MS} and found idle by
   * an earlier look too.
   */
  const closeQuiet = () => {
    const now = Date.now()
    for (const [socket, c] of connections) {
      if (c.request !== undefined) continue
      c.idleLooks++
      if (c.idleLooks >= 2 && now - c.quietSince >= STOP_QUIET_MS) socket.destroy()
    }
  }
  /** One look at the open connections during a stop: closes the quiet idle ones and the stalled. */
  const sweep = () => {
    closeQuiet()
    const minBytes = (STOP_MIN_BYTES_PER_SECOND * STOP_CHECK_MS) / 1000
    for (const [socket, c] of connections) {
      const req = c.request
      if (req === undefined || c.response === undefined) continue
      if (!c.response.headersSent) c.response.shouldKeepAlive = false
      if (req.complete) continue
      // two slow looks in a row (one late timer after a busy event loop is not a stall)
      const read = socket.bytesRead
      c.slow = read - c.seen < minBytes ? c.slow + 1 : 0
      c.seen = read
      if (c.slow >= 2) socket.destroy()
    }
  }
  // Node's close() closes every idle connection at once; while stopping, only the quiet ones go
  const closeIdle = server.closeIdleConnections.bind(server)
  server.closeIdleConnections = () => (stopping ? closeQuiet() : closeIdle())
  const close = server.close.bind(server)
  server.close = (callback?: (err?: Error) => void) => {
    if (!stopping) {
      stopping = true
      for (const w of waiting) {
        clearTimeout(w.timer)
        answerUnavailable(w.res)
      }
      waiting.clear()
      const started = Date.now()
      // no connection is kept alive past its answer; the first look at an upload comes one
      // interval in: it gets that long to show it progresses
      for (const c of connections.values()) {
        if (c.response !== undefined && !c.response.headersSent) c.response.shouldKeepAlive = false
        c.seen = c.request?.socket.bytesRead ?? 0
      }
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
      server.once("close", () => clearInterval(timer))
    }
    // stops accepting at once; the callback runs once every connection is closed
    close(callback)
    return server
  }
  return server
}

/** Writes an answer held in memory as the platform does: `writeHead(status, headers)`, then `end(bytes)`. */
const writeAnswer = (res: ServerResponse, answer: AnswerCache.WireAnswer): void => {
  res.writeHead(answer.status, answer.headers)
  if (answer.body === undefined) res.end()
  else res.end(answer.body)
}

/**
 * Writes an answer whose body is already in memory (bytes, no cookies, not to a `HEAD`) to the
 * Node response at once, as the platform would ({@link writeAnswer}), so the request's fiber ends
 * here instead of suspending until the socket reports the bytes written; the platform then finds
 * the response ended and writes nothing. Anything else is left to the platform.
 */
const sendAtOnce: HttpApp.PreResponseHandler = (request, response) =>
  Effect.sync(() => {
    const body = response.body
    if (body._tag !== "Uint8Array" || request.method === "HEAD" || !Cookies.isEmpty(response.cookies)) return response
    const res: unknown = NodeHttpServerRequest.toServerResponse(request)
    if (!(res instanceof Http.ServerResponse) || res.headersSent) return response
    writeAnswer(res, { status: response.status, headers: response.headers, body: body.body })
    return response
  })

/**
 * Sends every answer of the apps `serve` runs whose body is already in memory (cached answers,
 * metadata, small downloads, errors) at once: same status, headers and bytes, written when the
 * answer is ready rather than after the platform has waited for the socket to drain, which costs
 * more than a cached answer. Apply it to an `HttpApiBuilder.serve()` layer on `NodeHttpServer`, as
 * `RegistryServer.serve` does. It is the first pre-response handler of every request: a handler a
 * request appends (`HttpApp.appendPreResponseHandler`) finds an in-memory answer already sent, so
 * it may look at the answer (as `AnswerCache` does, to keep it) but not change it (as
 * `HttpApiBuilder.securitySetCookie` would): do not combine the two.
 * @since 0.1.0
 * @category layers
 */
export const sendInMemoryAnswersAtOnce = <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, E, R> =>
  Layer.locally(layer, HttpApp.currentPreResponseHandlers, Option.some(sendAtOnce))

/**
 * A `node:http` server with the limits, start-up answers and bounded stop of {@link harden}.
 * @since 0.1.0
 * @category constructors
 */
export const make = (): Http.Server => harden(Http.createServer(serverOptions))

/**
 * Where a server listens: an interface and port, or an inherited listening socket (`fd`: from
 * systemd socket activation or `--listen-fd`), which other processes may hold too.
 * @since 0.1.0
 * @category models
 */
export type ListenOn = { readonly host: string; readonly port: number } | { readonly fd: number }

/** Node's `server.listen` takes `{ fd }` (an inherited socket); its type does not say so. */
type ListenOptions = Net.ListenOptions & { readonly fd?: number }

const listenOptions = (on: ListenOn): ListenOptions => "fd" in on ? { fd: on.fd } : { host: on.host, port: on.port }

/** Closes `server` (its bounded stop) and waits until every connection is closed. */
const stop = (server: Server) =>
  Effect.async<void>((resume) => {
    if (!server.listening) return resume(Effect.void)
    server.close(() => resume(Effect.void))
  })

/**
 * `NodeHttpServer.make`'s server (listening on `options`), serving each app with a request
 * handler that first offers the request to the app's replay of its own answers
 * (`AnswerCache.Replay`, when the app's context has one, as `RegistryServer`'s API layer gives),
 * written with {@link writeAnswer}; whatever it does not answer goes to the app.
 */
const replayingServer = (server: Server, options: ListenOptions) =>
  Effect.map(NodeHttpServer.make(() => server, options), (base) =>
    HttpServer.make({
      address: base.address,
      serve: (httpApp, middleware) =>
        Effect.gen(function*() {
          const replay = yield* Effect.serviceOption(AnswerCache.Replay)
          if (Option.isNone(replay)) {
            return yield* (middleware === undefined ? base.serve(httpApp) : base.serve(httpApp, middleware))
          }
          const handler = yield* (middleware === undefined
            ? NodeHttpServer.makeHandler(httpApp)
            : NodeHttpServer.makeHandler(httpApp, middleware))
          const replayer = replay.value.attach()
          const onRequest = (req: IncomingMessage, res: ServerResponse) => {
            if (!replayer(req, (answer) => writeAnswer(res, answer))) handler(req, res)
          }
          yield* Effect.addFinalizer(() => Effect.sync(() => server.off("request", onRequest)))
          server.on("request", onRequest)
        })
    }))

/**
 * Serves `app` (e.g. `HttpApiBuilder.serve()` and its API) on a server from {@link make},
 * listening on `on` once the layers `app` needs are built (build them first, with
 * `Layer.provide`), so a request waits for the app no more than the moment `app` takes to attach.
 * At the end it stops accepting and lets the connections finish (the bounded stop of
 * {@link harden}) while the app is still attached, before the app and its layers are released:
 * on a shared socket, a successor process already listening takes every new connection, and a
 * request on a connection of this one is answered here.
 * @since 0.1.0
 * @category layers
 */
export const layer = <ROut, E, RIn>(app: Layer.Layer<ROut, E, RIn>, on: ListenOn) =>
  Layer.unwrapEffect(Effect.sync(() => {
    const server = make()
    const options = listenOptions(on)
    const listening = Layer.scoped(HttpServer.HttpServer, replayingServer(server, options))
    // built last, so released first: the stop comes before the app is detached
    const stopFirst = Layer.scopedDiscard(Effect.addFinalizer(() => stop(server)))
    return stopFirst.pipe(Layer.provideMerge(app.pipe(Layer.provideMerge(listening))))
  }))

/**
 * What `NodeHttpServer.layer(createServer, options)` gives an app of your own (the `HttpServer`,
 * `HttpPlatform`, `Etag.Generator`, `NodeContext`), on a server from {@link make} listening on
 * `on`: with the limits and bounded stop of {@link harden}, and the registry's own answers to
 * anonymous package reads replayed before the app runs (when the app mounts
 * `RegistryServer.layer`). Unlike {@link layer}, the stop comes when the server is released,
 * after the app.
 * @since 0.1.0
 * @category layers
 */
export const serverLayer = (on: ListenOn) =>
  Layer.merge(
    Layer.scoped(HttpServer.HttpServer, Effect.suspend(() => replayingServer(make(), listenOptions(on)))),
    NodeHttpServer.layerContext
  )
