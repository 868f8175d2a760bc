/**
 * The body of the `fm` executable (the entry of the command-tree bundle `bin.ts` runs once it is
 * not a bare `--version`; imported directly when run from source): runs the command tree with
 * Node's file system and the FlowMason home, prints failures in one voice (`ErrorVoice.ts`:
 * `error: ...` and `hint: ...` on stderr, or a JSON object with `--json`), and exits with 0
 * (success), 1 (failure), 2 (usage error), 130 (Ctrl-C) or 143 (SIGTERM).
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
import * as Settings from "../shared/Settings.js"
import { terminalBlock, withoutColours } from "../shared/TerminalText.js"
import { run } from "./Cli.js"
import { describeDefect, describeFailure, printFailure, wantsJson } from "./ErrorVoice.js"

const strip = (args: ReadonlyArray<unknown>) => args.map((a) => (typeof a === "string" ? withoutColours(a) : a))

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
  const json = wantsJson(argv.slice(2))

  /** The command, its output coloured only on a terminal without NO_COLOR, its failures reported. */
  const program = Effect.flatMap(Effect.orDie(Settings.noColor), (noColor) => {
    const outTty = process.stdout.isTTY === true && !noColor
    const errTty = process.stderr.isTTY === true && !noColor

    /** Prints a failure (see `ErrorVoice.ts`) and gives the exit code for it. */
    const report = (e: unknown) => {
      // @effect/cli's own messages were printed by it (only for what fm's checks let through)
      if (ValidationError.isValidationError(e)) return Effect.succeed(ValidationError.isHelpRequested(e) ? 0 : 2)
      const failure = describeFailure(e)
      return Effect.as(printFailure(failure, { json, color: errTty }), failure.exit)
    }

    return run(argv).pipe(
      (self) => Console.consoleWith((c) => Console.withConsole(self, plainConsole(c, outTty, errTty))),
      Effect.as(0),
      Effect.catchAll(report),
      Effect.catchAllDefect((defect) => {
        const failure = describeDefect(defect)
        return Effect.as(printFailure(failure, { json, color: errTty }), failure.exit)
      })
    )
  })

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

  // NodeRuntime turns both SIGINT and SIGTERM into an interruption: remember which it was
  let terminated = false
  process.once("SIGTERM", () => {
    terminated = true
  })

  program.pipe(
    Effect.provide(MainLayer),
    // in place of the default logger (what `Logger.replace` does, without a layer and its scope)
    Effect.locallyWith(
      FiberRef.currentLoggers,
      (loggers) => HashSet.add(HashSet.remove(loggers, Logger.defaultLogger), stderrLogger)
    ),
    NodeRuntime.runMain({
      disableErrorReporting: true,
      disablePrettyLogger: true, // one logger (stderrLogger above): a warning is printed once, as `warning: ...`
      teardown: (exit, onExit) =>
        exitNow(
          Exit.isSuccess(exit) && typeof exit.value === "number"
            ? exit.value
            : Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
            // Ctrl-C interrupts the command (its finalizers clear the progress line and remove temp
            // files): 130; SIGTERM: 143
            ? (terminated ? 143 : 130)
            : 1,
          onExit
        )
    })
  )
}
