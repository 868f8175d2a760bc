/**
 * A real S3-protocol server for tests: `s3rver` (from npm) in this process, on 127.0.0.1 and a
 * random port, its objects in a temp directory, with one bucket made at start. Stopped (and its
 * directory removed) by `stop()`.
 */
import { ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import type { Scope } from "effect"
import { Effect } from "effect"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"

interface S3rverInstance {
  readonly run: () => Promise<{ readonly port: number }>
  readonly close: () => Promise<void>
}
type S3rverClass = new(options: {
  readonly address: string
  readonly port: number
  readonly silent: boolean
  readonly directory: string
  readonly configureBuckets: ReadonlyArray<{ readonly name: string }>
}) => S3rverInstance

/** A running S3 server. */
export interface TestS3 {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string
  readonly bucket: string
  /** The AWS variables that point a replica (or the SDK) at it. */
  readonly env: Readonly<Record<string, string>>
  /** Every key under `prefix` in the bucket, sorted. */
  readonly keys: (prefix: string) => Promise<ReadonlyArray<string>>
  /** Stores `body` under `key` in the bucket. */
  readonly put: (key: string, body: Uint8Array | string) => Promise<void>
  /** Sets the last-modified time s3rver reports for `key` (it is the object file's mtime). */
  readonly age: (key: string, at: Date) => void
  /** The variables (`FM_BLOB_URL` and the AWS ones) that point a server's child process at `s3://BUCKET/PREFIX`. */
  readonly envFor: (prefix: string) => Readonly<Record<string, string>>
  readonly stop: () => Promise<void>
}

/** Starts s3rver with the bucket `bucket`. */
export const startS3 = async (bucket = "fm-test"): Promise<TestS3> => {
  const S3rver: S3rverClass = createRequire(import.meta.url)("s3rver")
  const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fm-s3rver-"))
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }]
  })
  const { port } = await server.run()
  const endpoint = `http://127.0.0.1:${port}`
  // s3rver's fixed credentials
  const env = {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER"
  }
  const client = new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }
  })
  const envFor = (prefix: string) => ({ ...env, FM_BLOB_URL: `s3://${bucket}/${prefix}` })
  return {
    endpoint,
    bucket,
    env,
    keys: async (prefix) => {
      const out: Array<string> = []
      let token: string | undefined
      do {
        const r = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token })
        )
        for (const o of r.Contents ?? []) if (o.Key !== undefined) out.push(o.Key)
        token = r.IsTruncated === true ? r.NextContinuationToken : undefined
      } while (token !== undefined)
      return out.sort()
    },
    put: async (key, body) => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))
    },
    age: (key, at) => {
      const parts = key.split("/")
      const last = parts.pop() ?? ""
      Fs.utimesSync(Path.join(directory, bucket, ...parts, `${last}._S3rver_object`), at, at)
    },
    envFor,
    stop: async () => {
      client.destroy()
      await server.close()
      Fs.rmSync(directory, { recursive: true, force: true })
    }
  }
}

/** {@link startS3} in the current scope: stopped (its directory removed) when the scope closes. */
export const acquireS3 = (bucket?: string): Effect.Effect<TestS3, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => startS3(bucket)), (s3) => Effect.promise(() => s3.stop()))
