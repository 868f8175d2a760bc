/**
 * The {@link MetadataSource} over the configured registries, without dependency confusion: each
 * name resolves from the ONE highest-priority enabled registry that has it (versions are never
 * merged across registries), or only from the registry the project pins it to. A higher-priority
 * registry that cannot be reached stops resolution of the names it might serve, instead of
 * silently falling through to a lower one.
 * @since 0.1.0
 */
import { type Context, Effect } from "effect"
import { normalizeName } from "../domain/PackageName.js"
import type { Registries } from "../client/Registries.js"
import { MetadataSource, type PackageMetadata, type RegistryRef, ResolveError } from "./MetadataSource.js"

/**
 * Options of {@link makeRegistryMetadata}.
 * @since 0.1.0
 * @category models
 */
export interface RegistryMetadataOptions {
  /** name -> registry name: only that registry is asked for the name. */
  readonly pins?: Readonly<Record<string, string>> | undefined
  /** Also ask the lower-priority registries whether they publish the name (a confusion report). */
  readonly detectShadows?: boolean | undefined
}

/**
 * Builds the metadata source over a {@link Registries} service.
 * @since 0.1.0
 */
export const makeRegistryMetadata = (
  registries: Registries,
  options: RegistryMetadataOptions = {}
): Context.Tag.Service<MetadataSource> => {
  const pins = new Map(Object.entries(options.pins ?? {}).map(([n, r]) => [normalizeName(n), r]))
  const releases = (name: string): Effect.Effect<PackageMetadata | undefined, ResolveError> =>
    Effect.gen(function*() {
      const pin = pins.get(normalizeName(name))
      const list = yield* registries.sources(pin).pipe(
        Effect.mapError((e) =>
          new ResolveError({
            package: name,
            registry: pin ?? "",
            reason: pin === undefined ? e.message : `the project pins it to registry '${pin}': ${e.message}`
          })
        )
      )
      for (let i = 0; i < list.length; i++) {
        const source = list[i]!
        const answer = yield* Effect.either(source.versions(name))
        if (answer._tag === "Left") {
          const e = answer.left
          if (e._tag === "PackageNotFound") continue
          const reason = e._tag === "RegistryUnavailable" && i < list.length - 1
            ? `${e.message}. It comes before other registries, so '${name}' cannot safely be taken from a lower-priority one; ` +
              `retry, disable the registry, or pin the package in the project file ("registries": { "${name}": "REGISTRY" })`
            : e.message
          return yield* new ResolveError({ package: name, registry: source.name, reason })
        }
        const registry: RegistryRef = { name: source.name, url: source.url }
        let shadows: Array<RegistryRef> = []
        if (options.detectShadows === true && pin === undefined && i < list.length - 1) {
          const others = yield* Effect.forEach(
            list.slice(i + 1),
            (s) =>
              s.versions(name).pipe(
                Effect.as(true),
                Effect.orElseSucceed(() => false),
                Effect.map((has) => (has ? [{ name: s.name, url: s.url }] : []))
              ),
            { concurrency: "unbounded" }
          )
          shadows = others.flat()
        }
        return { registry, name: answer.right.name, releases: answer.right.releases, shadows }
      }
      return undefined
    })
  return MetadataSource.of({ releases })
}
