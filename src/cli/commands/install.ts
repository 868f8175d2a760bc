/**
 * `fm install NAME [--version V|RANGE] [--registry R] [--dir D] [--extract] [--offline] [--json]`
 * and `fm install ./file.fmpkg`.
 * @since 0.1.0
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Layer, Option } from "effect"
import { ClientServicesLive } from "../../client/ClientLayers.js"
import { type InstallResult, Installer, looksLikePath } from "../../client/Installer.js"
import { frozenOption, isProjectInstall, runProjectInstall } from "../../resolver/ProjectCli.js"
import { ProjectInstall } from "../../resolver/ProjectInstall.js"
import { formatBytes, json, printJson, registryOption, UsageError } from "../Output.js"
import { HttpClientLive } from "../HttpClientLayer.js"
import { INSTALL_VERSION_OPTION } from "./installArgs.js"
import { makeProgress } from "../Progress.js"

/** The internal name of install's version option (`--version` itself is @effect/cli's built-in). */
const VERSION_OPTION = INSTALL_VERSION_OPTION

export {
  /**
   * Lets `fm install NAME --version V` work as FlowMason users type it (defined in
   * `installArgs.ts` so the command tree can use it without loading `install`).
   * @since 0.1.0
   */
  rewriteInstallVersion
} from "./installArgs.js"

/** The JSON shape of an install (snake_case like the wire). */
const installJson = (r: InstallResult) => ({
  name: r.name,
  version: r.version,
  registry: r.registry,
  path: r.path,
  extracted_to: r.extractedTo,
  sha256: r.sha256,
  size_bytes: r.size,
  from_cache: r.fromCache
})

/**
 * The `install` command.
 * @since 0.1.0
 * @category commands
 */
export const install = Command.make(
  "install",
  {
    target: Args.text({ name: "package" }).pipe(
      Args.withDescription("A package name, or the path of a local .fmpkg (./pkg-1.0.0.fmpkg)"),
      Args.optional
    ),
    version: Options.text(VERSION_OPTION).pipe(
      Options.withAlias("v"),
      Options.withDescription(
        "An exact version (1.2.0) or a semver range (^1.2); default: the latest release. Also accepted as --version V"
      ),
      Options.optional
    ),
    registry: registryOption("Use only this registry (default: every enabled one, in priority order)"),
    dir: Options.directory("dir").pipe(
      Options.withAlias("d"),
      Options.withDescription("Install into this directory (default: ~/.flowmason/packages)"),
      Options.optional
    ),
    extract: Options.boolean("extract").pipe(
      Options.withDescription("Also unpack into <dir>/<name>/<version>/")
    ),
    offline: Options.boolean("offline").pipe(
      Options.withDescription("Use only the download cache (needs an exact --version)")
    ),
    frozen: frozenOption,
    json
  },
  (args) =>
    Effect.gen(function*() {
      // no NAME, or a NAME inside a project (manifest.json / flowmason.json): RESOLVER's project install
      const singleOnly = Option.isSome(args.registry) || Option.isSome(args.dir) || args.offline || args.extract
      if (isProjectInstall({ target: args.target, singleOnly, looksLikePath })) {
        return yield* runProjectInstall({ target: args.target, version: args.version, frozen: args.frozen, json: args.json })
      }
      if (Option.isNone(args.target)) {
        return yield* new UsageError({
          reason: "fm install needs a package name or a .fmpkg path",
          hint: "fm install NAME [--version V] or fm install ./file.fmpkg"
        })
      }
      const target = args.target.value
      const installer = yield* Installer
      const progress = makeProgress(`downloading ${target}`, { json: args.json })
      const result = yield* installer.install(target, {
        version: Option.getOrUndefined(args.version),
        registry: Option.getOrUndefined(args.registry),
        dir: Option.getOrUndefined(args.dir),
        extract: args.extract,
        offline: args.offline,
        onProgress: progress.update
      }).pipe(Effect.ensuring(Effect.sync(() => progress.done())))
      if (args.json) return yield* printJson(installJson(result))
      const from = result.registry === null ? "local file" : `registry ${result.registry}`
      const cached = result.fromCache ? ", from cache" : ""
      yield* Console.log(`Installed ${result.name}@${result.version} from ${from}${cached} (${formatBytes(result.size)})`)
      yield* Console.log(`  ${result.path}`)
      if (result.extractedTo !== null) yield* Console.log(`  unpacked to ${result.extractedTo}`)
    })
).pipe(
  Command.withDescription(
    "Install a package from the registries (tried in priority order; the download is verified with SHA-256), " +
      "or a local .fmpkg file. With no NAME, install the project in the current directory (fm.lock.json); " +
      "with a NAME inside a project, add it to the project's dependencies."
  ),
  Command.provide(Layer.mergeAll(ClientServicesLive, ProjectInstall.Default)),
  Command.provide(HttpClientLive) // undici: loaded with this command only
)
