/**
 * The upload pipeline of the `upload` endpoint: the form read by the platform's multipart parser
 * (multipasta, with limits): a small request's body whole, in one call, its `file` part kept in
 * memory; a larger or unsized one as a stream, its `file` part streamed to a temp file. Then from the received archive and the form's `checksum` to the
 * published release's {@link PackageInfo}: checksum check, full archive check, blob stored,
 * release recorded (409 when `name@version` exists).
 * @since 0.1.0
 */
import * as Multipart from "@effect/platform/Multipart"
import { Context, Effect, Layer, Option, Predicate, Stream } from "effect"
import type { Scope } from "effect"
import * as MP from "multipasta"
import { BadRequest, Conflict, PayloadTooLarge, Unavailable } from "../../api/ApiErrors.js"
import type { PackageInfo } from "../../api/Models.js"
import { PackageArchive } from "../../archive/PackageArchive.js"
import { sha256Hex } from "../../shared/Hash.js"
import { toPackageInfo } from "../http/WireBodies.js"
import { ServerConfig } from "../ServerConfig.js"
import { BlobStore } from "../storage/BlobStore.js"
import type { BlobError, BlobTooLarge, TempBlob } from "../storage/BlobStore.js"
import { PackageStore } from "../storage/PackageStore.js"

/**
 * Uploads whose request declares at most this many bytes (`Content-Length`) keep their archive in
 * memory; larger or unsized ones stream it through a temp file.
 * @since 0.1.0
 * @category constants
 */
export const IN_MEMORY_UPLOAD = 4 * 1024 * 1024

/**
 * Room for multipart boundaries and form fields on top of the archive size limit.
 * @since 0.1.0
 * @category constants
 */
export const MULTIPART_SLACK = 64 * 1024

/**
 * Whether a `Content-Type` names a non-empty multipart `boundary` (the parser cannot start
 * without one, and fails as a defect rather than an error: this is checked first).
 * @since 0.1.0
 * @category utils
 */
export const hasBoundary = (contentType: string | undefined): boolean =>
  contentType !== undefined && /;\s*boundary\s*=\s*(?:"[^"]+"|[^\s;"]+)/i.test(contentType)

/** Most parts a form may have (`file`, `checksum`, and a few a client may add). */
const MAX_PARTS = 16
/** Largest form field (`checksum` is 64 hex digits). */
const MAX_FIELD_BYTES = 16 * 1024

/** The parser's own error behind a `MultipartError` (a part's stream reports it as its cause). */
const parserError = (e: Multipart.MultipartError): { readonly tag: unknown; readonly limit: unknown } => ({
  tag: Predicate.hasProperty(e.cause, "_tag") ? e.cause._tag : undefined,
  limit: Predicate.hasProperty(e.cause, "limit") ? e.cause.limit : undefined
})

/** Whether the archive or the whole form went over its size limit. */
const overLimit = (e: Multipart.MultipartError): boolean => {
  const { limit } = parserError(e)
  return e.reason === "FileTooLarge" || e.reason === "BodyTooLarge" || isSizeLimit(limit)
}

/** Whether a parser limit is one of the size limits (413 rather than 400). */
const isSizeLimit = (limit: unknown): boolean => limit === "MaxPartSize" || limit === "MaxTotalSize"

/** What is wrong with a multipart body, in a sentence (from the parser's own error). */
const multipartProblem = (e: Multipart.MultipartError): string => {
  const { limit, tag } = parserError(e)
  return parserProblem(tag, limit) ?? (e.cause instanceof Error ? e.cause.message : e.message)
}

/** The sentence for one of the parser's (multipasta's) errors, by its tag and limit. */
const parserProblem = (tag: unknown, limit: unknown): string | undefined => {
  if (limit === "MaxParts") return `more than ${MAX_PARTS} parts`
  if (limit === "MaxFieldSize") return `a form field is larger than ${MAX_FIELD_BYTES} bytes`
  switch (tag) {
    case "InvalidBoundary":
      return "no boundary in the Content-Type header"
    case "BadHeaders":
      return "a part has malformed headers"
    case "InvalidDisposition":
      return "a part has no 'Content-Disposition: form-data' header with a name"
    case "EndNotReached":
      return "the body ends before its closing boundary (truncated upload)"
  }
  return undefined
}

/**
 * The archive of an upload as received: hashed and counted, its bytes in memory (`bytes`) or in a
 * temp file (`temp`).
 * @since 0.1.0
 * @category models
 */
export type ReceivedArchive =
  | { readonly sha256: string; readonly size: number; readonly bytes: Uint8Array }
  | { readonly sha256: string; readonly size: number; readonly temp: TempBlob }

/**
 * What an upload form carried: the `file` part (if any) and the `checksum` field (if any).
 * @since 0.1.0
 * @category models
 */
export interface ReceivedForm {
  readonly archive: ReceivedArchive | undefined
  readonly checksum: string | undefined
}

/**
 * The upload pipeline over the stores, `PackageArchive` and the server options.
 * @since 0.1.0
 * @category models
 */
export interface UploaderService {
  /** The server's upload size limit in bytes. */
  readonly limit: number
  /** The 413 answer for an upload over the limit. */
  readonly tooLarge: () => PayloadTooLarge
  /**
   * Reads a streamed upload form from its parts (the first `file` part, the `checksum` field),
   * within the limits: the archive goes to a temp file removed with the scope.
   */
  readonly readForm: (
    parts: Stream.Stream<Multipart.Part, Multipart.MultipartError>
  ) => Effect.Effect<ReceivedForm, BadRequest | PayloadTooLarge | Unavailable, Scope.Scope>
  /**
   * Reads an upload form held whole in memory (a small request, `Content-Length` up to
   * {@link IN_MEMORY_UPLOAD}) through the same parser and limits as `readForm`, in one call.
   */
  readonly readWhole: (
    body: Uint8Array,
    headers: Record<string, string>
  ) => Effect.Effect<ReceivedForm, BadRequest | PayloadTooLarge>
  /** Checks and publishes a received upload; `baseUrl` is the registry's URL as the client sees it. */
  readonly publish: (
    form: ReceivedForm,
    baseUrl: string
  ) => Effect.Effect<PackageInfo, BadRequest | Conflict | Unavailable>
}

/**
 * Builds the {@link UploaderService} over the services in context.
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<UploaderService, never, PackageStore | BlobStore | PackageArchive | ServerConfig> =
  Effect.gen(
    function*() {
      const store = yield* PackageStore
      const blobs = yield* BlobStore
      const archive = yield* PackageArchive
      const config = yield* ServerConfig
      const limit = config.maxUploadSize
      const tooLarge = () => new PayloadTooLarge({ detail: `Upload too large: the limit is ${limit} bytes` })
      const unavailable = (e: { readonly message: string }) => new Unavailable({ detail: e.message })

      const readForm = (parts: Stream.Stream<Multipart.Part, Multipart.MultipartError>) =>
        Effect.gen(function*() {
          let archive: ReceivedArchive | undefined
          let checksum: string | undefined
          const receive = (file: Multipart.File) =>
            Effect.map(
              blobs.writeTemp(file.content, limit),
              (temp): ReceivedArchive => ({ sha256: temp.sha256, size: temp.size, temp })
            )
          yield* Stream.runForEach(
            Multipart.withLimitsStream(parts, {
              maxParts: Option.some(MAX_PARTS),
              maxFieldSize: MAX_FIELD_BYTES,
              maxFileSize: Option.some(limit),
              maxTotalSize: Option.some(limit + MULTIPART_SLACK)
            }),
            (part): Effect.Effect<void, Multipart.MultipartError | BlobError | BlobTooLarge, Scope.Scope> => {
              if (Multipart.isFile(part)) {
                if (part.key !== "file" || archive !== undefined) return Stream.runDrain(part.content)
                return Effect.map(receive(part), (a) => {
                  archive = a
                })
              }
              if (part.key === "checksum") checksum = part.value.trim().toLowerCase()
              return Effect.void
            }
          ).pipe(
            Effect.catchTags({
              MultipartError: (e) =>
                Effect.fail(
                  overLimit(e) ? tooLarge() : new BadRequest({ detail: `Bad multipart body: ${multipartProblem(e)}` })
                ),
              BlobTooLarge: () => Effect.fail(tooLarge()),
              BlobError: (e) => Effect.fail(unavailable(e))
            })
          )
          return { archive, checksum } satisfies ReceivedForm
        })
      const readWhole = (body: Uint8Array, headers: Record<string, string>) =>
        Effect.suspend((): Effect.Effect<ReceivedForm, BadRequest | PayloadTooLarge> => {
          let file: Array<Uint8Array> | undefined
          let checksum: string | undefined
          let failure: MP.MultipartError | undefined
          let done = false
          const parser = MP.make({
            headers,
            // as the platform's parser decides (its default field MIME types: JSON parts are fields)
            isFile: (info) => !info.contentType.includes("application/json") && MP.defaultIsFile(info),
            maxParts: MAX_PARTS,
            maxFieldSize: MAX_FIELD_BYTES,
            maxPartSize: limit,
            maxTotalSize: limit + MULTIPART_SLACK,
            onField: (info, value) => {
              if (info.name === "checksum") checksum = MP.decodeField(info, value).trim().toLowerCase()
            },
            onFile: (info) => {
              // the first `file` part is the archive; any other file part is skipped
              if (info.name !== "file" || file !== undefined) return () => {}
              const chunks: Array<Uint8Array> = []
              file = chunks
              return (chunk) => {
                if (chunk !== null) chunks.push(chunk)
              }
            },
            onError: (e) => {
              failure ??= e
            },
            onDone: () => {
              done = true
            }
          })
          parser.write(body)
          parser.end()
          if (failure !== undefined) {
            const limitHit = failure._tag === "ReachedLimit" ? failure.limit : undefined
            return Effect.fail(
              isSizeLimit(limitHit)
                ? tooLarge()
                : new BadRequest({
                  detail: `Bad multipart body: ${parserProblem(failure._tag, limitHit) ?? "unreadable form"}`
                })
            )
          }
          if (!done) {
            return Effect.fail(
              new BadRequest({ detail: `Bad multipart body: ${parserProblem("EndNotReached", undefined)}` })
            )
          }
          if (file === undefined) return Effect.succeed({ archive: undefined, checksum })
          const bytes = file.length === 1 && file[0] !== undefined ? file[0] : Buffer.concat(file)
          const archive: ReceivedArchive = { sha256: sha256Hex(bytes), size: bytes.byteLength, bytes }
          return Effect.succeed({ archive, checksum })
        })
      const publish = (form: ReceivedForm, baseUrl: string) =>
        Effect.gen(function*() {
          const t = form.archive
          if (t === undefined) {
            return yield* new BadRequest({ detail: "Missing multipart file part 'file' (the .fmpkg archive)" })
          }
          const checksum = form.checksum
          if (checksum !== undefined && checksum !== "" && checksum !== t.sha256) {
            return yield* new BadRequest({
              detail: `Checksum mismatch: the form says ${checksum}, the uploaded bytes hash to ${t.sha256}`
            })
          }
          // in memory: checked and stored from the bytes; streamed: from the temp file, whose path
          // is not the client's business ("upload" in messages)
          const opened = yield* ("bytes" in t ? archive.openBytes(t.bytes, "upload") : archive.open(t.temp.path)).pipe(
            Effect.mapError((e) =>
              new BadRequest({
                detail: `Invalid package archive: ${
                  "bytes" in t ? e.message : e.message.split(t.temp.path).join("upload")
                }`
              })
            )
          )
          const m = opened.manifest
          yield* ("bytes" in t ? blobs.putBytes(t.bytes, t.sha256) : blobs.commit(t.temp)).pipe(
            Effect.mapError(unavailable)
          )
          const row = yield* store.publish({
            name: m.name,
            version: m.version,
            description: m.description,
            author: m.author?.name ?? null,
            authorEmail: m.author?.email ?? null,
            license: m.license ?? null,
            category: m.category ?? null,
            homepage: m.homepage ?? null,
            repository: m.repository ?? null,
            tags: m.tags,
            components: m.components,
            pythonRequirements: m.pythonRequirements,
            flowmasonVersion: m.flowmasonVersion ?? null,
            kind: m.kind,
            dependencies: m.dependencies,
            checksum: t.sha256,
            sizeBytes: t.size
          }).pipe(
            Effect.tap(() => blobs.confirm(t.sha256)),
            Effect.catchTags({
              VersionExists: (e) =>
                // Keep the blob only when the existing release is these very bytes.
                store.getRelease(m.name, m.version).pipe(
                  Effect.flatMap((existing) =>
                    Option.isSome(existing) && existing.value.checksum === t.sha256
                      ? Effect.void
                      : blobs.remove(t.sha256)
                  ),
                  Effect.zipRight(blobs.confirm(t.sha256)),
                  Effect.ignore, // unconfirmed: the next start walks the blobs and removes it
                  Effect.zipRight(Effect.fail(new Conflict({ detail: e.message })))
                ),
              StoreError: (e) => Effect.fail(unavailable(e))
            })
          )
          return toPackageInfo(row, baseUrl, { versions: row.packageVersions, latest: row.packageLatest })
        })

      return { limit, tooLarge, readForm, readWhole, publish } satisfies UploaderService
    }
  )

/**
 * The upload pipeline as a service: one instance serves the HttpApi handler and the hot path.
 * @since 0.1.0
 * @category tags
 */
export class Uploader extends Context.Tag("fm/server/Uploader")<Uploader, UploaderService>() {}

/**
 * {@link Uploader} over the services in context.
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Uploader, never, PackageStore | BlobStore | PackageArchive | ServerConfig> = Layer
  .effect(
    Uploader,
    make
  )
