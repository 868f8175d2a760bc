/**
 * `fm install NAME[@VERSION|@RANGE] [--version V|RANGE] [--registry R] [--dir D] [--no-deps] [--extract] [--offline] [--json]`
 * and `fm install ./file.fmpkg`.
 * @since 0.1.0
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Layer, Option } from "effect"
import { PackageArchive } from "../../archive/PackageArchive.js"
import { ClientServicesLive } from "../../client/ClientLayers.js"
import { Installer, type InstallResult, InvalidPackageName, looksLikePath } from "../../client/Installer.js"
import { Registries } from "../../client/Registries.js"
import { isPackageName, normalizeName } from "../../domain/PackageName.js"
import { makeArchiveDependencies } from "../../resolver/ArchiveDependencies.js"
import { ProjectInstall } from "../../resolver/ProjectInstall.js"
import { makeRegistryMetadata } from "../../resolver/RegistryMetadata.js"
import { resolveFrom } from "../../resolver/Resolver.js"
import { HttpClientLive } from "../HttpClientLayer.js"
import { formatBytes, json, printJson, registryOption, UsageError, warn } from "../Output.js"
import { packageSpec } from "../PackageSpec.js"
import { makeProgress } from "../Progress.js"
import { frozenOption, isProjectInstall, runProjectInstall } from "../ProjectCli.js"
import { INSTALL_VERSION_OPTION } from "./installArgs.js"

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
      Args.withDescription("NAME, NAME@VERSION or NAME@RANGE, or the path of a local .fmpkg (./pkg-1.0.0.fmpkg)"),
      Args.optional
    ),
    version: Options.text(INSTALL_VERSION_OPTION).pipe(
      Options.withPseudoName("VERSION"),
      Options.withDescription("An exact version (1.2.0) or a semver range (^1.2); default: the latest release"),
      Options.optional
    ),
    registry: registryOption("Use only this registry (default: every enabled one, in priority order)"),
    dir: Options.directory("dir").pipe(
      Options.withAlias("d"),
      Options.withDescription("Install into this directory (default: ~/.flowmason/packages)"),
      Options.optional
    ),
    noDeps: Options.boolean("no-deps").pipe(
      Options.withDescription("Install only the named package, not its dependencies")
    ),
    extract: Options.boolean("extract").pipe(
      Options.withDescription("Also unpack into <dir>/<name>/<version>/")
    ),
    offline: Options.boolean("offline").pipe(
      Options.withDescription("Use only the download cache (needs an exact version; implies --no-deps)")
    ),
    frozen: frozenOption,
    json
  },
  (args) =>
    Effect.gen(function*() {
      // no NAME, or a NAME inside a project (manifest.json / flowmason.json): RESOLVER's project install
      const singleOnly = Option.isSome(args.registry) || Option.isSome(args.dir) || args.offline || args.extract ||
        args.noDeps
      if (isProjectInstall({ target: args.target, singleOnly, looksLikePath })) {
        return yield* runProjectInstall({
          target: args.target,
          version: args.version,
          frozen: args.frozen,
          json: args.json,
          progress: makeProgress("downloading", { json: args.json })
        })
      }
      if (Option.isNone(args.target)) {
        return yield* new UsageError({
          reason: "fm install needs a package name or a .fmpkg path",
          hint: "fm install NAME[@VERSION] or fm install ./file.fmpkg"
        })
      }
      const target = args.target.value
      const installer = yield* Installer
      const options = {
        registry: Option.getOrUndefined(args.registry),
        dir: Option.getOrUndefined(args.dir),
        extract: args.extract,
        offline: args.offline
      }
      /** Installs one package with a progress bar for its download. */
      const one = (name: string, version: string | undefined, registry: string | undefined) => {
        const progress = makeProgress(`downloading ${name}`, { json: args.json })
        return installer.install(name, { ...options, version, registry, onProgress: progress.update }).pipe(
          Effect.ensuring(Effect.sync(() => progress.done()))
        )
      }
      const results: Array<InstallResult> = []
      if (looksLikePath(target)) {
        results.push(yield* one(target, undefined, options.registry))
      } else {
        const spec = packageSpec("install", target, args.version)
        if (spec instanceof UsageError) return yield* spec
        if (!isPackageName(spec.name)) return yield* new InvalidPackageName({ name: spec.name })
        if (args.noDeps || args.offline) {
          results.push(yield* one(spec.name, spec.version, options.registry))
        } else {
          // the package and its dependencies, resolved as a project's are (the root pinned to --registry);
          // the package itself is looked up first, so that a missing one or version is named as such
          const registries = yield* Registries
          yield* registries.getPackage(spec.name, { version: spec.version, registry: options.registry })
          // archives this command downloaded to read dependencies their registry does not report
          const downloaded = new Set<string>()
          const idOf = (registry: string | null, name: string, version: string) =>
            `${registry}\u0000${normalizeName(name)}@${version}`
          const source = makeRegistryMetadata(registries, {
            pins: options.registry === undefined ? {} : { [spec.name]: options.registry },
            dependencies: makeArchiveDependencies(registries, yield* PackageArchive, (f) => {
              if (!f.fromCache) downloaded.add(idOf(f.registry, f.info.name, f.info.version))
            })
          })
          const resolution = yield* resolveFrom(source, {
            dependencies: { [spec.name]: spec.version ?? "*" },
            rootName: `fm install ${target}`
          })
          if (!args.json) { for (const w of resolution.warnings) yield* warn(w) }
          const key = normalizeName(spec.name)
          const ordered = [...resolution.packages].sort((a, b) =>
            Number(normalizeName(b.name) === key) - Number(normalizeName(a.name) === key)
          )
          for (const p of ordered) {
            const r = yield* one(p.name, p.version, p.registry.name)
            results.push(downloaded.has(idOf(r.registry, r.name, r.version)) ? { ...r, fromCache: false } : r)
          }
        }
      }
      const [root, ...deps] = results
      if (root === undefined) return
      if (args.json) return yield* printJson({ ...installJson(root), dependencies: deps.map(installJson) })
      for (const result of results) {
        const from = result.registry === null ? "local file" : `registry ${result.registry}`
        const cached = result.fromCache ? ", from cache" : ""
        yield* Console.log(
          `Installed ${result.name}@${result.version} from ${from}${cached} (${formatBytes(result.size)})`
        )
        yield* Console.log(`  ${result.path}`)
        if (result.extractedTo !== null) yield* Console.log(`  unpacked to ${result.extractedTo}`)
      }
      if (deps.length > 0) {
        yield* Console.log(
          `${root.name}@${root.version} and ${deps.length} ${
            deps.length === 1 ? "dependency" : "dependencies"
          } installed.`
        )
      }
    })
).pipe(
  Command.withDescription(
    "Install a package and its dependencies, or a project. The registries are tried in priority order " +
      "and every download is verified with SHA-256. A local .fmpkg file is installed as it is. With no " +
      "PACKAGE, install the project in the current directory (fm.lock.json); with a PACKAGE inside a " +
      "project, add it to the project's dependencies."
  ),
  Command.provide(Layer.mergeAll(ClientServicesLive, ProjectInstall.Default, PackageArchive.Default)),
  Command.provide(HttpClientLive) // undici: loaded with this command only
)
