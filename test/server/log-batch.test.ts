/**
 * A batch of inclusion proofs (`log/proof/inclusions`, `PublishLog.inclusions`) reads the store's
 * entries in a few range reads, not one read per index; the proofs are those of `inclusion`, in
 * the order asked. Real SQLite store, real signing key.
 */
import { Effect, ManagedRuntime } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"
import { coveringRanges, make as makeLog, MAX_ENTRIES } from "../../src/server/log/PublishLog.js"
import { PackageStore } from "../../src/server/storage/PackageStore.js"
import * as SqlitePackageStore from "../../src/server/storage/SqlitePackageStore.js"
import { entryLeafHash } from "../../src/shared/log/LogEntry.js"
import { MerkleTree, verifyInclusion } from "../../src/shared/log/Merkle.js"
import { makeSigner } from "../../src/shared/log/SignedNote.js"
import { newRelease } from "../helpers/releases.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

describe("coveringRanges", () => {
  it("joins close indexes into one range and splits at wide gaps and at MAX_ENTRIES", () => {
    assert.deepStrictEqual(coveringRanges([]), [])
    assert.deepStrictEqual(coveringRanges([5]), [[5, 6]])
    assert.deepStrictEqual(coveringRanges([1, 3, 40, 100]), [[1, 101]])
    assert.deepStrictEqual(coveringRanges([1, 3, 500, 501]), [[1, 4], [500, 502]])
    const dense = Array.from({ length: MAX_ENTRIES + 10 }, (_, i) => i)
    assert.deepStrictEqual(coveringRanges(dense), [[0, MAX_ENTRIES], [MAX_ENTRIES, MAX_ENTRIES + 10]])
  })
})

describe("PublishLog.inclusions", () => {
  it("proves 150 scattered entries with a few range reads of the store, in the order asked", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-log-batch-"))
    dirs.push(dir)
    const runtime = ManagedRuntime.make(SqlitePackageStore.layer(path.join(dir, "registry.db")))
    try {
      const total = 320
      await runtime.runPromise(Effect.flatMap(PackageStore, (s) =>
        Effect.forEach(
          Array.from({ length: total }, (_, i) => i),
          (i) =>
            s.publish(
              newRelease(`pkg-${String(i).padStart(4, "0")}`, "1.0.0", {
                checksum: crypto.createHash("sha256").update(String(i)).digest("hex")
              })
            ),
          { discard: true }
        )))
      const { privateKey } = crypto.generateKeyPairSync("ed25519")
      const signer = makeSigner("batch.test", privateKey)
      let reads = 0
      const counted = Effect.map(PackageStore, (s): PackageStore["Type"] => ({
        ...s,
        logEntries: (start, end) => Effect.zipRight(Effect.sync(() => reads++), s.logEntries(start, end))
      }))
      // every 2nd entry, from the top down (the order asked is kept), plus one repeated
      const indexes = [...Array.from({ length: 150 }, (_, i) => total - 1 - 2 * i), total - 1]
      const { proofs, single } = await runtime.runPromise(Effect.gen(function*() {
        const store = yield* counted
        const log = yield* Effect.provideService(makeLog(signer), PackageStore, store)
        const size = (yield* log.checkpoint).size
        reads = 0
        const proofs = yield* log.inclusions(indexes, size)
        const batchReads = reads
        const single = yield* log.inclusion(indexes[3] ?? 0, size)
        return { proofs: { list: proofs, reads: batchReads, size }, single }
      }))
      assert.strictEqual(proofs.size, total)
      assert.isAtMost(proofs.reads, 2, `a batch of ${indexes.length} proofs read the store ${proofs.reads} times`)
      assert.strictEqual(proofs.list.length, indexes.length)
      const tree = new MerkleTree()
      const all = await runtime.runPromise(Effect.flatMap(PackageStore, (s) => s.logEntries(0, total)))
      for (const e of all) tree.append(entryLeafHash(e))
      const root = tree.root(total)
      proofs.list.forEach((p, i) => {
        assert.strictEqual(p.entry.index, indexes[i])
        assert.isTrue(verifyInclusion(p.entry.index, total, entryLeafHash(p.entry), p.proof, root))
      })
      assert.deepStrictEqual(proofs.list[3], single)
    } finally {
      await runtime.dispose()
    }
  })
})
