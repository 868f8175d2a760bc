/**
 * A plain description of fm's command tree (names, arguments, flags, defaults, descriptions),
 * read off @effect/cli's own descriptors: the commands stay the one place where a flag is
 * defined, and fm's help text (`HelpText.ts`) and argument checks (`ArgvCheck.ts`) read this.
 *
 * @effect/cli exposes a command's usage (`getUsage`) and help document (`getHelp`) as public
 * data; only the tree's shape (which subcommands a command has) is read from the descriptor's
 * fields, through the guards below.
 * @since 0.1.0
 */
import { CliConfig, type HelpDoc, type Usage } from "@effect/cli"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import type * as Span from "@effect/cli/HelpDoc/Span"
import { Option } from "effect"
import { fieldOf } from "../shared/Fields.js"

/**
 * One flag of a command.
 * @since 0.1.0
 */
export interface FlagSpec {
  /** `--registry` (the name @effect/cli parses). */
  readonly long: string
  /** The name users type and help shows (the same as `long`, but for install's `--version`). */
  readonly typed: string
  /** `-r`, when the flag has one. */
  readonly short: string | undefined
  /** The value placeholder (`NAME`, `N`, `DIR`, `zip|tar`), or undefined for an on/off flag. */
  readonly value: string | undefined
  readonly description: string
  /** The default shown in help (`100`, `.`), when there is one worth showing. */
  readonly defaultValue: string | undefined
  /** `--no-publish` for `--publish`, when the flag has a negation. */
  readonly negation: string | undefined
  /** The command cannot run without it. */
  readonly required: boolean
}

/**
 * One positional argument of a command.
 * @since 0.1.0
 */
export interface ArgSpec {
  /** `package` (shown as `<package>` / `[package]`). */
  readonly name: string
  readonly optional: boolean
  readonly repeated: boolean
  readonly description: string
  readonly defaultValue: string | undefined
}

/**
 * One command: its name, description, arguments, flags and subcommands.
 * @since 0.1.0
 */
export interface CommandSpec {
  readonly name: string
  readonly description: string
  readonly args: ReadonlyArray<ArgSpec>
  readonly flags: ReadonlyArray<FlagSpec>
  readonly subcommands: ReadonlyArray<CommandSpec>
}

const isDescriptor = (u: unknown): u is Descriptor.Command<unknown> =>
  typeof u === "object" && u !== null && Descriptor.TypeId in u

const field = fieldOf

/** The command itself (under any `map`) and its direct subcommands. */
const split = (
  d: Descriptor.Command<unknown>
): { readonly self: Descriptor.Command<unknown>; readonly children: ReadonlyArray<Descriptor.Command<unknown>> } => {
  const tag = field(d, "_tag")
  if (tag === "Map") {
    const inner = field(d, "command")
    return isDescriptor(inner) ? split(inner) : { self: d, children: [] }
  }
  if (tag === "Subcommands") {
    const parent = field(d, "parent")
    const children = field(d, "children")
    const kids = Array.isArray(children) ? children.filter(isDescriptor) : []
    return isDescriptor(parent) ? { self: split(parent).self, children: kids } : { self: d, children: kids }
  }
  return { self: d, children: [] }
}

const spanText = (s: Span.Span): string => {
  switch (s._tag) {
    case "Sequence":
      return spanText(s.left) + spanText(s.right)
    case "Highlight":
    case "Strong":
    case "Weak":
      return spanText(s.value)
    case "Text":
    case "URI":
      return s.value
  }
}

/** Every paragraph of a help block, in order. */
const paragraphs = (doc: HelpDoc.HelpDoc): Array<string> => {
  switch (doc._tag) {
    case "Paragraph":
      return [spanText(doc.value)]
    case "Sequence":
      return [...paragraphs(doc.left), ...paragraphs(doc.right)]
    case "Enumeration":
      return doc.elements.flatMap(paragraphs)
    case "Header":
      return [spanText(doc.value)]
    case "DescriptionList":
    case "Empty":
      return []
  }
}

/** `[heading, [span, block]...]` for each titled description list of a help document. */
const sections = (doc: HelpDoc.HelpDoc): Map<string, Array<readonly [string, HelpDoc.HelpDoc]>> => {
  const out = new Map<string, Array<readonly [string, HelpDoc.HelpDoc]>>()
  let current = ""
  const walk = (d: HelpDoc.HelpDoc): void => {
    switch (d._tag) {
      case "Header":
        current = spanText(d.value)
        return
      case "Sequence":
        walk(d.left)
        walk(d.right)
        return
      case "DescriptionList": {
        const list = out.get(current) ?? []
        for (const [span, block] of d.definitions) list.push([spanText(span), block])
        out.set(current, list)
        return
      }
      case "Paragraph":
        if (current === "DESCRIPTION") out.set("DESCRIPTION", [...(out.get("DESCRIPTION") ?? []), ["", d]])
        return
      default:
        return
    }
  }
  walk(doc)
  return out
}

/** What @effect/cli says about every value of a type (dropped: fm's own descriptions say more). */
const BOILERPLATE =
  /^(A user-defined piece of text\.|An integer\.|A true or false value\.|A floating point number\.|An existing (file|directory|file or directory)\.|A (file|directory|file or directory)\.|A user-defined piece of text that is confidential\.)$/

/** Description and default of a help block (`This setting is optional. Defaults to: X`). */
const describeBlock = (
  block: HelpDoc.HelpDoc
): {
  readonly description: string
  readonly defaultValue: string | undefined
  readonly choices: string | undefined
} => {
  let defaultValue: string | undefined
  let choices: string | undefined
  const kept: Array<string> = []
  for (const p of paragraphs(block)) {
    const d = /^This setting is optional\.(?: Defaults to: (.*))?$/.exec(p)
    if (d !== null) {
      defaultValue = d[1]
      continue
    }
    const c = /^One of the following: (.*)$/.exec(p)
    if (c?.[1] !== undefined) {
      choices = c[1].split(", ").join("|")
      continue
    }
    if (BOILERPLATE.test(p)) continue
    kept.push(p)
  }
  return { description: kept.join(" "), defaultValue, choices }
}

/** Shown for a default value: strings and numbers as they are, nothing for other values. */
const showDefault = (fallback: unknown): string | undefined => {
  if (typeof fallback === "string" || typeof fallback === "number") return String(fallback)
  if (Option.isOption(fallback)) return Option.isSome(fallback) ? showDefault(fallback.value) : undefined
  return undefined
}

/**
 * The defaults of an options or args tree (\`Options.withDefault\` / \`Args.withDefault\`), by
 * the name of the option or argument they belong to. @effect/cli's help shows only some.
 */
const collectDefaults = (
  node: unknown,
  out: Map<string, string>,
  fallback: unknown = undefined,
  hasFallback = false
): void => {
  switch (field(node, "_tag")) {
    case "Single": {
      const name = field(node, "name")
      if (typeof name === "string" && hasFallback) {
        const shown = showDefault(fallback)
        if (shown !== undefined) out.set(name.replace(/^<|>$/g, ""), shown) // args are named `<dir>`
      }
      return
    }
    case "WithDefault":
      return collectDefaults(field(node, "options") ?? field(node, "args"), out, field(node, "fallback"), true)
    case "Map":
    case "WithFallback":
    case "WithFallbackConfig":
      return collectDefaults(field(node, "options") ?? field(node, "args"), out, fallback, hasFallback)
    case "Both":
    case "OrElse":
      collectDefaults(field(node, "left"), out)
      collectDefaults(field(node, "right"), out)
      return
    default:
      return
  }
}

interface UsageParts {
  readonly flags: Array<
    { readonly names: ReadonlyArray<string>; readonly accepts: string | undefined; readonly optional: boolean }
  >
  readonly args: Array<{ readonly name: string; readonly optional: boolean; readonly repeated: boolean }>
}

const collectUsage = (
  u: Usage.Usage,
  optional: boolean,
  repeated: boolean,
  out: UsageParts,
  isFirst: { value: boolean }
): void => {
  switch (u._tag) {
    case "Concat":
      collectUsage(u.left, optional, repeated, out, isFirst)
      collectUsage(u.right, optional, repeated, out, isFirst)
      return
    case "Optional":
      collectUsage(u.usage, true, repeated, out, isFirst)
      return
    case "Repeated":
      collectUsage(u.usage, optional, true, out, isFirst)
      return
    case "Alternation":
      collectUsage(u.left, optional, repeated, out, isFirst)
      collectUsage(u.right, optional, repeated, out, isFirst)
      return
    case "Named": {
      if (isFirst.value) { // the command's own name
        isFirst.value = false
        return
      }
      const first = u.names[0] ?? ""
      if (first.startsWith("-")) {
        // a repeated flag may be given zero times
        out.flags.push({
          names: u.names,
          accepts: Option.getOrUndefined(u.acceptedValues),
          optional: optional || repeated
        })
      } else {
        out.args.push({ name: first.replace(/^<|>$/g, ""), optional, repeated })
      }
      return
    }
    case "Empty":
    case "Mixed":
      return
  }
}

/** Last words of a flag's name that make a good placeholder on their own. */
const NOUNS: ReadonlySet<string> = new Set(["url", "dir", "size", "name", "path", "file"])

/** The placeholder of a flag's value, from @effect/cli's type name. */
const placeholder = (long: string, accepts: string, choices: string | undefined): string => {
  if (choices !== undefined) return choices
  switch (accepts) {
    case "text": {
      // `--database-url URL`, `--max-upload-size SIZE`; else the whole name
      const words = long.replace(/^--/, "").split("-")
      const last = words[words.length - 1] ?? ""
      return (words.length > 1 && NOUNS.has(last) ? last : words.join("_")).toUpperCase()
    }
    case "integer":
      return "N"
    case "directory":
      return "DIR"
    case "file":
      return "FILE"
    default:
      return accepts
  }
}

const specOf = (d: Descriptor.Command<unknown>): CommandSpec => {
  const { children, self } = split(d)
  const name = Array.from(Descriptor.getNames(self))[0] ?? ""
  const parts: UsageParts = { flags: [], args: [] }
  collectUsage(Descriptor.getUsage(self), false, false, parts, { value: true })
  const help = sections(Descriptor.getHelp(self, CliConfig.defaultConfig))
  const description = (help.get("DESCRIPTION") ?? []).flatMap(([, p]) => paragraphs(p)).join(" ")
  const optionHelp = help.get("OPTIONS") ?? []
  const argHelp = help.get("ARGUMENTS") ?? []
  const defaults = new Map<string, string>()
  collectDefaults(field(self, "options"), defaults)
  const argDefaults = new Map<string, string>()
  collectDefaults(field(self, "args"), argDefaults)
  const all = parts.flags.map((f): FlagSpec => {
    const long = f.names.find((n) => n.startsWith("--")) ?? f.names[0] ?? ""
    const short = f.names.find((n) => /^-[^-]/.test(n))
    const entry = optionHelp.find(([span]) => new RegExp(`(^|[\\s(,\\[])${long}(?=$|[\\s),\\]=])`).test(span))
    const block = entry === undefined
      ? { description: "", defaultValue: undefined, choices: undefined }
      : describeBlock(entry[1])
    const value = f.accepts === undefined ? undefined : placeholder(long, f.accepts, block.choices)
    return {
      long,
      typed: long,
      short,
      value,
      description: block.description,
      // an on/off flag is off unless given: its "false" says nothing
      defaultValue: value === undefined ? undefined : block.defaultValue ?? defaults.get(long.replace(/^--/, "")),
      negation: undefined,
      required: !f.optional && f.accepts !== undefined && block.defaultValue === undefined &&
        !defaults.has(long.replace(/^--/, ""))
    }
  })
  // `--publish` and `--no-publish` (both on/off flags) are shown as one
  const onOff = new Set(all.filter((f) => f.value === undefined).map((f) => f.long))
  const flags = all
    .filter((f) => !(f.long.startsWith("--no-") && onOff.has(f.long) && onOff.has(`--${f.long.slice(5)}`)))
    .map((f) =>
      onOff.has(f.long) && onOff.has(`--no-${f.long.slice(2)}`) ? { ...f, negation: `--no-${f.long.slice(2)}` } : f
    )
  const args = parts.args.map((a): ArgSpec => {
    const entry = argHelp.find(([span]) => span.includes(`<${a.name}>`))
    const block = entry === undefined ? { description: "", defaultValue: undefined } : describeBlock(entry[1])
    return { ...a, description: block.description, defaultValue: block.defaultValue ?? argDefaults.get(a.name) }
  })
  return { name, description, flags, args, subcommands: children.map(specOf) }
}

/**
 * The spec of a command descriptor and everything under it.
 * @since 0.1.0
 */
export const commandSpec = (descriptor: Descriptor.Command<unknown>): CommandSpec => specOf(descriptor)

/**
 * The command a path of names leads to (`["registry", "add"]` under `fm`), with the path of specs
 * walked, or undefined when a name is not a subcommand.
 * @since 0.1.0
 */
export const findCommand = (
  root: CommandSpec,
  names: ReadonlyArray<string>
): ReadonlyArray<CommandSpec> | undefined => {
  const chain: Array<CommandSpec> = [root]
  for (const n of names) {
    const next = chain[chain.length - 1]?.subcommands.find((c) => c.name === n)
    if (next === undefined) return undefined
    chain.push(next)
  }
  return chain
}
