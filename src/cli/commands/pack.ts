/**
 * `fm pack [DIR]`: build a `.fmpkg` archive from a package directory.
 * @since 0.1.0
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as path from "node:path"
import { PackageArchive } from "../../archive/PackageArchive.js"
import { formatBytes, json, printJson } from "../Output.js"

/**
 * `fm pack [DIR] [--output/-o FILE] [--format zip|tar] [--json]`.
 * @since 0.1.0
 * @category commands
 */
export const pack = Command.make(
  "pack",
  {
    dir: Args.directory({ name: "dir", exists: "yes" }).pipe(
      Args.withDescription("The package directory (with manifest.json or flowmason-package.json)"),
      Args.withDefault(".")
    ),
    output: Options.file("output").pipe(
      Options.withAlias("o"),
      Options.withDescription("Where to write the archive (default: ./<name>-<version>.fmpkg)"),
      Options.optional
    ),
    format: Options.choice("format", ["zip", "tar"]).pipe(
      Options.withDescription("zip (what FlowMason tools read) or tar (gzip)"),
      Options.withDefault("zip" as const)
    ),
    json
  },
  ({ dir, format, json, output }) =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const result = yield* archive.pack(path.resolve(dir), {
        format,
        ...(Option.isSome(output) ? { output: path.resolve(output.value) } : {})
      })
      const report = {
        name: result.manifest.name,
        version: result.manifest.version,
        file: result.file,
        format: result.format,
        sha256: result.sha256,
        size: result.size
      }
      if (json) return yield* printJson(report)
      yield* Console.log(`Packed ${report.name}@${report.version}`)
      yield* Console.log(`  file:    ${report.file}`)
      yield* Console.log(`  format:  ${report.format}`)
      yield* Console.log(`  sha256:  ${report.sha256}`)
      yield* Console.log(`  size:    ${formatBytes(report.size)} (${report.size} bytes)`)
    })
).pipe(
  Command.withDescription("Pack a package directory into a .fmpkg archive. The manifest is checked first."),
  Command.provide(PackageArchive.Default)
)
