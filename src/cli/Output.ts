/**
 * Shared output helpers for the `fm` commands: the `--json` option, aligned tables (plain text
 * when stdout is not a terminal), JSON printing, human-readable byte sizes, warnings, and the
 * {@link UsageError} that makes `fm` exit with status 2.
 * @since 0.1.0
 */
import { Options } from "@effect/cli"
import { Console, Data, Effect, Option } from "effect"

/**
 * `--dir/-C DIR`: the project directory, default the current one (project commands).
 * @since 0.1.0
 */
export const projectDirOption: Options.Options<string> = Options.directory("dir").pipe(
  Options.withAlias("C"),
  Options.withDescription("The project directory (default: the current directory)"),
  Options.withDefault(".")
)

/**
 * `--registry/-r NAME`, optional, with the given help text (every command that talks to registries).
 * @since 0.1.0
 */
export const registryOption = (description: string): Options.Options<Option.Option<string>> =>
  Options.text("registry").pipe(Options.withAlias("r"), Options.withDescription(description), Options.optional)

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
 * Whether stdout is a terminal (tables get emphasis then; never when piped or when `NO_COLOR`
 * is set).
 * @since 0.1.0
 */
export const stdoutIsTty = (): boolean =>
  process.stdout.isTTY === true && (process.env.NO_COLOR === undefined || process.env.NO_COLOR === "")

/**
 * Whether `fm` can ask the user a question (stdin and stdout are both terminals).
 * @since 0.1.0
 */
export const isInteractive = (): boolean => process.stdin.isTTY === true && process.stdout.isTTY === true

/**
 * Prints a value as pretty JSON on stdout.
 * @since 0.1.0
 */
export const printJson = (value: unknown): Effect.Effect<void> => Console.log(JSON.stringify(value, null, 2))

/**
 * Prints a warning line (`warning: ...`) on stderr.
 * @since 0.1.0
 */
export const warn = (message: string): Effect.Effect<void> => Console.error(`warning: ${message}`)

/**
 * Renders rows as a table with aligned columns. Header emphasis (bold) only when `ansi` is true.
 * Trailing spaces are trimmed from every line.
 * @since 0.1.0
 */
export const renderTable = (
  headers: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  ansi = false
): string => {
  const widths = headers.map((h, i) => rows.reduce((w, row) => Math.max(w, (row[i] ?? "").length), h.length))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd()
  const head = line(headers)
  return [ansi ? `\u001b[1m${head}\u001b[22m` : head, ...rows.map(line)].join("\n")
}

/**
 * Prints a table on stdout (see {@link renderTable}); emphasis only on a terminal.
 * @since 0.1.0
 */
export const printTable = (
  headers: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>
): Effect.Effect<void> => Console.log(renderTable(headers, rows, stdoutIsTty()))

/**
 * A human-readable size in binary units: `512 B`, `1.5 KiB`, `12.0 MiB`.
 * @since 0.1.0
 */
export const formatBytes = (bytes: number): string => {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${bytes} B`
  const units = ["KiB", "MiB", "GiB", "TiB"] as const
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}

/**
 * `yes`/`no` for table cells.
 * @since 0.1.0
 */
export const yesNo = (b: boolean): string => (b ? "yes" : "no")
