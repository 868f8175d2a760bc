/**
 * The check every registry archive passes before anything of it is placed in a target directory
 * or a project: opened with every check of a local file (safe paths, limits, a manifest; see
 * `PackageArchive.open`), and its manifest must be the package and version asked for.
 * @since 0.1.0
 */
import { Data, Effect } from "effect"
import type { OpenedArchive, PackageArchive } from "../archive/PackageArchive.js"
import { sameName } from "../domain/PackageName.js"

/**
 * A registry's archive that is not safe to install, or not the package asked for: a path outside
 * the package, a limit passed, no manifest, or a manifest naming another package or version.
 * Nothing is installed.
 * @since 0.1.0
 * @category errors
 */
export class PackageRefused extends Data.TaggedError("PackageRefused")<{
  /** `name@version` as asked for. */
  readonly package: string
  readonly registry: string
  readonly reason: string
}> {
  /** Names the package, the registry and what is wrong. */
  override get message(): string {
    return `refusing to install ${this.package} from registry ${this.registry}: ${this.reason}`
  }
  /** What the user can do about it. */
  get hint(): string {
    return `nothing was installed; registry ${this.registry} serves an unsafe archive or another package under this name and version: report it to its maintainers`
  }
}

/**
 * What is expected of an archive: the package and version asked for, and the registry it came from.
 * @since 0.1.0
 * @category models
 */
export interface Expected {
  readonly name: string
  readonly version: string
  readonly registry: string
}

/** Requires the opened archive's manifest to be `expected.name` (normalized) at exactly `expected.version`. */
const expectManifest = (
  opened: Effect.Effect<OpenedArchive, { readonly message: string }>,
  expected: Expected
): Effect.Effect<OpenedArchive, PackageRefused> =>
  Effect.gen(function*() {
    const refuse = (reason: string) =>
      new PackageRefused({ package: `${expected.name}@${expected.version}`, registry: expected.registry, reason })
    const archive = yield* opened.pipe(Effect.mapError((e) => refuse(e.message)))
    const m = archive.manifest
    if (!sameName(m.name, expected.name) || m.version !== expected.version) {
      return yield* refuse(`its manifest is for ${m.name}@${m.version}`)
    }
    return archive
  })

/**
 * Opens `file` with `archive` (every check of a local file) and requires its manifest to be
 * `expected.name` (normalized) at exactly `expected.version`.
 * @since 0.1.0
 */
export const verifyPackageArchive = (
  archive: PackageArchive,
  file: string,
  expected: Expected
): Effect.Effect<OpenedArchive, PackageRefused> => expectManifest(archive.open(file), expected)

/**
 * {@link verifyPackageArchive} of archive bytes in memory (a download read whole), named `label`
 * in errors: the same checks, no file read.
 * @since 0.1.0
 */
export const verifyPackageArchiveBytes = (
  archive: PackageArchive,
  bytes: Uint8Array,
  label: string,
  expected: Expected
): Effect.Effect<OpenedArchive, PackageRefused> => expectManifest(archive.openBytes(bytes, label), expected)
