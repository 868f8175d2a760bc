/**
 * The safety limits every archive read applies (entries, unpacked bytes, compression ratio). Its
 * own module so that the archive internals can name them without importing `PackageArchive`.
 * @since 0.1.0
 */

/**
 * Safety limits applied to every archive read.
 * @since 0.1.0
 * @category models
 */
export interface ArchiveLimits {
  /** Most entries (files and directories) an archive may hold. Default 10,000. */
  readonly maxEntries: number
  /** Most bytes all files may unpack to, in total. Default 1 GiB. */
  readonly maxUnpackedBytes: number
  /**
   * Highest compression ratio accepted: unpacked bytes over archive bytes, for the whole archive
   * and (ZIP) for any entry of 1 MiB or more. Default 200.
   */
  readonly maxCompressionRatio: number
}

/**
 * The default limits: 10,000 entries, 1 GiB unpacked, ratio 200:1.
 * @since 0.1.0
 */
export const defaultLimits: ArchiveLimits = {
  maxEntries: 10_000,
  maxUnpackedBytes: 1024 * 1024 * 1024,
  maxCompressionRatio: 200
}
