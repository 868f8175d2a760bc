/**
 * `fm publish [DIR|FILE.fmpkg] [--registry R] [--dry-run] [--json]`: a package directory is packed
 * first (into a temporary file, removed afterwards); the upload shows a progress bar.
 * @since 0.1.0
 */
import { Args, Command, Options } from "@effect/cli"
import * as FileSystem from "@effect/platform/FileSystem"
import { Console, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { PackageArchive } from "../../archive/PackageArchive.js"
import { ClientServicesLive } from "../../client/ClientLayers.js"
import { Publisher } from "../../client/Publisher.js"
import { HttpClientLive } from "../HttpClientLayer.js"
import { formatBytes, json, printJson, registryOption } from "../Output.js"
import { makeProgress } from "../Progress.js"

const isDirectory = (p: string): boolean => {
  try {
    return fs.statSync(p).isDirectory()
  } catch {
    return false
  }
}

/**
 * The `publish` command.
 * @since 0.1.0
 * @category commands
 */
export const publish = Command.make(
  "publish",
  {
    target: Args.path({ name: "path", exists: "yes" }).pipe(
      Args.withDescription("A package directory (packed first) or a .fmpkg archive"),
      Args.withDefault(".")
    ),
    registry: registryOption("The registry to publish to (default: the default registry)"),
    dryRun: Options.boolean("dry-run").pipe(
      Options.withDescription("Pack and check everything, but upload nothing")
    ),
    json
  },
  (args) =>
    Effect.gen(function*() {
      const publisher = yield* Publisher
      const registry = Option.getOrUndefined(args.registry)
      const source = path.resolve(args.target)
      // a directory: packed into a temporary file first (gone when the command ends)
      const file = isDirectory(source)
        ? yield* Effect.gen(function*() {
          const tmp = yield* FileSystem.FileSystem.pipe(
            Effect.flatMap((f) => f.makeTempDirectoryScoped({ prefix: "fm-publish-" }))
          )
          const packed = yield* (yield* PackageArchive).pack(source, { output: path.join(tmp, "package.fmpkg") })
          if (!args.json) {
            yield* Console.error(
              `Packed ${packed.manifest.name}@${packed.manifest.version} (${formatBytes(packed.size)})`
            )
          }
          return packed.file
        })
        : source
      if (args.dryRun) {
        const ok = yield* publisher.check(file, { registry })
        if (args.json) {
          return yield* printJson({
            dry_run: true,
            registry: ok.entry.name,
            name: ok.name,
            version: ok.version,
            checksum: ok.sha256,
            size_bytes: ok.size
          })
        }
        return yield* Console.log(
          `Would publish ${ok.name}@${ok.version} (${formatBytes(ok.size)}, sha256 ${ok.sha256.slice(0, 12)}…) ` +
            `to registry ${ok.entry.name} (${ok.entry.url}); nothing was uploaded (--dry-run).`
        )
      }
      const progress = makeProgress("uploading", { json: args.json })
      const p = yield* publisher.publish(file, { registry, onProgress: progress.update }).pipe(
        Effect.ensuring(Effect.sync(() => progress.done()))
      )
      if (args.json) {
        return yield* printJson({
          registry: p.registry,
          name: p.info.name,
          version: p.info.version,
          checksum: p.sha256,
          download_url: p.info.download_url,
          size_bytes: p.info.size_bytes
        })
      }
      yield* Console.log(`Published ${p.info.name}@${p.info.version} to registry ${p.registry}`)
      if (p.info.download_url !== "") yield* Console.log(`  ${p.info.download_url}`)
    }).pipe(Effect.scoped)
).pipe(
  Command.withDescription(
    "Publish a package to a registry. Give a package directory (packed first) or a .fmpkg archive; " +
      "the archive is checked locally before the upload. The registry must allow publishing " +
      "(`fm registry set NAME --publish`) and, if it requires authentication, have a token " +
      "(`fm login NAME`, or FLOWMASON_REGISTRY_TOKEN)."
  ),
  Command.provide(ClientServicesLive),
  Command.provide(PackageArchive.Default),
  Command.provide(HttpClientLive) // undici: loaded with this command only
)
