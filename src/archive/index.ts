/**
 * `fm/archive`: `.fmpkg` archives (ZIP or gzip tar) on their own: open, read the manifest,
 * extract safely, pack, and the streaming SHA-256 they are checked with. Loads no HTTP client and
 * no database driver.
 *
 * @example
 * ```ts
 * import { Checksum, PackageArchive } from "fm/archive"
 * import { Effect } from "effect"
 *
 * // validates every entry and decodes the manifest; extracts nothing
 * const describe = (file: string) =>
 *   Effect.gen(function*() {
 *     const archive = yield* PackageArchive.PackageArchive
 *     const opened = yield* archive.open(file)
 *     const sha256 = yield* (yield* Checksum.Checksum).hashFile(file)
 *     return `${opened.manifest.name}@${opened.manifest.version}: ${opened.entries.length} entries, sha256 ${sha256}`
 *   }).pipe(Effect.provide(PackageArchive.PackageArchive.Default))
 * ```
 *
 * @since 0.1.0
 */

/**
 * `.fmpkg` archives (ZIP or gzip tar): open, read the manifest, extract safely, pack.
 * @since 0.1.0
 */
export * as PackageArchive from "./PackageArchive.js"
/**
 * Streaming SHA-256 and `ChecksumMismatch`.
 * @since 0.1.0
 */
export * as Checksum from "../shared/Checksum.js"
/**
 * The file I/O error every service reports.
 * @since 0.1.0
 */
export * as FileError from "../shared/FileError.js"
/**
 * The unified manifest decoded from either FlowMason dialect.
 * @since 0.1.0
 */
export * as Manifest from "../domain/Manifest.js"
