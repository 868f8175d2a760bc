/**
 * The bounded `GET` of the client: archive downloads and the registry answers read on the hot
 * paths of an install (the publish-log proofs), on Node's own `http`/`https` with a keep-alive
 * agent per protocol (connections are reused across the requests of a command). Measured on a
 * 143-package install, the platform `HttpClient` pipeline (request transforms, web streams,
 * per-chunk stream stages) cost about 6-10 ms of CPU per 20 KiB archive, against about 1 ms here,
 * and a frozen install that made one log request through it loaded undici and the typed API client
 * for that request alone; `bench/peer` and `npm run bench:client` show the difference.
 *
 * Every transfer is bounded: a per-attempt timeout until the response headers, an idle timeout on
 * the body (no byte for that long ends it), a byte cap (a larger `Content-Length` is refused
 * unread, and the body is cut as soon as it goes over), and an error answer's body is read only up
 * to {@link MAX_ERROR_BYTES}. Nothing here knows registries: the outcomes are plain data that
 * `RemoteRegistry` maps to its typed errors.
 * @since 0.1.0
 */
import { Effect, type Scope, Stream } from "effect"
import * as http from "node:http"
import type * as Https from "node:https"
import { createRequire } from "node:module"

/**
 * The most bytes of an error answer read for its `detail`.
 * @since 0.1.0
 */
export const MAX_ERROR_BYTES = 64 * 1024

/**
 * A keep-alive agent per protocol: connections are kept between requests. `node:https` (and with
 * it `node:tls`, several ms of module loading) is loaded with the first `https:` request, so a
 * command that only talks to `http:` registries (or to none) never loads it.
 */
interface Agents {
  readonly "http:": http.Agent
  /** The `https:` module and agent, created on first use. */
  readonly "https:": () => { readonly module: typeof Https; readonly agent: Https.Agent }
  /** Closes the agents' connections. */
  readonly destroy: () => void
}

const makeAgents = (): Agents => {
  const plain = new http.Agent({ keepAlive: true, maxSockets: 32 })
  let secure: { readonly module: typeof Https; readonly agent: Https.Agent } | undefined
  return {
    "http:": plain,
    "https:": () => {
      if (secure === undefined) {
        const module: typeof Https = createRequire(import.meta.url)("node:https")
        secure = { module, agent: new module.Agent({ keepAlive: true, maxSockets: 32 }) }
      }
      return secure
    },
    destroy: () => {
      plain.destroy()
      secure?.agent.destroy()
    }
  }
}

/**
 * Why a download did not start: no answer (connection failed, or no headers within the timeout),
 * or an answer that is not a 2xx (with the start of its body, for the error's detail).
 * @since 0.1.0
 * @category models
 */
export type StartFailure =
  | { readonly _tag: "NoAnswer"; readonly description: string }
  | { readonly _tag: "Status"; readonly status: number; readonly body: string }
  | { readonly _tag: "Announced"; readonly bytes: number }

/**
 * Why a body ended early: it stalled, went over the cap, or broke off.
 * @since 0.1.0
 * @category models
 */
export type BodyFailure =
  | { readonly _tag: "Stalled" }
  | { readonly _tag: "TooLarge" }
  | { readonly _tag: "BrokeOff"; readonly description: string }

/**
 * What a `GET` needs: where, which headers, and its bounds.
 * @since 0.1.0
 * @category models
 */
export interface GetRequest {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  /** No response headers within this: `NoAnswer`. */
  readonly timeoutMs: number
  /** No body byte within this: `Stalled`. */
  readonly idleMs: number
  /** More body bytes than this (announced or sent): `Announced` / `TooLarge`. */
  readonly maxBytes: number
  /** Called once response headers arrive, whatever the status (the registry answered). */
  readonly onAnswer?: (() => void) | undefined
}

const describe = (e: unknown): string => {
  if (!(e instanceof Error)) return String(e)
  const code = "code" in e && typeof e.code === "string" ? e.code : undefined
  return code !== undefined && !e.message.includes(code) ? `${code}: ${e.message}` : e.message
}

/** A started `GET`: the 2xx response, not yet read. */
interface Started {
  readonly response: http.IncomingMessage
  readonly request: http.ClientRequest
}

/**
 * Sends the request and waits for a 2xx answer's headers; any other answer is read (bounded) and
 * failed with as `Status`. Interrupting it destroys the request.
 */
const start = (agents: Agents, req: GetRequest): Effect.Effect<Started, StartFailure> =>
  Effect.async<Started, StartFailure>((resume) => {
    let done = false
    const finish = (effect: Effect.Effect<Started, StartFailure>) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resume(effect)
    }
    let url: URL
    try {
      url = new URL(req.url)
    } catch {
      finish(Effect.fail({ _tag: "NoAnswer", description: `not a URL: ${req.url}` }))
      return
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      finish(Effect.fail({ _tag: "NoAnswer", description: `unsupported protocol ${url.protocol}` }))
      return
    }
    const headers = { ...req.headers }
    const secure = url.protocol === "https:" ? agents["https:"]() : undefined
    const request = secure !== undefined
      ? secure.module.get(url, { headers, agent: secure.agent })
      : http.get(url, { headers, agent: agents["http:"] })
    const timer = setTimeout(() => {
      finish(Effect.fail({ _tag: "NoAnswer", description: `no answer within ${req.timeoutMs / 1000} s` }))
      request.destroy()
    }, req.timeoutMs)
    request.on("error", (e) => finish(Effect.fail({ _tag: "NoAnswer", description: describe(e) })))
    request.on("response", (response) => {
      req.onAnswer?.()
      const status = response.statusCode ?? 0
      const length = response.headers["content-length"]
      const announced = length !== undefined && /^\d+$/.test(length.trim()) ? Number(length.trim()) : undefined
      if (status >= 200 && status < 300) {
        if (announced !== undefined && announced > req.maxBytes) {
          request.destroy()
          finish(Effect.fail({ _tag: "Announced", bytes: announced }))
        } else {
          finish(Effect.succeed({ response, request }))
        }
        return
      }
      // an error answer: its start, for the detail (bounded in bytes and time)
      const chunks: Array<Buffer> = []
      let size = 0
      const end = () => {
        request.destroy()
        finish(Effect.fail({ _tag: "Status", status, body: Buffer.concat(chunks).toString("utf8") }))
      }
      clearTimeout(timer)
      const idle = setTimeout(end, req.idleMs)
      response.on("data", (chunk: Buffer) => {
        if (size < MAX_ERROR_BYTES) chunks.push(chunk.subarray(0, MAX_ERROR_BYTES - size))
        size += chunk.length
        if (size >= MAX_ERROR_BYTES) end()
      })
      response.on("end", end)
      response.on("error", end)
      response.on("close", () => {
        clearTimeout(idle)
        end()
      })
    })
    return Effect.sync(() => {
      done = true
      clearTimeout(timer)
      request.destroy()
    })
  })

/** What {@link readBody} reports: each chunk, then exactly one of the end or a failure. */
interface BodyListener {
  readonly chunk: (chunk: Buffer) => void
  readonly end: () => void
  readonly fail: (failure: BodyFailure) => void
}

/**
 * Reads the body of a started `GET` within the idle timeout and the byte cap, telling `to` of each
 * chunk and then of the end or of the failure (once); the request is destroyed when the body ends
 * early. Returns the canceller (clears the timer, destroys the request). The one body reader of
 * both {@link BoundedGet} `stream` and `read`.
 */
const readBody = (started: Started, req: GetRequest, to: BodyListener): () => void => {
  const { request, response } = started
  let received = 0
  let over = false
  let idle = setTimeout(stalled, req.idleMs)
  function stalled() {
    over = true
    to.fail({ _tag: "Stalled" })
    request.destroy()
  }
  response.on("data", (chunk: Buffer) => {
    if (over) return
    clearTimeout(idle)
    received += chunk.length
    if (received > req.maxBytes) {
      over = true
      to.fail({ _tag: "TooLarge" })
      request.destroy()
      return
    }
    idle = setTimeout(stalled, req.idleMs)
    to.chunk(chunk)
  })
  response.on("end", () => {
    clearTimeout(idle)
    if (over) return
    over = true
    to.end()
  })
  const broke = (why: string) => {
    clearTimeout(idle)
    if (over) return
    over = true
    to.fail({ _tag: "BrokeOff", description: why })
  }
  response.on("error", (e) => broke(describe(e)))
  response.on("aborted", () => broke("the connection was closed mid-body"))
  response.on("close", () => {
    if (!response.complete) broke("the connection was closed mid-body")
  })
  return () => {
    clearTimeout(idle)
    over = true
    request.destroy()
  }
}

/**
 * The body of a started `GET`, chunk by chunk (see {@link readBody}); the request is destroyed
 * when the stream ends early or is interrupted.
 */
const body = (started: Started, req: GetRequest): Stream.Stream<Uint8Array, BodyFailure> =>
  Stream.async<Uint8Array, BodyFailure>((emit) => {
    const cancel = readBody(started, req, {
      chunk: (chunk) => void emit.single(chunk),
      end: () => void emit.end(),
      fail: (failure) => void emit.fail(failure)
    })
    return Effect.sync(cancel)
  }, 64)

/**
 * The whole body of a started `GET` (see {@link readBody}) in one buffer, without a stream: for
 * the small answers read on every install (package metadata, log proofs), a stream's per-chunk
 * machinery cost several times the transfer itself.
 */
const collect = (started: Started, req: GetRequest): Effect.Effect<Buffer, BodyFailure> =>
  Effect.async<Buffer, BodyFailure>((resume) => {
    const chunks: Array<Buffer> = []
    const cancel = readBody(started, req, {
      chunk: (chunk) => void chunks.push(chunk),
      end: () => resume(Effect.succeed(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))),
      fail: (failure) => resume(Effect.fail(failure))
    })
    return Effect.sync(cancel)
  })

/**
 * A 2xx answer read whole: its status, headers and body.
 * @since 0.1.0
 * @category models
 */
export interface Answer {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: Uint8Array
}

/**
 * Bounded `GET`s over Node's `http`/`https` (see the module comment). The keep-alive agents live
 * in the layer's scope: closing it closes their connections.
 * @since 0.1.0
 * @category services
 */
export class BoundedGet extends Effect.Service<BoundedGet>()("fm/BoundedGet", {
  scoped: Effect.map(
    Effect.acquireRelease(
      Effect.sync(makeAgents),
      (agents) => Effect.sync(() => agents.destroy())
    ),
    (agents) => {
      // a body never read still releases its connection when the scope closes
      const open = (req: GetRequest) =>
        Effect.acquireRelease(start(agents, req), (started) => Effect.sync(() => started.request.destroy()))
      const stream = (
        req: GetRequest
      ): Effect.Effect<Stream.Stream<Uint8Array, BodyFailure>, StartFailure, Scope.Scope> =>
        Effect.map(open(req), (started) => body(started, req))
      const read = (req: GetRequest): Effect.Effect<Answer, StartFailure | BodyFailure> =>
        Effect.scoped(
          Effect.flatMap(open(req), (started) =>
            Effect.map(collect(started, req), (bytes): Answer => ({
              status: started.response.statusCode ?? 0,
              headers: started.response.headers,
              body: bytes
            })))
        )
      return {
        /**
         * Sends the request and waits for a 2xx answer's headers (what a caller retries for
         * transient failures), then gives its body as a stream (never retried: bytes may have gone
         * out). The request ends with the scope.
         */
        stream,
        /** Sends the request and reads a 2xx answer's whole body (within the bounds). */
        read
      } as const
    }
  )
}) {}
