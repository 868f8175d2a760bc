/**
 * Checks a command line against fm's command tree (`CommandSpec.ts`) before @effect/cli parses
 * it, so that every usage mistake gets an error naming the word at fault and, where one is
 * close, a "did you mean": unknown commands and flags at every level, flags missing their value,
 * values of the wrong kind, missing and extra arguments. It also finds `--help`, `-V`/`--version`
 * and `fm help [COMMAND]`, and gives `fm install --version V` its meaning.
 * @since 0.1.0
 */
import type { CommandSpec, FlagSpec } from "./CommandSpec.js"
import { argTerm } from "./HelpText.js"
import { didYouMean } from "./Suggest.js"

/**
 * A usage mistake: what is wrong (naming the word) and how to fix it.
 * @since 0.1.0
 */
export interface ArgvProblem {
  readonly _tag: "ArgvProblem"
  readonly reason: string
  readonly hint: string
}

/**
 * What the command line asks for: help for a command, fm's version, or running a command with
 * the given arguments (`args`, after `fm`, as @effect/cli should see them).
 * @since 0.1.0
 */
export type ArgvIntent =
  | { readonly _tag: "Help"; readonly chain: ReadonlyArray<CommandSpec> }
  | { readonly _tag: "Version" }
  | { readonly _tag: "Completions"; readonly shell: "bash" | "zsh" | "fish" }
  | { readonly _tag: "Run"; readonly chain: ReadonlyArray<CommandSpec>; readonly args: ReadonlyArray<string> }

const problem = (reason: string, hint: string): ArgvProblem => ({ _tag: "ArgvProblem", reason, hint })

const pathOf = (chain: ReadonlyArray<CommandSpec>) => chain.map((c) => c.name).join(" ")

/** Flags fm used to take under another name (the project commands' `--dir` meant the project). */
const RENAMED: Readonly<Record<string, string>> = { "--dir": "--project" }

const SHELLS = ["bash", "zsh", "fish"] as const
const isShell = (s: string | undefined): s is (typeof SHELLS)[number] => SHELLS.some((x) => x === s)

/** What a value of each placeholder must look like. */
const checkValue = (flag: FlagSpec, shown: string, value: string, cmd: string): ArgvProblem | undefined => {
  if (flag.value === "N" && !/^-?\d+$/.test(value)) {
    return problem(`${shown} expects a whole number, got '${value}'`, `for example: ${cmd} ${shown} 10`)
  }
  if (flag.value !== undefined && flag.value.includes("|")) {
    const choices = flag.value.split("|")
    if (!choices.includes(value)) {
      const close = didYouMean(value, choices)
      return problem(
        `${shown} must be one of ${choices.join(", ")}, not '${value}'`,
        close !== undefined ? `did you mean '${shown} ${close}'?` : `for example: ${cmd} ${shown} ${choices[0] ?? ""}`
      )
    }
  }
  return undefined
}

/** The flag a word names in a command. */
const findFlag = (cmd: CommandSpec, name: string): FlagSpec | undefined =>
  cmd.flags.find((f) => f.typed === name || f.long === name || f.short === name || f.negation === name)

/** The names a user may type for a command's flags (as shown in help). */
const flagWords = (cmd: CommandSpec): Array<string> =>
  cmd.flags.flatMap((f) => [f.typed, ...(f.negation === undefined ? [] : [f.negation])])

const isFlagLike = (word: string): boolean => word.startsWith("-") && word !== "-" && !/^-\d/.test(word)

/**
 * Checks `args` (the words after `fm`) against the tree rooted at `root` (`fm`): the intent, or
 * the first mistake.
 * @since 0.1.0
 */
export const checkArgv = (root: CommandSpec, args: ReadonlyArray<string>): ArgvIntent | ArgvProblem => {
  // `fm help [COMMAND...]` is `fm [COMMAND...] --help`
  if (args[0] === "help") {
    const names = args.slice(1).filter((a) => !isFlagLike(a))
    const chain: Array<CommandSpec> = [root]
    for (const n of names) {
      const cur = chain[chain.length - 1]
      const next = cur?.subcommands.find((c) => c.name === n)
      if (cur === undefined || next === undefined) return unknownCommand(chain, n)
      chain.push(next)
    }
    return { _tag: "Help", chain }
  }
  const chain: Array<CommandSpec> = [root]
  const out: Array<string> = []
  const positionals: Array<string> = []
  let help = false
  for (let i = 0; i < args.length; i++) {
    const word = args[i] ?? ""
    const cmd = chain[chain.length - 1] ?? root
    const here = pathOf(chain)
    if (word === "--") {
      for (const rest of args.slice(i)) out.push(rest)
      for (const rest of args.slice(i + 1)) positionals.push(rest)
      break
    }
    if (word === "--help" || word === "-h") {
      help = true
      continue
    }
    if (chain.length === 1 && (word === "--version" || word === "-V")) return { _tag: "Version" }
    if (chain.length === 1 && (word === "--completions" || word.startsWith("--completions="))) {
      const shell = word.includes("=") ? word.slice(word.indexOf("=") + 1) : args[i + 1]
      if (isShell(shell)) return { _tag: "Completions", shell }
      const close = shell === undefined ? undefined : didYouMean(shell, SHELLS)
      return problem(
        shell === undefined ? "--completions needs a shell" : `--completions: unknown shell '${shell}'`,
        close !== undefined ? `did you mean '--completions ${close}'?` : "fm --completions bash (or zsh, fish)"
      )
    }
    if (isFlagLike(word)) {
      const eq = word.startsWith("--") ? word.indexOf("=") : -1
      const name = eq > 0 ? word.slice(0, eq) : word
      const flag = cmd.subcommands.length > 0 ? undefined : findFlag(cmd, name)
      if (flag === undefined) {
        if (cmd.subcommands.length > 0) {
          return problem(
            `unknown flag '${name}' for '${here}'`,
            `'${here}' takes a command first; see '${
              here === "fm" ? "fm help" : `fm help ${chain.slice(1).map((c) => c.name).join(" ")}`
            }'`
          )
        }
        if (name === "--version") {
          return problem(`'${here}' has no --version flag`, "fm --version prints fm's version")
        }
        const words = flagWords(cmd)
        // `-V`: the long flag it most likely stands for
        const byLetter = /^-[a-zA-Z]$/.test(name)
          ? words.filter((w) => w.slice(2, 3).toLowerCase() === name.slice(1).toLowerCase())
          : []
        const renamed = RENAMED[name]
        const close = renamed !== undefined && words.includes(renamed)
          ? renamed
          : byLetter.length === 1
          ? byLetter[0]
          : didYouMean(name, words)
        return problem(
          `unknown flag '${name}' for '${here}'`,
          close !== undefined ? `did you mean '${close}'? See '${here} --help'` : `see '${here} --help' for its flags`
        )
      }
      if (flag.value === undefined) {
        if (eq > 0) return problem(`${name} takes no value (got '${word.slice(eq + 1)}')`, `write just ${name}`)
        out.push(name === flag.negation ? flag.negation : flag.long)
        continue
      }
      let value: string
      if (eq > 0) value = word.slice(eq + 1)
      else {
        const next = args[i + 1]
        if (next === undefined || (isFlagLike(next) && flag.value !== "N")) {
          return problem(
            `${name} needs a value`,
            `${here} ${name} ${flag.value}${name === "--version" ? " (fm --version prints fm's own version)" : ""}`
          )
        }
        value = next
        i++
      }
      const bad = checkValue(flag, name, value, here)
      if (bad !== undefined) return bad
      out.push(flag.long, value)
      continue
    }
    if (cmd.subcommands.length > 0) {
      const next = cmd.subcommands.find((c) => c.name === word)
      if (next === undefined) return unknownCommand(chain, word)
      chain.push(next)
      out.push(word)
      continue
    }
    positionals.push(word)
    out.push(word)
  }
  const cmd = chain[chain.length - 1] ?? root
  if (help || cmd.subcommands.length > 0) return { _tag: "Help", chain }
  const here = pathOf(chain)
  const required = cmd.args.filter((a) => !a.optional && a.defaultValue === undefined && !a.repeated)
  if (positionals.length < required.length) {
    const missing = required[positionals.length]
    const name = (missing?.name ?? "argument").toUpperCase()
    return problem(
      `'${here}' needs <${name}>${missing?.description ? ` (${lowerFirst(missing.description)})` : ""}`,
      usageLine(chain)
    )
  }
  const given = new Set(out)
  const absent = cmd.flags.find((f) => f.required && !given.has(f.long))
  if (absent !== undefined) {
    return problem(`'${here}' needs ${absent.long} ${absent.value ?? ""}`.trimEnd(), usageLine(chain, absent))
  }
  const max = cmd.args.some((a) => a.repeated) ? Number.POSITIVE_INFINITY : cmd.args.length
  if (positionals.length > max) {
    const extra = positionals[max] ?? ""
    return problem(
      `unexpected argument '${extra}' for '${here}'`,
      max === 0 ? `'${here}' takes no arguments; see '${here} --help'` : usageLine(chain)
    )
  }
  return { _tag: "Run", chain, args: out }
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1)

const usageLine = (chain: ReadonlyArray<CommandSpec>, flag?: FlagSpec): string => {
  const cmd = chain[chain.length - 1]
  const args = (cmd?.args ?? []).map(argTerm)
  const required = flag === undefined ? [] : [`${flag.typed} ${flag.value ?? ""}`.trimEnd()]
  return `usage: ${[pathOf(chain), ...required, ...args, "[OPTIONS]"].join(" ")}`
}

const unknownCommand = (chain: ReadonlyArray<CommandSpec>, word: string): ArgvProblem => {
  const cmd = chain[chain.length - 1]
  const here = pathOf(chain)
  const names = (cmd?.subcommands ?? []).map((c) => c.name)
  const close = didYouMean(word, names)
  return problem(
    cmd !== undefined && cmd.subcommands.length === 0
      ? `'${here}' has no subcommands (got '${word}')`
      : `unknown command '${word}'${chain.length > 1 ? ` for '${here}'` : ""}`,
    close !== undefined
      ? `did you mean '${here} ${close}'?`
      : `the commands are: ${names.join(", ")}; see '${
        chain.length > 1 ? `fm help ${chain.slice(1).map((c) => c.name).join(" ")}` : "fm help"
      }'`
  )
}

/**
 * Whether a value is an {@link ArgvProblem}.
 * @since 0.1.0
 */
export const isArgvProblem = (u: ArgvIntent | ArgvProblem): u is ArgvProblem => u._tag === "ArgvProblem"
