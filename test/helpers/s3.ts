/**
 * A real S3-protocol server for tests: `s3rver` (from npm) in this process, on 127.0.0.1 and a
 * random port, its objects in a temp directory, with one bucket made at start. Stopped (and its
 * directory removed) by `stop()`.
 */
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
  return {
    endpoint,
    bucket,
    // s3rver's fixed credentials
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER"
    },
    stop: async () => {
      await server.close()
      Fs.rmSync(directory, { recursive: true, force: true })
    }
  }
}
