/**
 * The upload pipeline, shared by the HttpApi `upload` handler and the upload hot path: from the
 * received archive (bytes in memory, or a temp file for large uploads) and the form's `checksum`
 * to the published release's {@link PackageInfo}: checksum check, full archive check, blob
 * stored, release recorded (409 when `name@version` exists).
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option } from "effect"
import { createHash } from "node:crypto"
import { BadRequest, Conflict, PayloadTooLarge, Unavailable } from "../api/ApiErrors.js"
import type { PackageInfo } from "../api/Models.js"
import { PackageArchive } from "../archive/PackageArchive.js"
import { BlobStore } from "./BlobStore.js"
import type { TempBlob } from "./BlobStore.js"
import { parseForm } from "./FormBody.js"
import { PackageStore } from "./PackageStore.js"
import { ServerConfig } from "./ServerConfig.js"
import { toPackageInfo } from "./WireBodies.js"

/**
 * Uploads whose request declares at most this many bytes (`Content-Length`) are read whole into
 * memory; larger or unsized ones stream through a temp file.
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
  /** Splits a whole in-memory form body (the first `file` part, the `checksum` field). */
  readonly readForm: (body: Buffer, boundary: string) => Effect.Effect<ReceivedForm, BadRequest | PayloadTooLarge>
  /** Checks and publishes a received upload; `baseUrl` is the registry's URL as the client sees it. */
  readonly publish: (form: ReceivedForm, baseUrl: string) => Effect.Effect<PackageInfo, BadRequest | Conflict | Unavailable>
}

/**
 * Builds the {@link UploaderService} over the services in context.
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<UploaderService, never, PackageStore | BlobStore | PackageArchive | ServerConfig> = Effect.gen(
  function*() {
    const store = yield* PackageStore
    const blobs = yield* BlobStore
    const archive = yield* PackageArchive
    const config = yield* ServerConfig
    const limit = config.maxUploadSize
    const tooLarge = () => new PayloadTooLarge({ detail: `Upload too large: the limit is ${limit} bytes` })
    const unavailable = (e: { readonly message: string }) => new Unavailable({ detail: e.message })

    const readForm = (body: Buffer, boundary: string): Effect.Effect<ReceivedForm, BadRequest | PayloadTooLarge> => {
      const parts = parseForm(body, boundary)
      if (typeof parts === "string") return Effect.fail(new BadRequest({ detail: `Bad multipart body: ${parts}` }))
      const file = parts.find((p) => p.isFile && p.name === "file")
      if (file !== undefined && file.data.length > limit) return Effect.fail(tooLarge())
      const field = parts.find((p) => !p.isFile && p.name === "checksum")
      return Effect.succeed({
        archive: file === undefined
          ? undefined
          : { sha256: createHash("sha256").update(file.data).digest("hex"), size: file.data.length, bytes: file.data },
        checksum: field?.data.toString("utf8").trim().toLowerCase()
      })
    }

    const publish = (form: ReceivedForm, baseUrl: string) =>
      Effect.gen(function*() {
        const t = form.archive
        if (t === undefined) return yield* new BadRequest({ detail: "Missing multipart file part 'file' (the .fmpkg archive)" })
        const checksum = form.checksum
        if (checksum !== undefined && checksum !== "" && checksum !== t.sha256) {
          return yield* new BadRequest({ detail: `Checksum mismatch: the form says ${checksum}, the uploaded bytes hash to ${t.sha256}` })
        }
        // in memory: checked and stored from the bytes; streamed: from the temp file, whose path
        // is not the client's business ("upload" in messages)
        const opened = yield* ("bytes" in t ? archive.openBytes(t.bytes, "upload") : archive.open(t.temp.path)).pipe(
          Effect.mapError((e) =>
            new BadRequest({
              detail: `Invalid package archive: ${"bytes" in t ? e.message : e.message.split(t.temp.path).join("upload")}`
            })
          )
        )
        const m = opened.manifest
        yield* ("bytes" in t ? blobs.putBytes(t.bytes, t.sha256) : blobs.commit(t.temp)).pipe(Effect.mapError(unavailable))
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
                  Option.isSome(existing) && existing.value.checksum === t.sha256 ? Effect.void : blobs.remove(t.sha256)
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

    return { limit, tooLarge, readForm, publish } satisfies UploaderService
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
export const layer: Layer.Layer<Uploader, never, PackageStore | BlobStore | PackageArchive | ServerConfig> = Layer.effect(
  Uploader,
  make
)
