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
 * @since 0.1.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
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

interface Entry {
  readonly response: HttpServerResponse.HttpServerResponse
  readonly size: number
  readonly writes: WriteCounts
  readonly note: AnswerNote
}

const plain: AnswerNote = { onReplay: undefined, countFree: false }

/**
 * The cache over `store`: `answer(request, miss)` gives the kept answer to `request` if there is
 * one, else runs `miss` (the handlers) and keeps what it gives when it may. `baseUrl` gives the
 * base URL an answer's links are built with (part of the key), `authenticate` the auth class of a
 * request that carries a token (see {@link authClass}) or a failure, which leaves the request to
 * the handlers.
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  store: PackageStoreService,
  baseUrl: (request: HttpServerRequest.HttpServerRequest) => string,
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

  const drop = (key: string, entry: Entry) => {
    entries.delete(key)
    bytes -= entry.size
  }
  const keep = (key: string, entry: Omit<Entry, "size">) => {
    const body = entry.response.body
    if (body._tag !== "Uint8Array" || body.body.byteLength > maxBytes / 4) return
    const size = body.body.byteLength + key.length
    const old = entries.get(key)
    if (old !== undefined) drop(key, old)
    entries.set(key, { ...entry, size })
    bytes += size
    for (const [k, e] of entries) {
      if (entries.size <= maxEntries && bytes <= maxBytes) break
      drop(k, e)
    }
  }
  const valid = (e: Omit<Entry, "size" | "response">, now: WriteCounts | undefined) =>
    now !== undefined && e.writes.releases === now.releases &&
    (e.note.countFree || e.writes.downloads === now.downloads)

  const answerMiss = <E, R>(
    key: string,
    before: WriteCounts,
    miss: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> => {
    const note = { current: plain }
    return Effect.tap(Effect.provideService(miss, Note, note), (response) =>
      Effect.sync(() => {
        // an answer read while a write went on may predate it: kept only when none did
        const entry = { response, writes: before, note: note.current }
        if (response.status === 200 && writeCounts !== undefined && valid(entry, writeCounts())) keep(key, entry)
      }))
  }

  const lookup = <E, R>(
    request: HttpServerRequest.HttpServerRequest,
    auth: string,
    miss: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> => {
    if (writeCounts === undefined) return miss
    const now = writeCounts()
    // the store cannot tell which writes happened: answer afresh, keep nothing
    if (now === undefined) return miss
    if (now.releases !== releases) {
      entries.clear()
      bytes = 0
      releases = now.releases
    }
    const key = `${auth}\u0000${baseUrl(request)}\u0000${request.url}`
    const hit = entries.get(key)
    if (hit === undefined || !valid(hit, now)) return answerMiss(key, now, miss)
    const replay = hit.note.onReplay
    if (replay === undefined) return Effect.succeed(hit.response)
    // an answer with effects: a conditional request is the handler's to answer (a 304 is not a download)
    if (request.headers["if-none-match"] !== undefined) return miss
    return Effect.matchEffect(replay, { onFailure: () => miss, onSuccess: () => Effect.succeed(hit.response) })
  }

  return <E, R>(
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
