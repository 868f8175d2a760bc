/**
 * The handlers of the `log` group of `RegistryApi`, over the {@link PublishLog}. Proofs between
 * fixed sizes never change: they are cached for a year (`immutable`); answers about the current
 * tree (the checkpoint, proofs without a size) must be revalidated (`no-cache`). Every answer has
 * an `ETag` (the quoted SHA-256 of its body), so a revalidation costs a `304`.
 * @since 0.1.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { InvalidParameter, NotFound, Unavailable } from "../../api/ApiErrors.js"
import {
  ConsistencyProofResponse,
  EntryProof,
  InclusionProofResponse,
  InclusionProofsResponse,
  LogEntriesResponse,
  MAX_PROOFS
} from "../../api/LogModels.js"
import { RegistryApi } from "../../api/RegistryApi.js"
import type { StoreError } from "../storage/PackageStore.js"
import type { LogRangeError } from "./PublishLog.js"
import { MAX_ENTRIES, PublishLog } from "./PublishLog.js"

const IMMUTABLE = "public, max-age=31536000, immutable"
const REVALIDATE = "no-cache"

const answer = (body: string, contentType: string, cacheControl: string) =>
  HttpServerResponse.text(body, {
    contentType,
    headers: { "cache-control": cacheControl, "etag": `"${createHash("sha256").update(body).digest("hex")}"` }
  })

const json = (body: unknown, cacheControl: string) => answer(JSON.stringify(body), "application/json", cacheControl)

const failures = <A>(effect: Effect.Effect<A, StoreError | LogRangeError | InvalidParameter>) =>
  effect.pipe(
    Effect.catchTags({
      StoreError: (e) => Effect.fail(new Unavailable({ detail: e.message })),
      LogRangeError: (e) => Effect.fail(new NotFound({ detail: e.detail }))
    })
  )

/** A non-negative integer query parameter; `undefined` when absent. */
const count = (name: string, raw: string | undefined): Effect.Effect<number | undefined, InvalidParameter> => {
  if (raw === undefined || raw === "") return Effect.succeed(undefined)
  return /^(0|[1-9][0-9]{0,14})$/.test(raw)
    ? Effect.succeed(Number(raw))
    : Effect.fail(
      new InvalidParameter({
        detail: `query parameter '${name}' must be a non-negative integer, got '${raw.slice(0, 40)}'`
      })
    )
}

const b64 = (h: Uint8Array) => Buffer.from(h).toString("base64")

/**
 * The `log` group's handlers.
 * @since 0.1.0
 * @category layers
 */
export const LogLive = HttpApiBuilder.group(RegistryApi, "log", (handlers) =>
  Effect.gen(function*() {
    const log = yield* PublishLog
    return handlers
      .handle("checkpoint", () =>
        failures(Effect.map(log.checkpoint, (c) => answer(c.note, "text/plain; charset=utf-8", REVALIDATE))))
      .handle("entries", ({ urlParams }) =>
        failures(Effect.gen(function*() {
          const start = (yield* count("start", urlParams.start)) ?? 0
          const end = (yield* count("end", urlParams.end)) ?? start + MAX_ENTRIES
          if (end < start) {
            return yield* new InvalidParameter({ detail: `end ${end} is before start ${start}` })
          }
          const entries = yield* log.entries(start, end)
          // a full range below the tree's size never changes
          const full = entries.length === end - start
          return json(new LogEntriesResponse({ entries }), full ? IMMUTABLE : REVALIDATE)
        })))
      .handle("inclusion", ({ urlParams }) =>
        failures(Effect.gen(function*() {
          const fixedSize = yield* count("size", urlParams.size)
          const old = yield* count("old", urlParams.old)
          const checkpoint = fixedSize === undefined ? yield* log.checkpoint : undefined
          const size = fixedSize ?? checkpoint?.size ?? 0
          let index = yield* count("index", urlParams.index)
          if (index === undefined) {
            const hash = urlParams.hash === undefined ? undefined : Buffer.from(urlParams.hash, "base64")
            if (hash === undefined || hash.length !== 32) {
              return yield* new InvalidParameter({ detail: "give 'index' or 'hash' (the base64 leaf hash)" })
            }
            index = yield* log.indexOfLeaf(hash, size)
          }
          const inclusion = yield* log.inclusion(index, size)
          // an old size beyond the tree gets no consistency proof: the client sees the smaller tree
          const consistency = old === undefined || old > size ? undefined : yield* log.consistency(old, size)
          const body = new InclusionProofResponse({
            index,
            tree_size: size,
            hashes: inclusion.proof.map(b64),
            entry: inclusion.entry,
            ...(checkpoint === undefined ? {} : { checkpoint: checkpoint.note }),
            ...(old === undefined || consistency === undefined
              ? {}
              : { old_size: old, consistency: consistency.map(b64) })
          })
          return json(body, fixedSize === undefined ? REVALIDATE : IMMUTABLE)
        })))
      .handle("inclusions", ({ urlParams }) =>
        failures(Effect.gen(function*() {
          const raw = urlParams.indexes ?? ""
          const parts = raw === "" ? [] : raw.split(",", MAX_PROOFS + 1)
          if (parts.length > MAX_PROOFS) {
            return yield* new InvalidParameter({ detail: `at most ${MAX_PROOFS} indexes per request` })
          }
          const indexes: Array<number> = []
          for (const part of parts) {
            const index = yield* count("indexes", part)
            if (index !== undefined) {
              indexes.push(index)
            }
          }
          const fixedSize = yield* count("size", urlParams.size)
          const old = yield* count("old", urlParams.old)
          const checkpoint = fixedSize === undefined ? yield* log.checkpoint : undefined
          const size = fixedSize ?? checkpoint?.size ?? 0
          const proofs = (yield* log.inclusions(indexes, size)).map((inclusion, i) =>
            new EntryProof({ index: indexes[i], hashes: inclusion.proof.map(b64), entry: inclusion.entry })
          )
          // an old size beyond the tree gets no consistency proof: the client sees the smaller tree
          const consistency = old === undefined || old > size ? undefined : yield* log.consistency(old, size)
          const body = new InclusionProofsResponse({
            tree_size: size,
            proofs,
            ...(checkpoint === undefined ? {} : { checkpoint: checkpoint.note }),
            ...(old === undefined || consistency === undefined
              ? {}
              : { old_size: old, consistency: consistency.map(b64) })
          })
          return json(body, fixedSize === undefined ? REVALIDATE : IMMUTABLE)
        })))
      .handle("consistency", ({ urlParams }) =>
        failures(Effect.gen(function*() {
          const old = yield* count("old", urlParams.old)
          const fixed = yield* count("new", urlParams.new)
          const newSize = fixed ?? (yield* log.checkpoint).size
          if (old === undefined) {
            return yield* new InvalidParameter({ detail: "query parameter 'old' is required" })
          }
          const hashes = yield* log.consistency(old, newSize)
          const body = new ConsistencyProofResponse({ old_size: old, new_size: newSize, hashes: hashes.map(b64) })
          return json(body, fixed === undefined ? REVALIDATE : IMMUTABLE)
        })))
  }))
