/**
 * The client's check of a registry's publish log, run for every package installed from a
 * registry whose log key is known: one request (`log/proof/inclusion?index=I&old=M`) brings the
 * registry's signed checkpoint, the package's log entry with its inclusion proof, and the
 * consistency proof from the checkpoint this machine saw last for that log. The install goes on
 * only when
 * - the checkpoint is signed by the pinned key (its origin is the key's name);
 * - the tree did not shrink, and is consistent with the stored checkpoint (no fork, no rollback);
 * - the entry is the publish of this name@version with the SHA-256 and size of the downloaded
 *   archive, and it is included in the signed tree.
 * The newest checkpoint seen is then kept in `~/.flowmason/logs/<origin>.json` (temp file, fsync,
 * rename).
 * @since 0.1.0
 */
import { Data, Effect, Schema } from "effect"
import * as crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { InclusionProofResponse } from "../api/LogModels.js"
import type { PackageInfo } from "../api/Models.js"
import { normalizeName } from "../domain/PackageName.js"
import type { Checkpoint } from "../shared/log/Checkpoint.js"
import { openCheckpoint } from "../shared/log/Checkpoint.js"
import { entryLeafHash } from "../shared/log/LogEntry.js"
import { hashEquals, verifyConsistency, verifyInclusion } from "../shared/log/Merkle.js"
import type { NoteVerifier } from "../shared/log/SignedNote.js"
import { parseVerifier } from "../shared/log/SignedNote.js"

/**
 * A registry's log does not vouch for a package: a bad signature, a fork or rollback of the log,
 * or an entry that does not match what was downloaded. Nothing is installed.
 * @since 0.1.0
 * @category errors
 */
export class LogVerificationFailed extends Data.TaggedError("LogVerificationFailed")<{
  readonly registry: string
  readonly log: string
  readonly package: string
  readonly reason: string
}> {
  /** Names the registry, its log, the package and what failed. */
  override get message(): string {
    return `registry ${this.registry}: its log ${this.log} does not vouch for ${this.package}: ${this.reason}. ` +
      `Nothing was installed.`
  }
  /** What to do. */
  get hint(): string {
    return `the registry may have been tampered with or rolled back; ask its operator, and compare its key with ` +
      `\`fm studio log-key\` on the registry's host (fm registry set ${this.registry} --log-key KEY changes the pinned key)`
  }
}

const StoredCheckpoint = Schema.Struct({
  origin: Schema.String,
  size: Schema.Number,
  note: Schema.String
})

/**
 * The file that keeps the newest checkpoint seen of a log.
 * @since 0.1.0
 */
export const stateFile = (stateDir: string, origin: string): string =>
  Path.join(stateDir, `${origin.replace(/[^A-Za-z0-9._-]/g, "_")}.json`)

/**
 * The stored checkpoint of a log (verified again with the key): `undefined` when none is stored.
 * @since 0.1.0
 */
export const readStored = (
  file: string,
  verifier: NoteVerifier
): Effect.Effect<Checkpoint | undefined, string> =>
  Effect.gen(function*() {
    if (!Fs.existsSync(file)) return undefined
    const text = yield* Effect.try({
      try: () => Fs.readFileSync(file, "utf8"),
      catch: (e) => `cannot read ${file}: ${String(e)}`
    })
    const stored = yield* Schema.decodeUnknown(Schema.parseJson(StoredCheckpoint))(text).pipe(
      Effect.mapError(() => `the stored checkpoint ${file} is unreadable (remove it to trust the log afresh)`)
    )
    const opened = openCheckpoint(stored.note, verifier)
    if ("refused" in opened) {
      return yield* Effect.fail(
        `the stored checkpoint ${file} is not signed by the pinned key (remove it to trust the log afresh)`
      )
    }
    return opened.checkpoint
  })

const writeStored = (file: string, checkpoint: Checkpoint, note: string) =>
  Effect.try({
    try: () => {
      Fs.mkdirSync(Path.dirname(file), { recursive: true, mode: 0o700 })
      const temp = `${file}.${process.pid}.${crypto.randomBytes(6).toString("hex")}.tmp`
      const fd = Fs.openSync(temp, "wx", 0o600)
      try {
        Fs.writeFileSync(fd, JSON.stringify({ origin: checkpoint.origin, size: checkpoint.size, note }))
        Fs.fsyncSync(fd)
      } finally {
        Fs.closeSync(fd)
      }
      Fs.renameSync(temp, file)
    },
    catch: (e) => `cannot keep the checkpoint in ${file}: ${String(e)}`
  })

/**
 * What one check needs: the registry's name, its pinned key, the package answer and what was
 * downloaded, where checkpoints are kept, and the request for the proof bundle.
 * @since 0.1.0
 * @category models
 */
export interface LogCheck<E> {
  readonly registry: string
  readonly logKey: string
  readonly info: PackageInfo
  readonly sha256: string
  readonly size: number
  readonly stateDir: string
  readonly fetchProof: (index: number, old: number | undefined) => Effect.Effect<InclusionProofResponse, E>
}

const unb64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"))

/**
 * Checks that the registry's log vouches for the downloaded package (see the module comment);
 * answers the entry's index and the tree size it was proven in.
 * @since 0.1.0
 */
export const verifyLogged = <E>(
  check: LogCheck<E>
): Effect.Effect<{ readonly index: number; readonly treeSize: number }, LogVerificationFailed | E> =>
  Effect.gen(function*() {
    const pkg = `${check.info.name}@${check.info.version}`
    const verifier = parseVerifier(check.logKey)
    const failed = (log: string) => (reason: string) =>
      new LogVerificationFailed({ registry: check.registry, log, package: pkg, reason })
    if (verifier === undefined) return yield* failed("(unknown)")("the pinned log key is not a valid key")
    const fail = failed(verifier.name)
    const index = check.info.log_index
    if (index === undefined) return yield* fail("the registry's answer carries no log index")
    const file = stateFile(check.stateDir, verifier.name)
    const stored = yield* readStored(file, verifier).pipe(Effect.mapError(fail))
    const proof = yield* check.fetchProof(index, stored?.size)
    const opened = openCheckpoint(proof.checkpoint ?? "", verifier)
    if ("refused" in opened) return yield* fail(`its checkpoint is not signed by the pinned key (${opened.refused})`)
    const head = opened.checkpoint
    if (stored !== undefined) {
      if (head.size < stored.size) {
        return yield* fail(`the log shrank from ${stored.size} to ${head.size} entries (rolled back)`)
      }
      if (proof.old_size !== stored.size || proof.consistency === undefined) {
        return yield* fail(`no consistency proof from the ${stored.size} entries seen before`)
      }
      if (!verifyConsistency(stored.size, head.size, stored.root, head.root, proof.consistency.map(unb64))) {
        return yield* fail(
          `the log of ${head.size} entries does not extend the ${stored.size} entries seen before (a fork: the registry ` +
            `rewrote its history)`
        )
      }
    }
    const entry = proof.entry
    if (proof.index !== index || proof.tree_size !== head.size || entry.index !== index) {
      return yield* fail(
        `the proof is for entry ${proof.index} of ${proof.tree_size}, not entry ${index} of ${head.size}`
      )
    }
    if (
      entry.operation !== "publish" || normalizeName(entry.name) !== normalizeName(check.info.name) ||
      entry.version !== check.info.version
    ) {
      return yield* fail(`log entry ${index} is '${entry.operation} ${entry.name}@${entry.version}', not its publish`)
    }
    if (entry.sha256 !== check.sha256 || entry.size !== check.size) {
      return yield* fail(
        `the log recorded SHA-256 ${entry.sha256} (${entry.size} bytes) but the registry served ${check.sha256} ` +
          `(${check.size} bytes)`
      )
    }
    if (!verifyInclusion(index, head.size, entryLeafHash(entry), proof.hashes.map(unb64), head.root)) {
      return yield* fail(`entry ${index} is not in the signed tree of ${head.size} entries`)
    }
    if (stored === undefined || head.size > stored.size || !hashEquals(head.root, stored.root)) {
      yield* writeStored(file, head, proof.checkpoint ?? "").pipe(Effect.mapError(fail))
    }
    return { index, treeSize: head.size }
  })
