/**
 * The registry's metadata store, as an interface with two implementations: SQLite
 * (`SqlitePackageStore`, the embedded default) and PostgreSQL (`src/server/pg/`).
 *
 * The interface is backend-neutral: it speaks in rows of plain data (names, versions, JSON-ready
 * values), never in SQL. Most of the SQL lives in `SqlPackageStore.makeSql`, written in portable SQL
 * (`INSERT ... ON CONFLICT`, `RETURNING`, no booleans: 0/1 integers, JSON stored as TEXT, times as
 * ISO-8601 TEXT); only the DDL and the full-text search are per dialect.
 *
 * Rules every implementation keeps:
 * - Names are looked up and kept unique by their normalized form (`normalizeName`: `a_b` = `a-b`).
 * - `publish` writes the release and its dependencies in ONE transaction. `(normalized name,
 *   version)` is unique in the database, and so is its tombstone: a deleted `name@version` can
 *   never be published again (`VersionExists` with `deleted: true`).
 * - `recordDownload` is an atomic `downloads = downloads + 1` (exact under concurrency).
 * - "Latest" of a package = the highest semver release not yanked (a prerelease only when there is
 *   no release); when every version is yanked, the highest yanked one.
 * @since 0.1.0
 */
import type { Effect, Option } from "effect"
import { Context, Data } from "effect"
import type { TokenScope } from "../../api/RegistryApi.js"

/**
 * One published version, with everything needed to answer the API without opening its archive.
 * @since 0.1.0
 * @category models
 */
export interface ReleaseRow {
  /** Database id of the release. */
  readonly id: number
  /** The name as first published (display form). */
  readonly name: string
  /** `normalizeName(name)`: the lookup and uniqueness key. */
  readonly nameNorm: string
  readonly version: string
  readonly description: string
  readonly author: string | null
  readonly authorEmail: string | null
  readonly license: string | null
  readonly category: string | null
  readonly homepage: string | null
  readonly repository: string | null
  readonly tags: ReadonlyArray<string>
  readonly components: ReadonlyArray<string>
  readonly pythonRequirements: ReadonlyArray<string>
  readonly flowmasonVersion: string | null
  /** `project` (manifest.json) or `component` (flowmason-package.json). */
  readonly kind: string | null
  /** Registry dependencies: package name to semver range. */
  readonly dependencies: Readonly<Record<string, string>>
  /** Lowercase hex SHA-256 of the archive bytes (also the blob key). */
  readonly checksum: string
  readonly sizeBytes: number
  readonly downloads: number
  /** ISO-8601 UTC. */
  readonly publishedAt: string
  readonly yanked: boolean
  readonly yankReason: string | null
}

/**
 * A release as just published, with its package's versions (semver ascending) and latest version
 * as that publish left them.
 * @since 0.1.0
 * @category models
 */
export interface PublishedRelease extends ReleaseRow {
  readonly packageVersions: ReadonlyArray<string>
  readonly packageLatest: string | null
}

/**
 * What `publish` needs: the release without its store-assigned fields.
 * @since 0.1.0
 * @category models
 */
export type NewRelease = Omit<
  ReleaseRow,
  "id" | "nameNorm" | "downloads" | "publishedAt" | "yanked" | "yankReason"
>

/**
 * A package: its latest release, every version (semver ascending) and its total downloads.
 * @since 0.1.0
 * @category models
 */
export interface PackageRow {
  readonly name: string
  readonly nameNorm: string
  /** The latest release (see the module doc for the rule). */
  readonly latest: ReleaseRow
  /** Every version still present (deleted ones excluded), semver ascending. */
  readonly versions: ReadonlyArray<string>
  /** Sum of the downloads of all its releases. */
  readonly downloads: number
}

/**
 * A search request. `q` empty lists everything, newest first; `page` is 1-based.
 * @since 0.1.0
 * @category models
 */
export interface SearchQuery {
  readonly q: string
  readonly category: string | undefined
  readonly page: number
  readonly pageSize: number
}

/**
 * A page of search results and the total number of matches.
 * @since 0.1.0
 * @category models
 */
export interface SearchResult {
  readonly rows: ReadonlyArray<PackageRow>
  readonly total: number
}

/**
 * Registry-wide counts.
 * @since 0.1.0
 * @category models
 */
export interface StoreStats {
  /** Packages with at least one version. */
  readonly packages: number
  /** Versions (releases) present. */
  readonly versions: number
  /** Components across the latest release of every package. */
  readonly components: number
  readonly totalSizeBytes: number
  readonly totalDownloads: number
  /** Categories of the packages' latest releases, most used first. */
  readonly categories: ReadonlyArray<{ readonly name: string; readonly count: number }>
}

/**
 * An API token as stored: only the SHA-256 of the secret is kept.
 * @since 0.1.0
 * @category models
 */
export interface TokenRow {
  readonly id: number
  readonly name: string
  /** The first characters of the token (e.g. `fmr_ab12`), to recognise it in listings. */
  readonly prefix: string
  /** Lowercase hex SHA-256 of the full token. */
  readonly hash: string
  readonly scope: TokenScope
  readonly createdAt: string
  readonly expiresAt: string | null
  readonly revokedAt: string | null
}

/**
 * A new token to store.
 * @since 0.1.0
 * @category models
 */
export interface NewToken {
  readonly name: string
  readonly prefix: string
  readonly hash: string
  readonly scope: TokenScope
  readonly expiresAt: string | null
}

/**
 * The database failed (unreachable, locked for too long, corrupt). Maps to 503.
 * @since 0.1.0
 * @category errors
 */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly operation: string
  readonly cause: unknown
}> {
  override get message(): string {
    const cause = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `registry database: ${this.operation} failed: ${cause}`
  }
}

/**
 * `name@version` exists, or existed and was deleted (`deleted: true`). Maps to 409.
 * @since 0.1.0
 * @category errors
 */
export class VersionExists extends Data.TaggedError("VersionExists")<{
  readonly name: string
  readonly version: string
  readonly deleted: boolean
}> {
  override get message(): string {
    return this.deleted
      ? `${this.name}@${this.version} was published and deleted; a version's bytes never change, so publish a new version`
      : `${this.name}@${this.version} already exists; publish a new version`
  }
}

/**
 * No such package, or no such version of it. Maps to 404.
 * @since 0.1.0
 * @category errors
 */
export class ReleaseNotFound extends Data.TaggedError("ReleaseNotFound")<{
  readonly name: string
  readonly version: string | undefined
}> {
  override get message(): string {
    return this.version === undefined
      ? `Package '${this.name}' not found`
      : `Package '${this.name}@${this.version}' not found`
  }
}

/**
 * No token with that id or name.
 * @since 0.1.0
 * @category errors
 */
export class TokenNotFound extends Data.TaggedError("TokenNotFound")<{ readonly token: string }> {
  override get message(): string {
    return `no token '${this.token}' (see 'fm studio token list')`
  }
}

/**
 * A token name already in use: token names are unique, so that revoking by name revokes one.
 * @since 0.1.0
 * @category errors
 */
export class TokenNameTaken extends Data.TaggedError("TokenNameTaken")<{ readonly name: string; readonly id: number }> {
  override get message(): string {
    return `a token named '${this.name}' already exists (id ${this.id})`
  }
  /** What to do instead. */
  get hint(): string {
    return `choose another --name, or revoke that one first: fm studio token revoke ${this.id}`
  }
}

/**
 * A name given to `revoke` that several tokens share (made before names were unique): nothing
 * is revoked.
 * @since 0.1.0
 * @category errors
 */
export class AmbiguousToken extends Data.TaggedError("AmbiguousToken")<{
  readonly token: string
  readonly ids: ReadonlyArray<number>
}> {
  override get message(): string {
    return `${this.ids.length} tokens are named '${this.token}' (ids ${this.ids.join(", ")}); nothing was revoked`
  }
  /** What to do instead. */
  get hint(): string {
    return `revoke one by its id: fm studio token revoke ${this.ids[0] ?? "ID"}`
  }
}

/**
 * Writes a store has made since it opened (see `PackageStoreService.writeCounts`).
 * @since 0.1.0
 * @category models
 */
export interface WriteCounts {
  /** Publishes, yanks, unyanks and deletes (counted once each has ended). */
  readonly releases: number
  /** Downloads recorded (counted at once: reads report them from then on). */
  readonly downloads: number
}

/**
 * The store's operations. Every method is `Effect<A, E, never>`; names are matched normalized.
 * @since 0.1.0
 * @category models
 */
export interface PackageStoreService {
  /** Which backend this is (`sqlite` or `pg`), for health answers and logs. */
  readonly backend: string
  /**
   * For a store that is the only writer of its database: how many writes it has made, so answers
   * built from its reads may be kept while the writes they depend on stay the same. `undefined`
   * when other processes write the database too (PostgreSQL replicas): then nothing read may be
   * kept.
   */
  readonly writeCounts: (() => WriteCounts) | undefined
  /** Insert a release and its dependencies in one transaction. */
  readonly publish: (release: NewRelease) => Effect.Effect<PublishedRelease, StoreError | VersionExists>
  /** The package with its latest release. */
  readonly getPackage: (name: string) => Effect.Effect<Option.Option<PackageRow>, StoreError>
  /** Every release of a package (deleted ones excluded), semver ascending; empty when unknown. */
  readonly listReleases: (name: string) => Effect.Effect<ReadonlyArray<ReleaseRow>, StoreError>
  /** One release. */
  readonly getRelease: (name: string, version: string) => Effect.Effect<Option.Option<ReleaseRow>, StoreError>
  /**
   * The release whose archive a download serves: {@link getRelease} for the download path, which
   * may answer from a cache and whose `downloads` may lag behind counts not yet written.
   */
  readonly findArchive: (name: string, version: string) => Effect.Effect<Option.Option<ReleaseRow>, StoreError>
  /** Ranked search (exact name first, then relevance, then downloads); empty `q` = newest first. */
  readonly search: (query: SearchQuery) => Effect.Effect<SearchResult, StoreError>
  /** Registry-wide counts. */
  readonly stats: Effect.Effect<StoreStats, StoreError>
  /** The two counts `health` reports (cheaper than {@link stats}). */
  readonly counts: Effect.Effect<{ readonly packages: number; readonly components: number }, StoreError>
  /**
   * Add one download to a release (and its package). A single-writer store may batch these: they
   * are written within a few milliseconds, before any read that reports counts, and at close.
   */
  readonly recordDownload: (name: string, version: string) => Effect.Effect<void, StoreError>
  /** Mark a release yanked with a reason; returns the updated release. */
  readonly yank: (
    name: string,
    version: string,
    reason: string
  ) => Effect.Effect<ReleaseRow, StoreError | ReleaseNotFound>
  /** Clear the yank of a release; returns the updated release. */
  readonly unyank: (name: string, version: string) => Effect.Effect<ReleaseRow, StoreError | ReleaseNotFound>
  /** Delete a release, leaving a tombstone so it cannot be re-published; returns what was deleted. */
  readonly delete: (name: string, version: string) => Effect.Effect<ReleaseRow, StoreError | ReleaseNotFound>
  /** Every checksum referenced by a release (for the blob sweep at start). */
  readonly checksums: Effect.Effect<ReadonlySet<string>, StoreError>
  /**
   * Store a token (its hash only). Names are unique: a name in use fails with
   * {@link TokenNameTaken}, unless it is the same token (same hash), which is returned.
   */
  readonly createToken: (token: NewToken) => Effect.Effect<TokenRow, StoreError | TokenNameTaken>
  /** The token with this hash, revoked or not (the caller checks revocation and expiry). */
  readonly findTokenByHash: (hash: string) => Effect.Effect<Option.Option<TokenRow>, StoreError>
  /** Every token, oldest first. */
  readonly listTokens: Effect.Effect<ReadonlyArray<TokenRow>, StoreError>
  /**
   * Revoke one token, by id (digits) or by name; returns it. A name several tokens share (from
   * before names were unique) fails with {@link AmbiguousToken} and revokes nothing.
   */
  readonly revokeToken: (idOrName: string) => Effect.Effect<TokenRow, StoreError | TokenNotFound | AmbiguousToken>
}

/**
 * The metadata store. Layers: `SqlitePackageStore.layer` (here) and the PostgreSQL one
 * (`src/server/pg/`).
 * @since 0.1.0
 * @category tags
 */
export class PackageStore extends Context.Tag("fm/server/PackageStore")<PackageStore, PackageStoreService>() {}
