/**
 * `fm registry verify --gossip`: witnessing. A registry that shows different, each self-consistent
 * logs to different users (a split view) passes every check one client can make alone; it is
 * caught by comparing checkpoints. This compares the signed checkpoints of every registry the user
 * has (mirrors and replicas of one log at other URLs), the checkpoints this machine kept, and
 * checkpoint files given on the command line (such as a server's `--log-witness-file`, or a file a
 * colleague sent): two checkpoints of one log (one origin, so one key) of the same size must have
 * the same root, and a smaller one must be consistent with a larger one (a consistency proof, from
 * any registry serving that log).
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Checkpoint } from "../shared/log/Checkpoint.js"
import { openCheckpoint } from "../shared/log/Checkpoint.js"
import { hashEquals, verifyConsistency } from "../shared/log/Merkle.js"
import type { NoteVerifier } from "../shared/log/SignedNote.js"
import { parseVerifier } from "../shared/log/SignedNote.js"
import { LogAuditFailed } from "./LogAudit.js"
import { checkHead, readStored, stateFile, writeStored } from "./LogVerifier.js"
import type { RemoteRegistry } from "./RemoteRegistry.js"

/**
 * A registry to gossip with: its name, client and pinned log key.
 * @since 0.1.0
 * @category models
 */
export interface GossipRegistry {
  readonly registry: string
  readonly logKey: string
  readonly source: Pick<RemoteRegistry, "logCheckpoint" | "logConsistency">
}

/**
 * A checkpoint that was compared: where it came from (`registry NAME`, `stored`, `file PATH`).
 * @since 0.1.0
 * @category models
 */
export interface Witnessed {
  readonly from: string
  readonly log: string
  readonly size: number
  readonly root: string
}

/**
 * What the gossip compared.
 * @since 0.1.0
 * @category models
 */
export interface GossipReport {
  readonly checkpoints: ReadonlyArray<Witnessed>
  /** Pairs of checkpoints of one log that were compared. */
  readonly comparisons: number
}

interface View {
  readonly from: string
  readonly checkpoint: Checkpoint
  readonly note: string
  readonly source?: GossipRegistry | undefined
}

const unb64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"))
const b64 = (h: Uint8Array) => Buffer.from(h).toString("base64")

/**
 * Compares the checkpoints (see the module comment); fails on the first disagreement, naming
 * both sides. `files` are checkpoint notes already read: `[path, text]`.
 * @since 0.1.0
 */
export const gossip = (options: {
  readonly registries: ReadonlyArray<GossipRegistry>
  readonly files: ReadonlyArray<readonly [string, string]>
  readonly stateDir: string
}): Effect.Effect<GossipReport, LogAuditFailed> =>
  Effect.gen(function*() {
    const verifiers = new Map<string, NoteVerifier>()
    const views: Array<View> = []
    for (const r of options.registries) {
      const verifier = parseVerifier(r.logKey)
      const fail = (reason: string) =>
        new LogAuditFailed({ registry: r.registry, log: verifier?.name ?? "(unknown)", reason })
      if (verifier === undefined) return yield* fail("the pinned log key is not a valid key")
      verifiers.set(verifier.name, verifier)
      const note = yield* r.source.logCheckpoint.pipe(
        Effect.mapError((e) => fail(`its checkpoint could not be read (${e.message})`))
      )
      const stored = yield* readStored(stateFile(options.stateDir, verifier.name), verifier).pipe(Effect.mapError(fail))
      const opened = openCheckpoint(note, verifier)
      if ("refused" in opened) return yield* fail(`its checkpoint is not signed by the pinned key (${opened.refused})`)
      let proof: { oldSize: number | undefined; hashes: ReadonlyArray<string> | undefined } = {
        oldSize: undefined,
        hashes: undefined
      }
      if (stored !== undefined && stored.size <= opened.checkpoint.size) {
        const answer = yield* r.source.logConsistency(stored.size, opened.checkpoint.size).pipe(
          Effect.mapError((e) => fail(`its consistency proof could not be read (${e.message})`))
        )
        proof = { oldSize: answer.old_size, hashes: answer.hashes }
      }
      const head = yield* checkHead(verifier, note, stored, proof).pipe(Effect.mapError(fail))
      views.push({ from: `registry ${r.registry}`, checkpoint: head, note, source: r })
    }
    for (const verifier of verifiers.values()) {
      const file = stateFile(options.stateDir, verifier.name)
      const stored = yield* readStored(file, verifier).pipe(
        Effect.mapError((reason) => new LogAuditFailed({ registry: "(this machine)", log: verifier.name, reason }))
      )
      if (stored !== undefined) views.push({ from: `the checkpoint kept in ${file}`, checkpoint: stored, note: "" })
    }
    for (const [path, text] of options.files) {
      const origin = text.split("\n", 1)[0] ?? ""
      const verifier = verifiers.get(origin)
      const fail = (reason: string) => new LogAuditFailed({ registry: `(file ${path})`, log: origin, reason })
      if (verifier === undefined) {
        return yield* fail("no registry you have serves this log, so its key is unknown")
      }
      const opened = openCheckpoint(text, verifier)
      if ("refused" in opened) return yield* fail(`it is not a checkpoint signed by the log's key (${opened.refused})`)
      views.push({ from: `file ${path}`, checkpoint: opened.checkpoint, note: text })
    }
    let comparisons = 0
    for (const [i, a] of views.entries()) {
      for (const b of views.slice(i + 1)) {
        if (a.checkpoint.origin !== b.checkpoint.origin) continue
        comparisons += 1
        const [small, large] = a.checkpoint.size <= b.checkpoint.size ? [a, b] : [b, a]
        const log = a.checkpoint.origin
        const fail = (reason: string) =>
          new LogAuditFailed({ registry: large.source?.registry ?? small.source?.registry ?? large.from, log, reason })
        if (small.checkpoint.size === large.checkpoint.size) {
          if (!hashEquals(small.checkpoint.root, large.checkpoint.root)) {
            return yield* fail(
              `${small.from} and ${large.from} show ${small.checkpoint.size} entries with different roots (a split ` +
                `view: the log shows different histories to different users)`
            )
          }
          continue
        }
        if (small.checkpoint.size === 0) continue
        // any registry serving this log can prove it: the proof is checked against both signed roots
        const prover = views.find((v) =>
          v.source !== undefined && v.checkpoint.origin === log &&
          v.checkpoint.size >= large.checkpoint.size
        )?.source
        if (prover === undefined) {
          // every registry serving this log shows fewer entries than were witnessed
          return yield* fail(
            `${large.from} has ${large.checkpoint.size} entries, more than any registry serving the log shows ` +
              `now (rolled back)`
          )
        }
        const answer = yield* prover.source.logConsistency(small.checkpoint.size, large.checkpoint.size).pipe(
          Effect.mapError((e) =>
            fail(`a consistency proof could not be read from registry ${prover.registry} (${e.message})`)
          )
        )
        const ok = answer.old_size === small.checkpoint.size && answer.new_size === large.checkpoint.size &&
          verifyConsistency(
            small.checkpoint.size,
            large.checkpoint.size,
            small.checkpoint.root,
            large.checkpoint.root,
            answer.hashes.map(unb64)
          )
        if (!ok) {
          return yield* fail(
            `${large.from} (${large.checkpoint.size} entries) does not extend ${small.from} ` +
              `(${small.checkpoint.size} entries): a fork or a split view`
          )
        }
      }
    }
    // every view agrees: keep the largest of each log as the newest seen
    for (const verifier of verifiers.values()) {
      const largest = views.filter((v) => v.checkpoint.origin === verifier.name && v.note !== "")
        .sort((x, y) => y.checkpoint.size - x.checkpoint.size)[0]
      if (largest === undefined) continue
      const file = stateFile(options.stateDir, verifier.name)
      const stored = yield* readStored(file, verifier).pipe(Effect.orElseSucceed(() => undefined))
      if (stored === undefined || largest.checkpoint.size > stored.size) {
        yield* writeStored(file, largest.checkpoint, largest.note).pipe(
          Effect.mapError((reason) => new LogAuditFailed({ registry: "(this machine)", log: verifier.name, reason }))
        )
      }
    }
    return {
      checkpoints: views.map((v) => ({
        from: v.from,
        log: v.checkpoint.origin,
        size: v.checkpoint.size,
        root: b64(v.checkpoint.root)
      })),
      comparisons
    }
  })
