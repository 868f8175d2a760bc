/**
 * C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys, on node:crypto: a UTF-8 text
 * ending in a newline, a blank line, then signature lines `— NAME base64(keyID[4] || signature)`.
 * The key ID of an Ed25519 key is the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key);
 * a verifier key is written `NAME+HEX(keyID)+base64(0x01 || public key)`.
 *
 * Pure apart from the crypto calls; parsing never throws on hostile input (it answers `undefined`
 * or `false`).
 * @since 0.1.0
 */
import * as crypto from "node:crypto"

const ED25519 = 0x01
const SIG_PREFIX = "\u2014 "
/** Notes larger than this are refused before parsing (a checkpoint is under 1 KiB). */
const MAX_NOTE_BYTES = 64 * 1024
const MAX_SIGNATURES = 100

/**
 * An Ed25519 verifier: the key's name (the log's origin), its key ID and its public key.
 * @since 0.1.0
 * @category models
 */
export interface NoteVerifier {
  readonly name: string
  readonly keyId: Uint8Array
  readonly publicKey: crypto.KeyObject
  /** The verifier key text, `NAME+HEX(keyID)+base64(0x01 || public key)`. */
  readonly text: string
}

/**
 * An Ed25519 signer for one name.
 * @since 0.1.0
 * @category models
 */
export interface NoteSigner {
  readonly verifier: NoteVerifier
  readonly privateKey: crypto.KeyObject
}

/**
 * Whether a key name is valid: non-empty, no whitespace, no `+`, no control codes.
 * @since 0.1.0
 */
export const isKeyName = (name: string): boolean => name.length > 0 && name.length <= 256 && !/[\s+\p{Cc}]/u.test(name)

const keyIdOf = (name: string, raw: Uint8Array): Uint8Array =>
  new Uint8Array(
    crypto.createHash("sha256").update(name, "utf8").update(new Uint8Array([0x0a, ED25519])).update(raw).digest()
  ).slice(0, 4)

/**
 * The 32 raw bytes of an Ed25519 public key.
 * @since 0.1.0
 */
export const rawPublicKey = (key: crypto.KeyObject): Uint8Array => {
  const der = key.export({ format: "der", type: "spki" })
  return new Uint8Array(der.subarray(der.length - 32))
}

const publicKeyFromRaw = (raw: Uint8Array): crypto.KeyObject | undefined => {
  if (raw.length !== 32) return undefined
  try {
    return crypto.createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") },
      format: "jwk"
    })
  } catch {
    return undefined
  }
}

/**
 * The verifier of an Ed25519 public key under a name.
 * @since 0.1.0
 */
export const makeVerifier = (name: string, publicKey: crypto.KeyObject): NoteVerifier => {
  const raw = rawPublicKey(publicKey)
  const keyId = keyIdOf(name, raw)
  const text = `${name}+${Buffer.from(keyId).toString("hex")}+${Buffer.from([ED25519, ...raw]).toString("base64")}`
  return { name, keyId, publicKey, text }
}

/**
 * The signer of an Ed25519 private key under a name.
 * @since 0.1.0
 */
export const makeSigner = (name: string, privateKey: crypto.KeyObject): NoteSigner => ({
  verifier: makeVerifier(name, crypto.createPublicKey(privateKey)),
  privateKey
})

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

const decodeBase64 = (s: string): Uint8Array | undefined =>
  s.length % 4 === 0 && BASE64.test(s) ? new Uint8Array(Buffer.from(s, "base64")) : undefined

/**
 * Parses a verifier key `NAME+HEX(keyID)+base64(0x01 || public key)`; `undefined` when it is not
 * one (wrong shape, not Ed25519, or a key ID that does not match the key).
 * @since 0.1.0
 */
export const parseVerifier = (text: string): NoteVerifier | undefined => {
  const match = /^([^+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(text.trim())
  const [, name, idHex, keyB64] = match ?? []
  if (name === undefined || idHex === undefined || keyB64 === undefined || !isKeyName(name)) return undefined
  const bytes = decodeBase64(keyB64)
  if (bytes === undefined || bytes.length !== 33 || bytes[0] !== ED25519) return undefined
  const raw = bytes.subarray(1)
  const publicKey = publicKeyFromRaw(raw)
  if (publicKey === undefined) return undefined
  const verifier = makeVerifier(name, publicKey)
  return Buffer.from(verifier.keyId).toString("hex") === idHex ? verifier : undefined
}

/**
 * Signs `text` (which must end in a newline and hold no blank line) as a one-signature note.
 * @since 0.1.0
 */
export const signNote = (text: string, signer: NoteSigner): string => {
  if (!text.endsWith("\n") || text.includes("\n\n")) throw new Error("a note's text ends in one newline")
  const signature = crypto.sign(null, Buffer.from(text, "utf8"), signer.privateKey)
  const blob = Buffer.concat([signer.verifier.keyId, signature]).toString("base64")
  return `${text}\n${SIG_PREFIX}${signer.verifier.name} ${blob}\n`
}

/**
 * Why a note did not open.
 * @since 0.1.0
 * @category models
 */
export type NoteRefusal = "malformed" | "unsigned" | "bad-signature"

/**
 * Opens a signed note with one trusted verifier: the text when a signature line of that verifier's
 * name and key ID verifies. Lines of other keys are ignored; a failing line of the trusted key
 * refuses the whole note (as the spec says).
 * @since 0.1.0
 */
export const openNote = (
  note: string,
  verifier: NoteVerifier
): { readonly text: string } | { readonly refused: NoteRefusal } => {
  if (Buffer.byteLength(note, "utf8") > MAX_NOTE_BYTES || !note.endsWith("\n")) return { refused: "malformed" }
  const split = note.lastIndexOf("\n\n")
  if (split < 0) return { refused: "malformed" }
  const text = note.slice(0, split + 1)
  const lines = note.slice(split + 2, -1).split("\n")
  if (lines.length > MAX_SIGNATURES || /[\p{Cc}]/u.test(text.replaceAll("\n", ""))) return { refused: "malformed" }
  let verified = false
  for (const line of lines) {
    if (!line.startsWith(SIG_PREFIX)) return { refused: "malformed" }
    const rest = line.slice(SIG_PREFIX.length)
    const space = rest.lastIndexOf(" ")
    if (space <= 0) return { refused: "malformed" }
    const name = rest.slice(0, space)
    const blob = decodeBase64(rest.slice(space + 1))
    if (blob === undefined || blob.length < 5 || !isKeyName(name)) return { refused: "malformed" }
    if (name !== verifier.name || !Buffer.from(blob.subarray(0, 4)).equals(verifier.keyId)) continue
    const ok = blob.length === 68 &&
      crypto.verify(null, Buffer.from(text, "utf8"), verifier.publicKey, blob.subarray(4))
    if (!ok) return { refused: "bad-signature" }
    verified = true
  }
  return verified ? { text } : { refused: "unsigned" }
}
