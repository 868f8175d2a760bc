/**
 * The `fm` command tree. Each feature adds its subcommand's name to `SubcommandNames.ts` (in the
 * order `fm --help` lists them) and its `import()` to `subcommands` below.
 *
 * Subcommand modules are loaded on demand: `fm registry list` loads only `commands/registry.js`
 * (in the bundle, a module behind `import()` is initialised only when imported); `fm --help`,
 * completions and anything that does not start with a subcommand name load them all, so help and
 * errors read as before.
 * @since 0.1.0
 */
import { Command } from "@effect/cli"
import { Effect } from "effect"
import { FM_VERSION } from "../shared/Version.js"
import { terminalSafeOutput } from "./Output.js"
import { rewriteInstallVersion } from "./commands/installArgs.js"
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
  publish: () => import("./commands/publish.js").then((m) => m.publish)
} satisfies Record<SubcommandName, unknown> // each name in SubcommandNames.ts, and no other

type Subcommand = Awaited<ReturnType<(typeof subcommands)[SubcommandName]>>

/**
 * Stands in for a subcommand that was not loaded: the name only, so that @effect/cli's messages
 * (e.g. "use one of 'registry', 'pack', ...") still list every subcommand. It never matches,
 * because only the subcommand named first in argv is left out of the shells.
 */
const shell = (name: SubcommandName) => Command.make(name)

/** The root command over the given subcommands. */
const root = (subs: readonly [Subcommand | ReturnType<typeof shell>, ...Array<Subcommand | ReturnType<typeof shell>>]) =>
  Command.make("fm").pipe(
    Command.withDescription(
      "fm: the FlowMason package manager and registry. Registries are configured in " +
        "~/.flowmason/registries.json ($FLOWMASON_HOME moves ~/.flowmason)."
    ),
    Command.withSubcommands(subs),
    Command.transformHandler((handler) => terminalSafeOutput(handler)) // every subcommand prints text, never control
  )

/**
 * The root command `fm <subcommand> ...` for a full `process.argv`: with only the named
 * subcommand loaded when the first argument names one (the others are name-only shells), else
 * with all of them.
 * @since 0.1.0
 * @category commands
 */
export const loadFm = (argv: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const first = argv[2]
    if (isSubcommandName(first)) {
      const loaded = await subcommands[first]()
      const [head, ...rest] = SUBCOMMAND_NAMES.map((name) => name === first ? loaded : shell(name))
      return root([head!, ...rest])
    }
    const [head, ...rest] = await Promise.all(SUBCOMMAND_NAMES.map((name) => subcommands[name]()))
    return root([head!, ...rest])
  })

/**
 * Runs `fm` on a full `process.argv` (node and script path first).
 * @since 0.1.0
 */
export const run = (argv: ReadonlyArray<string>) =>
  Effect.flatMap(
    loadFm(argv),
    (fm) => Command.run(fm, { name: "fm", version: FM_VERSION })(rewriteInstallVersion(argv)) // `install --version V`
  )
