/**
 * `fm publish`: checks a `.fmpkg` locally (manifest, name, version), picks the registry
 * (`--registry`, else the default), honours its `can_publish` and `requires_auth` settings before
 * sending anything, then uploads it (multipart `file` + `checksum`, streamed from disk).
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { Data, Effect, Option } from "effect"
import * as path from "node:path"
import type { PackageInfo } from "../api/Models.js"
import { PackageArchive } from "../archive/PackageArchive.js"
import { Checksum } from "../shared/Checksum.js"
import { BoundedGet } from "./BoundedGet.js"
import { RegistryConfig } from "./RegistryConfig.js"
import * as RemoteRegistry from "./RemoteRegistry.js"

/**
 * The registry is not marked publishable in the config; nothing was sent.
 * @since 0.1.0
 * @category errors
 */
export class PublishNotAllowed extends Data.TaggedError("PublishNotAllowed")<{
  readonly registry: string
  readonly url: string
  readonly package: string
}> {
  /** Names the registry and the package. */
  override get message(): string {
    return `registry ${this.registry} is not marked for publishing; ${this.package} was not sent`
  }
  /** What to do. */
  get hint(): string {
    return `allow publishing with \`fm registry set ${this.registry} --publish\`, or pick another registry with --registry`
  }
}

/**
 * The registry requires authentication and no token is configured; nothing was sent.
 * @since 0.1.0
 * @category errors
 */
export class TokenMissing extends Data.TaggedError("TokenMissing")<{
  readonly registry: string
  readonly url: string
  readonly package: string
}> {
  /** Names the registry and how to set a token. */
  override get message(): string {
    return `registry ${this.registry} requires authentication and no token is set; ${this.package} was not sent`
  }
  /** What to do. */
  get hint(): string {
    return `save one with \`fm login ${this.registry}\`, or export FLOWMASON_REGISTRY_TOKEN=TOKEN`
  }
}

/**
 * The default registry (publishing without `--registry`) cannot be reached; nothing was sent.
 * @since 0.1.0
 * @category errors
 */
export class DefaultRegistryUnavailable extends Data.TaggedError("DefaultRegistryUnavailable")<{
  readonly registry: string
  readonly url: string
  readonly package: string
  readonly reason: string
}> {
  /** Names the package, the default registry and why it is unavailable. */
  override get message(): string {
    return `${this.package} was not published: the default registry ${this.registry} (${this.url}) is unavailable: ${this.reason}`
  }
  /** What to do. */
  get hint(): string {
    return `Start it, or publish to another registry with \`fm publish FILE --registry NAME\`, ` +
      `or make another one the default with \`fm registry set-default NAME\` (\`fm registry list\` shows them)`
  }
}

/**
 * What was published where.
 * @since 0.1.0
 * @category models
 */
export interface Published {
  readonly registry: string
  readonly info: PackageInfo
  readonly sha256: string
  readonly file: string
}

/**
 * Publishes archives to a registry.
 * @since 0.1.0
 * @category services
 */
export class Publisher extends Effect.Service<Publisher>()("fm/Publisher", {
  effect: Effect.gen(function*() {
    const config = yield* RegistryConfig
    const archive = yield* PackageArchive
    const checksum = yield* Checksum
    const http = yield* HttpClient.HttpClient
    const transport = yield* BoundedGet

    /** Everything `publish` checks before sending a byte: the archive, the registry, its token. */
    const check = Effect.fn("Publisher.check")(function*(
      file: string,
      options: { readonly registry?: string | undefined } = {}
    ) {
      const abs = path.resolve(file)
      const opened = yield* archive.open(abs)
      const { name, version } = opened.manifest
      const pkg = `${name}@${version}`
      const entry = options.registry === undefined ? yield* config.defaultRegistry : yield* config.get(options.registry)
      if (!entry.canPublish) {
        return yield* new PublishNotAllowed({ registry: entry.name, url: entry.url, package: pkg })
      }
      const token = config.token(entry)
      if (entry.requiresAuth && Option.isNone(token)) {
        return yield* new TokenMissing({ registry: entry.name, url: entry.url, package: pkg })
      }
      const sha256 = yield* checksum.hashFile(abs)
      return { file: abs, name, version, pkg, size: opened.size, sha256, entry, token } as const
    })

    const publish = Effect.fn("Publisher.publish")(function*(
      file: string,
      options: {
        readonly registry?: string | undefined
        /** Upload progress: (sent, total) bytes. */
        readonly onProgress?: ((sent: number, total: number) => void) | undefined
      } = {}
    ) {
      const ok = yield* check(file, options)
      const remote = yield* RemoteRegistry.make(ok.entry, { token: ok.token }).pipe(
        Effect.provideService(HttpClient.HttpClient, http),
        Effect.provideService(BoundedGet, transport)
      )
      const info = yield* remote.publish(ok.file, {
        name: ok.name,
        version: ok.version,
        checksum: ok.sha256,
        onProgress: options.onProgress
      }).pipe(
        Effect.catchTag(
          "RegistryUnavailable",
          (e): Effect.Effect<never, RemoteRegistry.RegistryUnavailable | DefaultRegistryUnavailable> =>
            options.registry === undefined
              ? Effect.fail(
                new DefaultRegistryUnavailable({
                  registry: ok.entry.name,
                  url: ok.entry.url,
                  package: ok.pkg,
                  reason: e.reason
                })
              )
              : Effect.fail(e)
        )
      )
      const published: Published = { registry: ok.entry.name, info, sha256: ok.sha256, file: ok.file }
      return published
    })

    return {
      /** Checks an archive and its registry as `publish` does, without uploading (for `--dry-run`). */
      check,
      /** Checks, then uploads an archive to `registry` (default: the default registry). */
      publish
    } as const
  }),
  dependencies: [RegistryConfig.Default, PackageArchive.Default, Checksum.Default, BoundedGet.Default]
}) {}
