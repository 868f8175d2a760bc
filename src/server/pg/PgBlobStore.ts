/**
 * Archives stored in PostgreSQL, for registry replicas that share nothing but the database.
 *
 * An archive is one `blobs` row (keyed by its SHA-256) plus `blob_chunks` rows of at most
 * {@link CHUNK_SIZE} bytes. A large upload streams into a local temp file first (the server must
 * open the archive to read its manifest); `commit` then copies that file into the database chunk
 * by chunk inside ONE transaction, so other replicas see the whole archive or nothing. A small
 * upload, held in memory, is stored by `putBytes` in ONE statement (no temp file). Reads stream
 * chunk by chunk (one query per chunk): a large archive is never held whole in memory.
 *
 * Neither write waits for its WAL flush (`synchronous_commit` off for that transaction alone): no
 * release refers to the blob until the publish's transaction commits, and that commit's flush
 * (synchronous, later in the one WAL) makes the blob durable too. This saves one fsync per
 * publish; a crash before the release commits may lose the blob, which nothing refers to then.
 *
 * Removal is guarded by the database: a blob still referenced by a release is never deleted, and
 * the start-up sweep only removes unreferenced blobs older than {@link SWEEP_MIN_AGE}, so a
 * replica starting never deletes an archive another replica is publishing right now. Temp files
 * are local to the replica's data directory and are all removed at start (each replica needs its
 * own `--data-dir`).
 * @since 0.1.0
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import type { Scope } from "effect"
import { Duration, Effect, Layer, Option, Schema, Stream } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { BlobStoreService, BlobTooLarge, TempBlob } from "../storage/BlobStore.js"
import { BlobError, BlobStore, fromParts, make as makeLocalBlobStore } from "../storage/BlobStore.js"
import { IdRow, IntColumn } from "../storage/SqlRows.js"
import { catchSqlDefects, describeCause } from "./PgDatabase.js"

/** A `blobs` row: where an archive's chunks are and how many there are. */
const BlobRow = Schema.Struct({
  id: IntColumn,
  size: Schema.propertySignature(IntColumn).pipe(Schema.fromKey("size_bytes")),
  chunkSize: Schema.propertySignature(IntColumn).pipe(Schema.fromKey("chunk_size")),
  chunkCount: Schema.propertySignature(IntColumn).pipe(Schema.fromKey("chunk_count"))
})

/**
 * Size of one stored chunk: 256 KiB.
 * @since 0.1.0
 */
export const CHUNK_SIZE = 256 * 1024

/**
 * How old an unreferenced blob or temp file must be before the start-up sweep removes it: older
 * than any upload still in flight on another replica.
 * @since 0.1.0
 */
export const SWEEP_MIN_AGE = Duration.hours(1)

const SHA = /^[0-9a-f]{64}$/

const blobError = (file: string, operation: string) => (cause: unknown) =>
  new BlobError({ file, operation, cause: new Error(describeCause(cause), { cause }) })

/**
 * Removes the files in `dir` older than `minAge` (temp uploads abandoned by a crash); returns how
 * many. Recent files may belong to uploads in flight on another replica sharing the directory.
 * @since 0.1.0
 */
export const sweepOldFiles = (dir: string, minAge: Duration.Duration): Effect.Effect<number, BlobError> =>
  Effect.tryPromise({
    try: async () => {
      const cutoff = Date.now() - Duration.toMillis(minAge)
      let removed = 0
      const entries = await Fs.promises.readdir(dir).catch((e: NodeJS.ErrnoException) => {
        if (e.code === "ENOENT") return new Array<string>()
        throw e
      })
      for (const f of entries) {
        const p = Path.join(dir, f)
        const st = await Fs.promises.stat(p).catch(() => undefined)
        if (st !== undefined && st.mtimeMs <= cutoff) {
          await Fs.promises.rm(p, { force: true, recursive: true })
          removed++
        }
      }
      return removed
    },
    catch: (cause) => new BlobError({ file: dir, operation: "sweep", cause })
  })

/**
 * Builds the PostgreSQL blob store over the client in context. `tempDir` is a local directory for
 * uploads in progress (its `tmp/` subdirectory is used).
 * @since 0.1.0
 * @category constructors
 */
export const make = (tempDir: string): Effect.Effect<BlobStoreService, BlobError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const local = yield* makeLocalBlobStore(tempDir)

    const pathOf = (sha256: string): string => {
      if (!SHA.test(sha256)) throw new Error(`not a SHA-256: ${sha256}`)
      return `postgres:blobs/${sha256}`
    }

    // `set_config(..., true)` lasts until the statement's (or the enclosing) transaction ends: see
    // the module comment for why that transaction need not wait for its WAL flush.
    const asyncCommit = sql`async_commit AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true) AS off)`
    /** Inserts the `blobs` row of an archive unless that content is stored already; returns its id. */
    const insertBlob = (r: { readonly sha256: string; readonly size: number; readonly chunkCount: number }) =>
      sql`INSERT INTO blobs (sha256, size_bytes, chunk_size, chunk_count)
        SELECT ${r.sha256}, ${r.size}, ${CHUNK_SIZE}, ${r.chunkCount} FROM async_commit
        ON CONFLICT (sha256) DO NOTHING RETURNING id`
    const claimBlob = SqlSchema.findOne({
      Request: Schema.Struct({ sha256: Schema.String, size: Schema.Number, chunkCount: Schema.Number }),
      Result: IdRow,
      execute: (r) => sql`WITH ${asyncCommit} ${insertBlob(r)}`
    })
    const blobBySha = SqlSchema.findOne({
      Request: Schema.String,
      Result: BlobRow,
      execute: (sha256) => sql`SELECT id, size_bytes, chunk_size, chunk_count FROM blobs WHERE sha256 = ${sha256}`
    })
    const chunk = SqlSchema.findOne({
      Request: Schema.Struct({ id: Schema.Number, seq: Schema.Number }),
      Result: Schema.Struct({ data: Schema.Uint8ArrayFromSelf }),
      execute: (r) => sql`SELECT data FROM blob_chunks WHERE blob_id = ${r.id} AND seq = ${r.seq}`
    })

    const commit = Effect.fn("PgBlobStore.commit")(function*(temp: TempBlob) {
      const target = pathOf(temp.sha256)
      yield* Effect.acquireUseRelease(
        Effect.tryPromise({
          try: () => Fs.promises.open(temp.path, "r"),
          catch: (cause) => new BlobError({ file: temp.path, operation: "open", cause })
        }),
        (handle) =>
          sql.withTransaction(
            Effect.gen(function*() {
              const chunkCount = Math.ceil(temp.size / CHUNK_SIZE)
              const claimed = yield* claimBlob({ sha256: temp.sha256, size: temp.size, chunkCount })
              // Same content stored already (by us or another replica): nothing to write.
              if (Option.isNone(claimed)) return
              const id = claimed.value.id
              const buffer = Buffer.allocUnsafe(CHUNK_SIZE)
              for (let seq = 0; seq < chunkCount; seq++) {
                const want = Math.min(CHUNK_SIZE, temp.size - seq * CHUNK_SIZE)
                let got = 0
                while (got < want) {
                  const { bytesRead } = yield* Effect.tryPromise({
                    try: () => handle.read(buffer, got, want - got, seq * CHUNK_SIZE + got),
                    catch: (cause) => new BlobError({ file: temp.path, operation: "read", cause })
                  })
                  if (bytesRead === 0) {
                    return yield* new BlobError({
                      file: temp.path,
                      operation: "read",
                      cause: new Error(`the temp file is shorter than the ${temp.size} bytes uploaded`)
                    })
                  }
                  got += bytesRead
                }
                yield* sql`INSERT INTO blob_chunks (blob_id, seq, data) VALUES (${id}, ${seq}, ${
                  buffer.subarray(0, want)
                })`
              }
            })
          ).pipe(
            Effect.catchTags({
              SqlError: (e) => Effect.fail(blobError(temp.sha256, "store in PostgreSQL")(e)),
              ParseError: (e) => Effect.fail(blobError(temp.sha256, "store in PostgreSQL")(e))
            }),
            // a connection killed during COMMIT/ROLLBACK is a defect in @effect/sql: keep it typed
            catchSqlDefects(blobError(temp.sha256, "store in PostgreSQL"))
          ),
        (handle) => Effect.promise(() => handle.close().catch(() => undefined))
      )
      yield* Effect.promise(() => Fs.promises.rm(temp.path, { force: true }).catch(() => undefined))
      return target
    })

    /** A small archive from memory: its row and its chunks in one statement (all or nothing), no temp file. */
    const putBytes = Effect.fn("PgBlobStore.putBytes")(function*(bytes: Uint8Array, sha256: string) {
      const target = pathOf(sha256)
      const whole = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      const chunkCount = Math.ceil(whole.byteLength / CHUNK_SIZE)
      const row = insertBlob({ sha256, size: whole.byteLength, chunkCount })
      const chunks = Array.from(
        { length: chunkCount },
        (_, seq) => sql`(${seq}::integer, ${whole.subarray(seq * CHUNK_SIZE, (seq + 1) * CHUNK_SIZE)}::bytea)`
      )
      yield* (chunkCount === 0
        ? sql`WITH ${asyncCommit} ${row}`
        : sql`WITH ${asyncCommit}, claimed AS (${row})
          INSERT INTO blob_chunks (blob_id, seq, data)
          SELECT claimed.id, c.seq, c.data FROM claimed, (VALUES ${sql.csv(chunks)}) AS c (seq, data)`).pipe(
          Effect.mapError(blobError(sha256, "store in PostgreSQL"))
        )
      return target
    })

    const meta = (sha256: string) => blobBySha(sha256).pipe(Effect.mapError(blobError(sha256, "look up in PostgreSQL")))

    const stat = (sha256: string) => Effect.map(meta(sha256), Option.map((m) => ({ size: m.size })))

    const stream = (sha256: string, range?: { readonly start: number; readonly end: number }) =>
      Stream.unwrap(
        Effect.gen(function*() {
          const found = yield* meta(sha256)
          if (Option.isNone(found)) {
            return Stream.fail(
              new BlobError({ file: sha256, operation: "read", cause: new Error("no such archive in PostgreSQL") })
            )
          }
          const m = found.value
          if (m.size === 0) return Stream.empty
          const start = range?.start ?? 0
          const end = Math.min(range?.end ?? m.size - 1, m.size - 1)
          if (end < start) return Stream.empty
          const first = Math.floor(start / m.chunkSize)
          const last = Math.floor(end / m.chunkSize)
          return Stream.range(first, last).pipe(
            Stream.mapEffect((seq) =>
              chunk({ id: m.id, seq }).pipe(
                Effect.mapError(blobError(sha256, "read from PostgreSQL")),
                Effect.flatMap(Option.match({
                  onNone: () =>
                    Effect.fail(
                      new BlobError({ file: sha256, operation: "read", cause: new Error(`chunk ${seq} is missing`) })
                    ),
                  onSome: (row) => Effect.succeed(row.data)
                })),
                Effect.map((data) => {
                  const offset = seq * m.chunkSize
                  const from = seq === first ? start - offset : 0
                  const to = seq === last ? end - offset + 1 : data.byteLength
                  return from === 0 && to === data.byteLength ? data : data.subarray(from, to)
                })
              )
            )
          )
        })
      )

    const remove = (sha256: string) =>
      sql`DELETE FROM blobs WHERE sha256 = ${sha256}
        AND NOT EXISTS (SELECT 1 FROM releases WHERE checksum = ${sha256})`.pipe(
        Effect.asVoid,
        Effect.mapError(blobError(sha256, "remove from PostgreSQL"))
      )

    const sweep = <E>(_known: Effect.Effect<ReadonlySet<string>, E>) =>
      Effect.gen(function*() {
        // Temp uploads live in this replica's own data directory: whatever is there at start was
        // left by a crash of this replica (give each replica its own --data-dir).
        const temps = yield* sweepOldFiles(Path.join(local.root, "tmp"), Duration.zero)
        const removed = yield* sql`DELETE FROM blobs b
          WHERE b.created_at < now() - make_interval(secs => ${Duration.toSeconds(SWEEP_MIN_AGE)})
          AND NOT EXISTS (SELECT 1 FROM releases r WHERE r.checksum = b.sha256)
          RETURNING b.sha256`.pipe(Effect.mapError(blobError("blobs", "sweep in PostgreSQL")))
        return { blobs: removed.length, temps }
      })

    const writeTemp = <E>(
      bytes: Stream.Stream<Uint8Array, E>,
      limit: number
    ): Effect.Effect<TempBlob, E | BlobError | BlobTooLarge, Scope.Scope> => local.writeTemp(bytes, limit)

    return fromParts({ root: local.root, writeTemp, commit, putBytes, pathOf, stat, stream, remove, sweep })
  })

/**
 * The PostgreSQL blob store over the client in context (its tables come with the PostgreSQL
 * migrations); temp uploads go to `<tempDir>/tmp`.
 * @since 0.1.0
 * @category layers
 */
export const layerFromClient = (tempDir: string): Layer.Layer<BlobStore, BlobError, SqlClient.SqlClient> =>
  Layer.scoped(BlobStore, make(tempDir))
