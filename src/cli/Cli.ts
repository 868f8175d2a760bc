/**
 * The `fm` command tree. Each feature adds its subcommand's name to `SubcommandNames.ts` (in the
 * order `fm --help` lists them) and its `import()` to `subcommands` below.
 *
 * Subcommand modules are loaded on demand: `fm registry list` loads only `commands/registry.js`
 * (in the bundle, a module behind `import()` is initialised only when imported); `fm --help` and
 * completions load them all; an unknown command loads none (its error needs only their names).
 * The command line is checked against the tree (`ArgvCheck.ts`), help is rendered by fm
 * (`HelpText.ts`), and @effect/cli parses and runs what passed.
 * @since 0.1.0
 */
import { CliConfig, Command, HelpDoc, ValidationError } from "@effect/cli"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import { Config, Console, Effect, Option } from "effect"
import { FM_VERSION } from "../shared/FmVersion.js"
import { withoutColours } from "../shared/TerminalText.js"
import { checkArgv, isArgvProblem } from "./ArgvCheck.js"
import { INSTALL_VERSION_OPTION, withInstallVersionFlag } from "./commands/installArgs.js"
import { type CommandSpec, commandSpec } from "./CommandSpec.js"
import { helpWidth, renderHelp } from "./HelpText.js"
import { terminalSafeOutput, UsageError } from "./Output.js"
import { isSubcommandName, SUBCOMMAND_NAMES, type SubcommandName } from "./SubcommandNames.js"

const subcommands = {
  registry: () => import("./commands/registry.js").then((m) => m.registry),
  pack: () => import("./commands/pack.js").then((m) => m.pack),
  studio: () => import("./commands/studio.js").then((m) => m.studio),
  tree: () => import("./commands/tree.js").then((m) => m.tree),
  outdated: () => import("./commands/outdated.js").then((m) => m.outdated),
  update: () => import("./commands/update.js").then((m) => m.update),
  search: () => import("./commands/search.js").then((m) => m.search),
  info: () => import("./commands/info.js").then((m) => m.info),
  versions: () => import("./commands/versions.js").then((m) => m.versions),
  install: () => import("./commands/install.js").then((m) => m.install),
  publish: () => import("./commands/publish.js").then((m) => m.publish),
  login: () => import("./commands/login.js").then((m) => m.login)
} satisfies Record<SubcommandName, unknown> // each name in SubcommandNames.ts, and no other

type Subcommand = Awaited<ReturnType<(typeof subcommands)[SubcommandName]>>

/**
 * Stands in for a subcommand that was not loaded: the name only, so that @effect/cli's messages
 * (e.g. "use one of 'registry', 'pack', ...") still list every subcommand. It never matches,
 * because only the subcommand named first in argv is left out of the shells.
 */
const shell = (name: SubcommandName) => Command.make(name)

/** The root command over the given subcommands. */
const root = (
  subs: readonly [Subcommand | ReturnType<typeof shell>, ...Array<Subcommand | ReturnType<typeof shell>>]
) =>
  Command.make("fm").pipe(
    Command.withDescription(
      "The FlowMason package manager and registry. Registries are configured in " +
        "~/.flowmason/registries.json ($FLOWMASON_HOME moves ~/.flowmason)."
    ),
    Command.withSubcommands(subs),
    Command.transformHandler((handler) => terminalSafeOutput(handler)) // every subcommand prints text, never control
  )

/**
 * The root command `fm <subcommand> ...` for the words after `fm`: with only the named
 * subcommand loaded when the first word (after `help`) names one (the others are name-only
 * shells), else with all of them.
 * @since 0.1.0
 * @category commands
 */
export const loadFm = (args: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const first = args[0] === "help" ? args[1] : args[0]
    if (isSubcommandName(first)) {
      const loaded = await subcommands[first]()
      const [head, ...rest] = SUBCOMMAND_NAMES.map((name) => name === first ? loaded : shell(name))
      return root([head, ...rest])
    }
    if (first !== undefined && !first.startsWith("-")) {
      // not a command: the "did you mean" needs only the names
      const [head, ...rest] = SUBCOMMAND_NAMES.map(shell)
      return root([head, ...rest])
    }
    const [head, ...rest] = await Promise.all(SUBCOMMAND_NAMES.map((name) => subcommands[name]()))
    return root([head, ...rest])
  })

/** @effect/cli's remaining parse messages (paths it checks itself), in fm's words. */
const inWords = (message: string): string =>
  message
    .replace(/^Path '(.*)' must exist$/, "'$1' does not exist")
    .replace(/^Path '(.*)' must not exist$/, "'$1' already exists")
    .replace(/^Expected path '(.*)' to be a directory$/, "'$1' is not a directory")
    .replace(/^Expected path '(.*)' to be a regular file$/, "'$1' is not a file") || "invalid arguments"

/** COLUMNS, when set: the width help is wrapped to. */
const columnsConfig = Config.string("COLUMNS").pipe(
  Config.option,
  Effect.map(Option.getOrUndefined),
  Effect.orElseSucceed(() => undefined)
)

/** fm's help of the last command of `chain` (`HelpText.ts`), wrapped to the terminal or COLUMNS. */
const printHelp = (chain: ReadonlyArray<CommandSpec>) =>
  Effect.flatMap(columnsConfig, (columns) =>
    Console.log(
      renderHelp(
        chain,
        helpWidth(columns, process.stdout.isTTY === true ? process.stdout.columns : undefined),
        FM_VERSION
      )
    ))

/**
 * Runs `fm` on a full `process.argv` (node and script path first): checks the words against the
 * command tree first (`ArgvCheck.ts`: usage mistakes fail with a {@link UsageError} naming the
 * word at fault), prints help and the version itself (`HelpText.ts`), and runs the rest once
 * @effect/cli's parse of them has succeeded (what it rejects becomes a UsageError too), with the
 * command's handler on that parse.
 * @since 0.1.0
 */
export const run = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const args = argv.slice(2)
    const fm = yield* loadFm(args)
    const intent = checkArgv(withInstallVersionFlag(commandSpec(fm.descriptor)), args)
    if (isArgvProblem(intent)) return yield* new UsageError({ reason: intent.reason, hint: intent.hint })
    switch (intent._tag) {
      case "Version":
        return yield* Console.log(FM_VERSION)
      case "Completions": {
        const lines = yield* (intent.shell === "bash"
          ? Command.getBashCompletions(fm, "fm")
          : intent.shell === "zsh"
          ? Command.getZshCompletions(fm, "fm")
          : Command.getFishCompletions(fm, "fm"))
        // install's version option is typed `--version` (see installArgs.ts)
        return yield* Console.log(lines.join("\n").split(`--${INSTALL_VERSION_OPTION}`).join("--version"))
      }
      case "Help":
        return yield* printHelp(intent.chain)
      case "Run": {
        const config = yield* CliConfig.CliConfig
        const directive = yield* Descriptor.parse(fm.descriptor, ["fm", ...intent.args], config).pipe(
          Effect.mapError((e) =>
            new UsageError({
              reason: inWords(withoutColours(HelpDoc.toAnsiText(e.error)).trim().split("\n")[0] ?? ""),
              hint: `see '${intent.chain.map((c) => c.name).join(" ")} --help'`
            })
          )
        )
        // What `Command.run` does with this parse (it would parse the same words again first, a
        // good part of a short command's start): the handler, given the parsed value. A built-in
        // option or words left over are left to `Command.run`; a handler asking for help (a
        // command without one of its own) gets fm's help of its command.
        if (directive._tag === "UserDefined" && directive.leftover.length === 0) {
          return yield* fm.transform(fm.handler(directive.value), directive.value).pipe(
            Effect.catchIf(
              (e) => ValidationError.isValidationError(e) && ValidationError.isHelpRequested(e),
              () => printHelp(intent.chain)
            )
          )
        }
        return yield* Command.run(fm, { name: "fm", version: FM_VERSION })(["node", "fm", ...intent.args])
      }
    }
  })
