/**
 * The body of the `fm` executable (the entry of the command-tree bundle `bin.ts` runs once it is
 * not a bare `--version`; imported directly when run from source): runs the command tree with
 * Node's file system and the FlowMason home, prints failures as `error: ...` (and `hint: ...`) on
 * stderr, and exits with 0 (success), 1 (failure) or 2 (usage error).
 *
 * Imports are static and by module (never a package barrel through `import()`), so the bundler
 * keeps only what is used; each command loads its own implementation (see `Cli.ts`).
 * @since 0.1.0
 */
import { CliConfig, ValidationError } from "@effect/cli"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Cause, Console, Effect, Exit, FiberRef, HashSet, Layer, Logger } from "effect"
import { FlowmasonHome } from "../shared/FlowmasonHome.js"
import { terminalBlock, terminalLine } from "../shared/TerminalText.js"
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

/** The `hint` an error carries, if any. */
const hintOf = (e: unknown): string | undefined => {
  if (typeof e === "object" && e !== null && "hint" in e) {
    const hint = (e as { hint?: unknown }).hint
    if (typeof hint === "string" && hint !== "") return hint
  }
  return undefined
}

const tagOf = (e: unknown): unknown => (typeof e === "object" && e !== null ? (e as { _tag?: unknown })._tag : undefined)

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

/**
 * Ends the process once the command is over (its scopes are closed by then). NodeRuntime leaves a
 * successful run to Node's own wind-down, which took a further 15 to 25 ms of every short command;
 * `process.exit` skips that, but only when stdout and stderr have nothing left to write (pipes
 * are asynchronous on some platforms, and output must never be cut short). Otherwise it is left
 * to `onExit`, as before.
 */
const exitNow = (code: number, onExit: (code: number) => void): void => {
  if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) {
    process.exit(code)
  }
  onExit(code)
}

/**
 * Runs `fm` on a full `process.argv` (node and script path first) and exits the process.
 * @since 0.1.0
 */
export const main = async (argv: ReadonlyArray<string>): Promise<void> => {

  /** Prints a failure and gives the exit code for it. */
  const report = (e: unknown) => {
    if (ValidationError.isValidationError(e)) {
      // @effect/cli has already printed what was wrong (and --help was handled): a usage error
      return Effect.succeed(ValidationError.isHelpRequested(e) ? 0 : 2)
    }
    if (tagOf(e) === "QuitException") return Effect.as(Console.error("Cancelled."), 130)
    const hint = hintOf(e)
    // messages quote registries and archives: printed as text, never as escape codes
    return Console.error(`error: ${terminalBlock(messageOf(e))}`).pipe(
      Effect.zipRight(hint === undefined ? Effect.void : Console.error(`hint: ${terminalLine(hint)}`)),
      Effect.as(tagOf(e) === "UsageError" ? 2 : 1)
    )
  }

  const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== ""
  const outTty = process.stdout.isTTY === true && !noColor
  const errTty = process.stderr.isTTY === true && !noColor

  /** Log lines go to stderr (stdout is for results and --json), as `warning: ...` etc. */
  const stderrLogger = Logger.make(({ logLevel, message }) => {
    const text = (Array.isArray(message) ? message : [message])
      .map((m) => (typeof m === "string" ? m : JSON.stringify(m)))
      .join(" ")
    const label = logLevel._tag === "Warning" ? "warning" : logLevel.label.toLowerCase()
    process.stderr.write(`${label}: ${terminalBlock(text)}\n`)
  })

  // what @effect/cli and the commands need of the platform (not all of NodeContext: no
  // CommandExecutor, no WorkerManager), built once for every command (see commands/registry.ts)
  const MainLayer = Layer.mergeAll(
    NodeFileSystem.layer,
    NodePath.layer,
    NodeTerminal.layer,
    FlowmasonHome.Default,
    CliConfig.layer({ showBuiltIns: false })
  )

  run(argv).pipe(
    (self) => Console.consoleWith((c) => Console.withConsole(self, plainConsole(c, outTty, errTty))),
    Effect.as(0),
    Effect.catchAll(report),
    Effect.catchAllDefect((defect) =>
      Effect.as(Console.error(`error: internal error (a bug in fm): ${terminalBlock(Cause.pretty(Cause.die(defect)))}`), 1)
    ),
    Effect.provide(MainLayer),
    // in place of the default logger (what `Logger.replace` does, without a layer and its scope)
    Effect.locallyWith(FiberRef.currentLoggers, (loggers) =>
      HashSet.add(HashSet.remove(loggers, Logger.defaultLogger), stderrLogger)),
    NodeRuntime.runMain({
      disableErrorReporting: true,
      // Ctrl-C interrupts the command (its finalizers clear the progress line and remove temp files): 130
      teardown: (exit, onExit) =>
        exitNow(
          Exit.isSuccess(exit) && typeof exit.value === "number" ? exit.value : Exit.isInterrupted(exit) ? 130 : 1,
          onExit
        )
    })
  )
}

