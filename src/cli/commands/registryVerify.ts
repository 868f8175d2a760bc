/**
 * `fm registry verify [NAME] [--gossip] [--checkpoint FILE]...`: audits a registry's whole publish
 * log (see `client/LogAudit.ts`) and/or compares the checkpoints of every registry the user has
 * (see `client/LogGossip.ts`). Exit 0 when everything agrees, 1 (with an error naming the registry
 * and the log) when not.
 * @since 0.1.0
 */
import { Args, Command, Options } from "@effect/cli"
import * as FileSystem from "@effect/platform/FileSystem"
import { Console, Effect, Option } from "effect"
import { ClientServicesLive } from "../../client/ClientLayers.js"
import { auditLog, LogAuditFailed } from "../../client/LogAudit.js"
import type { GossipRegistry } from "../../client/LogGossip.js"
import { gossip } from "../../client/LogGossip.js"
import { Registries } from "../../client/Registries.js"
import { RegistryConfig } from "../../client/RegistryConfig.js"
import { terminalLine } from "../../shared/TerminalText.js"
import { HttpClientLive } from "../HttpClientLayer.js"
import { json, printJson, UsageError } from "../Output.js"

/** A checkpoint file is one signed note: small. */
const MAX_CHECKPOINT_FILE = 64 * 1024

const readCheckpointFile = (file: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const unreadable = (reason: string) => new LogAuditFailed({ registry: `(file ${file})`, log: "(unknown)", reason })
    const info = yield* fs.stat(file).pipe(Effect.mapError((e) => unreadable(`cannot be read (${e.message})`)))
    if (Number(info.size) > MAX_CHECKPOINT_FILE) {
      return yield* unreadable(`is ${Number(info.size)} bytes, larger than a checkpoint (${MAX_CHECKPOINT_FILE})`)
    }
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError((e) => unreadable(`cannot be read (${e.message})`))
    )
    return [file, text] as const
  })

/**
 * `fm registry verify`.
 * @since 0.1.0
 * @category commands
 */
export const verifyCommand = Command.make(
  "verify",
  {
    name: Args.text({ name: "name" }).pipe(
      Args.withDescription("The registry whose whole log to audit"),
      Args.optional
    ),
    gossip: Options.boolean("gossip").pipe(
      Options.withDescription(
        "Compare the checkpoints of every enabled registry, the ones this machine kept and --checkpoint files: " +
          "one log must show one history"
      )
    ),
    checkpoint: Options.file("checkpoint", { exists: "yes" }).pipe(
      Options.withDescription(
        "With --gossip: a checkpoint file to compare too (a server's --log-witness-file, or one a colleague sent)"
      ),
      Options.repeated
    ),
    json
  },
  (args) =>
    Effect.gen(function*() {
      const registries = yield* Registries
      const name = Option.getOrUndefined(args.name)
      if (name === undefined && !args.gossip) {
        return yield* new UsageError({
          reason: "give the registry to audit, or --gossip to compare every registry's checkpoints",
          hint: "fm registry verify company, or fm registry verify --gossip"
        })
      }
      if (args.checkpoint.length > 0 && !args.gossip) {
        return yield* new UsageError({ reason: "--checkpoint only makes sense with --gossip" })
      }
      const out: Record<string, unknown> = {}
      const targetOf = (registry: string) =>
        registries.logTarget(registry).pipe(
          Effect.catchTag("LogUnavailable", (e) =>
            new LogAuditFailed({
              registry: e.registry,
              log: e.log,
              reason: `its log key could not be read (${e.reason})`
            }))
        )
      if (name !== undefined) {
        const target = yield* targetOf(name)
        if (target.logKey === undefined) {
          return yield* new LogAuditFailed({
            registry: name,
            log: "(none)",
            reason: "it publishes no log (an original FlowMason server, or an older fm): there is nothing to audit"
          })
        }
        const report = yield* auditLog({
          registry: name,
          logKey: target.logKey,
          stateDir: target.stateDir,
          source: target.source
        })
        out.audit = {
          registry: report.registry,
          log: report.log,
          size: report.size,
          previous_size: report.previousSize,
          root: report.root,
          operations: report.operations
        }
        if (!args.json) {
          const since = report.previousSize === null
            ? "no checkpoint was kept before: trusted on first use from now on"
            : `consistent with the ${report.previousSize} entries seen before`
          const ops = Object.entries(report.operations).map(([op, n]) => `${n} ${op}`).join(", ")
          yield* Console.log(
            `Registry ${terminalLine(name)}: log ${report.log} verified: ${report.size} entries (${ops}); ${since}.`
          )
          yield* Console.log(`  root ${report.root} (kept as the newest checkpoint seen)`)
        }
      }
      if (args.gossip) {
        const config = yield* RegistryConfig
        const enabled = (yield* config.list).filter((e) => e.enabled)
        const targets: Array<GossipRegistry> = []
        const skipped: Array<string> = []
        const unavailable: Array<string> = []
        for (const entry of enabled) {
          // a registry that cannot be reached now is left out (and said so), not a failure of the others
          const target = yield* registries.logTarget(entry.name).pipe(
            Effect.catchTag("LogUnavailable", () => Effect.succeed(undefined))
          )
          if (target === undefined) unavailable.push(entry.name)
          else if (target.logKey === undefined) skipped.push(entry.name)
          else targets.push({ registry: entry.name, logKey: target.logKey, source: target.source })
        }
        const files = yield* Effect.forEach(args.checkpoint, readCheckpointFile)
        const report = yield* gossip({ registries: targets, files, stateDir: registries.logStateDir })
        out.gossip = {
          checkpoints: report.checkpoints,
          comparisons: report.comparisons,
          without_log: skipped,
          unavailable
        }
        if (!args.json) {
          for (const c of report.checkpoints) {
            yield* Console.log(`  ${terminalLine(c.from)}: log ${c.log}, ${c.size} entries, root ${c.root}`)
          }
          for (const s of skipped) yield* Console.log(`  registry ${terminalLine(s)}: publishes no log (not compared)`)
          for (const s of unavailable) yield* Console.log(`  registry ${terminalLine(s)}: unavailable (not compared)`)
          yield* Console.log(
            `Gossip: ${report.checkpoints.length} checkpoints, ${report.comparisons} comparisons of one log: they agree.`
          )
        }
      }
      if (args.json) yield* printJson({ ok: true, ...out })
    })
).pipe(
  Command.withDescription(
    "Audit a registry's publish log, or compare logs across registries. NAME: every entry since the start is " +
      "read, the root recomputed and compared with the signed checkpoint, which must extend the one kept here. " +
      "--gossip: one log must show one history in every registry, kept checkpoint and --checkpoint file."
  ),
  Command.provide(ClientServicesLive),
  Command.provide(HttpClientLive)
)
