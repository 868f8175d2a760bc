/**
 * What selects a registry's storage, without loading any PostgreSQL code: the options, the
 * `FM_DATABASE_URL` variable, URL checks and the description printed at start-up. `Storage.ts`
 * builds the layers; the CLI loads it (and the PostgreSQL driver) only when PostgreSQL or a blob
 * directory is asked for.
 * @since 0.1.0
 */
import * as Path from "node:path"

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
  /** PostgreSQL pool size per replica (default 10). */
  readonly maxConnections?: number | undefined
}

/**
 * The environment variable read when no `--database-url` is given.
 * @since 0.1.0
 */
export const DATABASE_URL_ENV = "FM_DATABASE_URL"

/**
 * `flag`, else `$FM_DATABASE_URL`, else `undefined` (SQLite). Empty strings count as unset.
 * @since 0.1.0
 */
export const databaseUrlFrom = (flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined => {
  const v = flag !== undefined && flag.trim() !== "" ? flag.trim() : env[DATABASE_URL_ENV]?.trim()
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
  blobs: options.blobDir !== undefined
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
