/**
 * Archives in S3-compatible object storage, against a real S3-protocol server (s3rver, started
 * here on a random port): the blob store's staging and copy-into-place, its sweep after a crash,
 * and `fm studio start --blob-url s3://...` on SQLite and on PostgreSQL: publish, download (whole
 * and by range), the publish race (one winner, no loser's object kept), and kill -9 right after
 * publishes (what was acknowledged is still served after a restart).
 */
import { DeleteObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted, Stream } from "effect"
import * as crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as S3BlobStore from "../../src/server/storage/S3BlobStore.js"
import { buildZip, projectManifest } from "../helpers/archives.js"
import type { Replica, TestDatabase } from "../helpers/pg.js"
import { createTestDatabase, pgEnabled, startReplica } from "../helpers/pg.js"
import type { TestS3 } from "../helpers/s3.js"
import { startS3 } from "../helpers/s3.js"
import { uploadArchive } from "../helpers/server.js"

const postgres = await pgEnabled()
const ADMIN = `fmr_test_admin_${crypto.randomBytes(8).toString("hex")}`
const API = "/api/v1/registry"
const sha = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex")

let s3: TestS3
let dir = ""
let client: S3Client

beforeAll(async () => {
  s3 = await startS3()
  dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fm-s3-"))
  client = new S3Client({
    region: "us-east-1",
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }
  })
})

afterAll(async () => {
  client?.destroy()
  await s3?.stop()
  if (dir !== "") Fs.rmSync(dir, { recursive: true, force: true })
})

/** Every key under `prefix` in the test bucket, sorted. */
const keys = (prefix: string): Promise<ReadonlyArray<string>> => s3.keys(prefix)

const storeOptions = (prefix: string, tempDir: string): S3BlobStore.S3BlobStoreOptions => ({
  url: `s3://${s3.bucket}/${prefix}`,
  tempDir,
  endpoint: s3.endpoint,
  region: "us-east-1",
  accessKeyId: "S3RVER",
  secretAccessKey: Redacted.make("S3RVER")
})

const collect = (stream: Stream.Stream<Uint8Array, unknown>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => Buffer.concat(Array.from(chunks)))

describe("S3BlobStore on s3rver", () => {
  it("parses s3://BUCKET/PREFIX and refuses anything else", () => {
    assert.deepStrictEqual(
      S3BlobStore.parseS3Url("s3://fm-archives/reg/a/"),
      Option.some({ bucket: "fm-archives", prefix: "reg/a/" })
    )
    assert.deepStrictEqual(
      S3BlobStore.parseS3Url("s3://fm-archives"),
      Option.some({ bucket: "fm-archives", prefix: "" })
    )
    assert.isTrue(Option.isNone(S3BlobStore.parseS3Url("https://fm-archives/x")))
    assert.isTrue(Option.isNone(S3BlobStore.parseS3Url("s3://UPPER/x")))
  })

  it("keeps an upload under a staging key until the row commits (confirm), then at its content address", async () => {
    const bytes = crypto.randomBytes(300 * 1024)
    const digest = sha(bytes)
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const store = yield* S3BlobStore.make(storeOptions("unit1", Path.join(dir, "unit1")))
      const temp = yield* store.writeTemp(Stream.make(bytes.subarray(0, 1000), bytes.subarray(1000)), Infinity)
      assert.strictEqual(temp.sha256, digest)
      yield* store.commit(temp)
      const staged = yield* Effect.promise(() => keys("unit1/"))
      assert.strictEqual(staged.length, 1)
      assert.isTrue(staged[0]?.startsWith(`unit1/tmp/${digest}/`))
      // served from the staging copy meanwhile
      const fromStaging = yield* collect(store.stream(digest))
      assert.strictEqual(fromStaging.byteLength, bytes.byteLength)
      assert.isTrue(fromStaging.equals(bytes))
      yield* store.confirm(digest)
      assert.deepStrictEqual(yield* Effect.promise(() => keys("unit1/")), [`unit1/blobs/${digest}`])
      assert.deepStrictEqual(yield* store.stat(digest), Option.some({ size: bytes.byteLength }))
      assert.isTrue(
        (yield* collect(store.stream(digest, { start: 1000, end: 200_000 }))).equals(bytes.subarray(1000, 200_001))
      )
      assert.isTrue(Buffer.from(yield* store.readAll(digest)).equals(bytes))
      yield* store.remove(digest)
      assert.deepStrictEqual(yield* Effect.promise(() => keys("unit1/")), [])
      assert.isTrue(Option.isNone(yield* store.stat(digest)))
    })))
  })

  it("after a crash between the row's commit and the copy, the sweep copies the staged object into place", async () => {
    const committed = crypto.randomBytes(5000)
    const abandoned = crypto.randomBytes(5000)
    // a first run: both staged, neither copied (the process dies before confirm)
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const store = yield* S3BlobStore.make(storeOptions("unit2", Path.join(dir, "unit2")))
      yield* store.putBytes(committed, sha(committed))
      yield* store.putBytes(abandoned, sha(abandoned))
    })))
    assert.deepStrictEqual((await keys("unit2/blobs/")).length, 0)
    // the next start: the database refers to `committed` only
    const swept = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const store = yield* S3BlobStore.make(storeOptions("unit2", Path.join(dir, "unit2")))
      const result = yield* store.sweep(Effect.succeed(new Set([sha(committed)])))
      assert.isTrue(Buffer.from(yield* store.readAll(sha(committed))).equals(committed))
      return result
    })))
    assert.strictEqual(swept.blobs, 0) // the abandoned one is recent: it may be another replica's upload in flight
    assert.deepStrictEqual(await keys("unit2/blobs/"), [`unit2/blobs/${sha(committed)}`])
    const left = await keys("unit2/tmp/")
    assert.strictEqual(left.length, 1)
    assert.isTrue(left[0]?.startsWith(`unit2/tmp/${sha(abandoned)}/`))
  })
})

const archive = (name: string, version: string, description = "in S3") =>
  buildZip([
    { name: "manifest.json", data: projectManifest(name, version, { description }) },
    { name: "pipelines/main.pipeline.json", data: `{"stages":[],"nonce":"${crypto.randomBytes(6).toString("hex")}"}` }
  ])

const upload = async (base: string, data: Uint8Array) => {
  const res = await uploadArchive(base, ADMIN, data, "pkg.fmpkg")
  await res.arrayBuffer()
  return res.status
}

const download = async (base: string, name: string, version: string, range?: string) => {
  const res = await fetch(
    `${base}${API}/packages/${name}/${version}/download`,
    range === undefined ? {} : { headers: { range } }
  )
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) }
}

describe.each(postgres ? ["sqlite", "postgres"] : ["sqlite"])(
  "fm studio start --blob-url s3://... on %s",
  (backend) => {
    let db: TestDatabase | undefined
    const prefix = `server-${backend}`
    const start = async (dataDir: string) =>
      startReplica({
        databaseUrl: db?.url,
        dataDir,
        adminToken: ADMIN,
        args: ["--blob-url", `s3://${s3.bucket}/${prefix}`],
        env: s3.env
      })
    let replica: Replica | undefined
    const dataDir = () => Path.join(dir, `server-${backend}`)

    beforeAll(async () => {
      if (backend === "postgres") db = await createTestDatabase("s3")
      replica = await start(dataDir())
    }, 120_000)
    afterAll(async () => {
      await replica?.stop()
      await db?.drop()
    })
    const url = () => replica?.url ?? ""

    it("publishes into the bucket and serves downloads whole and by range", async () => {
      const data = archive("s3-pkg", "1.0.0")
      assert.strictEqual(await upload(url(), data), 201)
      assert.deepStrictEqual(await keys(`${prefix}/blobs/`), [`${prefix}/blobs/${sha(data)}`])
      assert.deepStrictEqual(await keys(`${prefix}/tmp/`), [])
      const whole = await download(url(), "s3-pkg", "1.0.0")
      assert.strictEqual(whole.status, 200)
      assert.strictEqual(sha(whole.bytes), sha(data))
      const part = await download(url(), "s3-pkg", "1.0.0", "bytes=10-99")
      assert.strictEqual(part.status, 206)
      assert.isTrue(part.bytes.equals(Buffer.from(data).subarray(10, 100)))
    })

    it("streams a large upload (over the in-memory size) into the bucket intact", async () => {
      const data = buildZip([
        { name: "manifest.json", data: projectManifest("s3-large", "1.0.0", { description: "large" }) },
        { name: "data/blob.bin", data: crypto.randomBytes(5 * 1024 * 1024) }
      ])
      assert.isAbove(data.byteLength, 4 * 1024 * 1024)
      assert.strictEqual(await upload(url(), data), 201)
      assert.isTrue((await keys(`${prefix}/blobs/`)).includes(`${prefix}/blobs/${sha(data)}`))
      const got = await download(url(), "s3-large", "1.0.0")
      assert.strictEqual(got.status, 200)
      assert.strictEqual(sha(got.bytes), sha(data))
    }, 60_000)

    it("lets one of 30 concurrent uploads of one name@version win, and keeps only its object", async () => {
      const archives = Array.from({ length: 30 }, (_, i) => archive("s3-race", "1.0.0", `attempt ${i}`))
      const statuses = await Promise.all(archives.map((a) => upload(url(), a)))
      assert.strictEqual(statuses.filter((s) => s === 201).length, 1)
      assert.strictEqual(statuses.filter((s) => s === 409).length, 29)
      const winner = archives[statuses.indexOf(201)] ?? new Uint8Array()
      const stored = await keys(`${prefix}/blobs/`)
      for (const a of archives) assert.strictEqual(stored.includes(`${prefix}/blobs/${sha(a)}`), a === winner)
      assert.deepStrictEqual(await keys(`${prefix}/tmp/`), [])
      assert.strictEqual(sha((await download(url(), "s3-race", "1.0.0")).bytes), sha(winner))
    })

    it(
      "serves everything acknowledged after kill -9 and a restart, and copies a committed staged object into place",
      async () => {
        const published: Array<Uint8Array> = []
        for (let i = 0; i < 5; i++) {
          const data = archive("s3-crash", `1.0.${i}`)
          assert.strictEqual(await upload(url(), data), 201)
          published.push(data)
        }
        // as if the process had died between the row's commit and the copy: the object is staged only
        const victim = published[4] ?? new Uint8Array()
        await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/blobs/${sha(victim)}` }))
        const staged = `${prefix}/tmp/${sha(victim)}/crash`
        await s3.put(staged, victim)
        if (replica !== undefined) process.kill(replica.pid, "SIGKILL")
        await replica?.stop()
        replica = await start(dataDir())
        for (const [i, data] of published.entries()) {
          const got = await download(url(), "s3-crash", `1.0.${i}`)
          assert.strictEqual(got.status, 200)
          assert.strictEqual(sha(got.bytes), sha(data))
        }
        assert.isTrue((await keys(`${prefix}/blobs/`)).includes(`${prefix}/blobs/${sha(victim)}`))
        assert.deepStrictEqual(await keys(`${prefix}/tmp/`), [])
      },
      120_000
    )
  }
)
