/**
 * `RegistryServer.sendInMemoryAnswersAtOnce`: an answer whose body is in memory is written as soon
 * as it is ready (the request's fiber, and so its scope, ends before the socket has drained), with
 * the same status, headers and bytes as the platform writes; HEAD and cookie answers are left to
 * the platform.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as Http from "node:http"
import { listeningUrl, sendInMemoryAnswersAtOnce } from "../../src/server/RegistryServer.js"

/** Serves an app that answers JSON bytes (with a cookie on `/cookie`) and records, per request, when its scope closed and when Node reported the answer sent. */
const serveRecording = (sendAtOnce: boolean) =>
  Effect.gen(function*() {
    const events: Array<string> = []
    const app = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      yield* Effect.addFinalizer(() => Effect.sync(() => events.push(`scope closed ${request.url}`)))
      const response = HttpServerResponse.uint8Array(new TextEncoder().encode("{\"a\":1}"), {
        contentType: "application/json",
        headers: { etag: "\"x\"" }
      })
      return request.url === "/cookie" ? HttpServerResponse.unsafeSetCookie(response, "k", "v") : response
    })
    const server = Http.createServer()
    server.on("request", (req: Http.IncomingMessage, res: Http.ServerResponse) =>
      res.once("finish", () => events.push(`sent ${req.url}`)))
    const served = HttpServer.serve(app).pipe(
      sendAtOnce ? sendInMemoryAnswersAtOnce : (l) =>
        l,
      Layer.provideMerge(NodeHttpServer.layer(() => server, { port: 0, host: "127.0.0.1" }))
    )
    const context = yield* Layer.build(served)
    return { url: listeningUrl(Context.get(context, HttpServer.HttpServer)), events }
  })

const fetchAll = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const res = await fetch(url, init)
    const headers = Object.fromEntries([...res.headers].filter(([k]) => k !== "date"))
    return { status: res.status, headers, body: await res.text() }
  })

describe("sendInMemoryAnswersAtOnce", () => {
  it.scopedLive("writes an in-memory answer before the request's scope closes, byte for byte as the platform", () =>
    Effect.gen(function*() {
      const platform = yield* serveRecording(false)
      const atOnce = yield* serveRecording(true)
      for (const path of ["/x", "/cookie"]) {
        const a = yield* fetchAll(`${platform.url}${path}`)
        const b = yield* fetchAll(`${atOnce.url}${path}`)
        assert.deepStrictEqual(b, a)
        assert.strictEqual(a.body, "{\"a\":1}")
      }
      const headA = yield* fetchAll(`${platform.url}/x`, { method: "HEAD" })
      const headB = yield* fetchAll(`${atOnce.url}/x`, { method: "HEAD" })
      assert.deepStrictEqual(headB, headA)
      // the platform keeps the fiber until the socket has the bytes; sent at once, the scope closes first
      assert.deepStrictEqual(platform.events.slice(0, 2), ["sent /x", "scope closed /x"])
      assert.deepStrictEqual(atOnce.events.slice(0, 2), ["scope closed /x", "sent /x"])
      // a cookie answer is the platform's to write
      assert.deepStrictEqual(atOnce.events.slice(2, 4), ["sent /cookie", "scope closed /cookie"])
    }))
})
