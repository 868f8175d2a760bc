/**
 * The versions of a package on a registry whose versions listing is missing or shadowed (the
 * original FlowMason server routes `GET packages/{name}/versions` to `packages/{name}/{version}`
 * and answers 404 `Package 'x@versions' not found`). That server's search lists one entry per
 * stored archive, so the versions are gathered from the search answers for the exact name (paged,
 * at most {@link MAX_SEARCH_PAGES} pages of {@link SEARCH_PAGE_SIZE}) and from the package answer.
 * The package answer comes first: when it is a 404 no archive of the name exists and search is
 * not asked; when it names ANOTHER package (that server's `GET packages/base` may answer
 * `base-extra`, whose file sorts after `base-1.2.0.fmpkg`) it is left out.
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import semver from "semver"
import { type PackageInfo, ReleaseInfo, type SearchResponse } from "../api/Models.js"
import { sameName } from "../domain/PackageName.js"

/**
 * Where a version list came from: the registry's versions listing, its search answers (plus its
 * package answer), or its package answer alone (search listed nothing usable).
 * @since 0.1.0
 * @category models
 */
export type VersionsSource = "versions" | "search" | "package"

/**
 * Entries asked per search page: the original server's maximum (`page_size` over 100 is a 422).
 * @since 0.1.0
 */
export const SEARCH_PAGE_SIZE = 100

/**
 * The most search pages read for one name (5,000 entries at {@link SEARCH_PAGE_SIZE}).
 * @since 0.1.0
 */
export const MAX_SEARCH_PAGES = 50

/**
 * One release as a package answer (or a search entry) describes it; its dependencies stay
 * `undefined` when the answer did not report them.
 * @since 0.1.0
 */
export const releaseOf = (info: PackageInfo): ReleaseInfo =>
  new ReleaseInfo({
    version: info.version,
    yanked: info.yanked,
    yank_reason: info.yank_reason,
    published_at: info.published_at,
    checksum: info.checksum,
    size_bytes: info.size_bytes,
    downloads: info.downloads,
    download_url: info.download_url,
    dependencies: info.dependencies
  })

/**
 * What the registry is asked, already normalized (absolute `download_url`, dates in UTC):
 * `latest` is the package answer (`None` when it answers 404), `page` one search page (`None`
 * when the registry's search cannot be used, e.g. it refuses the query).
 * @since 0.1.0
 * @category models
 */
export interface FallbackQueries<E> {
  readonly latest: Effect.Effect<Option.Option<PackageInfo>, E>
  readonly page: (page: number, pageSize: number) => Effect.Effect<Option.Option<SearchResponse>, E>
}

/**
 * A gathered version list: the name as the registry spells it, releases ascending by semver.
 * @since 0.1.0
 * @category models
 */
export interface Gathered {
  readonly name: string
  readonly releases: ReadonlyArray<ReleaseInfo>
  readonly source: Exclude<VersionsSource, "versions">
}

/**
 * Gathers the versions of `name`; `None` when the registry has no archive of it.
 * @since 0.1.0
 */
export const gatherVersions = <E>(name: string, ask: FallbackQueries<E>): Effect.Effect<Option.Option<Gathered>, E> =>
  Effect.gen(function*() {
    const latest = yield* ask.latest
    if (Option.isNone(latest)) return Option.none()
    const own = sameName(latest.value.name, name) ? Option.some(latest.value) : Option.none<PackageInfo>()
    const found = new Map<string, ReleaseInfo>()
    let spelled = Option.getOrUndefined(Option.map(own, (p) => p.name))
    let rows = 0
    for (let page = 1; page <= MAX_SEARCH_PAGES; page++) {
      const answer = yield* ask.page(page, SEARCH_PAGE_SIZE)
      if (Option.isNone(answer)) break
      const entries = answer.value.packages
      rows += entries.length
      for (const p of entries) {
        if (!sameName(p.name, name) || semver.valid(p.version) === null || found.has(p.version)) continue
        found.set(p.version, releaseOf(p))
        spelled ??= p.name
      }
      const total = answer.value.total_count
      if (entries.length === 0 || entries.length < SEARCH_PAGE_SIZE || (total > 0 && rows >= total)) break
    }
    const fromSearch = found.size > 0
    if (Option.isSome(own)) {
      const info = own.value
      if (semver.valid(info.version) !== null) found.set(info.version, releaseOf(info))
      for (const v of info.available_versions) {
        if (semver.valid(v) !== null && !found.has(v)) found.set(v, new ReleaseInfo({ version: v }))
      }
    }
    if (found.size === 0 || spelled === undefined) return Option.none()
    const releases = [...found.values()].sort((a, b) => semver.compare(a.version, b.version))
    return Option.some({ name: spelled, releases, source: fromSearch ? "search" : "package" } satisfies Gathered)
  })
