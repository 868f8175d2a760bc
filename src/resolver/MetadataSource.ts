/**
 * Where the resolver reads package metadata from: for one name, the releases of the ONE registry
 * that serves it (versions, dependencies, yanked flags, checksums), never merged across
 * registries. Implementations: {@link layerMemory} (tests, benchmarks) and the registry-backed
 * source in `RegistryMetadata.ts`.
 * @since 0.1.0
 */
import { Context, Data, Effect, Layer } from "effect"
import type { ReleaseInfo } from "../api/Models.js"
import { normalizeName } from "../domain/PackageName.js"

/**
 * A registry as named in the lockfile and in messages.
 * @since 0.1.0
 * @category models
 */
export interface RegistryRef {
  readonly name: string
  readonly url: string
}

/**
 * Everything one registry says about one package.
 * @since 0.1.0
 * @category models
 */
export interface PackageMetadata {
  /** The registry the package resolves from (the highest-priority one that has it, or the pinned one). */
  readonly registry: RegistryRef
  /** The package name as that registry spells it. */
  readonly name: string
  readonly releases: ReadonlyArray<ReleaseInfo>
  /** Lower-priority registries that also publish this name (a dependency-confusion hint), when known. */
  readonly shadows?: ReadonlyArray<RegistryRef> | undefined
}

/**
 * Metadata could not be read (a registry failed, answered garbage, or a pin names an unknown
 * registry). Names the package and the registry.
 * @since 0.1.0
 * @category errors
 */
export class ResolveError extends Data.TaggedError("ResolveError")<{
  readonly package: string
  readonly registry: string
  readonly reason: string
}> {
  override get message(): string {
    return this.registry === ""
      ? `cannot resolve '${this.package}': ${this.reason}`
      : `cannot resolve '${this.package}' from registry '${this.registry}': ${this.reason}`
  }
}

/**
 * The metadata source the resolver asks, once per name per run.
 * @since 0.1.0
 * @category services
 */
export class MetadataSource extends Context.Tag("fm/MetadataSource")<MetadataSource, {
  /** The releases of `name` from the one registry that serves it, or `undefined` when none has it. */
  readonly releases: (name: string) => Effect.Effect<PackageMetadata | undefined, ResolveError>
  /**
   * The dependencies of a release its registry did not report (`release.dependencies` undefined),
   * read from elsewhere (see `ArchiveDependencies.ts`: the archive's manifest). Without it, a
   * resolution that needs such a release fails.
   */
  readonly dependencies?: UnreportedDependencies | undefined
}>() {}

/**
 * Reads the dependencies of a release whose registry did not report them.
 * @since 0.1.0
 * @category models
 */
export type UnreportedDependencies = (
  metadata: PackageMetadata,
  release: ReleaseInfo
) => Effect.Effect<Readonly<Record<string, string>>, ResolveError>

/**
 * One in-memory registry: its name, URL and packages (name -> releases).
 * @since 0.1.0
 * @category models
 */
export interface MemoryRegistry {
  readonly registry: RegistryRef
  readonly packages:
    | ReadonlyMap<string, ReadonlyArray<ReleaseInfo>>
    | Readonly<Record<string, ReadonlyArray<ReleaseInfo>>>
}

/**
 * A metadata source over in-memory registries in priority order (first wins, no merging), with
 * optional per-name registry pins. `calls` counts the lookups per registry and name, so tests can
 * check that each registry is asked once per name.
 * @since 0.1.0
 */
export const makeMemory = (
  registries: ReadonlyArray<MemoryRegistry>,
  pins: Readonly<Record<string, string>> = {},
  dependencies?: UnreportedDependencies | undefined
): Context.Tag.Service<MetadataSource> & { readonly calls: Map<string, number> } => {
  const calls = new Map<string, number>()
  const tables = registries.map((r) => {
    const m = new Map<string, { name: string; releases: ReadonlyArray<ReleaseInfo> }>()
    const entries = r.packages instanceof Map ? [...r.packages] : Object.entries(r.packages)
    for (const [name, releases] of entries) m.set(normalizeName(name), { name, releases })
    return { registry: r.registry, m }
  })
  const pinned = new Map(Object.entries(pins).map(([n, r]) => [normalizeName(n), r]))
  return {
    calls,
    dependencies,
    releases: (name) =>
      Effect.suspend(() => {
        const key = normalizeName(name)
        const pin = pinned.get(key)
        const candidates = pin === undefined ? tables : tables.filter((t) => t.registry.name === pin)
        if (pin !== undefined && candidates.length === 0) {
          return Effect.fail(
            new ResolveError({
              package: name,
              registry: pin,
              reason: "the project pins it to a registry that is not configured"
            })
          )
        }
        for (const t of candidates) {
          const k = `${t.registry.name}\u0000${key}`
          calls.set(k, (calls.get(k) ?? 0) + 1)
          const hit = t.m.get(key)
          if (hit !== undefined) return Effect.succeed({ registry: t.registry, name: hit.name, releases: hit.releases })
        }
        return Effect.succeed(undefined)
      })
  }
}

/**
 * A layer of {@link makeMemory}.
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (
  registries: ReadonlyArray<MemoryRegistry>,
  pins: Readonly<Record<string, string>> = {}
): Layer.Layer<MetadataSource> => Layer.succeed(MetadataSource, makeMemory(registries, pins))
