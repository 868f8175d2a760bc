/**
 * Storage selection at start-up, for one server or several replicas:
 *
 * | options                         | metadata                         | archives                          |
 * |---------------------------------|----------------------------------|-----------------------------------|
 * | (none)                          | SQLite `<data-dir>/registry.db`  | `<data-dir>/blobs`                |
 * | `databaseUrl`                   | PostgreSQL                       | PostgreSQL (`blobs`/`blob_chunks`)|
 * | `databaseUrl` + `blobDir`       | PostgreSQL                       | shared directory `blobDir`        |
 * | `blobDir` (no `databaseUrl`)    | SQLite `<data-dir>/registry.db`  | directory `blobDir`               |
 * | `blobUrl` (`s3://B/P`)          | either of the above              | S3-compatible object storage      |
 *
 * `databaseUrl` comes from `--database-url` or the `FM_DATABASE_URL` environment variable and
 * must be a `postgres://` / `postgresql://` URL. PostgreSQL is migrated when the layer is built
 * (safe with several replicas starting together). Stray blobs are swept at start, replica-safely.
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import * as PgBlobStore from "../pg/PgBlobStore.js"
import * as PgCacheInvalidation from "../pg/PgCacheInvalidation.js"
import * as PgDatabase from "../pg/PgDatabase.js"
import * as PgPackageStore from "../pg/PgPackageStore.js"
import type { BlobError, BlobStore } from "../storage/BlobStore.js"
import * as BlobStoreFs from "../storage/BlobStore.js"
import { PackageStore, StoreError } from "../storage/PackageStore.js"
import * as SharedDirBlobStore from "../storage/SharedDirBlobStore.js"
import * as SqlitePackageStore from "../storage/SqlitePackageStore.js"
import type { StorageOptions } from "./StorageOptions.js"
import { redactUrl, sqliteFile } from "./StorageOptions.js"

export {
  /**
   * The environment variable read when no `--database-url` is given (see `StorageOptions`).
   * @since 0.1.0
   */
  DATABASE_URL_ENV,
  /**
   * `flag`, else `$FM_DATABASE_URL`, else `undefined` (SQLite) (see `StorageOptions`).
   * @since 0.1.0
   */
  databaseUrlFrom,
  /**
   * Which backends a set of options selects, for start-up logs and `--json` output (see `StorageOptions`).
   * @since 0.1.0
   */
  describe,
  /**
   * The storage options (see `StorageOptions`).
   * @since 0.1.0
   */
  type StorageOptions
} from "./StorageOptions.js"

/**
 * The storage the options select (see the module table), swept at start.
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: StorageOptions): Layer.Layer<PackageStore | BlobStore, StoreError | BlobError> => {
  const { blobDir, blobUrl, dataDir, databaseUrl } = options
  // the AWS SDK loads only when object storage is asked for
  const s3 = (url: string) =>
    Layer.unwrapEffect(
      Effect.map(Effect.promise(() => import("../storage/S3BlobStore.js")), (S3BlobStore) =>
        S3BlobStore.layer({ url, tempDir: dataDir, endpoint: options.s3Endpoint, region: options.s3Region }))
    )
  if (databaseUrl === undefined) {
    const store = SqlitePackageStore.layer(sqliteFile(dataDir))
    const blobs = blobUrl !== undefined
      ? s3(blobUrl)
      : blobDir === undefined
      ? BlobStoreFs.layer(dataDir)
      : SharedDirBlobStore.layer(blobDir)
    return BlobStoreFs.withSweep(Layer.merge(store, blobs))
  }
  if (!PgDatabase.isPostgresUrl(databaseUrl)) {
    return Layer.fail(
      new StoreError({
        operation: "open the registry database",
        cause: new Error(
          `'${redactUrl(databaseUrl)}' is not a PostgreSQL URL; use postgres://user:password@host:5432/database`
        )
      })
    )
  }
  const client = PgDatabase.layer({ url: databaseUrl, maxConnections: options.maxConnections })
  const store = Layer.scoped(PackageStore, PgPackageStore.make).pipe(
    Layer.provide(PgCacheInvalidation.layer({ url: databaseUrl }))
  )
  const blobs = blobUrl !== undefined
    ? s3(blobUrl)
    : blobDir === undefined
    ? PgBlobStore.layerFromClient(dataDir)
    : SharedDirBlobStore.layer(blobDir)
  return BlobStoreFs.withSweep(Layer.merge(store, blobs).pipe(Layer.provide(client)))
}
