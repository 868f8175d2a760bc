/**
 * The registry's publish log as a service: the Merkle tree of the store's `log_entries` kept in
 * memory (caught up from the store before every answer, so replicas writing one database serve
 * one log), signed checkpoints, entries, and inclusion and consistency proofs.
 * @since 0.1.0
 */
import { Context, Data, Effect, Layer } from "effect"
import { openCheckpoint, signCheckpoint } from "../../shared/log/Checkpoint.js"
import type { LogEntry } from "../../shared/log/LogEntry.js"
import { entryLeafHash } from "../../shared/log/LogEntry.js"
import { MerkleTree } from "../../shared/log/Merkle.js"
import type { NoteSigner } from "../../shared/log/SignedNote.js"
import { ServerConfig } from "../ServerConfig.js"
import type { StoreError } from "../storage/PackageStore.js"
import { PackageStore } from "../storage/PackageStore.js"
import type { LogKeyError } from "./LogKey.js"
import { loadLogKey } from "./LogKey.js"
import { publishCheckpoints } from "./LogWitness.js"

/**
 * A request for a part of the log that does not exist (an index or size beyond the tree).
 * @since 0.1.0
 * @category errors
 */
export class LogRangeError extends Data.TaggedError("LogRangeError")<{ readonly detail: string }> {}

/**
 * An inclusion proof with the entry it proves.
 * @since 0.1.0
 * @category models
 */
export interface Inclusion {
  readonly entry: LogEntry
  readonly size: number
  readonly proof: ReadonlyArray<Uint8Array>
}

/**
 * Most entries one `entries` answer carries.
 * @since 0.1.0
 */
export const MAX_ENTRIES = 1000

/**
 * The log's operations.
 * @since 0.1.0
 * @category models
 */
export interface PublishLogService {
  /** The verifier key (`NAME+KEYID+KEY`) clients pin. */
  readonly verifierKey: string
  /** The origin (the key's name). */
  readonly origin: string
  /** The signed checkpoint of the whole log, and its size. */
  readonly checkpoint: Effect.Effect<{ readonly note: string; readonly size: number }, StoreError>
  /** Entries `[start, end)` (at most {@link MAX_ENTRIES}; `end` is clipped to the size). */
  readonly entries: (start: number, end: number) => Effect.Effect<ReadonlyArray<LogEntry>, StoreError | LogRangeError>
  /** The inclusion proof of entry `index` in the tree of `size` entries. */
  readonly inclusion: (index: number, size: number) => Effect.Effect<Inclusion, StoreError | LogRangeError>
  /**
   * The inclusion proofs of entries `indexes` in the tree of `size` entries, in the order asked:
   * one catch-up with the store, and the entries read in a few range reads (not one per index).
   */
  readonly inclusions: (
    indexes: ReadonlyArray<number>,
    size: number
  ) => Effect.Effect<ReadonlyArray<Inclusion>, StoreError | LogRangeError>
  /** The index of the first entry with this leaf hash in the tree of `size` entries. */
  readonly indexOfLeaf: (hash: Uint8Array, size: number) => Effect.Effect<number, StoreError | LogRangeError>
  /** The consistency proof of the tree of `oldSize` entries with the tree of `newSize`. */
  readonly consistency: (
    oldSize: number,
    newSize: number
  ) => Effect.Effect<ReadonlyArray<Uint8Array>, StoreError | LogRangeError>
}

/**
 * The publish log.
 * @since 0.1.0
 * @category tags
 */
export class PublishLog extends Context.Tag("fm/server/PublishLog")<PublishLog, PublishLogService>() {}

const SYNC_BATCH = 5000

/**
 * Indexes of one batch of inclusion proofs closer than this share a range read of the store (the
 * entries between them are read and dropped): a handful of reads for a project's packages.
 */
const RANGE_GAP = 64

/**
 * The range reads `[start, end)` that cover `sorted` (ascending, distinct): neighbours at most
 * {@link RANGE_GAP} apart share one, and no range spans more than {@link MAX_ENTRIES}.
 */
export const coveringRanges = (sorted: ReadonlyArray<number>): Array<readonly [number, number]> => {
  const ranges: Array<readonly [number, number]> = []
  let start = -1
  let last = -1
  for (const i of sorted) {
    if (start >= 0 && i - last <= RANGE_GAP && i + 1 - start <= MAX_ENTRIES) {
      last = i
      continue
    }
    if (start >= 0) ranges.push([start, last + 1])
    start = i
    last = i
  }
  if (start >= 0) ranges.push([start, last + 1])
  return ranges
}

/**
 * The log over the store in context, signing with `signer`.
 * @since 0.1.0
 * @category constructors
 */
export const make = (signer: NoteSigner): Effect.Effect<PublishLogService, StoreError, PackageStore> =>
  Effect.gen(function*() {
    const store = yield* PackageStore
    const tree = new MerkleTree()
    const leafIndex = new Map<string, number>()
    const lock = yield* Effect.makeSemaphore(1)
    let signed: { readonly note: string; readonly size: number } | undefined

    /** Appends what the store has beyond the tree (bounded: the size is read once). */
    const sync = lock.withPermits(1)(Effect.gen(function*() {
      const target = yield* store.logSize
      while (tree.size < target) {
        const batch = yield* store.logEntries(tree.size, Math.min(target, tree.size + SYNC_BATCH))
        if (batch.length === 0) break
        for (const entry of batch) {
          if (entry.index !== tree.size) break
          const hash = entryLeafHash(entry)
          const key = Buffer.from(hash).toString("hex")
          if (!leafIndex.has(key)) leafIndex.set(key, tree.size)
          tree.append(hash)
        }
      }
      return tree.size
    }))
    yield* sync

    const atLeast = (size: number, what: string) =>
      Effect.flatMap(sync, (current) =>
        size <= current
          ? Effect.void
          : Effect.fail(new LogRangeError({ detail: `${what} ${size} is beyond the log's size ${current}` })))

    const checkpoint = Effect.map(sync, (size) => {
      if (signed === undefined || signed.size !== size) {
        signed = { note: signCheckpoint({ origin: signer.verifier.name, size, root: tree.root(size) }, signer), size }
      }
      return signed
    })

    const entries = (start: number, end: number) =>
      Effect.gen(function*() {
        const size = yield* sync
        if (start > size) return yield* new LogRangeError({ detail: `start ${start} is beyond the log's size ${size}` })
        return yield* store.logEntries(start, Math.min(end, size, start + MAX_ENTRIES))
      })

    const inclusion = (index: number, size: number) =>
      Effect.gen(function*() {
        yield* atLeast(size, "tree size")
        if (index >= size) return yield* new LogRangeError({ detail: `index ${index} is not below tree size ${size}` })
        const [entry] = yield* store.logEntries(index, index + 1)
        if (entry === undefined) return yield* new LogRangeError({ detail: `no entry ${index}` })
        return { entry, size, proof: tree.inclusionProof(index, size) } satisfies Inclusion
      })

    const inclusions = (indexes: ReadonlyArray<number>, size: number) =>
      Effect.gen(function*() {
        yield* atLeast(size, "tree size")
        for (const index of indexes) {
          if (index >= size) {
            return yield* new LogRangeError({ detail: `index ${index} is not below tree size ${size}` })
          }
        }
        const sorted = [...new Set(indexes)].sort((a, b) => a - b)
        const byIndex = new Map<number, LogEntry>()
        for (const [start, end] of coveringRanges(sorted)) {
          for (const entry of yield* store.logEntries(start, end)) byIndex.set(entry.index, entry)
        }
        const out: Array<Inclusion> = []
        for (const index of indexes) {
          const entry = byIndex.get(index)
          if (entry === undefined) return yield* new LogRangeError({ detail: `no entry ${index}` })
          out.push({ entry, size, proof: tree.inclusionProof(index, size) })
        }
        return out
      })

    const indexOfLeaf = (hash: Uint8Array, size: number) =>
      Effect.gen(function*() {
        yield* atLeast(size, "tree size")
        const index = leafIndex.get(Buffer.from(hash).toString("hex"))
        if (index === undefined || index >= size) {
          return yield* new LogRangeError({ detail: `no entry with this leaf hash in the tree of size ${size}` })
        }
        return index
      })

    const consistency = (oldSize: number, newSize: number) =>
      Effect.gen(function*() {
        yield* atLeast(newSize, "tree size")
        if (oldSize > newSize) {
          return yield* new LogRangeError({ detail: `old size ${oldSize} exceeds new size ${newSize}` })
        }
        return tree.consistencyProof(oldSize, newSize)
      })

    // the key must open its own checkpoints: a broken key fails the start, not the first client
    const probe = yield* checkpoint
    if ("refused" in openCheckpoint(probe.note, signer.verifier)) yield* Effect.dieMessage("log key cannot sign")

    return {
      verifierKey: signer.verifier.text,
      origin: signer.verifier.name,
      checkpoint,
      entries,
      inclusion,
      inclusions,
      indexOfLeaf,
      consistency
    } satisfies PublishLogService
  })

/**
 * The publish log over the store in context.
 * @since 0.1.0
 * @category layers
 */
export const layer = (signer: NoteSigner): Layer.Layer<PublishLog, StoreError, PackageStore> =>
  Layer.effect(PublishLog, make(signer))

/**
 * The publish log over the store in context, signing with the key of the server's options
 * (`logKeyFile`, else the data directory's generated key), publishing its checkpoints to the
 * witness file or URL of the options (see `LogWitness`).
 * @since 0.1.0
 * @category layers
 */
export const layerFromConfig: Layer.Layer<PublishLog, StoreError | LogKeyError, PackageStore | ServerConfig> = Layer
  .scoped(
    PublishLog,
    Effect.gen(function*() {
      const config = yield* ServerConfig
      const signer = yield* loadLogKey({ keyFile: config.logKeyFile, dataDir: config.dataDir })
      const log = yield* make(signer)
      yield* publishCheckpoints(log, { file: config.logWitnessFile, url: config.logWitnessUrl })
      return log
    })
  )
