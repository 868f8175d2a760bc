/**
 * Shared output helpers for the `fm` commands: the `--json` option, aligned tables, JSON printing,
 * human-readable byte sizes, warnings, and the {@link UsageError} that makes `fm` exit with status 2.
 * Everything a command prints is terminal-safe ({@link terminalSafeOutput}): registry and archive
 * strings are text, never escape codes.
 * @since 0.1.0
 */
import { Options } from "@effect/cli"
import type { Option } from "effect"
import { Console, Data, Effect } from "effect"
import { terminalBlock, terminalJson, terminalLine, terminalText } from "../shared/TerminalText.js"

/**
 * `--project/-C DIR`: the project directory, default the current one (project commands; `--dir`
 * is install's target directory, a different thing).
 * @since 0.1.0
 */
export const projectDirOption: Options.Options<string> = Options.directory("project").pipe(
  Options.withAlias("C"),
  Options.withDescription("The project directory (default: the current directory)"),
  Options.withDefault(".")
)

/**
 * `--registry/-r NAME`, optional, with the given help text (every command that talks to registries).
 * @since 0.1.0
 */
export const registryOption = (description: string): Options.Options<Option.Option<string>> =>
  Options.text("registry").pipe(
    Options.withAlias("r"),
    Options.withPseudoName("NAME"),
    Options.withDescription(description),
    Options.optional
  )

/**
 * The `--json` flag every reporting command accepts: print one JSON document on stdout instead
 * of a table.
 * @since 0.1.0
 * @category options
 */
export const json: Options.Options<boolean> = Options.boolean("json").pipe(
  Options.withDescription("Print the result as JSON (for scripts) instead of a table")
)

/**
 * A usage mistake found by a command itself (not by the parser), e.g. a missing `--yes` where no
 * terminal can ask. `fm` prints it like any error but exits with status 2.
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly reason: string
  readonly hint?: string
}> {
  /** The reason, as printed after `error:`. */
  override get message(): string {
    return this.reason
  }
}

/**
 * Whether `fm` can ask the user a question (stdin and stdout are both terminals).
 * @since 0.1.0
 */
export const isInteractive = (): boolean => process.stdin.isTTY === true && process.stdout.isTTY === true

/**
 * Prints a value as pretty JSON on stdout: exact (control characters in strings are JSON escapes,
 * see {@link terminalJson}), so it passes {@link terminalSafeOutput} unchanged.
 * @since 0.1.0
 */
export const printJson = (value: unknown): Effect.Effect<void> => Console.log(terminalJson(value, 2))

/**
 * Prints a warning (`warning: ...`) on stderr; lines after the first are indented (see {@link terminalBlock}).
 * @since 0.1.0
 */
export const warn = (message: string): Effect.Effect<void> => Console.error(`warning: ${terminalBlock(message)}`)

/**
 * Renders rows as a plain-text table with aligned columns; every cell is one line of
 * terminal-safe text ({@link terminalLine}). Trailing spaces are trimmed from every line.
 * @since 0.1.0
 */
export const renderTable = (
  headers: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>
): string => {
  const cells = rows.map((row) => row.map(terminalLine))
  const widths = headers.map((h, i) => cells.reduce((w, row) => Math.max(w, (row[i] ?? "").length), h.length))
  const line = (row: ReadonlyArray<string>) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd()
  return [line(headers), ...cells.map(line)].join("\n")
}

/**
 * Prints a table on stdout (see {@link renderTable}).
 * @since 0.1.0
 */
export const printTable = (
  headers: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>
): Effect.Effect<void> => Console.log(renderTable(headers, rows))

/**
 * Prints `label  value` lines on stdout (labels padded to `width`), each value one line of
 * terminal-safe text; empty values are left out.
 * @since 0.1.0
 */
export const printFields = (fields: ReadonlyArray<readonly [string, string]>, width = 13): Effect.Effect<void> =>
  Effect.forEach(
    fields.filter(([, v]) => v !== ""),
    ([k, v]) => Console.log(`${k.padEnd(width)}${terminalLine(v)}`),
    { discard: true }
  )

/** A Console whose every string argument is {@link terminalText} (other values are inspected by Node, which escapes). */
const terminalConsole = (c: Console.Console): Console.Console => {
  const safe = (args: ReadonlyArray<unknown>) => args.map((a) => (typeof a === "string" ? terminalText(a) : a))
  return {
    ...c,
    log: (...args) => c.log(...safe(args)),
    error: (...args) => c.error(...safe(args)),
    warn: (...args) => c.warn(...safe(args)),
    info: (...args) => c.info(...safe(args)),
    debug: (...args) => c.debug(...safe(args)),
    unsafe: {
      ...c.unsafe,
      log: (...args) => c.unsafe.log(...safe(args)),
      error: (...args) => c.unsafe.error(...safe(args)),
      warn: (...args) => c.unsafe.warn(...safe(args)),
      info: (...args) => c.unsafe.info(...safe(args)),
      debug: (...args) => c.unsafe.debug(...safe(args))
    }
  }
}

/**
 * Runs a command's handler with a Console that writes only terminal-safe text: no escape code or
 * control character (other than line breaks and tabs) a registry or an archive sent can reach the
 * terminal, whatever the command prints. `--json` is unchanged (see {@link printJson}).
 * @since 0.1.0
 */
export const terminalSafeOutput = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Console.consoleWith((c) => Console.withConsole(effect, terminalConsole(c)))

/**
 * A human-readable size in binary units: `512 B`, `1.5 KiB`, `12.0 MiB` (`ByteSize.formatBytes`).
 * @since 0.1.0
 */
export { formatBytes } from "../shared/ByteSize.js"

/**
 * `yes`/`no` for table cells.
 * @since 0.1.0
 */
export const yesNo = (b: boolean): string => (b ? "yes" : "no")
