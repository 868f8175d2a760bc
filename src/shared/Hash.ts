/**
 * SHA-256, the one digest fm uses: one-shot digests of bytes or strings and an incremental hasher
 * for streams. Every `node:crypto` hash in fm goes through here; `Checksum` builds file hashing and
 * verification on it.
 * @since 0.1.0
 */
import * as crypto from "node:crypto"

/**
 * An incremental SHA-256: feed chunks with `update`, then `digest` once (lowercase hex).
 * @since 0.1.0
 * @category models
 */
export interface Hashing {
  /** Adds a chunk. */
  readonly update: (chunk: Uint8Array) => void
  /** The digest of everything added so far, as lowercase hex. Call once. */
  readonly digest: () => string
}

/**
 * A fresh incremental SHA-256 (lowercase hex digest).
 * @since 0.1.0
 * @category constructors
 */
export const sha256Hashing = (): Hashing => {
  const hash = crypto.createHash("sha256")
  return {
    update: (chunk) => {
      hash.update(chunk)
    },
    digest: () => hash.digest("hex")
  }
}

/**
 * SHA-256 of bytes or a UTF-8 string, as 64 lowercase hex digits.
 * @since 0.1.0
 */
export const sha256Hex = (data: Uint8Array | string): string => crypto.createHash("sha256").update(data).digest("hex")

/**
 * SHA-256 of bytes or a UTF-8 string, as unpadded base64url (43 characters).
 * @since 0.1.0
 */
export const sha256Base64Url = (data: Uint8Array | string): string =>
  crypto.createHash("sha256").update(data).digest("base64url")
