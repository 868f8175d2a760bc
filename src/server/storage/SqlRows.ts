/**
 * The rows of the SQL store as schemas: each table's columns (snake_case, as both dialects create
 * them) decoded into the store's models (`PackageStore.ts`), with errors that name the column that
 * does not fit.
 *
 * The column schemas accept what either driver returns for one column: better-sqlite3 gives
 * numbers for INTEGER columns and aggregates; `pg` gives int4 as a number but int8 (`BIGINT`,
 * `count(*)`, `sum(...)`) and numeric as text. Booleans are stored as 0/1 INTEGER (a driver that
 * returns a boolean is accepted too); JSON columns are TEXT.
 * @since 0.1.0
 */
import { Schema } from "effect"
import { TokenScope } from "../../api/RegistryApi.js"
import { LogOperation } from "../../shared/log/LogEntry.js"

/**
 * An integer column: a number (SQLite, PostgreSQL int4), text (PostgreSQL int8 and numeric) or a
 * bigint (a driver in safe-integer mode).
 * @since 0.1.0
 * @category columns
 */
export const IntColumn: Schema.Schema<number, number | string | bigint> = Schema.Union(
  Schema.Number,
  Schema.NumberFromString,
  Schema.transform(Schema.BigIntFromSelf, Schema.Number, {
    strict: true,
    decode: (n) => Number(n),
    encode: (n) => BigInt(n)
  })
)

/**
 * An aggregate that is NULL over no rows (`sum(...)`): 0 then.
 * @since 0.1.0
 * @category columns
 */
export const SumColumn: Schema.Schema<number, number | string | bigint | null> = Schema.transform(
  Schema.NullOr(IntColumn),
  Schema.Number,
  { strict: true, decode: (n) => n ?? 0, encode: (n) => n }
)

/**
 * A boolean stored as 0/1 INTEGER (any other number is true), or a driver's boolean.
 * @since 0.1.0
 * @category columns
 */
export const FlagColumn: Schema.Schema<boolean, boolean | number | string | bigint> = Schema.transform(
  Schema.Union(Schema.Boolean, IntColumn),
  Schema.Boolean,
  { strict: true, decode: (v) => typeof v === "boolean" ? v : v !== 0, encode: (b) => (b ? 1 : 0) }
)

const NullableText = Schema.NullOr(Schema.String)

/** A JSON array of strings stored as TEXT. */
const JsonStrings = Schema.parseJson(Schema.Array(Schema.String))

/** A JSON object of strings stored as TEXT. */
const JsonStringRecord = Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.String }))

/**
 * The fields of a `releases` row, as `ReleaseRow` has them.
 * @since 0.1.0
 * @category rows
 */
export const releaseFields = {
  id: IntColumn,
  name: Schema.String,
  nameNorm: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("name_norm")),
  version: Schema.String,
  description: Schema.String,
  author: NullableText,
  authorEmail: Schema.propertySignature(NullableText).pipe(Schema.fromKey("author_email")),
  license: NullableText,
  category: NullableText,
  homepage: NullableText,
  repository: NullableText,
  tags: Schema.propertySignature(JsonStrings).pipe(Schema.fromKey("tags_json")),
  components: Schema.propertySignature(JsonStrings).pipe(Schema.fromKey("components_json")),
  pythonRequirements: Schema.propertySignature(JsonStrings).pipe(Schema.fromKey("python_requirements_json")),
  flowmasonVersion: Schema.propertySignature(NullableText).pipe(Schema.fromKey("flowmason_version")),
  kind: NullableText,
  dependencies: Schema.propertySignature(JsonStringRecord).pipe(Schema.fromKey("deps_json")),
  checksum: Schema.String,
  sizeBytes: Schema.propertySignature(IntColumn).pipe(Schema.fromKey("size_bytes")),
  downloads: IntColumn,
  publishedAt: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("published_at")),
  yanked: FlagColumn,
  yankReason: Schema.propertySignature(NullableText).pipe(Schema.fromKey("yank_reason")),
  logIndex: Schema.propertySignature(Schema.NullOr(IntColumn)).pipe(Schema.fromKey("log_index"))
}

/**
 * A `releases` row (`SELECT *`) as a `ReleaseRow`.
 * @since 0.1.0
 * @category rows
 */
export const ReleaseRowSchema = Schema.Struct(releaseFields)

/**
 * A `releases` row with its package id (`SELECT *`), for writes that go on to the package.
 * @since 0.1.0
 * @category rows
 */
export const ReleaseWithPackage = Schema.Struct({
  ...releaseFields,
  packageId: Schema.propertySignature(IntColumn).pipe(Schema.fromKey("package_id"))
})

/**
 * A release as inserted: every column of its row but the id, and its component count.
 * @since 0.1.0
 * @category rows
 */
export const ReleaseInsert = Schema.Struct({
  ...ReleaseWithPackage.omit("id").fields,
  componentCount: Schema.propertySignature(Schema.Number).pipe(Schema.fromKey("component_count"))
})

/**
 * A package joined to its latest release: the release's columns plus the package's name, versions
 * and downloads (`p_name`, `p_versions_json`, `p_downloads`).
 * @since 0.1.0
 * @category rows
 */
export const PackageWithLatest = Schema.Struct({
  ...releaseFields,
  packageId: Schema.propertySignature(IntColumn).pipe(Schema.fromKey("package_id")),
  packageName: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("p_name")),
  packageVersions: Schema.propertySignature(JsonStrings).pipe(Schema.fromKey("p_versions_json")),
  packageDownloads: Schema.propertySignature(IntColumn).pipe(Schema.fromKey("p_downloads"))
})

/**
 * What latest/versions are computed from: a release's id, version and yank flag.
 * @since 0.1.0
 * @category rows
 */
export const VersionRow = Schema.Struct({ id: IntColumn, version: Schema.String, yanked: FlagColumn })

/**
 * A `tokens` row as a `TokenRow`; a scope the API does not know is refused.
 * @since 0.1.0
 * @category rows
 */
export const TokenRowSchema = Schema.Struct({
  id: IntColumn,
  name: Schema.String,
  prefix: Schema.String,
  hash: Schema.String,
  scope: TokenScope,
  createdAt: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("created_at")),
  expiresAt: Schema.propertySignature(NullableText).pipe(Schema.fromKey("expires_at")),
  revokedAt: Schema.propertySignature(NullableText).pipe(Schema.fromKey("revoked_at"))
})

/**
 * A `log_entries` row, in the fields of a `LogEntry`.
 * @since 0.1.0
 * @category rows
 */
export const LogEntryRow = Schema.Struct({
  index: Schema.propertySignature(IntColumn).pipe(Schema.fromKey("idx")),
  operation: LogOperation,
  name: Schema.String,
  version: Schema.String,
  sha256: Schema.String,
  size: Schema.propertySignature(IntColumn).pipe(Schema.fromKey("size_bytes")),
  time: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("at"))
})

/**
 * A row holding one id (`RETURNING id`, `SELECT id`).
 * @since 0.1.0
 * @category rows
 */
export const IdRow = Schema.Struct({ id: IntColumn })

/**
 * A row holding one count or sum, `n`.
 * @since 0.1.0
 * @category rows
 */
export const CountRow = Schema.Struct({ n: SumColumn })

/**
 * The package and component counts over the latest releases.
 * @since 0.1.0
 * @category rows
 */
export const CountsRow = Schema.Struct({ packages: SumColumn, components: SumColumn })

/**
 * The release totals of the stats.
 * @since 0.1.0
 * @category rows
 */
export const ReleaseTotalsRow = Schema.Struct({ versions: SumColumn, size: SumColumn, downloads: SumColumn })

/**
 * A category and how many packages' latest releases carry it.
 * @since 0.1.0
 * @category rows
 */
export const CategoryCountRow = Schema.Struct({
  name: Schema.String,
  count: Schema.propertySignature(IntColumn).pipe(Schema.fromKey("n"))
})
