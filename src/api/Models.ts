/**
 * The JSON shapes of the registry API (snake_case, as FlowMason's tools send and read them).
 * Decoding is lenient where FlowMason's own server is sloppy (missing fields, `null`s, dates
 * without a timezone); encoding always writes every field.
 * @since 0.1.0
 */
import { Schema } from "effect"

const str = Schema.optionalWith(Schema.String, { default: () => "" })
const nstr = Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null })
const num = Schema.optionalWith(Schema.Number, { default: () => 0 })
const strs = Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
/**
 * Registry dependencies of a release, name -> semver range. An object, even `{}`, is what the
 * registry REPORTS ("these, or none"); a missing key or `null` decodes to `undefined`: NOT REPORTED
 * (the original FlowMason server never sends the field: the dependencies live only in the archive's
 * manifest). Our server always reports them. Readers must not take `undefined` for "none".
 */
const deps = Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { nullable: true })

/**
 * One version of a package as the versions endpoint lists it: enough to resolve dependencies
 * without downloading archives.
 * @since 0.1.0
 * @category models
 */
export class ReleaseInfo extends Schema.Class<ReleaseInfo>("ReleaseInfo")({
  version: Schema.String,
  yanked: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  yank_reason: nstr,
  published_at: nstr,
  checksum: str,
  size_bytes: num,
  downloads: num,
  download_url: str,
  dependencies: deps,
  /** The index of this version's publish entry in the registry's log (fm registries only). */
  log_index: Schema.optional(Schema.Number)
}) {}

/**
 * The package object: one version of a package with its metadata.
 * @since 0.1.0
 * @category models
 */
export class PackageInfo extends Schema.Class<PackageInfo>("PackageInfo")({
  name: Schema.String,
  version: Schema.String,
  description: str,
  author: nstr,
  author_email: nstr,
  download_url: str,
  checksum: str,
  size_bytes: num,
  components: strs,
  component_count: num,
  tags: strs,
  category: nstr,
  license: nstr,
  homepage: nstr,
  repository: nstr,
  published_at: nstr,
  downloads: num,
  available_versions: strs,
  latest_version: nstr,
  dependencies: deps,
  python_requirements: strs,
  flowmason_version: nstr,
  kind: nstr,
  yanked: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  yank_reason: nstr,
  /** The index of this version's publish entry in the registry's log (fm registries only). */
  log_index: Schema.optional(Schema.Number)
}) {}

/**
 * The answer of `GET packages/{name}/versions`.
 * @since 0.1.0
 * @category models
 */
export class VersionsResponse extends Schema.Class<VersionsResponse>("VersionsResponse")({
  name: str,
  versions: Schema.Array(Schema.String),
  latest_version: nstr,
  releases: Schema.optionalWith(Schema.Array(ReleaseInfo), { default: () => [] })
}) {}

/**
 * The answer of `GET packages/search`.
 * @since 0.1.0
 * @category models
 */
export class SearchResponse extends Schema.Class<SearchResponse>("SearchResponse")({
  packages: Schema.Array(PackageInfo),
  total_count: num,
  page: Schema.optionalWith(Schema.Number, { default: () => 1 }),
  page_size: Schema.optionalWith(Schema.Number, { default: () => 20 }),
  query: str
}) {}

/**
 * The answer of `GET health`.
 * @since 0.1.0
 * @category models
 */
export class HealthResponse extends Schema.Class<HealthResponse>("HealthResponse")({
  status: Schema.String,
  registry_name: str,
  version: str,
  packages_count: num,
  components_count: num,
  database: Schema.optionalWith(Schema.String, { default: () => "ok" }),
  /** The verifier key of the registry's publish log (`ORIGIN+KEYID+KEY`; fm registries only). */
  log_key: Schema.optional(Schema.String)
}) {}

/**
 * One category and how many packages carry it.
 * @since 0.1.0
 * @category models
 */
export class CategoryCount extends Schema.Class<CategoryCount>("CategoryCount")({
  name: Schema.String,
  count: Schema.Number
}) {}

/**
 * The answer of `GET stats`.
 * @since 0.1.0
 * @category models
 */
export class StatsResponse extends Schema.Class<StatsResponse>("StatsResponse")({
  packages: num,
  versions: num,
  components: num,
  total_size_bytes: num,
  total_downloads: num,
  categories: Schema.optionalWith(Schema.Array(CategoryCount), { default: () => [] })
}) {}

/**
 * The body of `POST packages/{name}/{version}/yank`.
 * @since 0.1.0
 * @category models
 */
export class YankRequest extends Schema.Class<YankRequest>("YankRequest")({
  reason: Schema.optionalWith(Schema.String, { default: () => "" })
}) {}

/**
 * The answer of a delete, yank or unyank.
 * @since 0.1.0
 * @category models
 */
export class ChangeResponse extends Schema.Class<ChangeResponse>("ChangeResponse")({
  name: Schema.String,
  version: Schema.String,
  status: Schema.Literal("deleted", "yanked", "unyanked"),
  reason: nstr
}) {}

/**
 * The query of `GET packages/search`. Values stay strings so that the server can answer a bad
 * one with a 422 that names the parameter.
 * @since 0.1.0
 * @category models
 */
export const SearchParams = Schema.Struct({
  q: Schema.optional(Schema.String),
  category: Schema.optional(Schema.String),
  page: Schema.optional(Schema.String),
  page_size: Schema.optional(Schema.String)
})
