/**
 * Archive storage, content-addressed by SHA-256: `<data-dir>/blobs/<aa>/<sha256>` where `aa` is
 * the first two hex digits. Writes stream into a temp file in `<data-dir>/tmp` while hashing and
 * counting, are fsynced, and are renamed into place only when committed (small uploads held in
 * memory go straight to a `.part` file beside their address, `putBytes`); whatever a crash leaves
 * behind (temp files, blobs no release refers to) is removed by `sweep` at start. After a clean
 * shutdown with every stored blob confirmed, a marker file lets that sweep skip walking the blobs.
 * @since 0.1.0
 */
import { Context, Data, Effect, Layer, Option, Stream } from "effect"
import type { Scope } from "effect"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Readable } from "node:stream"
import { fieldOf } from "../../shared/Fields.js"
import { sha256Hashing } from "../../shared/Hash.js"
import { BlobCache } from "./BlobCache.js"
import * as BlobWriter from "./BlobWriter.js"
import { DIR_MODE, FILE_MODE } from "./FileModes.js"
import type { StoreError } from "./PackageStore.js"
import { PackageStore } from "./PackageStore.js"

/**
 * A file-system failure in the blob store, naming the file.
 * @since 0.1.0
 * @category errors
 */
export class BlobError extends Data.TaggedError("BlobError")<{
  readonly file: string
  readonly operation: string
  readonly cause: unknown
}> {
  override get message(): string {
    const cause = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `blob store: ${this.operation} ${this.file}: ${cause}`
  }
}

/**
 * More bytes arrived than the limit allows.
 * @since 0.1.0
 * @category errors
 */
export class BlobTooLarge extends Data.TaggedError("BlobTooLarge")<{ readonly limit: number }> {
  override get message(): string {
    return `the upload is larger than the limit of ${this.limit} bytes`
  }
}

/**
 * A written but not yet committed blob: a temp file with its hash and size.
 * @since 0.1.0
 * @category models
 */
export interface TempBlob {
  /** Path of the temp file (in `<data-dir>/tmp`). */
  readonly path: string
  /** Lowercase hex SHA-256 of its bytes. */
  readonly sha256: string
  readonly size: number
}

/**
 * The blob store's operations.
 * @since 0.1.0
 * @category models
 */
export interface BlobStoreService {
  /** The data directory (`blobs/` and `tmp/` live under it). */
  readonly root: string
  /**
   * Streams `bytes` into a temp file while hashing and counting (failing with `BlobTooLarge`
   * beyond `limit`), fsynced. The temp file is removed when the scope closes (a committed one has
   * been renamed away by then).
   */
  readonly writeTemp: <E>(
    bytes: Stream.Stream<Uint8Array, E>,
    limit: number
  ) => Effect.Effect<TempBlob, E | BlobError | BlobTooLarge, Scope.Scope>
  /** Moves a temp blob to its content address (atomic rename, directory fsynced). */
  readonly commit: (temp: TempBlob) => Effect.Effect<string, BlobError>
  /**
   * Stores bytes already in memory (a small upload) at their content address `sha256`, which the
   * caller computed from these very bytes: as durable and atomic as `writeTemp` + `commit`.
   */
  readonly putBytes: (bytes: Uint8Array, sha256: string) => Effect.Effect<string, BlobError>
  /** `writeTemp` then `commit`. */
  readonly put: <E>(
    bytes: Stream.Stream<Uint8Array, E>,
    limit: number
  ) => Effect.Effect<TempBlob, E | BlobError | BlobTooLarge>
  /** The path a blob lives at (whether or not it exists). */
  readonly pathOf: (sha256: string) => string
  /** Size of a stored blob, or none. */
  readonly stat: (sha256: string) => Effect.Effect<Option.Option<{ readonly size: number }>, BlobError>
  /** The bytes of a stored blob (optionally a byte range, `end` inclusive). */
  readonly stream: (
    sha256: string,
    range?: { readonly start: number; readonly end: number }
  ) => Stream.Stream<Uint8Array, BlobError>
  /**
   * The bytes of a stored blob as a Node.js `Readable` (optionally a byte range, `end`
   * inclusive): what a download response sends, without an Effect step per chunk.
   */
  readonly readable: (sha256: string, range?: { readonly start: number; readonly end: number }) => Readable
  /** The whole of a stored blob in memory (small archives: downloads send them in one write). */
  readonly readAll: (sha256: string) => Effect.Effect<Uint8Array, BlobError>
  /** Removes a blob (no error when missing). */
  readonly remove: (sha256: string) => Effect.Effect<void, BlobError>
  /**
   * Removes every temp file and every blob whose hash is not in `known` (the checksums the store
   * refers to, read only when the blobs need walking); returns what it removed.
   */
  readonly sweep: <E>(
    known: Effect.Effect<ReadonlySet<string>, E>
  ) => Effect.Effect<{ readonly blobs: number; readonly temps: number }, BlobError | E>
  /**
   * Says a blob stored by `putBytes`/`commit` is accounted for: a committed release refers to it,
   * or it was removed. A store may use this to skip walking every blob at the next start.
   */
  readonly confirm: (sha256: string) => Effect.Effect<void>
}

/**
 * A blob store from its parts: `put` is always `writeTemp` then `commit` in one scope;
 * `putBytes`, unless given, is the same over the one chunk; `readable` and `readAll`, unless
 * given, read `stream`; `readAll` keeps small blobs in memory (`BlobCache`); `confirm`, unless
 * given, does nothing.
 * @since 0.1.0
 * @category constructors
 */
export const fromParts = (
  parts: Omit<BlobStoreService, "put" | "putBytes" | "confirm" | "readAll" | "readable"> & {
    readonly readable?: BlobStoreService["readable"]
    readonly putBytes?: BlobStoreService["putBytes"]
    readonly confirm?: BlobStoreService["confirm"]
    readonly readAll?: BlobStoreService["readAll"]
  }
): BlobStoreService => {
  const readAll = parts.readAll ??
    ((sha256: string) =>
      Effect.map(Stream.runCollect(parts.stream(sha256)), (chunks) => Buffer.concat(Array.from(chunks))))
  // small archives stay in memory once read: content-addressed, never stale
  const kept = new BlobCache(32 * 1024 * 1024, 256 * 1024)
  return {
    ...parts,
    readable: parts.readable ?? ((sha256, range) => Readable.from(Stream.toAsyncIterable(parts.stream(sha256, range)))),
    readAll: (sha256) => {
      const hit = kept.get(sha256)
      return hit !== undefined
        ? Effect.succeed(hit)
        : Effect.tap(readAll(sha256), (bytes) => Effect.sync(() => kept.set(sha256, bytes)))
    },
    confirm: parts.confirm ?? (() => Effect.void),
    put: (bytes, limit) => Effect.scoped(Effect.tap(parts.writeTemp(bytes, limit), parts.commit)),
    putBytes: parts.putBytes ??
      ((bytes) =>
        Effect.scoped(Effect.flatMap(parts.writeTemp(Stream.make(bytes), Infinity), parts.commit)).pipe(
          Effect.catchTag("BlobTooLarge", (e) => Effect.die(e))
        ))
  }
}

/**
 * The archive blob store.
 * @since 0.1.0
 * @category tags
 */
export class BlobStore extends Context.Tag("fm/server/BlobStore")<BlobStore, BlobStoreService>() {}

const SHA = /^[0-9a-f]{64}$/

const attempt = <A>(file: string, operation: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (cause) => new BlobError({ file, operation, cause }) })

const fsyncDir = (dir: string) =>
  attempt(dir, "fsync", async () => {
    const h = await Fs.promises.open(dir, "r")
    try {
      await h.sync()
    } finally {
      await h.close()
    }
  })

/**
 * Builds a blob store rooted at `dataDir` (creates `blobs/` and `tmp/`).
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  dataDir: string,
  options: { readonly cleanShutdownMarker?: boolean } = {}
): Effect.Effect<BlobStoreService, BlobError, Scope.Scope> =>
  Effect.gen(function*() {
    const writer = yield* BlobWriter.make
    const root = Path.resolve(dataDir)
    const blobs = Path.join(root, "blobs")
    const tmp = Path.join(root, "tmp")
    // the data dir and everything in it are the server's alone, whatever the umask
    yield* attempt(root, "create", () => Fs.promises.mkdir(root, { recursive: true, mode: DIR_MODE }))
    yield* attempt(root, "restrict", () => Fs.promises.chmod(root, DIR_MODE))
    yield* attempt(blobs, "create", () => Fs.promises.mkdir(blobs, { recursive: true, mode: DIR_MODE }))
    yield* attempt(tmp, "create", () => Fs.promises.mkdir(tmp, { recursive: true, mode: DIR_MODE }))

    const pathOf = (sha256: string): string => {
      if (!SHA.test(sha256)) throw new Error(`not a SHA-256: ${sha256}`)
      return Path.join(blobs, sha256.slice(0, 2), sha256)
    }

    // shard directories known to exist (they are never removed while the server runs)
    const shards = new Set<string>()
    const ensureShard = (dir: string) =>
      shards.has(dir) ? Effect.void : Effect.tap(
        attempt(dir, "create", () => Fs.promises.mkdir(dir, { recursive: true, mode: DIR_MODE })),
        () => Effect.sync(() => shards.add(dir))
      )

    const writeTemp = <E>(
      bytes: Stream.Stream<Uint8Array, E>,
      limit: number
    ): Effect.Effect<TempBlob, E | BlobError | BlobTooLarge, Scope.Scope> =>
      Effect.gen(function*() {
        const path = Path.join(tmp, `upload-${Date.now()}-${randomBytes(6).toString("hex")}.part`)
        const handle = yield* Effect.acquireRelease(
          attempt(path, "create", () => Fs.promises.open(path, "wx", FILE_MODE)),
          (h) => Effect.promise(() => h.close().catch(() => undefined))
        )
        yield* Effect.addFinalizer(() =>
          Effect.promise(() => Fs.promises.rm(path, { force: true }).catch(() => undefined))
        )
        const hash = sha256Hashing()
        let size = 0
        yield* Stream.runForEach(bytes, (chunk): Effect.Effect<void, BlobError | BlobTooLarge> => {
          size += chunk.byteLength
          if (size > limit) return Effect.fail(new BlobTooLarge({ limit }))
          hash.update(chunk)
          return attempt(path, "write", () => handle.write(chunk))
        })
        yield* attempt(path, "fsync", () => handle.sync())
        return { path, sha256: hash.digest(), size } satisfies TempBlob
      })

    const commit = (temp: TempBlob) =>
      Effect.gen(function*() {
        unconfirmed.add(temp.sha256)
        const target = pathOf(temp.sha256)
        const dir = Path.dirname(target)
        yield* ensureShard(dir)
        yield* attempt(target, "rename into", () => Fs.promises.rename(temp.path, target))
        yield* fsyncDir(dir)
        return target
      })

    // blobs stored but not yet confirmed (see `confirm`); a run that ends with none leaves the
    // clean-shutdown marker, and the next start skips walking the blobs
    const unconfirmed = new Set<string>()
    const confirm = (sha256: string) => Effect.sync(() => void unconfirmed.delete(sha256))

    const putBytes = (bytes: Uint8Array, sha256: string) => {
      unconfirmed.add(sha256)
      const target = pathOf(sha256)
      // beside its target, so one directory fsync covers it; a crash leaves a `.part` that the
      // start-up sweep removes (no release names it)
      const part = `${target}.${randomBytes(6).toString("hex")}.part`
      return writer(bytes, part, target).pipe(
        Effect.mapError((e) => new BlobError({ file: e.file, operation: e.operation, cause: new Error(e.message) })),
        Effect.as(target)
      )
    }

    const stat = (sha256: string) =>
      attempt(sha256, "stat", async () => {
        try {
          const s = await Fs.promises.stat(pathOf(sha256))
          return Option.some({ size: s.size })
        } catch (e) {
          if (fieldOf(e, "code") === "ENOENT") return Option.none()
          throw e
        }
      })

    const readable = (sha256: string, range?: { readonly start: number; readonly end: number }) =>
      Fs.createReadStream(
        pathOf(sha256),
        range === undefined ? { highWaterMark: 256 * 1024 } : { ...range, highWaterMark: 256 * 1024 }
      )

    const stream = (sha256: string, range?: { readonly start: number; readonly end: number }) =>
      Stream.fromAsyncIterable(
        readable(sha256, range),
        (cause) => new BlobError({ file: sha256, operation: "read", cause })
      ).pipe(Stream.filter((b): b is Uint8Array => b instanceof Uint8Array))

    const readAll = (sha256: string) => attempt(sha256, "read", () => Fs.promises.readFile(pathOf(sha256)))

    const remove = (sha256: string) => attempt(sha256, "remove", () => Fs.promises.rm(pathOf(sha256), { force: true }))

    // The clean-shutdown marker (with `cleanShutdownMarker`, for a data directory one server owns):
    // written when the store closes with every stored blob confirmed, consumed by the next sweep.
    const marker = Path.join(root, ".fm-clean-shutdown")
    if (options.cleanShutdownMarker === true) {
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (unconfirmed.size > 0) return
          try {
            const temp = `${marker}.${randomBytes(6).toString("hex")}.tmp`
            const fd = Fs.openSync(temp, "wx", FILE_MODE)
            try {
              Fs.writeSync(fd, `${new Date().toISOString()}\n`)
              Fs.fsyncSync(fd)
            } finally {
              Fs.closeSync(fd)
            }
            Fs.renameSync(temp, marker)
          } catch {
            // no marker: the next start walks the blobs, as after a crash
          }
        })
      )
    }

    // Runs once, before the server listens: plain synchronous directory reads (one call per
    // shard, no stat per file) are several times faster than a promise per call.
    const sweep = <E>(known: Effect.Effect<ReadonlySet<string>, E>) =>
      Effect.gen(function*() {
        const temps = yield* Effect.try({
          try: () => {
            let n = 0
            for (const f of Fs.readdirSync(tmp)) {
              Fs.rmSync(Path.join(tmp, f), { force: true, recursive: true })
              n++
            }
            return n
          },
          catch: (cause) => new BlobError({ file: tmp, operation: "sweep", cause })
        })
        if (options.cleanShutdownMarker === true) {
          const clean = yield* Effect.try({
            try: () => {
              if (!Fs.existsSync(marker)) return false
              Fs.rmSync(marker, { force: true }) // from now on a crash leaves no marker
              return true
            },
            catch: (cause) => new BlobError({ file: marker, operation: "read", cause })
          })
          if (clean) return { blobs: 0, temps }
        }
        const referenced = yield* known
        const blobsRemoved = yield* Effect.try({
          try: () => {
            let removed = 0
            for (const d of Fs.readdirSync(blobs, { withFileTypes: true })) {
              if (!d.isDirectory()) continue
              const dir = Path.join(blobs, d.name)
              for (const f of Fs.readdirSync(dir)) {
                if (!referenced.has(f)) {
                  Fs.rmSync(Path.join(dir, f), { force: true, recursive: true })
                  removed++
                }
              }
            }
            return removed
          },
          catch: (cause) => new BlobError({ file: blobs, operation: "sweep", cause })
        })
        return { blobs: blobsRemoved, temps }
      })

    return fromParts({
      root,
      writeTemp,
      commit,
      putBytes,
      confirm,
      pathOf,
      stat,
      stream,
      readable,
      readAll,
      remove,
      sweep
    })
  })

/**
 * The blob store on the file system under `dataDir`.
 * @since 0.1.0
 * @category layers
 */
export const layer = (dataDir: string): Layer.Layer<BlobStore, BlobError> =>
  Layer.scoped(BlobStore, make(dataDir, { cleanShutdownMarker: true }))

/**
 * Removes temp files and blobs no release refers to (what a crash mid-upload leaves behind); each
 * blob store decides what is safe to remove.
 * @since 0.1.0
 * @category layers
 */
export const sweepLayer: Layer.Layer<never, StoreError | BlobError, PackageStore | BlobStore> = Layer.effectDiscard(
  Effect.gen(function*() {
    const store = yield* PackageStore
    const blobs = yield* BlobStore
    const swept = yield* blobs.sweep(store.checksums)
    if (swept.blobs + swept.temps > 0) {
      yield* Effect.logInfo(`swept ${swept.temps} temp file(s) and ${swept.blobs} stray blob(s) from ${blobs.root}`)
    }
  })
)

/**
 * `storage` with {@link sweepLayer} run on it when it is built (before anything can use it).
 * @since 0.1.0
 * @category layers
 */
export const withSweep = <E, R>(
  storage: Layer.Layer<PackageStore | BlobStore, E, R>
): Layer.Layer<PackageStore | BlobStore, E | StoreError | BlobError, R> =>
  Layer.merge(storage, sweepLayer.pipe(Layer.provide(storage)))
