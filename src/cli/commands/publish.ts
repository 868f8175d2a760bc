/**
 * `fm publish FILE.fmpkg [--registry R] [--json]`.
 * @since 0.1.0
 */
import { Args, Command } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { ClientServicesLive } from "../../client/ClientLayers.js"
import { Publisher } from "../../client/Publisher.js"
import { json, printJson, registryOption } from "../Output.js"
import { HttpClientLive } from "../HttpClientLayer.js"

/**
 * The `publish` command.
 * @since 0.1.0
 * @category commands
 */
export const publish = Command.make(
  "publish",
  {
    file: Args.file({ name: "file", exists: "yes" }).pipe(Args.withDescription("The .fmpkg archive to publish")),
    registry: registryOption("The registry to publish to (default: the default registry)"),
    json
  },
  (args) =>
    Effect.gen(function*() {
      const publisher = yield* Publisher
      const p = yield* publisher.publish(args.file, { registry: Option.getOrUndefined(args.registry) })
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
    })
).pipe(
  Command.withDescription(
    "Publish a .fmpkg to a registry. The archive is checked locally first; the registry must allow publishing " +
      "(can_publish) and, if it requires authentication, have a token (--token on `fm registry add`, or FLOWMASON_REGISTRY_TOKEN)."
  ),
  Command.provide(ClientServicesLive),
  Command.provide(HttpClientLive) // undici: loaded with this command only
)
