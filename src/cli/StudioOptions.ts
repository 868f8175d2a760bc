/**
 * The `fm studio` pieces for PostgreSQL and replicas: the `--database-url` and `--blob-dir`
 * options (shared by `start` and the `token` commands), the store a token command works on, and
 * `fm studio migrate --database-url ...`. The PostgreSQL code (and driver) is loaded only when a
 * command is given a database URL.
 * @since 0.1.0
 */
import { Command, Options } from "@effect/cli"
import type { ConfigError } from "effect"
import { Console, Effect, Layer, Option } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import {
  blobUrlSetting,
  DATABASE_URL_ENV,
  databaseUrlFrom,
  databaseUrlSetting,
  isPostgresUrl,
  redactUrl
} from "../server/selection/StorageOptions.js"
import type { PackageStore, StoreError } from "../server/storage/PackageStore.js"
import * as SqlitePackageStore from "../server/storage/SqlitePackageStore.js"
import { json, printJson, UsageError } from "./Output.js"

/**
 * `--database-url postgres://...`: keep the registry in PostgreSQL (several replicas may share it).
 * @since 0.1.0
 * @category options
 */
export const databaseUrlOption: Options.Options<Option.Option<string>> = Options.text("database-url").pipe(
  Options.withDescription(
    `PostgreSQL URL (postgres://user:password@host:5432/db) for the registry's metadata, shared by replicas. ` +
      `Default: $${DATABASE_URL_ENV}, else SQLite in the data directory`
  ),
  Options.optional
)

/**
 * `--blob-dir DIR`: keep archives in a (shared) directory instead of the data directory or
 * PostgreSQL.
 * @since 0.1.0
 * @category options
 */
export const blobDirOption: Options.Options<Option.Option<string>> = Options.text("blob-dir").pipe(
  Options.withDescription(
    "Directory for package archives, shared by replicas (e.g. a mounted volume). " +
      "Default: in PostgreSQL with --database-url, else <data-dir>/blobs"
  ),
  Options.optional
)

/**
 * `--blob-url s3://BUCKET/PREFIX`: keep archives in S3-compatible object storage.
 * @since 0.1.0
 * @category options
 */
export const blobUrlOption: Options.Options<Option.Option<string>> = Options.text("blob-url").pipe(
  Options.withDescription(
    "s3://BUCKET/PREFIX: package archives in S3-compatible object storage, shared by replicas (default: $FM_BLOB_URL). " +
      "Endpoint, region and credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY " +
      "(or --s3-endpoint, --s3-region)"
  ),
  Options.optional
)

/**
 * `--s3-endpoint URL`: the S3 endpoint for `--blob-url` (MinIO, Ceph, R2, ...).
 * @since 0.1.0
 * @category options
 */
export const s3EndpointOption: Options.Options<Option.Option<string>> = Options.text("s3-endpoint").pipe(
  Options.withDescription("S3 endpoint for --blob-url. Default: $AWS_ENDPOINT_URL, else AWS"),
  Options.optional
)

/**
 * `--s3-region REGION`: the S3 region for `--blob-url`.
 * @since 0.1.0
 * @category options
 */
export const s3RegionOption: Options.Options<Option.Option<string>> = Options.text("s3-region").pipe(
  Options.withDescription("S3 region for --blob-url. Default: $AWS_REGION, else us-east-1"),
  Options.optional
)

/**
 * The `--blob-url` (else `$FM_BLOB_URL`, unless `--blob-dir` is given), checked: it must be
 * `s3://BUCKET[/PREFIX]`, and the flag must not come with `--blob-dir`.
 * @since 0.1.0
 */
export const resolveBlobUrl = (
  flag: Option.Option<string>,
  blobDir: string | undefined
): Effect.Effect<string | undefined, UsageError | ConfigError.ConfigError> =>
  Effect.flatMap(blobUrlSetting, (fromEnv) => {
    const given = Option.isSome(flag) ? flag : blobDir === undefined ? fromEnv : Option.none()
    const what = Option.isSome(flag) ? "--blob-url" : "$FM_BLOB_URL"
    return Option.match(given, {
      onNone: () => Effect.succeed(undefined),
      onSome: (url) =>
        Option.isSome(flag) && blobDir !== undefined
          ? Effect.fail(new UsageError({ reason: "--blob-url and --blob-dir both name where archives go; give one" }))
          : /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(url.trim())
          ? Effect.succeed(url.trim())
          : Effect.fail(
            new UsageError({
              reason: `${what}: '${url}' is not an s3://BUCKET/PREFIX URL`,
              hint: "e.g. --blob-url s3://fm-archives/registry"
            })
          )
    })
  })

/**
 * The database URL a command uses (`--database-url`, else `$FM_DATABASE_URL`), checked: a
 * non-PostgreSQL URL is a usage error.
 * @since 0.1.0
 */
export const resolveDatabaseUrl = (
  flag: Option.Option<string>
): Effect.Effect<string | undefined, UsageError | ConfigError.ConfigError> =>
  Effect.flatMap(databaseUrlSetting, (fromEnv) => {
    const url = databaseUrlFrom(Option.getOrUndefined(flag), fromEnv)
    if (url === undefined || isPostgresUrl(url)) return Effect.succeed(url)
    return Effect.fail(
      new UsageError({
        reason: `--database-url: '${redactUrl(url)}' is not a PostgreSQL URL`,
        hint: "use postgres://user:password@host:5432/database (or leave it out for SQLite in the data directory)"
      })
    )
  })

/**
 * The `--blob-dir` directory, resolved and created (mode 0700).
 * @since 0.1.0
 */
export const resolveBlobDir = (flag: Option.Option<string>): Effect.Effect<string | undefined, UsageError> =>
  Option.match(flag, {
    onNone: () => Effect.succeed(undefined),
    onSome: (dir) =>
      Effect.try({
        try: () => {
          const resolved = Path.resolve(dir)
          Fs.mkdirSync(resolved, { recursive: true, mode: 0o700 })
          return resolved
        },
        catch: (cause) => new UsageError({ reason: `--blob-dir: cannot create ${dir}: ${String(cause)}` })
      })
  })

/**
 * The metadata store a `token` command works on: PostgreSQL when `databaseUrl` is given, else
 * the SQLite database of `dataDir`.
 * @since 0.1.0
 * @category layers
 */
export const storeLayerFor = (
  dataDir: string,
  databaseUrl: string | undefined
): Layer.Layer<PackageStore, StoreError> =>
  databaseUrl === undefined
    ? SqlitePackageStore.layer(Path.join(dataDir, "registry.db"))
    : Layer.unwrapEffect(
      Effect.map(Effect.promise(() => import("../server/pg/PgPackageStore.js")), (pg) =>
        pg.layer({ url: databaseUrl, maxConnections: 2 }))
    )

/**
 * `fm studio migrate --database-url postgres://...`: applies the pending PostgreSQL migrations
 * and exits (replicas also migrate at start; this lets a deploy do it first, once).
 * @since 0.1.0
 * @category commands
 */
export const migrateCommand = Command.make(
  "migrate",
  { databaseUrl: databaseUrlOption, json },
  (opts) =>
    Effect.gen(function*() {
      const url = yield* resolveDatabaseUrl(opts.databaseUrl)
      if (url === undefined) {
        return yield* new UsageError({
          reason: `fm studio migrate needs --database-url or $${DATABASE_URL_ENV}`,
          hint: "a SQLite registry migrates itself when 'fm studio start' opens it"
        })
      }
      const PgDatabase = yield* Effect.promise(() => import("../server/pg/PgDatabase.js"))
      const applied = yield* PgDatabase.migrateDatabase({ url, applicationName: "fm-migrate" })
      const names = applied.map(([id, name]) => `${String(id).padStart(4, "0")}_${name}`)
      if (opts.json) return yield* printJson({ database: redactUrl(url), applied: names })
      yield* Console.log(
        names.length === 0
          ? `${redactUrl(url)} is up to date.`
          : `Applied ${names.length} migration(s) to ${redactUrl(url)}: ${names.join(", ")}`
      )
    })
).pipe(
  Command.withDescription(
    "Create or upgrade the PostgreSQL schema of a registry (--database-url or $FM_DATABASE_URL), then exit"
  )
)
