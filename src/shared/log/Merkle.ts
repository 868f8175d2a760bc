/**
 * The Merkle tree of a transparency log as RFC 6962 / RFC 9162 define it (SHA-256): leaf and node
 * hashing with the 0x00/0x01 domain prefixes, the tree head of any number of leaves, inclusion and
 * consistency proofs, and their verification by the RFC 9162 §2.1.3.2 and §2.1.4.2 algorithms.
 *
 * Pure: no I/O, no Effect. Hashes are 32-byte `Uint8Array`s; sizes and indexes are non-negative
 * safe integers. Verification never throws on hostile input: it answers `false`.
 * @since 0.1.0
 */
import * as crypto from "node:crypto"

/**
 * Bytes in a SHA-256 hash.
 * @since 0.1.0
 */
export const HASH_SIZE = 32

const sha256 = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const hash = crypto.createHash("sha256")
  for (const part of parts) hash.update(part)
  return new Uint8Array(hash.digest())
}

const LEAF_PREFIX = new Uint8Array([0x00])
const NODE_PREFIX = new Uint8Array([0x01])

/**
 * The hash of a leaf: SHA-256(0x00 || data).
 * @since 0.1.0
 */
export const leafHash = (data: Uint8Array): Uint8Array => sha256(LEAF_PREFIX, data)

/**
 * The hash of an interior node: SHA-256(0x01 || left || right).
 * @since 0.1.0
 */
export const nodeHash = (left: Uint8Array, right: Uint8Array): Uint8Array => sha256(NODE_PREFIX, left, right)

/**
 * The root of the empty tree: SHA-256 of the empty string.
 * @since 0.1.0
 */
export const emptyRoot = (): Uint8Array => sha256()

/**
 * Whether two hashes are the same bytes (constant time when the lengths agree).
 * @since 0.1.0
 */
export const hashEquals = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && crypto.timingSafeEqual(a, b)

/** The largest power of two strictly smaller than n (n ≥ 2). */
const splitPoint = (n: number): number => {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0

const isPowerOfTwo = (n: number): boolean => n > 0 && 2 ** Math.round(Math.log2(n)) === n

/**
 * A log's leaf hashes, with every complete, aligned subtree's hash kept as leaves are appended, so
 * that the head of any prefix and any proof cost O(log² n) hashes instead of O(n).
 * @since 0.1.0
 * @category models
 */
export class MerkleTree {
  /** `levels[k][i]` is the hash of leaves `[i·2^k, (i+1)·2^k)`; only complete subtrees. */
  private readonly levels: Array<Array<Uint8Array>> = [[]]

  /** A tree of the given leaf hashes, in order. */
  static fromLeafHashes(hashes: Iterable<Uint8Array>): MerkleTree {
    const tree = new MerkleTree()
    for (const hash of hashes) tree.append(hash)
    return tree
  }

  /** The number of leaves. */
  get size(): number {
    return this.level(0).length
  }

  /** Appends one leaf hash (the caller hashed the entry with {@link leafHash}). */
  append(hash: Uint8Array): void {
    let k = 0
    let node = hash
    for (;;) {
      const level = this.level(k)
      level.push(node)
      if (level.length % 2 === 1) return
      const left = level[level.length - 2]
      if (left === undefined) return
      node = nodeHash(left, node)
      k += 1
    }
  }

  /** The hash of leaf `index`. */
  leaf(index: number): Uint8Array {
    return this.node(0, index)
  }

  /** The tree head MTH(D[0:size]) of the first `size` leaves (`size` ≤ {@link size}). */
  root(size: number = this.size): Uint8Array {
    this.checkSize(size)
    return size === 0 ? emptyRoot() : this.range(0, size)
  }

  /**
   * The inclusion proof (audit path, RFC 6962 §2.1.1 PATH) of leaf `index` in the tree of the
   * first `size` leaves.
   */
  inclusionProof(index: number, size: number): Array<Uint8Array> {
    this.checkSize(size)
    if (!isCount(index) || index >= size) throw new RangeError(`leaf index ${index} is not below tree size ${size}`)
    const proof: Array<Uint8Array> = []
    const path = (m: number, start: number, end: number): void => {
      const n = end - start
      if (n <= 1) return
      const k = splitPoint(n)
      if (m < k) {
        path(m, start, start + k)
        proof.push(this.range(start + k, end))
      } else {
        path(m - k, start + k, end)
        proof.push(this.range(start, start + k))
      }
    }
    path(index, 0, size)
    return proof
  }

  /**
   * The consistency proof (RFC 6962 §2.1.2 PROOF) that the tree of the first `oldSize` leaves is a
   * prefix of the tree of the first `newSize` leaves. Empty when `oldSize` is 0 or equals `newSize`.
   */
  consistencyProof(oldSize: number, newSize: number): Array<Uint8Array> {
    this.checkSize(newSize)
    if (!isCount(oldSize) || oldSize > newSize) {
      throw new RangeError(`old tree size ${oldSize} is not at most new tree size ${newSize}`)
    }
    const proof: Array<Uint8Array> = []
    if (oldSize === 0 || oldSize === newSize) return proof
    const subproof = (m: number, start: number, end: number, whole: boolean): void => {
      const n = end - start
      if (m === n) {
        if (!whole) proof.push(this.range(start, end))
        return
      }
      const k = splitPoint(n)
      if (m <= k) {
        subproof(m, start, start + k, whole)
        proof.push(this.range(start + k, end))
      } else {
        subproof(m - k, start + k, end, false)
        proof.push(this.range(start, start + k))
      }
    }
    subproof(oldSize, 0, newSize, true)
    return proof
  }

  private level(k: number): Array<Uint8Array> {
    let level = this.levels[k]
    if (level === undefined) {
      level = []
      this.levels[k] = level
    }
    return level
  }

  private node(k: number, i: number): Uint8Array {
    const hash = this.levels[k]?.[i]
    if (hash === undefined) throw new RangeError(`no complete subtree at level ${k}, index ${i}`)
    return hash
  }

  /** MTH(D[start:end]) for 0 ≤ start < end ≤ size. */
  private range(start: number, end: number): Uint8Array {
    const n = end - start
    if (isPowerOfTwo(n) && start % n === 0) return this.node(Math.round(Math.log2(n)), start / n)
    const k = splitPoint(n)
    return nodeHash(this.range(start, start + k), this.range(start + k, end))
  }

  private checkSize(size: number): void {
    if (!isCount(size) || size > this.size) {
      throw new RangeError(`tree size ${size} is not between 0 and ${this.size}`)
    }
  }
}

const isHash = (h: Uint8Array): boolean => h.length === HASH_SIZE

/**
 * Verifies an inclusion proof (RFC 9162 §2.1.3.2): that `hash` is leaf `index` of the tree of
 * `size` leaves whose head is `root`.
 * @since 0.1.0
 */
export const verifyInclusion = (
  index: number,
  size: number,
  hash: Uint8Array,
  proof: ReadonlyArray<Uint8Array>,
  root: Uint8Array
): boolean => {
  if (!isCount(index) || !isCount(size) || index >= size) return false
  if (!isHash(hash) || !isHash(root) || !proof.every(isHash)) return false
  let fn = BigInt(index)
  let sn = BigInt(size - 1)
  let r = hash
  for (const p of proof) {
    if (sn === 0n) return false
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r)
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n
        sn >>= 1n
      }
    } else {
      r = nodeHash(r, p)
    }
    fn >>= 1n
    sn >>= 1n
  }
  return sn === 0n && hashEquals(r, root)
}

/**
 * Verifies a consistency proof (RFC 9162 §2.1.4.2): that the tree of `oldSize` leaves with head
 * `oldRoot` is a prefix of the tree of `newSize` leaves with head `newRoot`. Equal sizes need an
 * empty proof and equal heads; an empty old tree is a prefix of every tree (empty proof).
 * @since 0.1.0
 */
export const verifyConsistency = (
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: ReadonlyArray<Uint8Array>
): boolean => {
  if (!isCount(oldSize) || !isCount(newSize) || oldSize > newSize) return false
  if (!proof.every(isHash)) return false
  if (oldSize === newSize) return proof.length === 0 && hashEquals(oldRoot, newRoot)
  if (oldSize === 0) return proof.length === 0
  if (proof.length === 0 || !isHash(oldRoot) || !isHash(newRoot)) return false
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : [...proof]
  let fn = BigInt(oldSize - 1)
  let sn = BigInt(newSize - 1)
  while ((fn & 1n) === 1n) {
    fn >>= 1n
    sn >>= 1n
  }
  const [first, ...rest] = path
  if (first === undefined) return false
  let fr = first
  let sr = first
  for (const c of rest) {
    if (sn === 0n) return false
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr)
      sr = nodeHash(c, sr)
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n
        sn >>= 1n
      }
    } else {
      sr = nodeHash(sr, c)
    }
    fn >>= 1n
    sn >>= 1n
  }
  return sn === 0n && hashEquals(fr, oldRoot) && hashEquals(sr, newRoot)
}
