/**
 * `fm registry verify NAME`: an audit of a registry's whole publish log, not just the entries of
 * the packages installed. It fetches the registry's signed checkpoint (signed by the pinned key),
 * checks it against the checkpoint this machine saw last (no rollback; a valid consistency proof),
 * reads every entry in pages of at most 1000, recomputes the Merkle root from them and compares
 * it with the signed one, and checks that the entries make sense together: valid names and
 * versions, no name@version published twice with other bytes, no yank, unyank or delete of a
 * version that was never published (or already deleted), and each such entry naming the bytes
 * that were published. Then the new checkpoint is kept as the newest seen.
 * @since 0.1.0
 */
import { Data, Effect } from "effect"
import { isPackageName, normalizeName } from "../domain/PackageName.js"
import { isVersion } from "../domain/Version.js"
import type { Checkpoint } from "../shared/log/Checkpoint.js"
import { openCheckpoint } from "../shared/log/Checkpoint.js"
import type { LogEntry } from "../shared/log/LogEntry.js"
import { entryLeafHash } from "../shared/log/LogEntry.js"
import { hashEquals, MerkleTree } from "../shared/log/Merkle.js"
import { parseVerifier } from "../shared/log/SignedNote.js"
import { checkHead, readStored, stateFile, writeStored } from "./LogVerifier.js"
import type { RemoteRegistry } from "./RemoteRegistry.js"

/**
 * A registry's log failed the audit (or could not be read for it). Names the registry and the log.
 * @since 0.1.0
 * @category errors
 */
export class LogAuditFailed extends Data.TaggedError("LogAuditFailed")<{
  readonly registry: string
  readonly log: string
  readonly reason: string
}> {
  /** Names the registry, its log and what failed. */
  override get message(): string {
    return `registry ${this.registry}: its log ${this.log} failed the audit: ${this.reason}`
  }
  /** What to do. */
  get hint(): string {
    return `the registry may have been tampered with, rolled back or forked; ask its operator, and compare its key ` +
      `with \`fm studio log-key\` on the registry's host`
  }
}

/**
 * The entries one page of `log/entries` brings (the server's limit).
 * @since 0.1.0
 */
export const AUDIT_PAGE = 1000

/**
 * The largest log an audit reads (its leaf hashes are kept in memory: about 100 MiB).
 * @since 0.1.0
 */
export const MAX_AUDIT_ENTRIES = 1_000_000

/**
 * What an audit found.
 * @since 0.1.0
 * @category models
 */
export interface AuditReport {
  readonly registry: string
  readonly log: string
  /** The size of the signed tree audited. */
  readonly size: number
  /** The size of the checkpoint seen before (`null`: none; this audit trusted the log on first use). */
  readonly previousSize: number | null
  /** The base64 root hash of the signed tree. */
  readonly root: string
  /** Entries of each operation. */
  readonly operations: Readonly<Record<LogEntry["operation"], number>>
}

/**
 * What an audit needs: the registry's name and client, its pinned key and where checkpoints are
 * kept.
 * @since 0.1.0
 * @category models
 */
export interface AuditTarget {
  readonly registry: string
  readonly logKey: string
  readonly stateDir: string
  readonly source: Pick<RemoteRegistry, "logCheckpoint" | "logEntries" | "logConsistency">
}

interface Seen {
  readonly index: number
  readonly sha256: string
  readonly size: number
  deleted: boolean
}

/**
 * Replays the entries in order; the first thing that does not make sense, or `undefined`.
 * @since 0.1.0
 */
export const entryChecker = () => {
  const seen = new Map<string, Seen>()
  return (entry: LogEntry): string | undefined => {
    const at = `entry ${entry.index} (${entry.operation} ${entry.name}@${entry.version})`
    if (!isPackageName(entry.name)) return `${at}: '${entry.name}' is not a valid package name`
    if (!isVersion(entry.version)) return `${at}: '${entry.version}' is not a valid version`
    if (Number.isNaN(Date.parse(entry.time))) return `${at}: its time '${entry.time}' is not a date`
    const key = `${normalizeName(entry.name)}@${entry.version}`
    const before = seen.get(key)
    if (entry.operation === "publish") {
      if (before !== undefined && before.sha256 !== entry.sha256) {
        return `${at}: ${key} was published before (entry ${before.index}) with other bytes: SHA-256 ${before.sha256}, ` +
          `now ${entry.sha256}`
      }
      if (before !== undefined && !before.deleted) {
        return `${at}: ${key} was published before (entry ${before.index}) and never deleted`
      }
      seen.set(key, { index: entry.index, sha256: entry.sha256, size: entry.size, deleted: false })
      return undefined
    }
    if (before === undefined) return `${at}: ${key} was never published`
    if (before.deleted) return `${at}: ${key} was deleted before`
    if (before.sha256 !== entry.sha256 || before.size !== entry.size) {
      return `${at}: it names SHA-256 ${entry.sha256} (${entry.size} bytes), but entry ${before.index} published ` +
        `${before.sha256} (${before.size} bytes)`
    }
    if (entry.operation === "delete") before.deleted = true
    return undefined
  }
}

const b64 = (h: Uint8Array) => Buffer.from(h).toString("base64")

/**
 * Audits a registry's whole log (see the module comment) and keeps its checkpoint.
 * @since 0.1.0
 */
export const auditLog = (target: AuditTarget): Effect.Effect<AuditReport, LogAuditFailed> =>
  Effect.gen(function*() {
    const verifier = parseVerifier(target.logKey)
    const failed = (log: string) => (reason: string) => new LogAuditFailed({ registry: target.registry, log, reason })
    if (verifier === undefined) return yield* failed("(unknown)")("the pinned log key is not a valid key")
    const fail = failed(verifier.name)
    const unreadable = (what: string) => (e: { readonly message: string }) =>
      fail(`its ${what} could not be read (${e.message})`)
    const file = stateFile(target.stateDir, verifier.name)
    const stored: Checkpoint | undefined = yield* readStored(file, verifier).pipe(Effect.mapError(fail))
    const note = yield* target.source.logCheckpoint.pipe(Effect.mapError(unreadable("checkpoint")))
    const opened = openCheckpoint(note, verifier)
    if ("refused" in opened) return yield* fail(`its checkpoint is not signed by the pinned key (${opened.refused})`)
    const claimed = opened.checkpoint
    let proof: { readonly oldSize: number | undefined; readonly hashes: ReadonlyArray<string> | undefined } = {
      oldSize: undefined,
      hashes: undefined
    }
    if (stored !== undefined && stored.size <= claimed.size) {
      const answer = yield* target.source.logConsistency(stored.size, claimed.size).pipe(
        Effect.mapError(unreadable("consistency proof"))
      )
      if (answer.new_size !== claimed.size) {
        return yield* fail(`its consistency proof is for ${answer.new_size} entries, not the signed ${claimed.size}`)
      }
      proof = { oldSize: answer.old_size, hashes: answer.hashes }
    }
    const head = yield* checkHead(verifier, note, stored, proof).pipe(Effect.mapError(fail))
    if (head.size > MAX_AUDIT_ENTRIES) {
      return yield* fail(`its log has ${head.size} entries, more than the ${MAX_AUDIT_ENTRIES} an audit reads`)
    }
    const tree = new MerkleTree()
    const check = entryChecker()
    const operations = { publish: 0, yank: 0, unyank: 0, delete: 0 }
    while (tree.size < head.size) {
      const start = tree.size
      const end = Math.min(head.size, start + AUDIT_PAGE)
      const page = yield* target.source.logEntries(start, end).pipe(
        Effect.mapError(unreadable(`entries ${start}..${end}`))
      )
      if (page.entries.length !== end - start) {
        return yield* fail(`it answered ${page.entries.length} entries for ${start}..${end} of a signed ${head.size}`)
      }
      for (const entry of page.entries) {
        if (entry.index !== tree.size) return yield* fail(`it answered entry ${entry.index} in place of ${tree.size}`)
        const problem = check(entry)
        if (problem !== undefined) return yield* fail(problem)
        operations[entry.operation] += 1
        tree.append(entryLeafHash(entry))
      }
    }
    if (!hashEquals(tree.root(head.size), head.root)) {
      return yield* fail(`the root of its ${head.size} entries is not the root its checkpoint signs`)
    }
    if (stored !== undefined && !hashEquals(tree.root(stored.size), stored.root)) {
      return yield* fail(`its first ${stored.size} entries are not the ${stored.size} entries seen before (a fork)`)
    }
    yield* writeStored(file, head, note).pipe(Effect.mapError(fail))
    return {
      registry: target.registry,
      log: verifier.name,
      size: head.size,
      previousSize: stored?.size ?? null,
      root: b64(head.root),
      operations
    } satisfies AuditReport
  })
