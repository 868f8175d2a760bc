/**
 * Transparency-log checkpoints (https://c2sp.org/tlog-checkpoint): the signed-note text
 * `ORIGIN\nTREE SIZE\nbase64(ROOT HASH)\n`, signed by the log's key, whose name is the origin.
 * @since 0.1.0
 */
import { HASH_SIZE } from "./Merkle.js"
import type { NoteRefusal, NoteSigner, NoteVerifier } from "./SignedNote.js"
import { openNote, signNote } from "./SignedNote.js"

/**
 * A log's tree head: its origin, the number of entries and the Merkle root.
 * @since 0.1.0
 * @category models
 */
export interface Checkpoint {
  readonly origin: string
  readonly size: number
  readonly root: Uint8Array
}

/**
 * The checkpoint's note text (origin, size and root on three lines).
 * @since 0.1.0
 */
export const checkpointText = (checkpoint: Checkpoint): string =>
  `${checkpoint.origin}\n${checkpoint.size}\n${Buffer.from(checkpoint.root).toString("base64")}\n`

/**
 * The signed note of a checkpoint; the signer's name must be the origin.
 * @since 0.1.0
 */
export const signCheckpoint = (checkpoint: Checkpoint, signer: NoteSigner): string => {
  if (signer.verifier.name !== checkpoint.origin) throw new Error("the log key's name is the checkpoint's origin")
  return signNote(checkpointText(checkpoint), signer)
}

/**
 * Parses a checkpoint's note text; `undefined` when it is not one. Extension lines after the root
 * are allowed and ignored.
 * @since 0.1.0
 */
export const parseCheckpointText = (text: string): Checkpoint | undefined => {
  const [origin, sizeText, rootText] = text.split("\n")
  if (origin === undefined || sizeText === undefined || rootText === undefined || origin === "") return undefined
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText)) return undefined
  const size = Number(sizeText)
  if (!Number.isSafeInteger(size)) return undefined
  if (rootText.length !== 44 || !/^[A-Za-z0-9+/]{43}=$/.test(rootText)) return undefined
  const root = new Uint8Array(Buffer.from(rootText, "base64"))
  return root.length === HASH_SIZE ? { origin, size, root } : undefined
}

/**
 * Why a checkpoint was refused.
 * @since 0.1.0
 * @category models
 */
export type CheckpointRefusal = NoteRefusal | "not-a-checkpoint" | "wrong-origin"

/**
 * Opens a signed checkpoint with the log's verifier: the checkpoint when the note is signed by that
 * key and its origin is the key's name.
 * @since 0.1.0
 */
export const openCheckpoint = (
  note: string,
  verifier: NoteVerifier
): { readonly checkpoint: Checkpoint } | { readonly refused: CheckpointRefusal } => {
  const opened = openNote(note, verifier)
  if ("refused" in opened) return opened
  const checkpoint = parseCheckpointText(opened.text)
  if (checkpoint === undefined) return { refused: "not-a-checkpoint" }
  if (checkpoint.origin !== verifier.name) return { refused: "wrong-origin" }
  return { checkpoint }
}
