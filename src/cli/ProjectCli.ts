/**
 * The project side of `fm install`, ready for the install command to call: with no NAME it
 * installs the project in the current directory (lock first, else resolve), and with a NAME
 * inside a project it adds the dependency to the project file. Prints what it did (or JSON).
 * @since 0.1.0
 */
import { Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { normalizeName } from "../domain/PackageName.js"
import { PROJECT_FILES } from "../resolver/ProjectFile.js"
import { ProjectInstall, type ProjectInstallResult } from "../resolver/ProjectInstall.js"

/**
 * `--frozen`: fail instead of resolving when `fm.lock.json` does not satisfy the project file.
 * @since 0.1.0
 * @category options
 */
export const frozenOption: Options.Options<boolean> = Options.boolean("frozen").pipe(
  Options.withDescription("Project installs: use fm.lock.json as is; fail if it does not satisfy the project file")
)

/**
 * Whether `dir` (default: the current directory) holds a project file.
 * @since 0.1.0
 */
export const hasProjectFile = (dir: string = "."): boolean =>
  PROJECT_FILES.some((f) => fs.existsSync(path.join(path.resolve(dir), f)))

/**
 * The arguments of `fm install` that matter for a project install.
 * @since 0.1.0
 * @category models
 */
export interface ProjectInstallArgs {
  readonly target: Option.Option<string>
  /** `--version`: the range to record when adding NAME. */
  readonly version?: Option.Option<string> | undefined
  readonly frozen?: boolean | undefined
  readonly json?: boolean | undefined
  readonly concurrency?: number | undefined
  /** The project directory (default: the current directory). */
  readonly projectDir?: string | undefined
  /**
   * A progress display for the downloads: `update` as bytes arrive (see
   * `ProjectOptions.onProgress`), `done` once they are over, before anything is printed.
   */
  readonly progress?:
    | { readonly update: (received: number, total: number) => void; readonly done: () => void }
    | undefined
}

/**
 * Whether `fm install` with these arguments is a project operation: no NAME, or a NAME (not a
 * path) while the directory holds a project file and no `--registry`/`--dir`/`--offline` was given.
 * @since 0.1.0
 */
export const isProjectInstall = (
  args: ProjectInstallArgs & {
    readonly singleOnly?: boolean | undefined
    readonly looksLikePath?: ((s: string) => boolean) | undefined
  }
): boolean => {
  if (Option.isNone(args.target)) return true
  if (args.singleOnly === true) return false
  if (args.looksLikePath?.(args.target.value) === true) return false
  return hasProjectFile(args.projectDir)
}

const resultJson = (r: ProjectInstallResult, added?: { name: string; range: string }) => ({
  project: r.project,
  install_dir: r.installDir,
  lockfile: r.lockfile,
  resolved: r.resolved,
  added: added ?? null,
  warnings: r.warnings,
  packages: r.packages.map((p) => ({
    name: p.name,
    version: p.version,
    registry: p.registry,
    sha256: p.sha256,
    size_bytes: p.size,
    from_cache: p.fromCache
  }))
})

/**
 * Runs the project install (no NAME) or add (NAME[@RANGE], or NAME with `--version RANGE`) and
 * prints the outcome: warnings on stderr, a summary (or `--json`) on stdout.
 * @since 0.1.0
 */
export const runProjectInstall = (args: ProjectInstallArgs) =>
  Effect.gen(function*() {
    const project = yield* ProjectInstall
    const options = {
      dir: args.projectDir,
      frozen: args.frozen,
      concurrency: args.concurrency,
      onProgress: args.progress?.update
    }
    const finished = Effect.sync(() => args.progress?.done())
    let result: ProjectInstallResult
    let added: { name: string; range: string } | undefined
    if (Option.isNone(args.target)) {
      result = yield* project.install(options).pipe(Effect.ensuring(finished))
    } else {
      const range = args.version !== undefined && Option.isSome(args.version) ? args.version.value : undefined
      const spec = range === undefined ? args.target.value : `${args.target.value}@${range}`
      const out = yield* project.add(spec, options).pipe(Effect.ensuring(finished))
      result = out
      added = out.added
    }
    if (args.json === true) return yield* Console.log(JSON.stringify(resultJson(result, added), null, 2))
    for (const w of result.warnings) yield* Console.error(`warning: ${w}`)
    if (added !== undefined) {
      const got = result.packages.find((p) => normalizeName(p.name) === normalizeName(added.name))
      yield* Console.log(
        `Added ${added.name} ${added.range} to ${path.basename(result.project)}${
          got === undefined ? "" : ` (${got.version})`
        }`
      )
    }
    const cached = result.packages.filter((p) => p.fromCache).length
    yield* Console.log(
      `Installed ${result.packages.length} packages into ${result.installDir} ` +
        `(${cached} from cache, ${result.packages.length - cached} downloaded; ` +
        `${
          result.resolved
            ? `resolved and wrote ${path.basename(result.lockfile)}`
            : `from ${path.basename(result.lockfile)}`
        })`
    )
  })
