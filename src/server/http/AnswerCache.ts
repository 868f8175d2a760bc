/**
 * A cache of the registry's own answers: the `200` the real handlers gave to a read of package
 * data (info, versions, one version, search, a whole download), kept by route and parameters (the
 * request URL), the caller's auth class and the base URL the answer's links were built with, and
 * dropped once the store has made a write the answer depends on. A hit skips routing, parameter
 * decoding, authentication's scope check, the store reads and encoding; a miss, or anything not
 * cacheable (another method, a `Range`), is answered by the handlers as ever. Nothing here
 * decides an answer: it replays one, with what its handler asked to redo on every replay
 * ({@link noteAnswer}: a download is counted again).
 *
 * Kept over a store that tells its writes (`PackageStore.writeCounts`): the only writer of its
 * database, or a PostgreSQL replica that hears the other replicas' writes (while it cannot, every
 * request reaches the handlers).
 *
 * A server that can answer before the app (`NodeServer.layer`, through {@link Replay}) also gets
 * the app's final answers to anonymous reads: the bytes it wrote for a cached answer (after every
 * middleware: ETag, `304`), kept with that answer by `If-None-Match` value, valid exactly as long
 * as it is, and replayed without running the app at all.
 * @since 0.1.0
 */
import * as Cookies from "@effect/platform/Cookies"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Context, Effect, Exit, Option } from "effect"
import type { Forbidden, Unauthorized, Unavailable } from "../../api/ApiErrors.js"
import { API_PREFIX, Authentication } from "../../api/RegistryApi.js"
import type { PackageStoreService, WriteCounts } from "../storage/PackageStore.js"
import type { Auth } from "./Auth.js"
import { principalFor } from "./Auth.js"

const PACKAGES = `${API_PREFIX}/packages/`

const pathOf = (url: string) => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

/**
 * Whether a request reads package metadata: a `GET` under `/packages/` other than a download.
 * @since 0.1.0
 * @category utils
 */
export const isMetadataRead = (request: HttpServerRequest.HttpServerRequest): boolean => {
  if (request.method !== "GET" || !request.url.startsWith(PACKAGES)) return false
  return !pathOf(request.url).endsWith("/download")
}

/**
 * What a handler tells the cache about the answer it gives (through {@link noteAnswer}).
 * @since 0.1.0
 * @category models
 */
export interface AnswerNote {
  /** Redone on every replay of the answer (a download counts each time it is served). */
  readonly onReplay: Effect.Effect<void, unknown> | undefined
  /** The answer reports no download counts, so downloads recorded later leave it valid. */
  readonly countFree: boolean
}

/** The note of the request being answered, filled in by its handler. */
class Note extends Context.Tag("fm/server/AnswerCache/Note")<Note, { current: AnswerNote }>() {}

/**
 * Tells the cache in front of the handlers (if any) about the answer being given.
 * @since 0.1.0
 * @category utils
 */
export const noteAnswer = (note: AnswerNote): Effect.Effect<void> =>
  Effect.map(Effect.serviceOption(Note), Option.map((n) => void (n.current = note)))

/**
 * Bounds of the cache.
 * @since 0.1.0
 * @category models
 */
export interface AnswerCacheOptions {
  /** Most answers kept (default 4,096). */
  readonly maxEntries?: number
  /** Most body bytes kept in all (default 64 MiB); a single answer over a quarter of it is not kept. */
  readonly maxBytes?: number
}

/**
 * A request as the cache reads it, the platform's or Node's: method, URL (path and query) and headers.
 * @since 0.1.0
 * @category models
 */
export interface RequestHead {
  readonly method?: string | undefined
  readonly url?: string | undefined
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
}

/**
 * An answer as the app wrote it: status, headers and body bytes (none for a `304`).
 * @since 0.1.0
 * @category models
 */
export interface WireAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array | undefined
}

/**
 * The final answers of the app to anonymous reads, for a server that answers before the app: see
 * {@link Replayer}. Given by the registry's middleware layer (`ServerMiddleware.layer`).
 * @since 0.1.0
 * @category tags
 */
export class Replay extends Context.Tag("fm/server/AnswerCache/Replay")<Replay, {
  /**
   * Starts keeping the app's final answers (nothing is kept until a server asks) and gives the
   * function that replays them.
   */
  readonly attach: () => Replayer
}>() {}

/**
 * Replays the app's own final answer to `head` with `send` (the same status, headers and bytes,
 * and the same request log line as the app), and says whether it did; `false` leaves the request
 * to the app: a cache miss, a write since, a token, another method, a `Range`, a download.
 * @since 0.1.0
 * @category models
 */
export type Replayer = (head: RequestHead, send: (answer: WireAnswer) => void) => boolean

/** Most final answers (by `If-None-Match` value) kept with one cached answer. */
const MAX_VARIANTS = 4

interface Entry {
  readonly response: HttpServerResponse.HttpServerResponse
  readonly size: number
  readonly writes: WriteCounts
  readonly note: AnswerNote
  /** The app's final answers given from this one, by {@link variantOf}. */
  readonly wire: Map<string, WireAnswer>
}

/** Which final answer a request gets from a cached one: its `If-None-Match` decides (`undefined`: not told). */
const variantOf = (head: RequestHead): string | undefined => {
  const inm = head.headers["if-none-match"]
  return inm === undefined ? "" : typeof inm === "string" ? `=${inm}` : undefined
}

/** The bytes of a final answer that may be replayed: a `200` with its body, or a bodiless `304`, without cookies. */
const wireOf = (response: HttpServerResponse.HttpServerResponse): WireAnswer | undefined => {
  if (!Cookies.isEmpty(response.cookies)) return undefined
  const body = response.body
  if (response.status === 200 && body._tag === "Uint8Array") {
    return { status: 200, headers: response.headers, body: body.body }
  }
  if (response.status === 304 && body._tag === "Empty") {
    return { status: 304, headers: response.headers, body: undefined }
  }
  return undefined
}

const plain: AnswerNote = { onReplay: undefined, countFree: false }

/**
 * The cache over `store`: `answer(request, miss)` gives the kept answer to `request` if there is
 * one, else runs `miss` (the handlers) and keeps what it gives when it may. `baseUrl` gives the
 * base URL an answer's links are built with (part of the key), `authenticate` the auth class of a
 * request that carries a token (see {@link authClass}) or a failure, which leaves the request to
 * the handlers. `replayFinal()` gives the app's final answers to anonymous reads, for a server
 * that answers before the app (see {@link Replay}); they are kept only from its first call on.
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  store: PackageStoreService,
  baseUrl: (request: RequestHead) => string,
  authenticate: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<string, unknown>,
  options: AnswerCacheOptions = {}
) => {
  const writeCounts = store.writeCounts
  const maxEntries = options.maxEntries ?? 4096
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024
  // insertion-ordered: the first entry is the oldest, dropped first
  const entries = new Map<string, Entry>()
  let bytes = 0
  // every entry depends on the releases: all go when they change
  let releases = writeCounts?.()?.releases ?? 0
  // whether a server replays final answers (see Replay): only then are they kept
  let replaying = false

  const drop = (key: string, entry: Entry) => {
    entries.delete(key)
    bytes -= entry.size
  }
  /** Keeps `entry` under `key`; gives the entry kept, if it was. */
  const keep = (key: string, entry: Omit<Entry, "size" | "wire">): Entry | undefined => {
    const body = entry.response.body
    if (body._tag !== "Uint8Array" || body.body.byteLength > maxBytes / 4) return undefined
    const size = body.body.byteLength + key.length
    const old = entries.get(key)
    if (old !== undefined) drop(key, old)
    const kept = { ...entry, size, wire: new Map<string, WireAnswer>() }
    entries.set(key, kept)
    bytes += size
    for (const [k, e] of entries) {
      if (entries.size <= maxEntries && bytes <= maxBytes) break
      drop(k, e)
    }
    return entries.get(key)
  }
  const valid = (e: Pick<Entry, "writes" | "note">, now: WriteCounts | undefined) =>
    now !== undefined && e.writes.releases === now.releases &&
    (e.note.countFree || e.writes.downloads === now.downloads)
  /** The store's write counts now (all entries dropped once the releases changed); `undefined`: keep nothing. */
  const current = (): WriteCounts | undefined => {
    const now = writeCounts?.()
    if (now !== undefined && now.releases !== releases) {
      entries.clear()
      bytes = 0
      releases = now.releases
    }
    return now
  }
  const keyOf = (auth: string, request: RequestHead) => `${auth}\u0000${baseUrl(request)}\u0000${request.url}`

  /**
   * For an anonymous request (no `Authorization` at all) answered from `entry` while a server
   * replays: keeps the app's final answer with it, once the app has written it (a pre-response
   * handler, after every middleware), unless the entry has gone or changed meanwhile. `undefined`
   * when there is nothing to keep.
   */
  const recordFinal = (
    request: HttpServerRequest.HttpServerRequest,
    key: string,
    entry: Entry
  ): Effect.Effect<void> | undefined => {
    const variant = variantOf(request)
    if (
      !replaying || variant === undefined || request.headers.authorization !== undefined ||
      entry.note.onReplay !== undefined || entry.wire.size >= MAX_VARIANTS || entry.wire.has(variant)
    ) return undefined
    return HttpApp.appendPreResponseHandler((_request, response) =>
      Effect.sync(() => {
        const answer = wireOf(response)
        if (answer !== undefined && entries.get(key) === entry && entry.wire.size < MAX_VARIANTS) {
          entry.wire.set(variant, answer)
        }
        return response
      })
    )
  }

  /** The app's final answer to an anonymous read, kept by {@link recordFinal}, while valid. */
  const finalAnswer = (head: RequestHead): WireAnswer | undefined => {
    const url = head.url
    if (!replaying || head.method !== "GET" || url === undefined || !url.startsWith(PACKAGES)) return undefined
    const h = head.headers
    if (h.authorization !== undefined || h.range !== undefined) return undefined
    const variant = variantOf(head)
    if (variant === undefined) return undefined
    const now = current()
    if (now === undefined) return undefined
    const entry = entries.get(keyOf("anonymous", head))
    if (entry === undefined || entry.note.onReplay !== undefined || !valid(entry, now)) return undefined
    return entry.wire.get(variant)
  }

  const answerMiss = <E, R>(
    request: HttpServerRequest.HttpServerRequest,
    key: string,
    before: WriteCounts,
    miss: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> => {
    const note = { current: plain }
    return Effect.tap(Effect.provideService(miss, Note, note), (response) => {
      // an answer read while a write went on may predate it: kept only when none did
      const entry = { response, writes: before, note: note.current }
      if (response.status !== 200 || writeCounts === undefined || !valid(entry, writeCounts())) return Effect.void
      const kept = keep(key, entry)
      return (kept === undefined ? undefined : recordFinal(request, key, kept)) ?? Effect.void
    })
  }

  const lookup = <E, R>(
    request: HttpServerRequest.HttpServerRequest,
    auth: string,
    miss: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> => {
    const now = current()
    // the store cannot tell which writes happened: answer afresh, keep nothing
    if (now === undefined) return miss
    const key = keyOf(auth, request)
    const hit = entries.get(key)
    if (hit === undefined || !valid(hit, now)) return answerMiss(request, key, now, miss)
    const replay = hit.note.onReplay
    if (replay === undefined) {
      const record = recordFinal(request, key, hit)
      return record === undefined ? Effect.succeed(hit.response) : Effect.as(record, hit.response)
    }
    // an answer with effects: a conditional request is the handler's to answer (a 304 is not a download)
    if (request.headers["if-none-match"] !== undefined) return miss
    return Effect.matchEffect(replay, { onFailure: () => miss, onSuccess: () => Effect.succeed(hit.response) })
  }

  const answer = <E, R>(
    request: HttpServerRequest.HttpServerRequest,
    miss: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> => {
    if (
      writeCounts === undefined || request.method !== "GET" || request.headers["range"] !== undefined ||
      !request.url.startsWith(PACKAGES)
    ) return miss
    if (request.headers.authorization === undefined) return lookup(request, "anonymous", miss)
    return Effect.flatMap(Effect.exit(authenticate(request)), (auth) =>
      // a failure is the handlers' to answer (401, 503)
      Exit.isFailure(auth) ? miss : lookup(request, auth.value, miss))
  }

  return {
    /** The kept answer to `request` if there is one, else `miss` (kept when it may be). */
    answer,
    /**
     * Starts keeping the app's final answers to anonymous reads and gives them: the final answer
     * to `head` when it may be replayed as is (see {@link Replayer}), else `undefined`.
     */
    replayFinal: (): (head: RequestHead) => WireAnswer | undefined => {
      replaying = true
      return finalAnswer
    }
  }
}

/**
 * The auth class of a request with a token, as the security middlewares see it (the bearer token
 * read the same way, then `Auth.principalFor` with no scope required): the token's scope
 * (`anonymous` for an empty one); fails as they would (a bad token 401, the store down 503).
 * @since 0.1.0
 * @category utils
 */
export const authClass =
  (auth: Auth) =>
  (request: HttpServerRequest.HttpServerRequest): Effect.Effect<string, Unauthorized | Forbidden | Unavailable> =>
    HttpApiBuilder.securityDecode(Authentication.security.bearer).pipe(
      Effect.provideService(HttpServerRequest.ParsedSearchParams, {}),
      Effect.provideService(HttpServerRequest.HttpServerRequest, request),
      Effect.flatMap(principalFor(auth, undefined)),
      Effect.map((principal) => principal.scope ?? "anonymous")
    )
