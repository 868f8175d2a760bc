/**
 * Merkle: the RFC 6962 test vectors of the Certificate Transparency reference tests, and property
 * tests of heads, inclusion and consistency proofs for random trees and ranges against a
 * brute-force tree written straight from the RFC 6962 §2.1 definitions.
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import * as crypto from "node:crypto"
import {
  emptyRoot,
  leafHash,
  MerkleTree,
  nodeHash,
  verifyConsistency,
  verifyInclusion
} from "../../src/shared/log/Merkle.js"

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"))

/** The eight leaf inputs of the CT reference tests. */
const LEAVES = [
  "",
  "00",
  "10",
  "2021",
  "3031",
  "40414243",
  "5051525354555657",
  "606162636465666768696a6b6c6d6e6f"
].map(unhex)

/** MTH of the first n leaves, n = 0..8. */
const ROOTS = [
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
]

/** Inclusion proofs of the reference tests: [leaf index (0-based), tree size, path]. */
const INCLUSION: ReadonlyArray<readonly [number, number, ReadonlyArray<string>]> = [
  [0, 1, []],
  [0, 8, [
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
  ]],
  [5, 8, [
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
  ]],
  [2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]],
  [1, 5, [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
  ]]
]

/** Consistency proofs of the reference tests: [old size, new size, proof]. */
const CONSISTENCY: ReadonlyArray<readonly [number, number, ReadonlyArray<string>]> = [
  [1, 1, []],
  [1, 8, [
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
  ]],
  [6, 8, [
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
  ]],
  [2, 5, [
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
  ]]
]

// The brute-force tree: RFC 6962 §2.1 as written, recursing over the leaf data every time.
const largestPowerBelow = (n: number): number => 2 ** Math.ceil(Math.log2(n) - 1)
const mth = (d: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (d.length === 0) return crypto.createHash("sha256").digest()
  const [only] = d
  if (d.length === 1 && only !== undefined) return leafHash(only)
  const k = largestPowerBelow(d.length)
  return nodeHash(mth(d.slice(0, k)), mth(d.slice(k)))
}
const path = (m: number, d: ReadonlyArray<Uint8Array>): Array<Uint8Array> => {
  if (d.length <= 1) return []
  const k = largestPowerBelow(d.length)
  return m < k
    ? [...path(m, d.slice(0, k)), mth(d.slice(k))]
    : [...path(m - k, d.slice(k)), mth(d.slice(0, k))]
}
const subproof = (m: number, d: ReadonlyArray<Uint8Array>, b: boolean): Array<Uint8Array> => {
  if (m === d.length) return b ? [] : [mth(d)]
  const k = largestPowerBelow(d.length)
  return m <= k
    ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k))]
    : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))]
}
const consistency = (m: number, d: ReadonlyArray<Uint8Array>): Array<Uint8Array> =>
  m === 0 || m === d.length ? [] : subproof(m, d, true)

const treeOf = (leaves: ReadonlyArray<Uint8Array>): MerkleTree => MerkleTree.fromLeafHashes(leaves.map(leafHash))

const ZERO = new Uint8Array(32)
const flipBit = (h: Uint8Array, bit: number): Uint8Array => {
  const copy = new Uint8Array(h)
  copy[bit >> 3] = (copy[bit >> 3] ?? 0) ^ (1 << (bit & 7))
  return copy
}

describe("Merkle: RFC 6962 test vectors", () => {
  it("tree heads of 0..8 leaves", () => {
    assert.strictEqual(hex(emptyRoot()), ROOTS[0])
    const tree = new MerkleTree()
    assert.strictEqual(hex(tree.root()), ROOTS[0])
    LEAVES.forEach((leaf, i) => {
      tree.append(leafHash(leaf))
      assert.strictEqual(hex(tree.root()), ROOTS[i + 1], `root of ${i + 1} leaves`)
    })
    for (let n = 0; n <= 8; n++) assert.strictEqual(hex(tree.root(n)), ROOTS[n], `root(${n}) of the 8-leaf tree`)
  })

  it("inclusion proofs: generated as published, and verified", () => {
    const tree = treeOf(LEAVES)
    for (const [index, size, expected] of INCLUSION) {
      const proof = tree.inclusionProof(index, size)
      assert.deepStrictEqual(proof.map(hex), [...expected], `PATH(${index}, D[${size}])`)
      const root = unhex(ROOTS[size] ?? "")
      assert.isTrue(verifyInclusion(index, size, tree.leaf(index), proof, root))
      // the same wrong variations the reference verifier tests refuse
      assert.isFalse(verifyInclusion(index + 1, size, tree.leaf(index), proof, root))
      if (index > 0) assert.isFalse(verifyInclusion(index - 1, size, tree.leaf(index), proof, root))
      assert.isFalse(verifyInclusion(index, size * 2, tree.leaf(index), proof, root))
      assert.isFalse(verifyInclusion(index, size, tree.leaf(index), proof, emptyRoot()))
      assert.isFalse(verifyInclusion(index, size, tree.leaf(index), [...proof, root], root))
      assert.isFalse(verifyInclusion(index, size, tree.leaf(index), [root, ...proof], root))
      if (proof.length > 0) assert.isFalse(verifyInclusion(index, size, tree.leaf(index), proof.slice(1), root))
    }
  })

  it("consistency proofs: generated as published, and verified", () => {
    const tree = treeOf(LEAVES)
    for (const [oldSize, newSize, expected] of CONSISTENCY) {
      const proof = tree.consistencyProof(oldSize, newSize)
      assert.deepStrictEqual(proof.map(hex), [...expected], `PROOF(${oldSize}, D[${newSize}])`)
      const oldRoot = unhex(ROOTS[oldSize] ?? "")
      const newRoot = unhex(ROOTS[newSize] ?? "")
      assert.isTrue(verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof))
      if (proof.length > 0) {
        assert.isFalse(verifyConsistency(oldSize, newSize, newRoot, oldRoot, proof))
        assert.isFalse(verifyConsistency(oldSize - 1, newSize, oldRoot, newRoot, proof))
        assert.isFalse(verifyConsistency(oldSize, newSize * 2, oldRoot, newRoot, proof))
        assert.isFalse(verifyConsistency(oldSize, newSize, oldRoot, newRoot, []))
        assert.isFalse(verifyConsistency(oldSize, newSize, oldRoot, newRoot, [...proof, oldRoot]))
      }
    }
  })

  it("edge cases the reference verifier refuses", () => {
    assert.isFalse(verifyInclusion(0, 0, ZERO, [], emptyRoot()))
    assert.isFalse(verifyInclusion(2, 1, ZERO, [], ZERO))
    assert.isFalse(verifyInclusion(-1, 1, ZERO, [], ZERO))
    assert.isFalse(verifyInclusion(0, 1, new Uint8Array(3), [], new Uint8Array(3)))
    assert.isTrue(verifyConsistency(0, 0, emptyRoot(), emptyRoot(), []))
    assert.isTrue(verifyConsistency(0, 5, emptyRoot(), ZERO, []))
    assert.isFalse(verifyConsistency(1, 0, ZERO, ZERO, []))
    assert.isFalse(verifyConsistency(1, 1, ZERO, emptyRoot(), []))
    assert.isFalse(verifyConsistency(1, 1, ZERO, ZERO, [ZERO]))
    assert.isFalse(verifyConsistency(0, 1, ZERO, ZERO, [ZERO]))
    assert.isFalse(verifyConsistency(1, 2, ZERO, ZERO, []))
    assert.isFalse(verifyConsistency(Number.NaN, 2, ZERO, ZERO, [ZERO]))
  })
})

const leavesArb = fc.array(fc.uint8Array({ maxLength: 8 }), { minLength: 1, maxLength: 70 })

describe("Merkle: properties against the brute-force tree", () => {
  it("heads of every prefix equal MTH", () => {
    fc.assert(
      fc.property(leavesArb, (leaves) => {
        const tree = treeOf(leaves)
        for (let n = 0; n <= leaves.length; n++) {
          assert.strictEqual(hex(tree.root(n)), hex(mth(leaves.slice(0, n))))
        }
      }),
      { numRuns: 60 }
    )
  })

  it("inclusion proofs equal PATH, verify, and fail for any other leaf, index, size or bit", () => {
    fc.assert(
      fc.property(
        leavesArb.chain((leaves) =>
          fc.tuple(
            fc.constant(leaves),
            fc.integer({ min: 1, max: leaves.length }).chain((size) =>
              fc.tuple(fc.constant(size), fc.integer({ min: 0, max: size - 1 }), fc.nat(255))
            )
          )
        ),
        ([leaves, [size, index, bit]]) => {
          const tree = treeOf(leaves)
          const proof = tree.inclusionProof(index, size)
          const prefix = leaves.slice(0, size)
          assert.deepStrictEqual(proof.map(hex), path(index, prefix).map(hex))
          const root = mth(prefix)
          const leaf = tree.leaf(index)
          assert.isTrue(verifyInclusion(index, size, leaf, proof, root))
          assert.isFalse(verifyInclusion(index, size, flipBit(leaf, bit), proof, root))
          assert.isFalse(verifyInclusion(index, size, leaf, proof, flipBit(root, bit)))
          proof.forEach((_, i) => {
            const bad = proof.map((p, j) => (j === i ? flipBit(p, bit) : p))
            assert.isFalse(verifyInclusion(index, size, leaf, bad, root))
          })
          for (let other = 0; other < size; other++) {
            if (other !== index && hex(tree.leaf(other)) !== hex(leaf)) {
              assert.isFalse(verifyInclusion(other, size, leaf, proof, root))
            }
          }
          assert.isFalse(verifyInclusion(index, size, leaf, [...proof, ZERO], root))
        }
      ),
      { numRuns: 150 }
    )
  })

  it("consistency proofs equal PROOF, verify, and fail for other heads, sizes or bits", () => {
    fc.assert(
      fc.property(
        leavesArb.chain((leaves) =>
          fc.tuple(
            fc.constant(leaves),
            fc.integer({ min: 0, max: leaves.length }).chain((newSize) =>
              fc.tuple(fc.constant(newSize), fc.integer({ min: 0, max: newSize }), fc.nat(255))
            )
          )
        ),
        ([leaves, [newSize, oldSize, bit]]) => {
          const tree = treeOf(leaves)
          const proof = tree.consistencyProof(oldSize, newSize)
          assert.deepStrictEqual(proof.map(hex), consistency(oldSize, leaves.slice(0, newSize)).map(hex))
          const oldRoot = mth(leaves.slice(0, oldSize))
          const newRoot = mth(leaves.slice(0, newSize))
          assert.isTrue(verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof))
          if (oldSize > 0) {
            assert.isFalse(verifyConsistency(oldSize, newSize, flipBit(oldRoot, bit), newRoot, proof))
            assert.isFalse(verifyConsistency(oldSize, newSize, oldRoot, flipBit(newRoot, bit), proof))
            proof.forEach((_, i) => {
              const bad = proof.map((p, j) => (j === i ? flipBit(p, bit) : p))
              assert.isFalse(verifyConsistency(oldSize, newSize, oldRoot, newRoot, bad))
            })
          }
          if (oldSize > 0 && oldSize < newSize) {
            assert.isFalse(verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof.slice(1)))
            assert.isFalse(verifyConsistency(oldSize, newSize, oldRoot, newRoot, [...proof, ZERO]))
            assert.isFalse(verifyConsistency(newSize, oldSize, newRoot, oldRoot, proof))
          }
        }
      ),
      { numRuns: 150 }
    )
  })

  it("a forked tree (one leaf changed) is never consistent with the original", () => {
    fc.assert(
      fc.property(
        leavesArb.chain((leaves) =>
          fc.tuple(
            fc.constant(leaves),
            fc.integer({ min: 1, max: leaves.length }).chain((oldSize) =>
              fc.tuple(fc.constant(oldSize), fc.integer({ min: 0, max: oldSize - 1 }))
            )
          )
        ),
        ([leaves, [oldSize, changed]]) => {
          const forked = leaves.map((leaf, i) => (i === changed ? new Uint8Array([...leaf, 0xff]) : leaf))
          const tree = treeOf(forked)
          const newSize = forked.length
          const proof = tree.consistencyProof(oldSize, newSize)
          assert.isFalse(verifyConsistency(oldSize, newSize, mth(leaves.slice(0, oldSize)), tree.root(), proof))
        }
      ),
      { numRuns: 100 }
    )
  })

  it("a big tree: heads and proofs of an aligned cache stay cheap and agree with verification", () => {
    const tree = new MerkleTree()
    for (let i = 0; i < 5000; i++) tree.append(leafHash(new TextEncoder().encode(`entry ${i}`)))
    const root = tree.root()
    for (const index of [0, 1, 2047, 2048, 4095, 4999]) {
      assert.isTrue(verifyInclusion(index, 5000, tree.leaf(index), tree.inclusionProof(index, 5000), root))
    }
    for (const oldSize of [1, 3, 1024, 4097, 4999]) {
      assert.isTrue(verifyConsistency(oldSize, 5000, tree.root(oldSize), root, tree.consistencyProof(oldSize, 5000)))
    }
  })
})
