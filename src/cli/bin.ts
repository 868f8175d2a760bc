#!/usr/bin/env node
/**
 * The `fm` executable: runs the command tree with Node's file system, HTTP client and the
 * FlowMason home, prints failures as `error: ...` (and `hint: ...`) on stderr, and exits with
 * 0 (success), 1 (failure) or 2 (usage error).
 * @since 0.1.0
 */
import { CliConfig, ValidationError } from "@effect/cli"
import { NodeContext, NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect, Exit, Layer, Logger } from "effect"
import { FlowmasonHome } from "../shared/FlowmasonHome.js"
import { run } from "./Cli.js"

/** The text after `error:` for any failure value. */
const messageOf = (e: unknown): string => {
  if (e instanceof Error && e.message !== "") return e.message
  if (typeof e === "object" && e !== null) {
    const tag = (e as { _tag?: unknown })._tag
    const msg = (e as { message?: unknown }).message
    if (typeof msg === "string" && msg !== "") return msg
    if (typeof tag === "string") return tag
  }
  return String(e)
}

const hintOf = (e: unknown): string | undefined => {
  if (typeof e === "object" && e !== null && "hint" in e) {
    const hint = (e as { hint?: unknown }).hint
    if (typeof hint === "string" && hint !== "") return hint
  }
  return undefined
}

/** Prints a failure and gives the exit code for it. */
const report = (e: unknown): Effect.Effect<number> => {
  if (ValidationError.isValidationError(e)) {
    // @effect/cli has already printed what was wrong (and --help was handled); usage error
    return Effect.succeed(ValidationError.isHelpRequested(e) ? 0 : 2)
  }
  if (typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "QuitException") {
    return Effect.as(Console.error("Cancelled."), 130)
  }
  const hint = hintOf(e)
  const usage = typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "UsageError"
  return Effect.zipRight(
    Effect.zipRight(
      Console.error(`error: ${messageOf(e)}`),
      hint === undefined ? Effect.void : Console.error(`hint: ${hint}`)
    ),
    Effect.succeed(usage ? 2 : 1)
  )
}

const argv = process.argv.length <= 2 ? [...process.argv, "--help"] : process.argv

const ANSI = /\u001b\[[0-9;]*m/g
const strip = (args: ReadonlyArray<unknown>) => args.map((a) => (typeof a === "string" ? a.replace(ANSI, "") : a))

/** @effect/cli colours its help and messages unconditionally: drop the colours off a terminal. */
const plainConsole = (c: Console.Console, outTty: boolean, errTty: boolean): Console.Console => ({
  ...c,
  log: (...args) => c.log(...(outTty ? args : strip(args))),
  error: (...args) => c.error(...(errTty ? args : strip(args))),
  unsafe: {
    ...c.unsafe,
    log: (...args) => c.unsafe.log(...(outTty ? args : strip(args))),
    error: (...args) => c.unsafe.error(...(errTty ? args : strip(args)))
  }
})

const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== ""
const withPlainConsole = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Console.consoleWith((c) =>
    Console.withConsole(
      self,
      plainConsole(c, process.stdout.isTTY === true && !noColor, process.stderr.isTTY === true && !noColor)
    )
  )

/** Log lines go to stderr (stdout is for results and --json), as `warning: ...` etc. */
const StderrLogger = Logger.replace(
  Logger.defaultLogger,
  Logger.make(({ logLevel, message }) => {
    const text = (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : JSON.stringify(m)))
      .join(" ")
    const label = logLevel._tag === "Warning" ? "warning" : logLevel.label.toLowerCase()
    process.stderr.write(`${label}: ${text}\n`)
  })
)

const MainLayer = Layer.mergeAll(
  NodeContext.layer,
  NodeHttpClient.layerUndici,
  FlowmasonHome.Default,
  StderrLogger,
  CliConfig.layer({ showBuiltIns: false })
)

run(argv).pipe(
  withPlainConsole,
  Effect.as(0),
  Effect.catchAll(report),
  Effect.catchAllDefect((defect) =>
    Effect.as(Console.error(`error: internal error (a bug in fm): ${Cause.pretty(Cause.die(defect))}`), 1)
  ),
  Effect.provide(MainLayer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) && typeof exit.value === "number" ? exit.value : 1)
  })
)
