/**
 * `fm versions NAME[@RANGE] [--registry R] [--json]`.
 * @since 0.1.0
 */
import { Args, Command } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as semver from "semver"
import { ClientServicesLive } from "../../client/ClientLayers.js"
import { Registries } from "../../client/Registries.js"
import { parsePublishedAt } from "../../client/RemoteRegistry.js"
import type { VersionsSource } from "../../client/VersionsFallback.js"
import { pickLatest } from "../../domain/Version.js"
import { HttpClientLive } from "../HttpClientLayer.js"
import { json, printJson, printTable, registryOption, UsageError } from "../Output.js"
import { packageSpec } from "../PackageSpec.js"

/** What `fm versions` says about where the list came from, after "NAME from registry R". */
const SOURCE_NOTE: Record<VersionsSource, string> = {
  versions: "",
  search: " (gathered from its search answers: it has no versions listing)",
  package: " (only the version its package answer names: it has no versions listing and its search lists none)"
}

/**
 * The `versions` command.
 * @since 0.1.0
 * @category commands
 */
export const versions = Command.make(
  "versions",
  {
    name: Args.text({ name: "package" }).pipe(
      Args.withDescription("NAME, or NAME@RANGE to list only the versions in that range")
    ),
    registry: registryOption("Ask only this registry"),
    json
  },
  (args) =>
    Effect.gen(function*() {
      const spec = packageSpec("versions", args.name)
      if (spec instanceof UsageError) return yield* spec
      const registries = yield* Registries
      const all = yield* registries.listVersions(spec.name, { registry: Option.getOrUndefined(args.registry) })
      const range = spec.version
      const list = range === undefined
        ? all
        : {
          ...all,
          releases: all.releases.filter((r) => semver.satisfies(r.version, range, { includePrerelease: true }))
        }
      const latest = pickLatest(all.releases.filter((r) => !r.yanked).map((r) => r.version))
      if (args.json) {
        return yield* printJson({
          name: list.name,
          registry: list.registry,
          latest_version: latest ?? null,
          yank_info_available: list.supported,
          source: list.source,
          versions: list.releases.map((r) => ({
            version: r.version,
            yanked: r.yanked,
            yank_reason: r.yank_reason,
            published_at: r.published_at,
            checksum: r.checksum === "" ? null : r.checksum,
            size_bytes: r.size_bytes
          }))
        })
      }
      yield* printTable(
        ["VERSION", "PUBLISHED", "STATUS"],
        [...list.releases].reverse().map((r) => [
          r.version,
          parsePublishedAt(r.published_at)?.toISOString().slice(0, 10) ?? "",
          r.yanked ? `yanked${r.yank_reason ? `: ${r.yank_reason}` : ""}` : r.version === latest ? "latest" : ""
        ])
      )
      yield* Console.log(`${list.name} from registry ${list.registry}${SOURCE_NOTE[list.source]}`)
      if (!list.supported) {
        yield* Console.error(
          `note: registry ${list.registry} does not list yanked versions (an older FlowMason server)`
        )
      }
    })
).pipe(
  Command.withDescription(
    "List a package's versions. Newest first, with dates and yanked marks; NAME@RANGE lists only those in the range."
  ),
  Command.provide(ClientServicesLive),
  Command.provide(HttpClientLive) // undici: loaded with this command only
)
