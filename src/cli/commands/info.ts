/**
 * `fm info NAME[@VERSION] [--registry R] [--json]`.
 * @since 0.1.0
 */
import { Args, Command } from "@effect/cli"
import { Effect, Option } from "effect"
import { ClientServicesLive } from "../../client/ClientLayers.js"
import { Registries } from "../../client/Registries.js"
import { parsePublishedAt } from "../../client/RemoteRegistry.js"
import { HttpClientLive } from "../HttpClientLayer.js"
import { formatBytes, json, printFields, printJson, registryOption, UsageError } from "../Output.js"
import { packageSpec } from "../PackageSpec.js"

/**
 * The `info` command.
 * @since 0.1.0
 * @category commands
 */
export const info = Command.make(
  "info",
  {
    spec: Args.text({ name: "package" }).pipe(
      Args.withDescription("NAME or NAME@VERSION (a version or a range; default: the latest release)")
    ),
    registry: registryOption("Ask only this registry"),
    json
  },
  (args) =>
    Effect.gen(function*() {
      const spec = packageSpec("info", args.spec)
      if (spec instanceof UsageError) return yield* spec
      const { name, version } = spec
      const registries = yield* Registries
      const found = yield* registries.getPackage(name, { version, registry: Option.getOrUndefined(args.registry) })
      const p = found.info
      if (args.json) return yield* printJson({ registry: found.registry, ...p })
      const published = parsePublishedAt(p.published_at)
      const lines: Array<[string, string]> = [
        ["name", p.name],
        ["version", p.version + (p.yanked ? " (yanked)" : "")],
        ["registry", found.registry],
        ["description", p.description],
        ["author", p.author ?? ""],
        ["license", p.license ?? ""],
        ["category", p.category ?? ""],
        ["tags", p.tags.join(", ")],
        ["components", p.components.join(", ")],
        [
          "dependencies",
          p.dependencies === undefined
            ? `not reported by registry ${found.registry} (read from the archive's manifest when installed)`
            : Object.entries(p.dependencies).map(([k, v]) => `${k} ${v}`).join(", ")
        ],
        ["published", published?.toISOString() ?? ""],
        ["size", p.size_bytes > 0 ? formatBytes(p.size_bytes) : ""],
        ["sha256", p.checksum],
        ["versions", p.available_versions.join(", ")],
        ["homepage", p.homepage ?? ""],
        ["download", p.download_url]
      ]
      yield* printFields(lines)
    })
).pipe(
  Command.withDescription(
    "Show a package version's details. The first registry (in priority order) that has it answers."
  ),
  Command.provide(ClientServicesLive),
  Command.provide(HttpClientLive) // undici: loaded with this command only
)
