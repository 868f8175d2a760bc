/**
 * The wire models of the publish-log endpoints (`/api/v1/registry/log/...`). Hashes travel as
 * standard base64 of their 32 bytes; entries as `LogEntry` (see `src/shared/log/LogEntry.ts`).
 * @since 0.1.0
 */
import { Schema } from "effect"
import { LogEntry } from "../shared/log/LogEntry.js"

const Hash = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9+/]{43}=$/))
const Count = Schema.Number.pipe(Schema.int(), Schema.nonNegative())
/** A proof has at most one hash per level of a tree of 2^63 leaves. */
const Hashes = Schema.Array(Hash).pipe(Schema.maxItems(64))

/**
 * `GET log/entries?start=&end=`: entries `[start, end)`, at most 1000.
 * @since 0.1.0
 * @category models
 */
export class LogEntriesResponse extends Schema.Class<LogEntriesResponse>("LogEntriesResponse")({
  entries: Schema.Array(LogEntry).pipe(Schema.maxItems(1000))
}) {}

/**
 * `GET log/proof/inclusion`: the inclusion proof of entry `index` in the tree of `tree_size`
 * entries, with the entry. Asked without a size, it proves inclusion in the current tree and
 * carries that tree's signed `checkpoint`, and with `old` also the `consistency` proof from the
 * tree of `old` entries: everything an install checks, in one request.
 * @since 0.1.0
 * @category models
 */
export class InclusionProofResponse extends Schema.Class<InclusionProofResponse>("InclusionProofResponse")({
  index: Count,
  tree_size: Count,
  hashes: Hashes,
  entry: LogEntry,
  checkpoint: Schema.optional(Schema.String.pipe(Schema.maxLength(64 * 1024))),
  old_size: Schema.optional(Count),
  consistency: Schema.optional(Hashes)
}) {}

/**
 * One entry with its inclusion proof, in a {@link InclusionProofsResponse}.
 * @since 0.1.0
 * @category models
 */
export class EntryProof extends Schema.Class<EntryProof>("EntryProof")({
  index: Count,
  hashes: Hashes,
  entry: LogEntry
}) {}

/**
 * The most entries one `log/proof/inclusions` request proves.
 * @since 0.1.0
 */
export const MAX_PROOFS = 256

/**
 * `GET log/proof/inclusions?indexes=I,J,...`: the inclusion proofs of several entries in one tree,
 * for a project install (one request per registry). Without `size` it is the current tree, with its
 * signed `checkpoint` and (with `old`) the `consistency` proof from the tree of `old` entries.
 * @since 0.1.0
 * @category models
 */
export class InclusionProofsResponse extends Schema.Class<InclusionProofsResponse>("InclusionProofsResponse")({
  tree_size: Count,
  proofs: Schema.Array(EntryProof).pipe(Schema.maxItems(MAX_PROOFS)),
  checkpoint: Schema.optional(Schema.String.pipe(Schema.maxLength(64 * 1024))),
  old_size: Schema.optional(Count),
  consistency: Schema.optional(Hashes)
}) {}

/**
 * `GET log/proof/consistency?old=&new=`: the consistency proof between two tree sizes.
 * @since 0.1.0
 * @category models
 */
export class ConsistencyProofResponse extends Schema.Class<ConsistencyProofResponse>("ConsistencyProofResponse")({
  old_size: Count,
  new_size: Count,
  hashes: Hashes
}) {}

/**
 * The query of `log/proof/inclusion`: `index` or `hash` (base64 leaf hash), optional `size`
 * (default: the current tree, with its checkpoint) and `old` (a consistency proof from that size).
 * @since 0.1.0
 * @category models
 */
export const InclusionParams = Schema.Struct({
  index: Schema.optional(Schema.String),
  hash: Schema.optional(Schema.String),
  size: Schema.optional(Schema.String),
  old: Schema.optional(Schema.String)
})

/**
 * The query of `log/proof/inclusions`: `indexes` (comma-separated, at most {@link MAX_PROOFS}),
 * optional `size` and `old` as for `log/proof/inclusion`.
 * @since 0.1.0
 * @category models
 */
export const InclusionsParams = Schema.Struct({
  indexes: Schema.optional(Schema.String),
  size: Schema.optional(Schema.String),
  old: Schema.optional(Schema.String)
})

/**
 * The query of `log/entries`.
 * @since 0.1.0
 * @category models
 */
export const EntriesParams = Schema.Struct({
  start: Schema.optional(Schema.String),
  end: Schema.optional(Schema.String)
})

/**
 * The query of `log/proof/consistency`.
 * @since 0.1.0
 * @category models
 */
export const ConsistencyParams = Schema.Struct({
  old: Schema.optional(Schema.String),
  new: Schema.optional(Schema.String)
})
