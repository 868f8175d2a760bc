/**
 * `fm/archive`: `.fmpkg` archives (ZIP or gzip tar) on their own: open, read the manifest,
 * extract safely, pack, and the streaming SHA-256 they are checked with. Loads no HTTP client and
 * no database driver.
 * @since 0.1.0
 */

/** `.fmpkg` archives (ZIP or gzip tar): open, read the manifest, extract safely, pack. @since 0.1.0 */
export * as PackageArchive from "./PackageArchive.js"
/** Streaming SHA-256 and `ChecksumMismatch`. @since 0.1.0 */
export * as Checksum from "../shared/Checksum.js"
/** The file I/O error every service reports. @since 0.1.0 */
export * as FileError from "../shared/FileError.js"
/** The unified manifest decoded from either FlowMason dialect. @since 0.1.0 */
export * as Manifest from "../domain/Manifest.js"
