/**
 * A client for ONE registry of the shared `RegistryApi` definition: its answers are decoded with
 * the schemas the API's endpoints declare. Reads go through {@link BoundedGet} (Node's `http`
 * with keep-alive; the platform `HttpClient` and the typed `HttpApiClient` cost several ms of CPU
 * per request, most of a 143-package install's), uploads through the `HttpClient`: a per-attempt
 * timeout, retries with backoff for transient failures only, `User-Agent: fm/<version>`, the
 * registry's token sent only to the registry's own origin, and percent-encoded paths. It also survives the quirks of the
 * existing FlowMason server (relative `download_url`, a `/versions` endpoint that always answers
 * 404, "latest" by filename order, dates without a timezone, `components: [""]`).
 * Every transfer ends: each response body has an idle timeout (the per-attempt timeout) and a size
 * cap (JSON answers {@link MAX_ANSWER_BYTES}; a download the size its metadata declared, else
 * `FLOWMASON_MAX_DOWNLOAD_BYTES`).
 * Every failure is a typed error whose message names the package and the registry.
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import {
  Config,
  Duration,
  Effect,
  FiberRef,
  Match,
  Option,
  type ParseResult,
  Predicate,
  Redacted,
  Schedule,
  Schema,
  Stream
} from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import semver from "semver"
import { API_PREFIX } from "../api/ApiPrefix.js"
import {
  ConsistencyProofResponse,
  InclusionProofResponse,
  InclusionProofsResponse,
  LogEntriesResponse
} from "../api/LogModels.js"
import { HealthResponse, PackageInfo, ReleaseInfo, SearchResponse, VersionsResponse } from "../api/Models.js"
import { sameName } from "../domain/PackageName.js"
import { maxSatisfying, pickLatest } from "../domain/Version.js"
import { USER_AGENT } from "../shared/FmVersion.js"
import { boundedBody, MAX_ANSWER_BYTES, readBounded } from "./BoundedBody.js"
import { type BodyFailure, BoundedGet, type StartFailure } from "./BoundedGet.js"
import { metadataFile, type MetadataRecord, readMetadata, touchMetadata, writeMetadata } from "./MetadataDiskCache.js"
import { metadataMaxAge } from "./MetadataFreshness.js"
import {
  AuthenticationFailed,
  MalformedResponse,
  PackageNotFound,
  PublishRejected,
  RegistryUnavailable,
  type RemoteError
} from "./RemoteErrors.js"
import { readThroughQuirks, resolveDownloadUrl } from "./ServerQuirks.js"
import { gatherVersions, type VersionsSource } from "./VersionsFallback.js"

/**
 * The errors of a registry call (defined in `RemoteErrors.ts`).
 * @since 0.1.0
 * @category errors
 */
export {
  AuthenticationFailed,
  MalformedResponse,
  PackageNotFound,
  PublishRejected,
  RegistryUnavailable,
  type RemoteError
} from "./RemoteErrors.js"

/**
 * The quirks of FlowMason's server a client reads through (defined in `ServerQuirks.ts`).
 * @since 0.1.0
 */
export { normalizePublishedAt, parsePublishedAt, readThroughQuirks, resolveDownloadUrl } from "./ServerQuirks.js"

/**
 * The versions of a package in one registry, with `supported: false` when the registry has no
 * working versions endpoint (the list then comes from its search and package answers, without
 * yank marks; see `VersionsFallback.ts`).
 * @since 0.1.0
 * @category models
 */
export interface VersionList {
  readonly name: string
  readonly registry: string
  /** Ascending by semver. */
  readonly releases: ReadonlyArray<ReleaseInfo>
  /** Whether the registry's `/versions` endpoint answered (yank marks and dates are known). */
  readonly supported: boolean
  /** Where the list came from: the versions listing, search answers, or the package answer alone. */
  readonly source: VersionsSource
}

/**
 * Search parameters.
 * @since 0.1.0
 * @category models
 */
export interface SearchQuery {
  readonly query: string
  readonly category?: string | undefined
  readonly page?: number | undefined
  readonly pageSize?: number | undefined
}

/**
 * The registry being talked to (what a `RegistryEntry` of the config provides).
 * @since 0.1.0
 * @category models
 */
export interface RegistryTarget {
  readonly name: string
  readonly url: string
}

/**
 * Transport settings: per-attempt timeout, retries of transient failures and their first delay.
 * @since 0.1.0
 * @category models
 */
export interface RemoteRegistryOptions {
  /** Token for `Authorization: Bearer` (sent only to the registry's origin). */
  readonly token?: Option.Option<Redacted.Redacted<string>> | undefined
  /**
   * Per-attempt timeout of JSON calls and of a download's first byte, and the idle timeout of
   * every response body (no byte for this long ends it); default 30 s.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /** Timeout of an upload; default 10 minutes. */
  readonly uploadTimeout?: Duration.DurationInput | undefined
  /** Retries of transient failures (connection errors, timeouts, 408/429/500/502/503/504); default 3. */
  readonly retries?: number | undefined
  /** First backoff delay (doubling, jittered); default 200 ms. */
  readonly retryDelay?: Duration.DurationInput | undefined
  /**
   * Where to keep package metadata (info, versions) for ETag revalidation, e.g.
   * `~/.flowmason/cache/metadata`; files go to `<dir>/<registry>/<name>[.versions|@<version>].json`.
   * Requests then send `If-None-Match` and a `304` answer is served from the file. Default: none.
   */
  readonly metadataCacheDir?: string | undefined
  /**
   * Most bytes of a download whose metadata declares no size (`size_bytes` 0); a declared size is
   * the cap otherwise. Default: `FLOWMASON_MAX_DOWNLOAD_BYTES`, else {@link DEFAULT_MAX_DOWNLOAD_BYTES}.
   */
  readonly maxDownloadBytes?: number | undefined
  /**
   * Called whenever the registry answers a download (any status): downloads do not go through the
   * `HttpClient`, so they tell its observers (`Availability.ts`) this way.
   */
  readonly onAnswer?: (() => void) | undefined
}

const MiB = 1024 * 1024

/**
 * The most bytes of a download whose metadata declares no size, unless
 * `FLOWMASON_MAX_DOWNLOAD_BYTES` says otherwise: 256 MiB.
 * @since 0.1.0
 */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 256 * MiB

/** Statuses whose responses cannot carry a body (the Fetch `Response` constructor refuses one). */
const isNullBodyStatus = (status: number) => status === 101 || status === 204 || status === 205 || status === 304

/** The same response (request, status, headers) with a body already read into memory. */
const withBody = (
  res: HttpClientResponse.HttpClientResponse,
  body: Uint8Array<ArrayBuffer>
): HttpClientResponse.HttpClientResponse =>
  HttpClientResponse.fromWeb(
    res.request,
    new Response(isNullBodyStatus(res.status) ? null : body, { status: res.status, headers: res.headers })
  )

const decodeJsonOption = Schema.decodeUnknownOption(Schema.parseJson())

/** A file's bytes as they are read (a Node stream yields Buffers, which are Uint8Arrays). */
async function* chunksOf(file: string): AsyncGenerator<Uint8Array> {
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 256 * 1024 })) {
    if (chunk instanceof Uint8Array) yield chunk
  }
}

/**
 * A client for one registry. Methods have no requirements.
 * @since 0.1.0
 * @category models
 */
export interface RemoteRegistry {
  /** The registry's configured name. */
  readonly name: string
  /** The base URL (no trailing slash; a path prefix is kept). */
  readonly url: string
  /** `GET health`. */
  readonly health: Effect.Effect<HealthResponse, RemoteError>
  /** `GET packages/search`. */
  readonly search: (query: SearchQuery) => Effect.Effect<SearchResponse, RemoteError>
  /** All versions of a package (falls back to the package info when `/versions` is broken). */
  readonly versions: (name: string) => Effect.Effect<VersionList, PackageNotFound | RemoteError>
  /**
   * The package object of one version: exact (`1.2.0`), the highest matching a range (`^1.2`), or
   * — when `spec` is undefined — the latest: the highest non-yanked release, computed here.
   * The answer's name and version are checked; `download_url` is made absolute.
   */
  readonly resolve: (
    name: string,
    spec?: string | undefined
  ) => Effect.Effect<PackageInfo, PackageNotFound | RemoteError>
  /**
   * The bytes of a version (from its `download_url`). The token is sent only when the URL is on
   * the registry's own origin. Not verified here (the cache verifies while storing).
   */
  readonly download: (info: PackageInfo) => Stream.Stream<Uint8Array, PackageNotFound | RemoteError>
  /**
   * {@link RemoteRegistry.download} read whole into memory (same request, bounds and errors), for
   * an archive whose metadata declares a small size: no stream machinery per chunk.
   */
  readonly downloadBytes: (info: PackageInfo) => Effect.Effect<Uint8Array, PackageNotFound | RemoteError>
  /**
   * `GET log/proof/inclusion?index=I[&old=M]`: the registry's current signed checkpoint, entry
   * `index` with its inclusion proof in that tree, and (with `old`) the consistency proof from the
   * tree of `old` entries. Not verified here (see `LogVerifier`).
   */
  readonly logProof: (
    index: number,
    old: number | undefined
  ) => Effect.Effect<InclusionProofResponse, PackageNotFound | RemoteError>
  /**
   * `GET log/proof/inclusions?indexes=...[&old=M][&size=N]`: the inclusion proofs of several
   * entries (at most 256) in one tree; without `size` the current tree, with its signed checkpoint
   * and (with `old`) the consistency proof from the tree of `old` entries. Not verified here.
   */
  readonly logProofs: (
    indexes: ReadonlyArray<number>,
    old: number | undefined,
    size: number | undefined
  ) => Effect.Effect<InclusionProofsResponse, PackageNotFound | RemoteError>
  /** `GET log/checkpoint`: the registry's signed checkpoint (a signed note). Not verified here. */
  readonly logCheckpoint: Effect.Effect<string, PackageNotFound | RemoteError>
  /** `GET log/entries?start=&end=`: at most 1000 entries from `start`. Not verified here. */
  readonly logEntries: (
    start: number,
    end: number
  ) => Effect.Effect<LogEntriesResponse, PackageNotFound | RemoteError>
  /** `GET log/proof/consistency?old=&new=`: a consistency proof between two sizes. Not verified here. */
  readonly logConsistency: (
    oldSize: number,
    newSize: number
  ) => Effect.Effect<ConsistencyProofResponse, PackageNotFound | RemoteError>
  /** Uploads an archive (multipart `file` + `checksum`), streamed from disk. */
  readonly publish: (
    file: string,
    upload: {
      readonly name: string
      readonly version: string
      readonly checksum: string
      /** Called as the archive's bytes are handed to the connection: (sent, total). */
      readonly onProgress?: ((sent: number, total: number) => void) | undefined
    }
  ) => Effect.Effect<PackageInfo, PublishRejected | RemoteError>
}

const isTransientStatus = (status: number) =>
  status === 408 || status === 429 || status === 500 || status === 502 || status === 503 || status === 504

const originOf = (url: string): string | undefined => {
  try {
    return new URL(url).origin
  } catch {
    return undefined
  }
}

interface Ctx {
  readonly name?: string | undefined
  readonly version?: string | undefined
  readonly url: string
}

/** A cached versions answer (the body as the registry sent it). */
const decodeVersionsBody = Schema.decodeUnknownOption(Schema.parseJson(VersionsResponse))

/** Decodes a JSON answer's text. */
type JsonDecoder<A> = (text: string) => Effect.Effect<A, ParseResult.ParseError>

const jsonDecoder = <A, I>(schema: Schema.Schema<A, I>): JsonDecoder<A> =>
  Schema.decodeUnknown(Schema.parseJson(schema))

/**
 * The decoders of the answers, built once: `Schema.parseJson(schema)` makes a new schema, and a
 * decoder made from a new schema is compiled again (it was, for every answer).
 */
const fromJson = {
  health: jsonDecoder(HealthResponse),
  search: jsonDecoder(SearchResponse),
  packageInfo: jsonDecoder(PackageInfo),
  versions: jsonDecoder(VersionsResponse),
  inclusion: jsonDecoder(InclusionProofResponse),
  inclusions: jsonDecoder(InclusionProofsResponse),
  entries: jsonDecoder(LogEntriesResponse),
  consistency: jsonDecoder(ConsistencyProofResponse)
} as const

/**
 * Builds the client of one registry. Requires an `HttpClient` (the typed API client's, built on
 * its first use) and the {@link BoundedGet} transport (downloads and log proofs) once, at
 * construction.
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  target: RegistryTarget,
  options: RemoteRegistryOptions = {}
): Effect.Effect<RemoteRegistry, never, HttpClient.HttpClient | BoundedGet> =>
  Effect.gen(function*() {
    const registry = target.name
    const base = target.url.replace(/\/+$/, "")
    const origin = originOf(base)
    const token = options.token ?? Option.none()
    const timeout = Duration.decode(options.timeout ?? "30 seconds")
    const uploadTimeout = Duration.decode(options.uploadTimeout ?? "10 minutes")
    const retries = options.retries ?? 3
    const schedule = Schedule.exponential(options.retryDelay ?? "200 millis").pipe(Schedule.jittered)
    const maxDownload = options.maxDownloadBytes ?? (yield* Config.integer("FLOWMASON_MAX_DOWNLOAD_BYTES").pipe(
      Config.validate({
        message: "FLOWMASON_MAX_DOWNLOAD_BYTES must be a positive number of bytes",
        validation: (n) => n > 0
      }),
      Config.withDefault(DEFAULT_MAX_DOWNLOAD_BYTES),
      Effect.orDie // a malformed value is a startup defect naming the variable
    ))
    const idle = `no data for ${Duration.format(timeout)}`

    const raw = yield* HttpClient.HttpClient
    const transport = yield* BoundedGet

    /** Headers for every request; the token only to the registry's own origin. */
    const withHeaders = (c: HttpClient.HttpClient): HttpClient.HttpClient =>
      HttpClient.mapRequest(c, (req) => {
        const r = HttpClientRequest.setHeader(req, "user-agent", USER_AGENT)
        if (Option.isSome(token) && originOf(req.url) === origin && origin !== undefined) {
          return HttpClientRequest.bearerToken(r, Redacted.value(token.value))
        }
        return r
      })

    const withTimeout = (d: Duration.Duration) => (c: HttpClient.HttpClient): HttpClient.HttpClient =>
      HttpClient.transform(c, (effect, request) =>
        Effect.timeoutFail(effect, {
          duration: d,
          onTimeout: () =>
            new HttpClientError.RequestError({
              request,
              reason: "Transport",
              description: `no answer within ${Duration.format(d)}`
            })
        }))

    /**
     * Reads every response body into memory within bounds: {@link MAX_ANSWER_BYTES} (a larger
     * Content-Length is refused unread) and the idle timeout (a stall is a transport failure, so
     * it is retried like one).
     */
    const withBoundedBody = (c: HttpClient.HttpClient): HttpClient.HttpClient =>
      HttpClient.transformResponse(
        c,
        Effect.flatMap((res) => {
          const tooLarge = (description: string) =>
            new HttpClientError.ResponseError({ request: res.request, response: res, reason: "Decode", description })
          const limit = `the ${MAX_ANSWER_BYTES / MiB} MiB limit`
          return boundedBody(
            res,
            { idle: timeout, maxBytes: MAX_ANSWER_BYTES },
            () => new HttpClientError.RequestError({ request: res.request, reason: "Transport", description: idle }),
            (announced) =>
              tooLarge(
                announced === undefined
                  ? `the answer is over ${limit}`
                  : `the answer announced ${announced} bytes, over ${limit}`
              )
          ).pipe(Effect.flatMap(readBounded), Effect.map((bytes) => withBody(res, bytes)))
        })
      )

    /**
     * What `freshVersions` just read of a metadata file, by URL, handed to the request that follows
     * (its `If-None-Match`) so the file is read once per call, not twice.
     */
    const peeked = new Map<string, Option.Option<MetadataRecord>>()
    const readOnce = (file: string, url: string): Effect.Effect<Option.Option<MetadataRecord>> =>
      Effect.suspend(() => {
        const known = peeked.get(url)
        peeked.delete(url)
        return known !== undefined ? Effect.succeed(known) : readMetadata(file, url)
      })
    /** Uploads: no retries (a repeated POST could answer 409 for our own first attempt). */
    const uploadClient = raw.pipe(withHeaders, withTimeout(uploadTimeout), withBoundedBody)

    const label = (ctx: Ctx) =>
      ctx.name === undefined ? undefined : ctx.version === undefined ? ctx.name : `${ctx.name}@${ctx.version}`

    const authHint = (status: number) =>
      status === 403
        ? `the token for ${registry} lacks the needed scope; ask its administrator for one that allows this`
        : Option.isSome(token)
        ? `check the token: save a new one with \`fm login ${registry}\`, or set FLOWMASON_REGISTRY_TOKEN`
        : `this registry needs a token: \`fm registry add ${registry} ${base} --token TOKEN\` (after removing it), or set FLOWMASON_REGISTRY_TOKEN`

    const fromStatus = (status: number, detail: string, ctx: Ctx): PackageNotFound | RemoteError => {
      if (status === 404 && ctx.name !== undefined) {
        return new PackageNotFound({ name: ctx.name, version: ctx.version, registry })
      }
      if (status === 401 || status === 403) {
        return new AuthenticationFailed({ registry, status, detail, hint: authHint(status), package: label(ctx) })
      }
      if (status >= 500 || isTransientStatus(status)) {
        return new RegistryUnavailable({
          registry,
          url: ctx.url,
          reason: `HTTP ${status}${detail === "" ? "" : `: ${detail}`}`,
          package: label(ctx)
        })
      }
      return new MalformedResponse({
        registry,
        url: ctx.url,
        reason: `unexpected HTTP ${status}${detail === "" ? "" : `: ${detail}`}`
      })
    }

    const detailOf = (e: unknown): string =>
      typeof e === "object" && e !== null && "detail" in e && typeof e.detail === "string" ? e.detail : ""

    /** Maps an upload's transport failures into our errors. */
    const mapError = (ctx: Ctx) => (e: HttpClientError.HttpClientError): PackageNotFound | RemoteError =>
      Match.valueTags(e, {
        RequestError: (re) =>
          new RegistryUnavailable({
            registry,
            url: ctx.url,
            reason: re.description ?? (re.cause instanceof Error ? describeTransport(re.cause) : re.reason),
            package: label(ctx)
          }),
        ResponseError: (re) => {
          const status = re.response.status
          if (status >= 200 && status < 300) {
            return new MalformedResponse({
              registry,
              url: ctx.url,
              reason: re.description ?? "the body could not be read"
            })
          }
          return fromStatus(status, re.description ?? "", ctx)
        }
      })

    const endpoint = (path: string) => `${base}${API_PREFIX}${path}`
    /** An endpoint's URL with its query (parameters left undefined are left out). */
    const withQuery = (path: string, params: Record<string, string | number | undefined>) => {
      const query = new URLSearchParams()
      for (const [k, v] of Object.entries(params)) if (v !== undefined) query.set(k, String(v))
      return endpoint(`${path}?${query.toString()}`)
    }
    const seg = (s: string) => encodeURIComponent(s)

    const normalize = (info: PackageInfo): PackageInfo => readThroughQuirks(base, info)

    /** Normalizes FlowMason's quirks; checks name (and version when exact). */
    const checkInfo = (info: PackageInfo, name: string, version: string | undefined, url: string) => {
      if (!sameName(info.name, name)) {
        return Effect.fail(
          new MalformedResponse({ registry, url, reason: `asked for package ${name} but got ${info.name}` })
        )
      }
      if (version !== undefined && info.version !== version) {
        return Effect.fail(
          new MalformedResponse({
            registry,
            url,
            reason: `asked for ${name}@${version} but got version ${info.version}`
          })
        )
      }
      return Effect.succeed(normalize(info))
    }

    /** Headers of a `BoundedGet` request: the user agent, and the token only to the registry's origin. */
    const headersFor = (url: string): Record<string, string> =>
      Option.isSome(token) && originOf(url) === origin && origin !== undefined
        ? { "user-agent": USER_AGENT, authorization: `Bearer ${Redacted.value(token.value)}` }
        : { "user-agent": USER_AGENT }

    /** A `BoundedGet` request of `url` with this registry's headers, timeouts and answer observer. */
    const boundedRequest = (url: string, maxBytes: number) => ({
      url,
      headers: headersFor(url),
      timeoutMs: Duration.toMillis(timeout),
      idleMs: Duration.toMillis(timeout),
      maxBytes,
      onAnswer: options.onAnswer
    })

    /** What is retried, as JSON calls are: no answer (in time), 408/429/5xx. */
    const transientStart = (e: StartFailure | BodyFailure) =>
      e._tag === "NoAnswer" || (e._tag === "Status" && isTransientStatus(e.status))

    const retryTransient = <A, E extends StartFailure | BodyFailure, R>(
      effect: Effect.Effect<A, E, R>,
      alsoWhen: (e: E) => boolean = () => false
    ): Effect.Effect<A, E, R> =>
      retries > 0
        ? Effect.retry(effect, { schedule, times: retries, while: (e) => transientStart(e) || alsoWhen(e) })
        : effect

    /**
     * A `BoundedGet` failure as this registry's error: `over` words a transfer over its cap (the
     * bytes it announced, if it did), `broken` one that stalled or broke off.
     */
    const transferError = (
      ctx: Ctx,
      over: (bytes: number | undefined) => string,
      broken: (why: string) => string
    ) =>
    (e: StartFailure | BodyFailure): PackageNotFound | RemoteError => {
      const unavailable = (reason: string) =>
        new RegistryUnavailable({ registry, url: ctx.url, reason, package: label(ctx) })
      switch (e._tag) {
        case "NoAnswer":
          return unavailable(e.description)
        case "Status":
          return fromStatus(e.status, detailOf(Option.getOrUndefined(decodeJsonOption(e.body))), ctx)
        case "Announced":
          return new MalformedResponse({ registry, url: ctx.url, reason: over(e.bytes) })
        case "TooLarge":
          return new MalformedResponse({ registry, url: ctx.url, reason: over(undefined) })
        case "Stalled":
          return unavailable(broken(idle))
        case "BrokeOff":
          return unavailable(broken(e.description))
      }
    }

    /**
     * The text of a registry's answer to a `GET` of `ctx.url` through {@link BoundedGet}: bounded
     * as every answer is (the per-attempt timeout, the idle timeout, {@link MAX_ANSWER_BYTES}),
     * retried as every call is (a stalled answer too). Package metadata (info, versions, one
     * version) is revalidated against its cached copy: the copy's ETag goes out as
     * `If-None-Match`, a `304` is answered from the copy, a `200` with an `ETag` replaces it; within
     * a fresh-metadata window (MetadataFreshness.ts) a copy confirmed recently enough answers
     * without a request.
     */
    const getText = (ctx: Ctx): Effect.Effect<string, PackageNotFound | RemoteError> =>
      Effect.gen(function*() {
        const url = ctx.url
        const file = options.metadataCacheDir === undefined
          ? undefined
          : metadataFile(options.metadataCacheDir, registry, base, url)
        const kept = file === undefined ? Option.none<MetadataRecord>() : yield* readOnce(file, url)
        if (Option.isSome(kept) && kept.value.checkedAt !== undefined) {
          const window = Duration.toMillis(yield* FiberRef.get(metadataMaxAge))
          if (window > 0 && Date.now() - kept.value.checkedAt < window) return kept.value.body
        }
        const request = boundedRequest(url, MAX_ANSWER_BYTES)
        const headers = Option.isSome(kept) ? { ...request.headers, "if-none-match": kept.value.etag } : request.headers
        const answer = yield* retryTransient(transport.read({ ...request, headers }), (e) => e._tag === "Stalled").pipe(
          Effect.map(Option.some),
          Effect.catchIf(
            (e) => e._tag === "Status" && e.status === 304 && Option.isSome(kept),
            () => Effect.succeed(Option.none())
          ),
          Effect.mapError(transferError(
            ctx,
            (bytes) =>
              bytes === undefined
                ? `the answer is over the ${MAX_ANSWER_BYTES / MiB} MiB limit`
                : `the answer announced ${bytes} bytes, over the ${MAX_ANSWER_BYTES / MiB} MiB limit`,
            (why) => why
          ))
        )
        if (Option.isNone(answer)) {
          // not modified: the cached copy, confirmed now
          if (file !== undefined) yield* touchMetadata(file)
          return Option.match(kept, { onNone: () => "", onSome: (r) => r.body })
        }
        const text = new TextDecoder().decode(answer.value.body)
        const etag = answer.value.headers.etag
        if (file !== undefined && answer.value.status === 200 && etag !== undefined && etag !== "") {
          yield* writeMetadata(file, { url, etag, body: text })
        }
        return text
      })

    /** A JSON answer (see {@link getText}), decoded with the schema its `RegistryApi` endpoint declares. */
    const getJson = <A>(decode: JsonDecoder<A>, ctx: Ctx): Effect.Effect<A, PackageNotFound | RemoteError> =>
      Effect.flatMap(getText(ctx), (text) =>
        decode(text).pipe(
          Effect.mapError((e) => new MalformedResponse({ registry, url: ctx.url, reason: e.message }))
        ))

    const health = getJson(fromJson.health, { url: endpoint("/health") }).pipe(
      Effect.catchTag("PackageNotFound", (e) => Effect.die(e)),
      Effect.withSpan("RemoteRegistry.health", { attributes: { registry } })
    )

    const search = Effect.fn("RemoteRegistry.search")(function*(q: SearchQuery) {
      const url = withQuery("/packages/search", {
        q: q.query,
        category: q.category,
        page: q.page,
        page_size: q.pageSize
      })
      return yield* getJson(fromJson.search, { url }).pipe(
        Effect.catchTags({
          PackageNotFound: () =>
            Effect.fail(
              new MalformedResponse({ registry, url: endpoint("/packages/search"), reason: "search answered 404" })
            )
        })
      )
    })

    const infoRaw = (name: string, version: string | undefined) => {
      const url = version === undefined
        ? endpoint(`/packages/${seg(name)}`)
        : endpoint(`/packages/${seg(name)}/${seg(version)}`)
      return getJson(fromJson.packageInfo, { name, version, url }).pipe(
        Effect.flatMap((info) => checkInfo(info, name, version, url))
      )
    }

    /**
     * Within a fresh-metadata window (MetadataFreshness.ts): the cached versions answer, decoded
     * straight from its file when the registry confirmed it recently enough (no HTTP client at all).
     */
    const freshVersions = (url: string): Effect.Effect<Option.Option<VersionsResponse>> =>
      Effect.flatMap(FiberRef.get(metadataMaxAge), (maxAge) => {
        const window = Duration.toMillis(maxAge)
        const file = options.metadataCacheDir === undefined
          ? undefined
          : metadataFile(options.metadataCacheDir, registry, base, url)
        if (window <= 0 || file === undefined) return Effect.succeed(Option.none())
        return Effect.map(readMetadata(file, url), (kept) => {
          const fresh = Option.flatMap(kept, (r) =>
            r.checkedAt !== undefined && Date.now() - r.checkedAt < window
              ? decodeVersionsBody(r.body)
              : Option.none())
          // not fresh: the request that follows revalidates this very copy (no second read)
          if (Option.isNone(fresh)) peeked.set(url, kept)
          return fresh
        })
      })

    const versions = Effect.fn("RemoteRegistry.versions")(function*(name: string) {
      const url = endpoint(`/packages/${seg(name)}/versions`)
      const fresh = yield* freshVersions(url)
      const answer = Option.isSome(fresh) ?
        fresh :
        yield* getJson(fromJson.versions, { name, url }).pipe(
          Effect.map(Option.some),
          // FlowMason's server always answers 404 here (`Package 'x@versions' not found`): treat a
          // 404 as "not supported" and ask for the package itself (which 404s if it is missing).
          Effect.catchTag("PackageNotFound", () => Effect.succeed(Option.none()))
        )
      if (Option.isSome(answer)) {
        const v = answer.value
        if (v.name !== "" && !sameName(v.name, name)) {
          return yield* new MalformedResponse({ registry, url, reason: `asked for ${name} but got ${v.name}` })
        }
        const byVersion = new Map(v.releases.map((r) => [r.version, r]))
        const all = new Set([...v.versions, ...byVersion.keys()])
        const releases = [...all]
          .filter((x) => semver.valid(x) !== null)
          .sort(semver.compare)
          .map((x) => byVersion.get(x) ?? new ReleaseInfo({ version: x }))
        const listed: VersionList = {
          name: v.name === "" ? name : v.name,
          registry,
          releases,
          supported: true,
          source: "versions"
        }
        return listed
      }
      // no listing: its search answers and package answer (see VersionsFallback.ts)
      const infoUrl = endpoint(`/packages/${seg(name)}`)
      const gathered = yield* gatherVersions(name, {
        latest: getJson(fromJson.packageInfo, { name, url: infoUrl }).pipe(
          Effect.map((info) => Option.some(normalize(info))),
          Effect.catchTag("PackageNotFound", () => Effect.succeed(Option.none()))
        ),
        page: (page, pageSize) =>
          search({ query: name, page, pageSize }).pipe(
            Effect.map((answer) => Option.some({ ...answer, packages: answer.packages.map(normalize) })),
            // a search that refuses the query or answers garbage: the package answer alone
            Effect.catchTag("MalformedResponse", () => Effect.succeed(Option.none()))
          )
      })
      if (Option.isNone(gathered)) return yield* new PackageNotFound({ name, registry })
      const { name: spelled, releases, source } = gathered.value
      const list: VersionList = { name: spelled, registry, releases, supported: false, source }
      return list
    })

    const resolve = Effect.fn("RemoteRegistry.resolve")(function*(name: string, spec?: string | undefined) {
      const exact = spec !== undefined && semver.valid(spec) === spec
      if (exact) return yield* infoRaw(name, spec)
      if (spec !== undefined && semver.validRange(spec) === null) {
        return yield* new PackageNotFound({ name, version: spec, registry })
      }
      const list = yield* versions(name)
      const candidates = list.releases.filter((r) => !r.yanked).map((r) => r.version)
      const chosen = spec === undefined ? pickLatest(candidates) : maxSatisfying(candidates, spec)
      if (chosen === undefined) return yield* new PackageNotFound({ name, version: spec ?? "latest", registry })
      return yield* infoRaw(name, chosen)
    })

    /** The bounded request of a version's archive and its error mapping (one for both download forms). */
    const downloadRequest = (info: PackageInfo) => {
      const url = resolveDownloadUrl(base, info.name, info.version, info.download_url)
      const ctx: Ctx = { name: info.name, version: info.version, url }
      const pkg = `${info.name}@${info.version}`
      const declared = info.size_bytes > 0
      const limit = declared ? info.size_bytes : maxDownload
      const allowed = declared
        ? `the ${limit} bytes its metadata declared`
        : `the ${limit} bytes allowed when no size is declared (FLOWMASON_MAX_DOWNLOAD_BYTES)`
      const failure = transferError(
        ctx,
        (bytes) =>
          bytes === undefined
            ? `the download of ${pkg} sent more than ${allowed}`
            : `the download of ${pkg} announced ${bytes} bytes, more than ${allowed}`,
        (why) => why === idle ? `the download stalled: ${idle}` : `the download broke off: ${why}`
      )
      return { request: boundedRequest(url, limit), failure }
    }

    const download = (info: PackageInfo): Stream.Stream<Uint8Array, PackageNotFound | RemoteError> => {
      const { failure, request } = downloadRequest(info)
      // only the start is retried (connection failures, no answer in time, 408/429/5xx), as JSON
      // calls are: once body bytes flow they are the cache's to verify
      return Stream.unwrapScoped(
        retryTransient(transport.stream(request)).pipe(
          Effect.mapError(failure),
          Effect.map(Stream.mapError(failure))
        )
      )
    }

    const downloadBytes = (info: PackageInfo): Effect.Effect<Uint8Array, PackageNotFound | RemoteError> => {
      const { failure, request } = downloadRequest(info)
      // retried as `download` is: only a start that failed (a body that broke off is not)
      return retryTransient(transport.read(request)).pipe(
        Effect.map((answer) => answer.body),
        Effect.mapError(failure)
      )
    }

    const publish = Effect.fn("RemoteRegistry.publish")(function*(
      file: string,
      upload: {
        readonly name: string
        readonly version: string
        readonly checksum: string
        readonly onProgress?: ((sent: number, total: number) => void) | undefined
      }
    ) {
      const url = endpoint("/packages/upload")
      const pkg = `${upload.name}@${upload.version}`
      const size = yield* Effect.try({
        try: () => fs.statSync(file).size,
        catch: (cause) =>
          new MalformedResponse({ registry, url: file, reason: `cannot read ${file}: ${String(cause)}` })
      })
      // multipart/form-data written by hand so that the file streams from disk (the platform's
      // FormData path buffers, and mixes two undici copies' Blob types)
      const boundary = `----fm-${crypto.randomBytes(16).toString("hex")}`
      const enc = new TextEncoder()
      const head = enc.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="checksum"\r\n\r\n${upload.checksum}\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${upload.name}-${upload.version}.fmpkg"\r\n` +
          `Content-Type: application/octet-stream\r\n\r\n`
      )
      const tail = enc.encode(`\r\n--${boundary}--\r\n`)
      const fileBytes = Stream.fromAsyncIterable(
        chunksOf(file),
        (cause) => new MalformedResponse({ registry, url: file, reason: `cannot read ${file}: ${String(cause)}` })
      )
      let sent = 0
      const onProgress = upload.onProgress
      const counted = onProgress === undefined ? fileBytes : fileBytes.pipe(
        Stream.tap((chunk) =>
          Effect.sync(() => {
            sent += chunk.length
            onProgress(sent, size)
          })
        )
      )
      const body = Stream.make(head).pipe(Stream.concat(counted), Stream.concat(Stream.make(tail)))
      const request = HttpClientRequest.post(url).pipe(
        HttpClientRequest.bodyStream(body, {
          contentType: `multipart/form-data; boundary=${boundary}`,
          contentLength: head.length + size + tail.length
        })
      )
      const ctx: Ctx = { name: pkg, url }
      const mapUpload = (e: HttpClientError.HttpClientError): RemoteError => {
        const m = mapError(ctx)(e)
        return m._tag === "PackageNotFound" ? new MalformedResponse({ registry, url, reason: "HTTP 404" }) : m
      }
      const { res, text } = yield* uploadClient.execute(request).pipe(
        Effect.flatMap((res) => Effect.map(res.text, (text) => ({ res, text }))),
        Effect.mapError(mapUpload),
        Effect.scoped
      )
      const parsed = Option.getOrUndefined(decodeJsonOption(text))
      const detail = detailOf(parsed) || text.slice(0, 200)
      const reject = (hint: string) =>
        Effect.fail(new PublishRejected({ registry, package: pkg, status: res.status, detail, hint }))
      switch (res.status) {
        case 200:
        case 201: {
          const info = yield* Schema.decodeUnknown(PackageInfo)(parsed).pipe(
            Effect.mapError((e) => new MalformedResponse({ registry, url, reason: e.message }))
          )
          return yield* checkInfo(info, upload.name, upload.version, url)
        }
        case 400:
          return yield* reject("check the archive with `fm pack` (manifest, name, version) and publish it again")
        case 409:
          return yield* reject(
            `versions are immutable: bump the version in the manifest, pack again and publish ${upload.name} with the new version`
          )
        case 413:
          return yield* reject(`the archive is over ${registry}'s size limit: leave large files out of the package`)
        case 404:
          return yield* new MalformedResponse({
            registry,
            url,
            reason: "the upload endpoint answered 404: is this a FlowMason registry?"
          })
        default: {
          const e = fromStatus(res.status, detail, ctx)
          return yield* (e._tag === "PackageNotFound"
            ? new MalformedResponse({ registry, url, reason: `HTTP ${res.status}` })
            : e)
        }
      }
    })

    // the publish-log endpoints, on every install's path: through `BoundedGet`, decoded with the
    // schemas their `RegistryApi` endpoints declare
    const logProof = (index: number, old: number | undefined) =>
      getJson(fromJson.inclusion, { url: withQuery("/log/proof/inclusion", { index, old }) }).pipe(
        Effect.withSpan("RemoteRegistry.logProof", { attributes: { registry } })
      )

    const logProofs = (indexes: ReadonlyArray<number>, old: number | undefined, size: number | undefined) =>
      getJson(fromJson.inclusions, {
        url: withQuery("/log/proof/inclusions", { indexes: indexes.join(","), old, size })
      }).pipe(Effect.withSpan("RemoteRegistry.logProofs", { attributes: { registry, count: indexes.length } }))

    const logCheckpoint = getText({ url: endpoint("/log/checkpoint") })

    const logEntries = (start: number, end: number) =>
      getJson(fromJson.entries, { url: withQuery("/log/entries", { start, end }) })

    const logConsistency = (oldSize: number, newSize: number) =>
      getJson(fromJson.consistency, {
        url: withQuery("/log/proof/consistency", { old: oldSize, new: newSize })
      })

    return {
      name: registry,
      url: base,
      health,
      search,
      versions,
      resolve,
      download,
      downloadBytes,
      publish,
      logProof,
      logProofs,
      logCheckpoint,
      logEntries,
      logConsistency
    } satisfies RemoteRegistry
  })

/** The `code` (ECONNREFUSED, ...) a Node error carries, if any. */
const codeOf = (u: unknown): string | undefined =>
  Predicate.hasProperty(u, "code") && typeof u.code === "string" ? u.code : undefined

const describeTransport = (cause: Error): string => {
  const inner = cause.cause
  const code = codeOf(cause) ?? codeOf(inner)
  const text = inner instanceof Error ? inner.message : cause.message
  return code !== undefined && !text.includes(code) ? `${code}: ${text}` : text
}
