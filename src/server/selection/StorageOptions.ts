/**
 * What selects a registry's storage, without loading any PostgreSQL code: the options, the
 * `FM_DATABASE_URL` variable, URL checks and the description printed at start-up. `Storage.ts`
 * builds the layers; the CLI loads it (and the PostgreSQL driver) only when PostgreSQL or a blob
 * directory is asked for.
 * @since 0.1.0
 */
import type { Config } from "effect"
import { Option, Redacted } from "effect"
import * as Path from "node:path"
import * as Settings from "../../shared/Settings.js"

/**
 * Whether a database URL names PostgreSQL (`postgres://` or `postgresql://`).
 * @since 0.1.0
 */
export const isPostgresUrl = (url: string): boolean => /^postgres(ql)?:\/\//i.test(url.trim())

/**
 * A database URL safe to print: the password (if any) replaced by `***`.
 * @since 0.1.0
 */
export const redactUrl = (url: string): string => {
  try {
    const u = new URL(url)
    if (u.password !== "") u.password = "***"
    return u.toString()
  } catch {
    return "<invalid database url>"
  }
}

/**
 * Where a registry keeps its metadata and archives.
 * @since 0.1.0
 * @category models
 */
export interface StorageOptions {
  /** Local data directory: the SQLite database and temp uploads (and archives without `blobDir`/PostgreSQL). */
  readonly dataDir: string
  /** `postgres://...`: keep metadata (and, without `blobDir`, archives) in PostgreSQL. */
  readonly databaseUrl?: string | undefined
  /** Keep archives in this (possibly shared) directory. */
  readonly blobDir?: string | undefined
  /**
   * Keep archives in S3-compatible object storage: `s3://BUCKET/PREFIX` (endpoint, region and
   * credentials from the AWS variables, or `s3Endpoint`/`s3Region`).
   */
  readonly blobUrl?: string | undefined
  /** The S3 endpoint for `blobUrl` (default `$AWS_ENDPOINT_URL`, else AWS's). */
  readonly s3Endpoint?: string | undefined
  /** The S3 region for `blobUrl` (default `$AWS_REGION`, else `us-east-1`). */
  readonly s3Region?: string | undefined
  /** PostgreSQL pool size per replica (default 10). */
  readonly maxConnections?: number | undefined
}

/**
 * The environment variable read when no `--database-url` is given.
 * @since 0.1.0
 */
export const DATABASE_URL_ENV = "FM_DATABASE_URL"

/**
 * `$FM_DATABASE_URL` through `Config` (a secret: it may carry a password).
 * @since 0.1.0
 */
export const databaseUrlSetting: Config.Config<Option.Option<Redacted.Redacted<string>>> = Settings.optionalSecret(
  DATABASE_URL_ENV
)

/**
 * The environment variable read when neither `--blob-url` nor `--blob-dir` is given.
 * @since 0.1.0
 */
export const BLOB_URL_ENV = "FM_BLOB_URL"

/**
 * `$FM_BLOB_URL` through `Config` (`s3://BUCKET/PREFIX`; blank counts as unset).
 * @since 0.1.0
 */
export const blobUrlSetting: Config.Config<Option.Option<string>> = Settings.optional(BLOB_URL_ENV)

/**
 * `flag`, else `fromEnv` (`$FM_DATABASE_URL`, see {@link databaseUrlSetting}), else `undefined`
 * (SQLite). Empty strings count as unset.
 * @since 0.1.0
 */
export const databaseUrlFrom = (
  flag: string | undefined,
  fromEnv: Option.Option<Redacted.Redacted<string>>
): string | undefined => {
  const v = flag !== undefined && flag.trim() !== ""
    ? flag.trim()
    : Option.getOrUndefined(Option.map(fromEnv, (r) => Redacted.value(r).trim()))
  return v === undefined || v === "" ? undefined : v
}

/**
 * Which backends a set of options selects, for start-up logs and `--json` output.
 * @since 0.1.0
 */
export const describe = (options: StorageOptions): { readonly database: string; readonly blobs: string } => ({
  database: options.databaseUrl === undefined
    ? `sqlite:${sqliteFile(options.dataDir)}`
    : redactUrl(options.databaseUrl),
  blobs: options.blobUrl !== undefined
    ? options.blobUrl
    : options.blobDir !== undefined
    ? Path.resolve(options.blobDir)
    : options.databaseUrl !== undefined
    ? "postgres"
    : Path.join(Path.resolve(options.dataDir), "blobs")
})

/**
 * The SQLite database of a data directory (as `RegistryServer.databaseFile`).
 * @since 0.1.0
 */
export const sqliteFile = (dataDir: string): string => Path.join(dataDir, "registry.db")
