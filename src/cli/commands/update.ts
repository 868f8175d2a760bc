/**
 * `fm update [NAME...]`: re-resolve the named packages (all when none are named) to the newest
 * versions the project file allows, install them, and rewrite `fm.lock.json`.
 * @since 0.1.0
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { ProjectInstall } from "../../resolver/ProjectInstall.js"
import { json, projectDirOption, printJson, warn } from "../Output.js"
import { HttpClientLive } from "../HttpClientLayer.js"

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
      const project = yield* ProjectInstall
      const result = yield* project.update(names, { dir, concurrency: Math.max(1, concurrency) })
      if (json) return yield* printJson(result)
      for (const w of result.warnings) yield* warn(w)
      if (result.changes.length === 0) {
        yield* Console.log(`Everything is up to date (${result.packages.length} packages).`)
      }
      for (const c of result.changes) {
        yield* Console.log(c.from === null ? `+ ${c.name} ${c.to}` : `~ ${c.name} ${c.from} -> ${c.to}`)
      }
      yield* Console.log(`Installed ${result.packages.length} packages into ${result.installDir}; wrote ${result.lockfile}.`)
    })
).pipe(
  Command.withDescription(
    "Re-resolve the named packages (all when none) to the newest versions the project file allows, " +
      "install them (all or nothing) and rewrite fm.lock.json. Conflicts are explained line by line."
  ),
  Command.provide(ProjectInstall.Default),
  Command.provide(HttpClientLive) // undici: loaded with this command only
)
