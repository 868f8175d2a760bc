/**
 * `fm outdated`: the project's packages that have newer versions in their registry.
 * @since 0.1.0
 */
import { Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { ProjectInstall } from "../../resolver/ProjectInstall.js"
import { HttpClientLive } from "../HttpClientLayer.js"
import { json, printJson, printTable, projectDirOption } from "../Output.js"

/**
 * `fm outdated [--dir DIR] [--json]`.
 * @since 0.1.0
 * @category commands
 */
export const outdated = Command.make(
  "outdated",
  {
    dir: projectDirOption,
    json
  },
  ({ dir, json }) =>
    Effect.gen(function*() {
      const project = yield* ProjectInstall
      const rows = yield* project.outdated({ dir })
      if (json) return yield* printJson(rows)
      if (rows.length === 0) return yield* Console.log("Everything is up to date.")
      yield* printTable(
        ["PACKAGE", "CURRENT", "WANTED", "LATEST", "REGISTRY", "TYPE"],
        rows.map((r) => [r.name, r.current, r.wanted ?? "-", r.latest, r.registry, r.direct ? "direct" : "transitive"])
      )
      yield* Console.log(
        "\nWANTED is the newest version the project file's range allows; `fm update NAME` moves to it."
      )
    })
).pipe(
  Command.withDescription(
    "List the project's packages that have newer versions. Reads fm.lock.json and asks each package's registry for newer non-yanked versions."
  ),
  Command.provide(ProjectInstall.Default),
  Command.provide(HttpClientLive) // undici: loaded with this command only
)
