/**
 * The registry API's handlers: one `HttpApiBuilder.group` layer per group of `RegistryApi`, over
 * the {@link PackageStore}, the {@link BlobStore}, {@link PackageArchive} and {@link ServerConfig}.
 * @since 0.1.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Multipart from "@effect/platform/Multipart"
import type { Stream } from "effect"
import { Effect, Layer, Option } from "effect"
import { BadRequest, InvalidParameter, NotFound, Unavailable } from "../../api/ApiErrors.js"
import type { PackageInfo, SearchResponse } from "../../api/Models.js"
import { CategoryCount, ChangeResponse, HealthResponse, StatsResponse, VersionsResponse } from "../../api/Models.js"
import { RegistryApi } from "../../api/RegistryApi.js"
import { FM_VERSION } from "../../shared/FmVersion.js"
import { LogLive } from "../log/LogHandlers.js"
import { PublishLog } from "../log/PublishLog.js"
import { ServerConfig } from "../ServerConfig.js"
import { BlobStore } from "../storage/BlobStore.js"
import type { BlobError } from "../storage/BlobStore.js"
import type { ReleaseNotFound, ReleaseRow, StoreError } from "../storage/PackageStore.js"
import { PackageStore } from "../storage/PackageStore.js"
import * as Upload from "../uploads/Upload.js"
import * as AnswerCache from "./AnswerCache.js"
import { notModified } from "./Conditional.js"
import { outOfBounds } from "./SearchQuery.js"
import { baseUrlOf, downloadHeaders, infoBody, searchBody, toPackageInfo, toReleaseInfo } from "./WireBodies.js"

const unavailable = (e: StoreError | BlobError) => new Unavailable({ detail: e.message })

/** Archives up to this size are downloaded from memory in one write; larger ones stream. */
const READ_WHOLE_LIMIT = 2 * 1024 * 1024

/**
 * Answers a wire model as JSON directly: the model is built from typed rows, so the schema
 * encoding HttpApi would run (same JSON) is skipped on the hot read paths and the upload's 201.
 */
const json = (
  body: PackageInfo | SearchResponse | VersionsResponse,
  status = 200
): HttpServerResponse.HttpServerResponse => HttpServerResponse.unsafeJson(body, { status })

const intParam = (name: string, raw: string | undefined, fallback: number, min: number, max: number) => {
  if (raw === undefined || raw === "") return Effect.succeed(fallback)
  const n = Number(raw)
  return Number.isInteger(n) && n >= min && n <= max
    ? Effect.succeed(n)
    : Effect.fail(
      new InvalidParameter({
        detail: `query parameter '${name}' must be an integer from ${min} to ${max}, got '${raw}'`
      })
    )
}

/**
 * `health`: counts and the database state; 503 when the database is unreachable.
 * @since 0.1.0
 * @category layers
 */
export const HealthLive = HttpApiBuilder.group(RegistryApi, "health", (handlers) =>
  Effect.gen(function*() {
    const store = yield* PackageStore
    const config = yield* ServerConfig
    const log = yield* PublishLog
    return handlers.handle("health", () =>
      store.counts.pipe(
        Effect.map((s) =>
          new HealthResponse({
            status: "healthy",
            registry_name: config.registryName,
            version: FM_VERSION,
            packages_count: s.packages,
            components_count: s.components,
            database: store.backend,
            log_key: log.verifierKey
          })
        ),
        Effect.mapError(unavailable)
      ))
  }))

/** Parses a `Range: bytes=a-b` header against a size: the range, "none" or "unsatisfiable". */
const parseRange = (
  header: string | undefined,
  size: number
): { start: number; end: number } | "none" | "unsatisfiable" => {
  if (header === undefined) return "none"
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null || (m[1] === "" && m[2] === "")) return "none"
  if (m[1] === "") {
    const suffix = Number(m[2])
    if (suffix === 0 || size === 0) return "unsatisfiable"
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(m[1])
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (start >= size || end < start) return "unsatisfiable"
  return { start, end }
}

/**
 * The read endpoints: search, categories, stats, info, versions, version and download.
 * @since 0.1.0
 * @category layers
 */
export const PackagesLive = HttpApiBuilder.group(RegistryApi, "packages", (handlers) =>
  Effect.gen(function*() {
    const store = yield* PackageStore
    const blobs = yield* BlobStore
    const config = yield* ServerConfig
    const base = Effect.map(HttpServerRequest.HttpServerRequest, (r) => baseUrlOf(r, config))

    return handlers
      .handle("search", ({ urlParams }) =>
        Effect.gen(function*() {
          const q = urlParams.q ?? ""
          const tooBig = outOfBounds(q)
          if (tooBig !== undefined) return yield* new BadRequest({ detail: tooBig })
          const page = yield* intParam("page", urlParams.page, 1, 1, 1_000_000)
          const pageSize = yield* intParam("page_size", urlParams.page_size, 20, 1, 100)
          const category = urlParams.category === undefined || urlParams.category === ""
            ? undefined
            : urlParams.category
          const result = yield* store.search({ q, category, page, pageSize }).pipe(Effect.mapError(unavailable))
          return json(searchBody(result, yield* base, { q, page, pageSize }))
        }))
      .handle("categories", () =>
        Effect.gen(function*() {
          const s = yield* store.stats.pipe(Effect.mapError(unavailable))
          return s.categories.map((c) => c.name)
        }))
      .handle("stats", () =>
        Effect.gen(function*() {
          const s = yield* store.stats.pipe(Effect.mapError(unavailable))
          return new StatsResponse({
            packages: s.packages,
            versions: s.versions,
            components: s.components,
            total_size_bytes: s.totalSizeBytes,
            total_downloads: s.totalDownloads,
            categories: s.categories.map((c) => new CategoryCount({ name: c.name, count: c.count }))
          })
        }))
      .handle("info", ({ path }) =>
        Effect.gen(function*() {
          const found = yield* store.getPackage(path.name).pipe(Effect.mapError(unavailable))
          if (Option.isNone(found)) return yield* new NotFound({ detail: `Package '${path.name}' not found` })
          return json(infoBody(found.value, yield* base))
        }))
      .handle("versions", ({ path }) =>
        Effect.gen(function*() {
          const releases = yield* store.listReleases(path.name).pipe(Effect.mapError(unavailable))
          if (releases.length === 0) return yield* new NotFound({ detail: `Package '${path.name}' not found` })
          const found = yield* store.getPackage(path.name).pipe(Effect.mapError(unavailable))
          const b = yield* base
          return json(
            new VersionsResponse({
              name: Option.match(found, { onNone: () => releases[0].name, onSome: (p) => p.name }),
              versions: releases.map((r) => r.version),
              latest_version: Option.match(found, { onNone: () => null, onSome: (p) => p.latest.version }),
              releases: releases.map((r) => toReleaseInfo(r, b))
            }, true)
          )
        }))
      .handle("version", ({ path }) =>
        Effect.gen(function*() {
          const release = yield* store.getRelease(path.name, path.version).pipe(Effect.mapError(unavailable))
          if (Option.isNone(release)) {
            return yield* new NotFound({ detail: `Package '${path.name}@${path.version}' not found` })
          }
          const pkg = yield* store.getPackage(path.name).pipe(Effect.mapError(unavailable))
          return json(toPackageInfo(release.value, yield* base, {
            versions: Option.match(pkg, { onNone: () => [release.value.version], onSome: (p) => p.versions }),
            latest: Option.match(pkg, { onNone: () => null, onSome: (p) => p.latest.version })
          }))
        }))
      .handle("download", ({ path }) =>
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const found = yield* store.findArchive(path.name, path.version).pipe(Effect.mapError(unavailable))
          if (Option.isNone(found)) {
            return yield* new NotFound({ detail: `Package '${path.name}@${path.version}' not found` })
          }
          const r = found.value
          const headers = downloadHeaders(r)
          const readBlob = (range?: { readonly start: number; readonly end: number }) =>
            blobs.readable(r.checksum, range)
          const unchanged = notModified(request, headers)
          if (Option.isSome(unchanged)) return unchanged.value
          const range = parseRange(request.headers["range"], r.sizeBytes)
          if (range === "unsatisfiable") {
            return HttpServerResponse.empty({
              status: 416,
              headers: { ...headers, "content-range": `bytes */${r.sizeBytes}` }
            })
          }
          const missing = () =>
            new Unavailable({ detail: `the archive of ${r.name}@${r.version} is missing from the registry's storage` })
          if (range === "none" && request.method === "GET" && r.sizeBytes <= READ_WHOLE_LIMIT) {
            // a small archive: read whole (kept in memory by the blob store) and sent in one write
            const bytes = yield* blobs.readAll(r.checksum).pipe(
              Effect.catchAll((e) =>
                Effect.flatMap(
                  blobs.stat(r.checksum),
                  (s) => Effect.fail(Option.isNone(s) ? missing() : unavailable(e))
                ).pipe(
                  Effect.catchTag("BlobError", (e) => Effect.fail(unavailable(e)))
                )
              )
            )
            const count = store.recordDownload(r.name, r.version).pipe(Effect.mapError(unavailable))
            yield* count
            // the same bytes may be served again from the answer cache, counted each time
            yield* AnswerCache.noteAnswer({ onReplay: count, countFree: true })
            return HttpServerResponse.uint8Array(bytes, {
              status: 200,
              headers,
              contentType: "application/octet-stream"
            })
          }
          const stat = yield* blobs.stat(r.checksum).pipe(Effect.mapError(unavailable))
          if (Option.isNone(stat)) return yield* missing()
          const isHead = request.method === "HEAD"
          if (range === "none") {
            if (!isHead) yield* store.recordDownload(r.name, r.version).pipe(Effect.mapError(unavailable))
            return HttpServerResponse.raw(isHead ? "" : readBlob(), {
              status: 200,
              headers: { ...headers, "content-type": "application/octet-stream", "content-length": String(r.sizeBytes) }
            })
          }
          return HttpServerResponse.raw(isHead ? "" : readBlob(range), {
            status: 206,
            headers: {
              ...headers,
              "content-type": "application/octet-stream",
              "content-length": String(range.end - range.start + 1),
              "content-range": `bytes ${range.start}-${range.end}/${r.sizeBytes}`
            }
          })
        }))
  }))

/**
 * The write endpoints: upload (publish scope), delete (admin), yank and unyank (publish scope).
 * @since 0.1.0
 * @category layers
 */
export const PublishLive = HttpApiBuilder.group(RegistryApi, "publish", (handlers) =>
  Effect.gen(function*() {
    const store = yield* PackageStore
    const config = yield* ServerConfig
    const uploader = yield* Upload.Uploader
    const { limit, tooLarge } = uploader

    const upload = (payload: Stream.Stream<Multipart.Part, Multipart.MultipartError>) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const length = Number(request.headers["content-length"] ?? NaN)
        if (Number.isFinite(length) && length > limit + Upload.MULTIPART_SLACK) return yield* tooLarge()
        if (!Upload.hasBoundary(request.headers["content-type"])) {
          return yield* new BadRequest({ detail: "Bad multipart body: no boundary in the Content-Type header" })
        }
        // a small request is read whole and parsed in one call; a large or unsized one streams its
        // archive to a temp file
        const form = Number.isFinite(length) && length <= Upload.IN_MEMORY_UPLOAD
          ? yield* Effect.flatMap(
            Effect.mapError(
              request.arrayBuffer,
              () => new BadRequest({ detail: "Bad multipart body: the request body could not be read" })
            ),
            (body) => uploader.readWhole(new Uint8Array(body), request.headers)
          )
          : yield* uploader.readForm(payload)
        return json(yield* uploader.publish(form, baseUrlOf(request, config)), 201)
      }).pipe(
        Effect.scoped,
        // this route reads up to the upload limit (every other body stops at Answers.JSON_BODY_LIMIT)
        HttpIncomingMessage.withMaxBodySize(Option.some(limit + Upload.MULTIPART_SLACK))
      )

    const change = (status: "deleted" | "yanked" | "unyanked", r: ReleaseRow) =>
      new ChangeResponse({
        name: r.name,
        version: r.version,
        status,
        reason: status === "yanked" ? r.yankReason : null
      })
    const notFoundOr = <A>(
      e: Effect.Effect<A, StoreError | ReleaseNotFound>
    ): Effect.Effect<A, NotFound | Unavailable> =>
      Effect.mapError(e, (err): NotFound | Unavailable =>
        err._tag === "ReleaseNotFound"
          ? new NotFound({ detail: err.message })
          : new Unavailable({ detail: err.message }))

    return handlers
      .handle("upload", ({ payload }) => upload(payload))
      .handle("delete", ({ path }) =>
        Effect.gen(function*() {
          const r = yield* notFoundOr(store.delete(path.name, path.version))
          return change("deleted", r)
        }))
      .handle("yank", ({ path, payload }) =>
        Effect.gen(function*() {
          const r = yield* notFoundOr(store.yank(path.name, path.version, payload.reason))
          return change("yanked", r)
        }))
      .handle("unyank", ({ path }) =>
        Effect.gen(function*() {
          const r = yield* notFoundOr(store.unyank(path.name, path.version))
          return change("unyanked", r)
        }))
  }))

/**
 * All handler groups (they need the stores, `PackageArchive`, `ServerConfig` and `Auth`).
 * @since 0.1.0
 * @category layers
 */
export const HandlersLive = Layer.mergeAll(HealthLive, PackagesLive, PublishLive, LogLive)
