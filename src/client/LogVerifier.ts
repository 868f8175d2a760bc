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
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { EntryProof, InclusionProofResponse, InclusionProofsResponse } from "../api/LogModels.js"
import { MAX_PROOFS } from "../api/LogModels.js"
import type { PackageInfo } from "../api/Models.js"
import { normalizeName } from "../domain/PackageName.js"
import { tempBeside, writeFileAtomicWith } from "../shared/AtomicFile.js"
import type { Checkpoint } from "../shared/log/Checkpoint.js"
import { openCheckpoint } from "../shared/log/Checkpoint.js"
import type { LogEntry } from "../shared/log/LogEntry.js"
import { entryLeafHash } from "../shared/log/LogEntry.js"
import { hashEquals, verifyConsistency, verifyInclusion } from "../shared/log/Merkle.js"
import type { NoteVerifier } from "../shared/log/SignedNote.js"
import { parseVerifier } from "../shared/log/SignedNote.js"
import type { PackageNotFound, RemoteError } from "./RemoteErrors.js"

/** What a log failure names: the registry, its log (origin), the package and what failed. */
interface LogFailure {
  readonly registry: string
  readonly log: string
  readonly package: string
  readonly reason: string
}

/**
 * A registry's log does not vouch for a package: a bad signature, a fork or rollback of the log,
 * or an entry that does not match what was downloaded. Nothing is installed.
 * @since 0.1.0
 * @category errors
 */
export class LogVerificationFailed extends Data.TaggedError("LogVerificationFailed")<LogFailure> {
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

/**
 * A registry's log could not be read to check a package (the registry is down, or its log
 * endpoints answer not found or nonsense). Nothing is installed.
 * @since 0.1.0
 * @category errors
 */
export class LogUnavailable extends Data.TaggedError("LogUnavailable")<LogFailure> {
  /** Names the registry, its log, the package and what failed. */
  override get message(): string {
    return `registry ${this.registry}: its log ${this.log} could not be read to check ${this.package}: ${this.reason}. ` +
      `Nothing was installed.`
  }
  /** What to do. */
  get hint(): string {
    return `try again later; if the registry no longer serves its log, ask its operator`
  }
}

/**
 * A package the log vouched for (the publish of name@version with this SHA-256 and size, at this
 * index), proven included in the stored checkpoint's tree or an earlier one it extends.
 */
const Vouched = Schema.Struct({
  index: Schema.Number,
  name: Schema.String,
  version: Schema.String,
  sha256: Schema.String,
  size: Schema.Number
})
type Vouched = typeof Vouched.Type

/** The most vouched packages kept per log (the newest are kept). */
const MAX_VOUCHED = 20_000

const StoredCheckpoint = Schema.Struct({
  origin: Schema.String,
  size: Schema.Number,
  note: Schema.String,
  vouched: Schema.optional(Schema.Array(Vouched))
})

/**
 * What is kept of a log: the newest checkpoint seen, and the packages its tree was proven to
 * include (a cache of earlier checks' answers: inclusion in that tree, with the consistency of
 * every later checkpoint, is inclusion in the later tree).
 * @since 0.1.0
 * @category models
 */
export interface StoredLog {
  readonly checkpoint: Checkpoint
  readonly vouched: ReadonlyArray<Vouched>
}

/**
 * The file that keeps the newest checkpoint seen of a log.
 * @since 0.1.0
 */
export const stateFile = (stateDir: string, origin: string): string =>
  Path.join(stateDir, `${origin.replace(/[^A-Za-z0-9._-]/g, "_")}.json`)

/**
 * What is kept of a log (its checkpoint verified again with the key): `undefined` when nothing is.
 * @since 0.1.0
 */
export const readStoredLog = (
  file: string,
  verifier: NoteVerifier
): Effect.Effect<StoredLog | undefined, string> =>
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
    // only entries of the stored tree count
    const vouched = (stored.vouched ?? []).filter((v) => v.index < opened.checkpoint.size)
    return { checkpoint: opened.checkpoint, vouched }
  })

/**
 * The stored checkpoint of a log (verified again with the key): `undefined` when none is stored.
 * @since 0.1.0
 */
export const readStored = (
  file: string,
  verifier: NoteVerifier
): Effect.Effect<Checkpoint | undefined, string> => Effect.map(readStoredLog(file, verifier), (s) => s?.checkpoint)

/**
 * Keeps a checkpoint as the newest seen of its log (temp file, fsync, rename; mode 0600), with the
 * packages proven included in its tree (none unless given: a checkpoint kept without its chain of
 * consistency checks carries no vouched packages over).
 * @since 0.1.0
 */
export const writeStored = (
  file: string,
  checkpoint: Checkpoint,
  note: string,
  vouched: ReadonlyArray<Vouched> = []
): Effect.Effect<void, string> =>
  Effect.tryPromise({
    try: async () => {
      await Fs.promises.mkdir(Path.dirname(file), { recursive: true, mode: 0o700 })
      const kept = vouched.length > MAX_VOUCHED ? vouched.slice(vouched.length - MAX_VOUCHED) : vouched
      const text = JSON.stringify({ origin: checkpoint.origin, size: checkpoint.size, note, vouched: kept })
      await writeFileAtomicWith(file, { temp: tempBeside(file), mode: 0o600 }, (handle) => handle.writeFile(text))
    },
    catch: (e) => `cannot keep the checkpoint in ${file}: ${String(e)}`
  })

/**
 * The request errors of a log request, as log errors: a "not found" means the log denies what the
 * registry's answers claim (a verification failure); anything else means it could not be read.
 */
const fromRequest = (
  registry: string,
  log: string,
  pkg: string
) =>
(e: PackageNotFound | RemoteError): LogVerificationFailed | LogUnavailable =>
  e._tag === "PackageNotFound"
    ? new LogVerificationFailed({
      registry,
      log,
      package: pkg,
      reason: "its log answered that the entry or tree size does not exist"
    })
    : new LogUnavailable({ registry, log, package: pkg, reason: e.message })

const unb64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"))

/**
 * Opens a registry's signed checkpoint and checks it against the stored one: the same key, a tree
 * that did not shrink, and a valid consistency proof from the stored size. Fails with the reason.
 * @since 0.1.0
 */
export const checkHead = (
  verifier: NoteVerifier,
  note: string,
  stored: Checkpoint | undefined,
  proof: { readonly oldSize: number | undefined; readonly hashes: ReadonlyArray<string> | undefined }
): Effect.Effect<Checkpoint, string> =>
  Effect.gen(function*() {
    const opened = openCheckpoint(note, verifier)
    if ("refused" in opened) {
      return yield* Effect.fail(`its checkpoint is not signed by the pinned key (${opened.refused})`)
    }
    const head = opened.checkpoint
    if (stored === undefined) return head
    if (head.size < stored.size) {
      return yield* Effect.fail(`the log shrank from ${stored.size} to ${head.size} entries (rolled back)`)
    }
    if (proof.oldSize !== stored.size || proof.hashes === undefined) {
      return yield* Effect.fail(`no consistency proof from the ${stored.size} entries seen before`)
    }
    if (!verifyConsistency(stored.size, head.size, stored.root, head.root, proof.hashes.map(unb64))) {
      return yield* Effect.fail(
        `the log of ${head.size} entries does not extend the ${stored.size} entries seen before (a fork: the registry ` +
          `rewrote its history)`
      )
    }
    return head
  })

/**
 * A package as its registry's log must record it: the publish of name@version at `index`, with
 * this SHA-256 and size.
 * @since 0.1.0
 * @category models
 */
export interface LoggedPackage {
  readonly name: string
  readonly version: string
  readonly sha256: string
  readonly size: number
  readonly index: number
}

/** Why the log entry does not vouch for the package, or `undefined` when it does. */
const entryProblem = (
  pkg: LoggedPackage,
  proof: { readonly index: number; readonly entry: LogEntry; readonly hashes: ReadonlyArray<string> },
  head: Checkpoint
): string | undefined => {
  const { entry, index } = proof
  if (index !== pkg.index || entry.index !== pkg.index) {
    return `the proof is for entry ${index}, not entry ${pkg.index}`
  }
  if (
    entry.operation !== "publish" || normalizeName(entry.name) !== normalizeName(pkg.name) ||
    entry.version !== pkg.version
  ) {
    return `log entry ${index} is '${entry.operation} ${entry.name}@${entry.version}', not its publish`
  }
  if (entry.sha256 !== pkg.sha256 || entry.size !== pkg.size) {
    return `the log recorded SHA-256 ${entry.sha256} (${entry.size} bytes) but the registry served ${pkg.sha256} ` +
      `(${pkg.size} bytes)`
  }
  if (!verifyInclusion(index, head.size, entryLeafHash(entry), proof.hashes.map(unb64), head.root)) {
    return `entry ${index} is not in the signed tree of ${head.size} entries`
  }
  return undefined
}

/** The stored record of a package, for {@link isVouched}. */
const vouchedOf = (pkg: LoggedPackage): Vouched => ({
  index: pkg.index,
  name: normalizeName(pkg.name),
  version: pkg.version,
  sha256: pkg.sha256,
  size: pkg.size
})

const vouchedKey = (v: Vouched) => `${v.index}\u0000${v.name}\u0000${v.version}\u0000${v.sha256}\u0000${v.size}`

/**
 * Keeps the head when it is newer than the stored checkpoint, with the packages just proven
 * included added to the stored ones (checked against the stored tree or one it extends, so they
 * stay included in the head).
 */
const keepNewer = (
  file: string,
  stored: StoredLog | undefined,
  head: Checkpoint,
  note: string,
  proven: ReadonlyArray<LoggedPackage>
) =>
  Effect.suspend(() => {
    const kept = stored?.vouched ?? []
    const known = new Set(kept.map(vouchedKey))
    const added = proven.map(vouchedOf).filter((v) => !known.has(vouchedKey(v)))
    return stored === undefined || head.size > stored.checkpoint.size ||
        !hashEquals(head.root, stored.checkpoint.root) || added.length > 0
      ? writeStored(file, head, note, [...kept, ...added])
      : Effect.void
  })

/**
 * The packages the stored log already vouched for (same index, name, version, SHA-256 and size):
 * the consistency of the new checkpoint with the stored one proves them included in it too.
 */
const isVouched = (stored: StoredLog | undefined) => {
  const known = new Set((stored?.vouched ?? []).map(vouchedKey))
  return (pkg: LoggedPackage) => known.has(vouchedKey(vouchedOf(pkg)))
}

/**
 * What one check needs: the registry's name, its pinned key, the package answer and what was
 * downloaded, where checkpoints are kept, and the request for the proof bundle.
 * @since 0.1.0
 * @category models
 */
export interface LogCheck {
  readonly registry: string
  readonly logKey: string
  readonly info: PackageInfo
  readonly sha256: string
  readonly size: number
  readonly stateDir: string
  readonly fetchProof: (
    index: number,
    old: number | undefined
  ) => Effect.Effect<InclusionProofResponse, PackageNotFound | RemoteError>
}

/**
 * Checks that the registry's log vouches for the downloaded package (see the module comment);
 * answers the entry's index and the tree size it was proven in.
 * @since 0.1.0
 */
export const verifyLogged = (
  check: LogCheck
): Effect.Effect<
  { readonly index: number; readonly treeSize: number },
  LogVerificationFailed | LogUnavailable
> =>
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
    const stored = yield* readStoredLog(file, verifier).pipe(Effect.mapError(fail))
    const proof = yield* check.fetchProof(index, stored?.checkpoint.size).pipe(
      Effect.mapError(fromRequest(check.registry, verifier.name, pkg))
    )
    const note = proof.checkpoint ?? ""
    const head = yield* checkHead(verifier, note, stored?.checkpoint, {
      oldSize: proof.old_size,
      hashes: proof.consistency
    }).pipe(Effect.mapError(fail))
    if (proof.tree_size !== head.size) {
      return yield* fail(`the proof is for a tree of ${proof.tree_size} entries, not the signed ${head.size}`)
    }
    const logged: LoggedPackage = { ...check, ...check.info, index }
    const problem = entryProblem(logged, proof, head)
    if (problem !== undefined) return yield* fail(problem)
    yield* keepNewer(file, stored, head, note, [logged]).pipe(Effect.mapError(fail))
    return { index, treeSize: head.size }
  })

/**
 * What a batch check needs: the registry, its pinned key, the packages (each with its log index),
 * where checkpoints are kept, and the request for proofs of several entries.
 * @since 0.1.0
 * @category models
 */
export interface LogBatchCheck {
  readonly registry: string
  readonly logKey: string
  readonly packages: ReadonlyArray<LoggedPackage>
  readonly stateDir: string
  readonly fetchProofs: (
    indexes: ReadonlyArray<number>,
    old: number | undefined,
    size: number | undefined
  ) => Effect.Effect<InclusionProofsResponse, PackageNotFound | RemoteError>
}

/**
 * Checks that the registry's log vouches for every package of a project install, as
 * {@link verifyLogged} does for one: the first request brings the signed checkpoint, the
 * consistency proof from the stored checkpoint and up to 256 inclusion proofs; more packages take
 * one request per 256 more, in the same (fixed-size, cacheable) tree. A package the stored log
 * already vouched for needs no inclusion proof (the consistency proof carries it into the new
 * tree), so an install of what was installed before asks for the checkpoint and the consistency
 * proof alone. Answers the tree size.
 * @since 0.1.0
 */
export const verifyLoggedMany = (
  check: LogBatchCheck
): Effect.Effect<{ readonly treeSize: number }, LogVerificationFailed | LogUnavailable> =>
  Effect.gen(function*() {
    const first = check.packages[0]
    const label = first === undefined
      ? "nothing"
      : check.packages.length === 1
      ? `${first.name}@${first.version}`
      : `${first.name}@${first.version} and ${check.packages.length - 1} more`
    const verifier = parseVerifier(check.logKey)
    const failed = (log: string, pkg: string) => (reason: string) =>
      new LogVerificationFailed({ registry: check.registry, log, package: pkg, reason })
    if (verifier === undefined) return yield* failed("(unknown)", label)("the pinned log key is not a valid key")
    const fail = failed(verifier.name, label)
    const request = fromRequest(check.registry, verifier.name, label)
    const file = stateFile(check.stateDir, verifier.name)
    const stored = yield* readStoredLog(file, verifier).pipe(Effect.mapError(fail))
    const known = isVouched(stored)
    const unproven = check.packages.filter((p) => !known(p))
    const chunks: Array<ReadonlyArray<LoggedPackage>> = []
    for (let i = 0; i < unproven.length; i += MAX_PROOFS) chunks.push(unproven.slice(i, i + MAX_PROOFS))
    const answer = yield* check.fetchProofs(
      (chunks[0] ?? []).map((p) => p.index),
      stored?.checkpoint.size,
      undefined
    ).pipe(Effect.mapError(request))
    const note = answer.checkpoint ?? ""
    const head = yield* checkHead(verifier, note, stored?.checkpoint, {
      oldSize: answer.old_size,
      hashes: answer.consistency
    }).pipe(Effect.mapError(fail))
    let reply: { readonly tree_size: number; readonly proofs: ReadonlyArray<EntryProof> } = answer
    for (const [i, chunk] of chunks.entries()) {
      if (i > 0) {
        reply = yield* check.fetchProofs(chunk.map((p) => p.index), undefined, head.size).pipe(
          Effect.mapError(request)
        )
      }
      if (reply.tree_size !== head.size) {
        return yield* fail(`the proofs are for a tree of ${reply.tree_size} entries, not the signed ${head.size}`)
      }
      const proofs = reply.proofs
      for (const [j, pkg] of chunk.entries()) {
        const proof = proofs[j]
        const problem = proof === undefined
          ? `no proof of entry ${pkg.index}`
          : entryProblem(pkg, proof, head)
        if (problem !== undefined) {
          return yield* failed(verifier.name, `${pkg.name}@${pkg.version}`)(problem)
        }
      }
    }
    yield* keepNewer(file, stored, head, note, unproven).pipe(Effect.mapError(fail))
    return { treeSize: head.size }
  })
