/**
 * The `fm` command tree. Each feature adds its subcommand to the list in `fm` below (one import
 * line and one list entry).
 * @since 0.1.0
 */
import { Command } from "@effect/cli"
import { FM_VERSION } from "../shared/Version.js"
import { pack } from "./commands/pack.js"
import { registry } from "./commands/registry.js"
import { studio } from "./commands/studio.js"
import { info } from "./commands/info.js"
import { install, rewriteInstallVersion } from "./commands/install.js"
import { publish } from "./commands/publish.js"
import { search } from "./commands/search.js"
import { versions } from "./commands/versions.js"
import { outdated } from "./commands/outdated.js"
import { tree } from "./commands/tree.js"
import { update } from "./commands/update.js"

/**
 * The root command: `fm <subcommand> ...`.
 * @since 0.1.0
 * @category commands
 */
export const fm = Command.make("fm").pipe(
  Command.withDescription(
    "fm: the FlowMason package manager and registry. Registries are configured in " +
      "~/.flowmason/registries.json ($FLOWMASON_HOME moves ~/.flowmason)."
  ),
  Command.withSubcommands([
    registry,
    pack,
    studio,
    tree,
    outdated,
    update,
    search,
    info,
    versions,
    install,
    publish
  ])
)

/**
 * Runs `fm` on a full `process.argv` (node and script path first).
 * @since 0.1.0
 */
export const run = (argv: ReadonlyArray<string>) =>
  Command.run(fm, { name: "fm", version: FM_VERSION })(rewriteInstallVersion(argv)) // `install --version V`
