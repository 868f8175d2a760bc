/**
 * The {@link MetadataSource} over the configured registries, without dependency confusion: each
 * name resolves from the ONE highest-priority enabled registry that has it (versions are never
 * merged across registries), or only from the registry the project pins it to. Every registry is
 * asked at once. A registry that cannot be reached is passed over exactly as the typed fallback of
 * `Registries` does (it is marked unavailable for the rest of the command, with one warning), except
 * for a name the project pins to it: then resolution stops with an error naming both.
 * @since 0.1.0
 */
import { type Context, Effect, Fiber } from "effect"
import type { Registries } from "../client/Registries.js"
import type { VersionList } from "../client/RemoteRegistry.js"
import { normalizeName } from "../domain/PackageName.js"
import {
  MetadataSource,
  type PackageMetadata,
  type RegistryRef,
  ResolveError,
  type UnreportedDependencies
} from "./MetadataSource.js"

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
  /**
   * Reads the dependencies a registry does not report (see `makeArchiveDependencies`); without
   * it a resolution needing such a release fails.
   */
  readonly dependencies?: UnreportedDependencies | undefined
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
      // every registry at once (the others forked, the first on this fiber); the answers are read in
      // priority order. Awaited, not joined: nothing of the lookups' fiber state is wanted back, and
      // merging it into this fiber was a measurable part of a cold install's CPU
      const [first, ...rest] = list
      const others = yield* Effect.forEach(rest, (source) => Effect.fork(Effect.either(source.versions(name))))
      const answers = first === undefined ? [] : [yield* Effect.either(first.versions(name))]
      for (const fiber of others) answers.push(yield* Effect.flatten(Fiber.await(fiber)))
      let found: { readonly index: number; readonly list: VersionList } | undefined
      const unavailable: Array<string> = []
      for (let i = 0; i < list.length && found === undefined; i++) {
        const source = list[i]
        const answer = answers[i]
        if (answer._tag === "Right") {
          found = { index: i, list: answer.right }
          continue
        }
        const e = answer.left
        if (e._tag === "PackageNotFound") continue
        // unreachable: move on, exactly as the typed fallback does, unless the project pins the name here
        if (e._tag === "RegistryUnavailable" && pin === undefined) {
          unavailable.push(source.name)
          continue
        }
        const reason = pin === undefined ? e.message : `the project pins it to registry '${pin}': ${e.message}`
        return yield* new ResolveError({ package: name, registry: source.name, reason })
      }
      if (found === undefined) {
        if (unavailable.length > 0 && unavailable.length === list.length) {
          return yield* new ResolveError({
            package: name,
            registry: "",
            reason: `every registry is unavailable (${unavailable.join(", ")})`
          })
        }
        return undefined
      }
      const source = list[found.index]
      const registry: RegistryRef = { name: source.name, url: source.url }
      const shadows: Array<RegistryRef> = options.detectShadows === true && pin === undefined
        ? list.slice(found.index + 1).flatMap((
          s,
          j
        ) => (answers[found.index + 1 + j]._tag === "Right" ? [{ name: s.name, url: s.url }] : []))
        : []
      return { registry, name: found.list.name, releases: found.list.releases, shadows }
    })
  return MetadataSource.of({ releases, dependencies: options.dependencies })
}
