/**
 * Archives in S3-compatible object storage (`s3://BUCKET/PREFIX`), through `@aws-sdk/client-s3`.
 *
 * - Uploads stream into a local temp file first (the server opens the archive to read its
 *   manifest), then `commit`/`putBytes` upload it to a staging key `PREFIX/tmp/<sha256>/<random>`.
 *   Only `confirm` (called once the release row has committed, see `Upload`) copies it to its
 *   content address `PREFIX/blobs/<sha256>` and deletes the staging key. A release whose row did not
 *   commit never has an object under `blobs/`.
 * - Reads stream from `blobs/<sha256>` (byte ranges as S3 `Range`s); in the moment between a
 *   row's commit and its copy (or after a crash there), the staging object serves instead, and the
 *   start-up sweep copies it into place.
 * - The sweep (replica-safe, like the shared directory's): staging objects of committed releases
 *   are copied into place; other staging objects and unreferenced blobs older than
 *   `SWEEP_MIN_AGE` are deleted.
 *
 * Endpoint, region and credentials come from the options or the standard AWS variables
 * (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), read with
 * `Config` (the secret as `Config.redacted`).
 * @since 0.1.0
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client
} from "@aws-sdk/client-s3"
import { Config, Duration, Effect, Layer, Option, Redacted, Stream } from "effect"
import type { Scope } from "effect"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Readable } from "node:stream"
import type { BlobStoreService, BlobTooLarge, TempBlob } from "./BlobStore.js"
import { BlobError, BlobStore, fromParts, make as makeLocalBlobStore } from "./BlobStore.js"

/**
 * How old an unreferenced object must be before the sweep deletes it (older than any upload in
 * flight on another replica).
 * @since 0.1.0
 */
export const SWEEP_MIN_AGE = Duration.hours(1)

/**
 * Where and how archives are kept in object storage.
 * @since 0.1.0
 * @category models
 */
export interface S3BlobStoreOptions {
  /** `s3://BUCKET/PREFIX` (the prefix may be empty). */
  readonly url: string
  /** Local directory for uploads in progress (its `tmp/`). */
  readonly tempDir: string
  /** The S3 endpoint (default: `$AWS_ENDPOINT_URL`, else AWS's for the region). */
  readonly endpoint?: string | undefined
  /** The region (default: `$AWS_REGION`, else `us-east-1`). */
  readonly region?: string | undefined
  /** Access key id (default: `$AWS_ACCESS_KEY_ID`, else the SDK's own credential chain). */
  readonly accessKeyId?: string | undefined
  /** Secret access key (default: `$AWS_SECRET_ACCESS_KEY`). */
  readonly secretAccessKey?: Redacted.Redacted<string> | undefined
}

/**
 * The bucket and key prefix of an `s3://BUCKET/PREFIX` URL (the prefix ends with `/` unless empty),
 * or none when the URL is not one.
 * @since 0.1.0
 */
export const parseS3Url = (url: string): Option.Option<{ readonly bucket: string; readonly prefix: string }> => {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url.trim())
  if (m === null) return Option.none()
  const rest = (m[2] ?? "").replace(/^\/+|\/+$/g, "")
  return Option.some({ bucket: m[1] ?? "", prefix: rest === "" ? "" : `${rest}/` })
}

/** The AWS variables, each unset when absent or empty. */
const awsConfig = Config.all({
  endpoint: Config.option(Config.nonEmptyString("AWS_ENDPOINT_URL")),
  region: Config.option(Config.nonEmptyString("AWS_REGION")),
  accessKeyId: Config.option(Config.nonEmptyString("AWS_ACCESS_KEY_ID")),
  secretAccessKey: Config.option(Config.redacted(Config.nonEmptyString("AWS_SECRET_ACCESS_KEY")))
})

const SHA = /^[0-9a-f]{64}$/

const isMissing = (cause: unknown): boolean =>
  typeof cause === "object" && cause !== null &&
  (("name" in cause && (cause.name === "NoSuchKey" || cause.name === "NotFound")) ||
    ("$metadata" in cause && typeof cause.$metadata === "object" && cause.$metadata !== null &&
      "httpStatusCode" in cause.$metadata && cause.$metadata.httpStatusCode === 404))

/**
 * Builds the store (an S3 client; a local `tmp/` under `options.tempDir`).
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: S3BlobStoreOptions): Effect.Effect<BlobStoreService, BlobError, Scope.Scope> =>
  Effect.gen(function*() {
    const target = yield* Option.match(parseS3Url(options.url), {
      onNone: () =>
        Effect.fail(
          new BlobError({ file: options.url, operation: "open", cause: new Error("not an s3://BUCKET/PREFIX URL") })
        ),
      onSome: Effect.succeed
    })
    const env = yield* awsConfig.pipe(
      Effect.mapError((cause) => new BlobError({ file: options.url, operation: "configure", cause }))
    )
    const endpoint = options.endpoint ?? Option.getOrUndefined(env.endpoint)
    const accessKeyId = options.accessKeyId ?? Option.getOrUndefined(env.accessKeyId)
    const secret = options.secretAccessKey ?? Option.getOrUndefined(env.secretAccessKey)
    const client = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new S3Client({
          region: options.region ?? Option.getOrUndefined(env.region) ?? "us-east-1",
          // plain uploads: S3-compatible servers that predate `aws-chunked` trailing checksums
          // would store the chunk framing as part of the object
          requestChecksumCalculation: "WHEN_REQUIRED",
          responseChecksumValidation: "WHEN_REQUIRED",
          ...(endpoint === undefined ? {} : { endpoint, forcePathStyle: true }),
          ...(accessKeyId === undefined || secret === undefined
            ? {}
            : { credentials: { accessKeyId, secretAccessKey: Redacted.value(secret) } })
        })
      ),
      (c) => Effect.sync(() => c.destroy())
    )
    const local = yield* makeLocalBlobStore(options.tempDir)
    const { bucket, prefix } = target

    const finalKey = (sha256: string) => {
      if (!SHA.test(sha256)) throw new Error(`not a SHA-256: ${sha256}`)
      return `${prefix}blobs/${sha256}`
    }
    const stagingPrefix = (sha256: string) => `${prefix}tmp/${sha256}/`
    const pathOf = (sha256: string) => `s3://${bucket}/${finalKey(sha256)}`

    const call = <A>(file: string, operation: string, f: () => Promise<A>) =>
      Effect.tryPromise({
        try: f,
        catch: (cause) => new BlobError({ file: `s3://${bucket}/${file}`, operation, cause })
      })

    // staging keys this process uploaded and has not yet copied into place, by checksum
    const staged = new Map<string, string>()

    const stage = (sha256: string, body: () => Uint8Array | Readable, size: number) =>
      Effect.gen(function*() {
        const key = `${stagingPrefix(sha256)}${randomBytes(8).toString("hex")}`
        yield* call(key, "upload", () =>
          client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body(), ContentLength: size })))
        // what the server stored must be what was sent, byte for byte in length at least
        const head = yield* call(key, "stat", () =>
          client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))
        if (head.ContentLength !== size) {
          yield* Effect.ignore(call(key, "delete", () =>
            client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))))
          return yield* new BlobError({
            file: `s3://${bucket}/${key}`,
            operation: "upload",
            cause: new Error(`the object store kept ${head.ContentLength ?? "no"} bytes of the ${size} sent`)
          })
        }
        const before = staged.get(sha256)
        staged.set(sha256, key)
        if (before !== undefined) {
          yield* Effect.ignore(call(before, "delete", () =>
            client.send(new DeleteObjectCommand({ Bucket: bucket, Key: before }))))
        }
        return `s3://${bucket}/${key}`
      })

    const commit = (temp: TempBlob) =>
      stage(temp.sha256, () => Fs.createReadStream(temp.path), temp.size).pipe(
        Effect.tap(() => Effect.promise(() => Fs.promises.rm(temp.path, { force: true }).catch(() => undefined)))
      )
    const putBytes = (bytes: Uint8Array, sha256: string) => stage(sha256, () => bytes, bytes.byteLength)

    /** Copies a staging object to its content address, then deletes it. */
    const promote = (sha256: string, key: string) =>
      Effect.gen(function*() {
        yield* call(finalKey(sha256), "copy into place", () =>
          client.send(
            new CopyObjectCommand({ Bucket: bucket, Key: finalKey(sha256), CopySource: `${bucket}/${encodeURI(key)}` })
          ))
        yield* call(key, "delete", () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })))
      })

    // the release row has committed (or the blob was removed): the staging copy goes into place
    const confirm = (sha256: string) =>
      Effect.suspend(() => {
        const key = staged.get(sha256)
        if (key === undefined) return Effect.void
        staged.delete(sha256)
        return promote(sha256, key).pipe(
          Effect.catchAll((e) => Effect.logWarning(`${e.message}; the next start copies it into place`))
        )
      })

    const listStaging = (sha256: string) =>
      call(
        stagingPrefix(sha256),
        "list",
        () => client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: stagingPrefix(sha256), MaxKeys: 10 }))
      ).pipe(
        Effect.map((r) =>
          (r.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ key: o.Key, size: o.Size ?? 0 }]))
        )
      )

    /** The key holding a blob's bytes: its content address, else a staging copy; with the size. */
    const locate = (sha256: string) =>
      call(
        finalKey(sha256),
        "stat",
        () => client.send(new HeadObjectCommand({ Bucket: bucket, Key: finalKey(sha256) }))
      ).pipe(
        Effect.map((r) => Option.some({ key: finalKey(sha256), size: r.ContentLength ?? 0 })),
        Effect.catchIf(
          (e) => isMissing(e.cause),
          () => Effect.map(listStaging(sha256), (found) => Option.fromNullable(found[0]))
        )
      )

    const stat = (sha256: string) => Effect.map(locate(sha256), Option.map((o) => ({ size: o.size })))

    const stream = (sha256: string, range?: { readonly start: number; readonly end: number }) =>
      Stream.unwrap(
        Effect.gen(function*() {
          const found = yield* locate(sha256)
          if (Option.isNone(found)) {
            return Stream.fail(
              new BlobError({ file: pathOf(sha256), operation: "read", cause: new Error("no such object") })
            )
          }
          if (found.value.size === 0) return Stream.empty
          const key = found.value.key
          const out = yield* call(key, "read", () =>
            client.send(
              new GetObjectCommand({
                Bucket: bucket,
                Key: key,
                ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end}` })
              })
            ))
          const body = out.Body
          if (!(body instanceof Readable)) {
            return Stream.fail(new BlobError({ file: pathOf(sha256), operation: "read", cause: new Error("no body") }))
          }
          return Stream.fromAsyncIterable(body, (cause) =>
            new BlobError({ file: pathOf(sha256), operation: "read", cause })).pipe(
              Stream.filter((chunk): chunk is Uint8Array =>
                chunk instanceof Uint8Array
              )
            )
        })
      )

    const remove = (sha256: string) =>
      Effect.gen(function*() {
        staged.delete(sha256)
        for (const o of yield* listStaging(sha256)) {
          yield* call(o.key, "delete", () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.key })))
        }
        yield* call(finalKey(sha256), "delete", () =>
          client.send(new DeleteObjectCommand({ Bucket: bucket, Key: finalKey(sha256) })))
      })

    /** Every object under `under`, page by page. */
    const listAll = (under: string) =>
      Effect.gen(function*() {
        const all: Array<{ readonly key: string; readonly modified: number }> = []
        let token: string | undefined
        for (let page = 0; page < 100_000; page++) {
          const r = yield* call(under, "list", () =>
            client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: under, ContinuationToken: token })))
          for (const o of r.Contents ?? []) {
            if (o.Key !== undefined) {
              all.push({ key: o.Key, modified: o.LastModified?.getTime() ?? 0 })
            }
          }
          token = r.NextContinuationToken
          if (r.IsTruncated !== true || token === undefined) {
            break
          }
        }
        return all
      })

    const sweep = <E>(referenced: Effect.Effect<ReadonlySet<string>, E>) =>
      Effect.gen(function*() {
        const temps = yield* Effect.try({
          try: () => {
            const dir = Path.join(local.root, "tmp")
            let n = 0
            for (const f of Fs.readdirSync(dir)) {
              Fs.rmSync(Path.join(dir, f), { force: true, recursive: true })
              n++
            }
            return n
          },
          catch: (cause) => new BlobError({ file: local.root, operation: "sweep", cause })
        })
        const known = yield* referenced
        const cutoff = Date.now() - Duration.toMillis(SWEEP_MIN_AGE)
        const present = new Set((yield* listAll(`${prefix}blobs/`)).map((o) => o.key.slice(`${prefix}blobs/`.length)))
        let removed = 0
        for (const o of yield* listAll(`${prefix}tmp/`)) {
          const sha256 = o.key.slice(`${prefix}tmp/`.length).split("/")[0] ?? ""
          if (SHA.test(sha256) && known.has(sha256) && !present.has(sha256)) {
            // committed, but the copy into place never happened (a crash): do it now
            yield* promote(sha256, o.key)
            present.add(sha256)
          } else if (o.modified < cutoff) {
            yield* call(o.key, "delete", () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.key })))
            removed++
          }
        }
        for (const o of yield* listAll(`${prefix}blobs/`)) {
          const sha256 = o.key.slice(`${prefix}blobs/`.length)
          if (!known.has(sha256) && o.modified < cutoff) {
            yield* call(o.key, "delete", () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.key })))
            removed++
          }
        }
        return { blobs: removed, temps }
      })

    const writeTemp = <E>(
      bytes: Stream.Stream<Uint8Array, E>,
      limit: number
    ): Effect.Effect<TempBlob, E | BlobError | BlobTooLarge, Scope.Scope> => local.writeTemp(bytes, limit)

    return fromParts({ root: local.root, writeTemp, commit, putBytes, confirm, pathOf, stat, stream, remove, sweep })
  })

/**
 * The S3 blob store as a layer.
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: S3BlobStoreOptions): Layer.Layer<BlobStore, BlobError> =>
  Layer.scoped(BlobStore, make(options))
