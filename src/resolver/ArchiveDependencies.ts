/**
 * Dependencies a registry does not report, read from the archive's manifest. The original FlowMason
 * server's package answers carry no `dependencies` at all (they live only in `manifest.json`), so
 * for such a release the resolver needs the archive: it is fetched into the package cache
 * (SHA-256-verified while it streams in, kept by SHA-256, so the install that follows reuses it
 * instead of downloading it again), opened with every check an install applies, and the
 * manifest's `dependencies` are its dependencies. Only the releases the solver picks are read.
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { ReleaseInfo } from "../api/Models.js"
import type { PackageArchive } from "../archive/PackageArchive.js"
import type { Fetched, Registries } from "../client/Registries.js"
import { verifyPackageArchive } from "../client/VerifiedArchive.js"
import { type PackageMetadata, ResolveError, type UnreportedDependencies } from "./MetadataSource.js"

/**
 * Builds the reader of unreported dependencies over the configured registries and the archive
 * checks. Each failure is a {@link ResolveError} naming the package, its version and the registry.
 * `onFetched` is told of every archive read (and whether it was in the cache before), so that an
 * install can report as downloaded what this command downloaded.
 * @since 0.1.0
 */
export const makeArchiveDependencies = (
  registries: Registries,
  archive: PackageArchive,
  onFetched?: ((fetched: Fetched) => void) | undefined
): UnreportedDependencies =>
(
  metadata: PackageMetadata,
  release: ReleaseInfo
) =>
  Effect.gen(function*() {
    const registry = metadata.registry.name
    const fail = (reason: string) =>
      new ResolveError({
        package: `${metadata.name}@${release.version}`,
        registry,
        reason: `the registry does not report its dependencies, and its archive ${reason}`
      })
    const fetched = yield* registries.fetch(metadata.name, { version: release.version, registry }).pipe(
      Effect.mapError((e) => fail(`could not be fetched: ${e.message}`))
    )
    onFetched?.(fetched)
    const listed = release.checksum.trim().toLowerCase()
    if (listed !== "" && fetched.cached.sha256 !== listed) {
      return yield* fail(`has SHA-256 ${fetched.cached.sha256}, but the registry listed ${listed} for it`)
    }
    const opened = yield* verifyPackageArchive(archive, fetched.cached.path, {
      name: metadata.name,
      version: release.version,
      registry
    }).pipe(Effect.mapError((e) => fail(`was refused: ${e.reason}`)))
    return opened.manifest.dependencies
  }).pipe(
    Effect.withSpan("ArchiveDependencies.read", { attributes: { name: metadata.name, version: release.version } })
  )
