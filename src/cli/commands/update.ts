/**
 * `fm update [NAME...]`: re-resolve the named packages (all when none are named) to the newest
 * versions the project file allows, install them, and rewrite `fm.lock.json`.
 * @since 0.1.0
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { ProjectInstall } from "../../resolver/ProjectInstall.js"
import { HttpClientLive } from "../HttpClientLayer.js"
import { json, printJson, projectDirOption, UsageError, warn } from "../Output.js"
import { splitSpec } from "../PackageSpec.js"
import { makeProgress } from "../Progress.js"

/**
 * `fm update [NAME...] [--dir DIR] [--concurrency N] [--json]`.
 * @since 0.1.0
 * @category commands
 */
export const update = Command.make(
  "update",
  {
    names: Args.text({ name: "name" }).pipe(
      Args.withDescription("Packages to update (default: all); the others keep their locked versions"),
      Args.repeated
    ),
    dir: projectDirOption,
    concurrency: Options.integer("concurrency").pipe(
      Options.withDescription("Parallel downloads and metadata requests"),
      Options.withDefault(8)
    ),
    json
  },
  ({ concurrency, dir, json, names }) =>
    Effect.gen(function*() {
      // update moves within the project file's ranges; a range is changed by install NAME@RANGE
      for (const n of names) {
        const { name, version } = splitSpec(n)
        if (version !== undefined) {
          return yield* new UsageError({
            reason: `fm update takes package names: '${n}' names a version`,
            hint: `to change the range the project allows, run: fm install ${name}@${version}`
          })
        }
      }
      const project = yield* ProjectInstall
      const progress = makeProgress("downloading", { json })
      const result = yield* project.update(names, {
        dir,
        concurrency: Math.max(1, concurrency),
        onProgress: progress.update
      }).pipe(
        Effect.ensuring(Effect.sync(() => progress.done()))
      )
      if (json) return yield* printJson(result)
      for (const w of result.warnings) yield* warn(w)
      if (result.changes.length === 0) {
        yield* Console.log(`Everything is up to date (${result.packages.length} packages).`)
      }
      for (const c of result.changes) {
        yield* Console.log(c.from === null ? `+ ${c.name} ${c.to}` : `~ ${c.name} ${c.from} -> ${c.to}`)
      }
      yield* Console.log(
        `Installed ${result.packages.length} packages into ${result.installDir}; wrote ${result.lockfile}.`
      )
    })
).pipe(
  Command.withDescription(
    "Update the project's packages to the newest allowed versions. The named packages (all when none) are " +
      "re-resolved within the project file's ranges, installed (all or nothing) and written to fm.lock.json. " +
      "Conflicts are explained line by line."
  ),
  Command.provide(ProjectInstall.Default),
  Command.provide(HttpClientLive) // undici: loaded with this command only
)
