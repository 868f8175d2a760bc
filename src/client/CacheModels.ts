/**
 * The download cache's data: keys, entries, statistics, the result of a clean-up, and its error.
 * `PackageCache` re-exports every name.
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * What identifies a cached archive: the registry it came from, the package name (normalized with
 * `normalizeName`) and the version.
 * @since 0.1.0
 * @category models
 */
export interface CacheKey {
  readonly registry: string
  readonly name: string
  readonly version: string
}

/**
 * A verified archive in the cache.
 * @since 0.1.0
 * @category models
 */
export interface CachedPackage extends CacheKey {
  /** The blob file (read-only; copy it, never move it). */
  readonly path: string
  /** Lowercase hex SHA-256 of the blob, verified when it was returned. */
  readonly sha256: string
  /** Size in bytes. */
  readonly size: number
}

/**
 * Cache statistics, with the same keys as the existing FlowMason tools.
 * @since 0.1.0
 * @category models
 */
export interface CacheStats {
  /** Number of cached package versions (index entries). */
  readonly packages: number
  /** Bytes used by the cached archives. */
  readonly total_size_bytes: number
  /** The cache directory. */
  readonly cache_dir: string
}

/**
 * What {@link PackageCache.clear} removed.
 * @since 0.1.0
 * @category models
 */
export interface ClearResult {
  /** Index entries (package versions) removed. */
  readonly removed: number
  /** Bytes of archives deleted. */
  readonly freed_bytes: number
}

/**
 * The cache could not be read or written, or a key is not valid. Names the file involved.
 * @since 0.1.0
 * @category errors
 */
export class CacheError extends Data.TaggedError("CacheError")<{
  readonly file: string
  readonly reason: string
}> {
  /** `<file>: <reason>`. */
  override get message(): string {
    return `package cache ${this.file}: ${this.reason}`
  }
  /** What the user can do about it. */
  get hint(): string {
    return "check the permissions of the cache directory, or clear it with `fm registry cache --clear`"
  }
}

/**
 * One request of `PackageCache.lookupShaMany`: a cache key and the SHA-256 it must have.
 * @since 0.1.0
 * @category models
 */
export interface ShaLookup {
  readonly key: CacheKey
  readonly sha256: string
}
