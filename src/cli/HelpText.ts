/**
 * fm's help pages, rendered from the command tree (`CommandSpec.ts`) and the examples and groups
 * of `HelpExamples.ts`: a one-line summary, usage, arguments and flags with their defaults, and
 * examples, wrapped at word boundaries to the terminal's width (80 columns when not a terminal;
 * `COLUMNS` overrides; never wider than 120).
 * @since 0.1.0
 */
import type { ArgSpec, CommandSpec, FlagSpec } from "./CommandSpec.js"
import { COMMAND_GROUPS, EXAMPLES } from "./HelpExamples.js"

/**
 * The width help is wrapped to: `COLUMNS` when it is a number, else the terminal's width, else
 * 80; kept within 40 to 120 columns.
 * @since 0.1.0
 */
export const helpWidth = (columnsEnv: string | undefined, ttyColumns: number | undefined): number => {
  const fromEnv = columnsEnv !== undefined && /^\d+$/.test(columnsEnv) ? Number(columnsEnv) : undefined
  const w = fromEnv ?? ttyColumns ?? 80
  return Math.max(40, Math.min(120, w))
}

/** Words of `text` in lines of at most `width` characters (a longer word gets a line of its own). */
const wrap = (text: string, width: number): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line === "") line = word
    else if (line.length + 1 + word.length <= width) line += ` ${word}`
    else {
      lines.push(line)
      line = word
    }
  }
  if (line !== "") lines.push(line)
  return lines
}

/**
 * The first sentence of a description: what `fm --help` and command lists show.
 * @since 0.1.0
 */
export const summaryOf = (description: string): string => {
  const m = /^(.*?\.)(\s|$)/.exec(description)
  const first = m?.[1] ?? description
  return first.replace(/\.$/, "")
}

/** The rest of a description after its summary. */
const detailOf = (description: string): string => {
  const summary = summaryOf(description)
  return description.slice(summary.length).replace(/^\.\s*/, "").trim()
}

/** Two columns: terms on the left, text wrapped on the right (below the term when it is too long). */
const table = (rows: ReadonlyArray<readonly [string, string]>, width: number, minTerm = 0): Array<string> => {
  const maxTerm = Math.min(Math.max(minTerm, ...rows.map(([t]) => t.length)), Math.floor(width / 3))
  const textCol = 2 + maxTerm + 2
  const out: Array<string> = []
  for (const [term, text] of rows) {
    const lines = wrap(text, Math.max(20, width - textCol))
    if (term.length > maxTerm) {
      out.push(`  ${term}`)
      for (const l of lines) out.push(`${" ".repeat(textCol)}${l}`)
    } else {
      const [first, ...rest] = lines
      out.push(`  ${term.padEnd(maxTerm)}  ${first ?? ""}`.trimEnd())
      for (const l of rest) out.push(`${" ".repeat(textCol)}${l}`)
    }
  }
  return out
}

/**
 * An argument as usage lines show it: `<NAME>` (required), `[NAME]` (optional), `...` (repeated).
 * @since 0.1.0
 */
export const argTerm = (a: ArgSpec): string => {
  const name = a.name.toUpperCase()
  return `${a.optional || a.defaultValue !== undefined ? `[${name}]` : `<${name}>`}${a.repeated ? "..." : ""}`
}

const flagTerm = (f: FlagSpec): string => {
  const short = f.short === undefined ? "    " : `${f.short}, `
  const long = f.negation === undefined ? f.typed : `${f.typed}, ${f.negation}`
  return `${short}${long}${f.value === undefined ? "" : ` ${f.value}`}`
}

const withDefault = (text: string, value: string | undefined): string =>
  value === undefined || value === "" ? text : `${text} [default: ${value}]`

const HELP_FLAG: readonly [string, string] = ["-h, --help", "Print help"]

/**
 * The help page of the command at the end of `chain` (`[fm, registry, add]`).
 * @since 0.1.0
 */
export const renderHelp = (chain: ReadonlyArray<CommandSpec>, width: number, version: string): string => {
  const cmd = chain[chain.length - 1]
  if (cmd === undefined) return ""
  const names = chain.map((c) => c.name)
  const path = names.slice(1).join(" ")
  const full = names.join(" ")
  const out: Array<string> = []
  /** Appends lines, given one by one or as arrays of lines. */
  const add = (...parts: ReadonlyArray<string | ReadonlyArray<string>>): void => {
    for (const part of parts) {
      if (typeof part === "string") out.push(part)
      else for (const line of part) out.push(line)
    }
  }
  const isRoot = chain.length === 1

  add(wrap(isRoot ? `fm ${version}: ${summaryOf(cmd.description)}` : summaryOf(cmd.description), width))
  add("")

  if (cmd.subcommands.length > 0) {
    add(`Usage: ${full} ${isRoot ? "[OPTIONS] " : ""}<COMMAND>`)
    const detail = detailOf(cmd.description)
    if (detail !== "") add("", wrap(detail, width))
    const row = (c: CommandSpec): readonly [string, string] => [c.name, summaryOf(c.description)]
    if (isRoot) {
      const termWidth = Math.max(...cmd.subcommands.map((c) => c.name.length))
      const listed = new Set<string>()
      for (const [title, members] of COMMAND_GROUPS) {
        const subs = members.flatMap((m) => cmd.subcommands.filter((c) => c.name === m))
        if (subs.length === 0) continue
        subs.forEach((s) => listed.add(s.name))
        add("", `${title}:`, table(subs.map(row), width, termWidth))
      }
      const rest = cmd.subcommands.filter((c) => !listed.has(c.name))
      if (rest.length > 0) add("", "Other commands:", table(rest.map(row), width, termWidth))
      add(
        "",
        "Options:",
        table([
          HELP_FLAG,
          ["-V, --version", "Print fm's version"],
          ["    --completions SHELL", "Print a completion script for bash, zsh or fish"]
        ], width)
      )
    } else {
      add("", "Commands:", table(cmd.subcommands.map(row), width))
    }
  } else {
    const args = cmd.args.map(argTerm).join(" ")
    add(
      wrap(`Usage: ${full}${cmd.flags.length > 0 ? " [OPTIONS]" : ""}${args === "" ? "" : ` ${args}`}`, width)
    )
    const detail = detailOf(cmd.description)
    if (detail !== "") add("", wrap(detail, width))
    if (cmd.args.length > 0) {
      add(
        "",
        "Arguments:",
        table(cmd.args.map((a) => [argTerm(a), withDefault(a.description, a.defaultValue)]), width)
      )
    }
    add(
      "",
      "Options:",
      table([
        ...cmd.flags.map((f): readonly [string, string] => [flagTerm(f), withDefault(f.description, f.defaultValue)]),
        HELP_FLAG
      ], width)
    )
  }

  const examples = EXAMPLES[path] ?? []
  if (examples.length > 0) add("", "Examples:", examples.map((e) => `  ${e}`))
  if (cmd.subcommands.length > 0) {
    add(
      "",
      wrap(`See '${isRoot ? "fm help <command>" : `fm help ${path} <command>`}' for the help of a command.`, width)
    )
  }
  return out.join("\n")
}
