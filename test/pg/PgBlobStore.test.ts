import { SqlClient } from "@effect/sql"
import { Chunk, Effect, Exit, Layer, ManagedRuntime, Option, Stream } from "effect"
import * as crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import * as PgBlobStore from "../../src/server/pg/PgBlobStore.js"
import * as PgDatabase from "../../src/server/pg/PgDatabase.js"
import { BlobStore } from "../../src/server/storage/BlobStore.js"
import * as SharedDirBlobStore from "../../src/server/storage/SharedDirBlobStore.js"
import { pgEnabled, usePgDatabase, withPg } from "../helpers/pg.js"

const enabled = await pgEnabled()

const bytesOf = (s: Stream.Stream<Uint8Array, unknown>) =>
  Effect.map(Stream.runCollect(s), (c) => Buffer.concat(Chunk.toArray(c)))

/** A stream of `data` cut into uneven pieces (as a network would deliver it). */
const pieces = (data: Uint8Array): Stream.Stream<Uint8Array> => {
  const out: Array<Uint8Array> = []
  for (let i = 0, n = 1000; i < data.length; i += n, n = (n * 7) % 100_003 + 1) out.push(data.subarray(i, i + n))
  return Stream.fromIterable(out)
}

const sha = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex")

describe.skipIf(!enabled)("PgBlobStore on PostgreSQL", () => {
  const { db } = usePgDatabase({ beforeAll, afterAll }, "blobs")
  let tmp = ""
  let replicas: Array<ManagedRuntime.ManagedRuntime<BlobStore, unknown>> = []
  const on = <A, E>(i: number, f: (s: BlobStore["Type"]) => Effect.Effect<A, E>) =>
    replicas[i]!.runPromise(Effect.flatMap(BlobStore, f))

  beforeAll(async () => {
    tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fm-pgblob-"))
    replicas = [0, 1].map((i) =>
      ManagedRuntime.make(
        PgBlobStore.layerFromClient(Path.join(tmp, `replica-${i}`)).pipe(
          Layer.provide(PgDatabase.layer({ url: db().url, maxConnections: 4 }))
        )
      )
    )
    await Promise.all(replicas.map((r) => r.runPromise(Effect.void)))
  })
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.dispose()))
    Fs.rmSync(tmp, { recursive: true, force: true })
  })

  const data = crypto.randomBytes(PgBlobStore.CHUNK_SIZE * 3 + 12345)

  it("stores an archive in 256 KiB chunks and streams it back whole and by range from another replica", async () => {
    const t = await on(0, (s) => s.put(pieces(data), 10_000_000))
    assert.strictEqual(t.sha256, sha(data))
    assert.strictEqual(t.size, data.length)
    const chunks = await withPg(
      db().url,
      (sql) =>
        sql<{ n: string; biggest: number }>`SELECT count(*)::text AS n, max(length(data)) AS biggest FROM blob_chunks`
    )
    assert.strictEqual(Number(chunks[0]!.n), 4)
    assert.strictEqual(chunks[0]!.biggest, PgBlobStore.CHUNK_SIZE)
    assert.strictEqual(Option.getOrThrow(await on(1, (s) => s.stat(t.sha256))).size, data.length)
    assert.isTrue((await on(1, (s) => bytesOf(s.stream(t.sha256)))).equals(data))
    for (
      const [start, end] of [[0, 0], [5, 100], [PgBlobStore.CHUNK_SIZE - 3, PgBlobStore.CHUNK_SIZE + 2], [
        100,
        data.length - 1
      ], [data.length - 1, data.length - 1]] as const
    ) {
      const got = await on(1, (s) => bytesOf(s.stream(t.sha256, { start, end })))
      assert.isTrue(got.equals(data.subarray(start, end + 1)))
    }
    // temp files are gone once committed
    assert.deepStrictEqual(Fs.readdirSync(Path.join(tmp, "replica-0", "tmp")), [])
  })

  it("stores one copy when replicas commit the same content at once; empty archives work", async () => {
    const same = crypto.randomBytes(300_000)
    const results = await Promise.all([0, 1, 0, 1].map((i) => on(i, (s) => s.put(pieces(same), 10_000_000))))
    assert.deepStrictEqual(new Set(results.map((r) => r.sha256)), new Set([sha(same)]))
    const rows = await withPg(
      db().url,
      (sql) => sql<{ n: string }>`SELECT count(*)::text AS n FROM blobs WHERE sha256 = ${sha(same)}`
    )
    assert.strictEqual(rows[0]!.n, "1")
    const empty = await on(0, (s) => s.put(Stream.empty, 10))
    assert.strictEqual((await on(1, (s) => bytesOf(s.stream(empty.sha256)))).length, 0)
  })

  it("stores an archive held in memory without a temp file, in one statement that leaves the connection synchronous", async () => {
    // one connection: the statement after putBytes runs on the connection putBytes used
    const dir = Path.join(tmp, "in-memory")
    const one = ManagedRuntime.make(
      PgBlobStore.layerFromClient(dir).pipe(
        Layer.provideMerge(PgDatabase.layer({ url: db().url, maxConnections: 1 }))
      )
    )
    try {
      await one.runPromise(Effect.void)
      // no temp directory to write to: an upload held in memory must not need one
      Fs.rmSync(Path.join(dir, "tmp"), { recursive: true, force: true })
      Fs.writeFileSync(Path.join(dir, "tmp"), "not a directory")
      const small = crypto.randomBytes(3000)
      const several = crypto.randomBytes(PgBlobStore.CHUNK_SIZE * 2 + 7)
      const empty = new Uint8Array(0)
      for (const bytes of [small, several, several, empty]) {
        await one.runPromise(Effect.flatMap(BlobStore, (s) => s.putBytes(bytes, sha(bytes))))
      }
      for (const bytes of [small, several, empty]) {
        assert.isTrue((await on(1, (s) => bytesOf(s.stream(sha(bytes))))).equals(bytes))
      }
      const rows = await withPg(
        db().url,
        (sql) =>
          sql<{ n: string; chunks: string }>`SELECT count(*)::text AS n,
            (SELECT count(*) FROM blob_chunks c WHERE c.blob_id = max(b.id))::text AS chunks
            FROM blobs b WHERE sha256 = ${sha(several)}`
      )
      assert.deepStrictEqual(rows[0], { n: "1", chunks: "3" })
      // the blob's transaction alone skips its WAL flush; the connection's next one does not
      const setting = await one.runPromise(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ synchronous_commit: string }>`SHOW synchronous_commit`)
      )
      assert.strictEqual(setting[0]?.synchronous_commit, "on")
    } finally {
      await one.dispose()
    }
  })

  it("enforces the size limit and leaves nothing behind", async () => {
    const exit = await replicas[0]!.runPromiseExit(Effect.flatMap(BlobStore, (s) => s.put(pieces(data), 1000)))
    assert.isTrue(Exit.isFailure(exit) && JSON.stringify(exit.cause).includes("BlobTooLarge"))
    assert.isTrue(Option.isNone(await on(0, (s) => s.stat(sha(data.subarray(0, 1000))))))
    assert.deepStrictEqual(Fs.readdirSync(Path.join(tmp, "replica-0", "tmp")), [])
  })

  it("never shows a half-written archive: a failed commit rolls back every chunk", async () => {
    const big = crypto.randomBytes(PgBlobStore.CHUNK_SIZE * 4)
    const exit = await replicas[0]!.runPromiseExit(Effect.scoped(Effect.gen(function*() {
      const s = yield* BlobStore
      const t = yield* s.writeTemp(pieces(big), 10_000_000)
      // the temp file loses its tail: the commit fails after writing some chunks
      Fs.truncateSync(t.path, PgBlobStore.CHUNK_SIZE * 2 + 10)
      return yield* s.commit(t)
    })))
    assert.isTrue(Exit.isFailure(exit))
    assert.isTrue(Option.isNone(await on(1, (s) => s.stat(sha(big)))))
    const orphans = await withPg(
      db().url,
      (sql) =>
        sql<
          { n: string }
        >`SELECT count(*)::text AS n FROM blob_chunks c WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = c.blob_id)`
    )
    assert.strictEqual(orphans[0]!.n, "0")
  })

  it("removes only unreferenced blobs, and the sweep spares recent ones (uploads in flight elsewhere)", async () => {
    const t = await on(0, (s) => s.put(pieces(crypto.randomBytes(1000)), 10_000))
    await withPg(
      db().url,
      (sql) =>
        sql`INSERT INTO releases (package_id, name, name_norm, version, checksum, size_bytes, published_at)
          VALUES (1, 'x', 'x', '1.0.0', ${t.sha256}, 1000, '2026-01-01T00:00:00Z')`
    )
    await on(1, (s) => s.remove(t.sha256))
    assert.isTrue(Option.isSome(await on(0, (s) => s.stat(t.sha256))))
    const orphan = await on(0, (s) => s.put(pieces(crypto.randomBytes(2000)), 10_000))
    const swept = await on(1, (s) => s.sweep(Effect.succeed(new Set<string>())))
    assert.strictEqual(swept.blobs, 0)
    assert.isTrue(Option.isSome(await on(0, (s) => s.stat(orphan.sha256))))
    await withPg(
      db().url,
      (sql) => sql`UPDATE blobs SET created_at = now() - interval '2 hours' WHERE sha256 = ${orphan.sha256}`
    )
    assert.isAtLeast((await on(1, (s) => s.sweep(Effect.succeed(new Set<string>())))).blobs, 1)
    assert.isTrue(Option.isNone(await on(0, (s) => s.stat(orphan.sha256))))
    assert.isTrue(Option.isSome(await on(0, (s) => s.stat(t.sha256))))
    await on(1, (s) => s.remove(orphan.sha256))
  })
})

describe("SharedDirBlobStore", () => {
  it("sweeps only temp files and unreferenced blobs older than the minimum age", async () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fm-shared-"))
    try {
      const run = <A, E>(f: (s: BlobStore["Type"]) => Effect.Effect<A, E>) =>
        Effect.runPromise(Effect.scoped(Effect.flatMap(SharedDirBlobStore.make(dir), f)))
      const fresh = await run((s) => s.put(Stream.make(new Uint8Array([1, 2, 3])), 100))
      const old = await run((s) => s.put(Stream.make(new Uint8Array([4, 5, 6])), 100))
      const kept = await run((s) => s.put(Stream.make(new Uint8Array([7])), 100))
      const past = new Date(Date.now() - 3 * 3600_000)
      await run((s) =>
        Effect.sync(() => {
          Fs.utimesSync(s.pathOf(old.sha256), past, past)
          Fs.utimesSync(s.pathOf(kept.sha256), past, past)
        })
      )
      Fs.writeFileSync(Path.join(dir, "tmp", "upload-inflight.part"), "x")
      Fs.writeFileSync(Path.join(dir, "tmp", "upload-crashed.part"), "x")
      Fs.utimesSync(Path.join(dir, "tmp", "upload-crashed.part"), past, past)
      const swept = await run((s) => s.sweep(Effect.succeed(new Set([kept.sha256]))))
      assert.deepStrictEqual(swept, { blobs: 1, temps: 1 })
      assert.deepStrictEqual(Fs.readdirSync(Path.join(dir, "tmp")), ["upload-inflight.part"])
      assert.isTrue(Option.isSome(await run((s) => s.stat(fresh.sha256))))
      assert.isTrue(Option.isNone(await run((s) => s.stat(old.sha256))))
      assert.isTrue(Option.isSome(await run((s) => s.stat(kept.sha256))))
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
