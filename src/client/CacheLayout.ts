/**
 * Where the download cache keeps what: `blobs/<sha256>.fmpkg`, `index/<registry>/<name>/<version>.json`,
 * `tmp/` and `verified/` below the cache directory, the index record's shape and key validation.
 * @internal
 */
import { Effect } from "effect"
import * as crypto from "node:crypto"
import * as path from "node:path"
import { isPackageName, normalizeName } from "../domain/PackageName.js"
import { isVersion } from "../domain/Version.js"
import { CacheError, type CacheKey } from "./CacheModels.js"

/** Registry names as the index stores them (a folder each). @internal */
export const REGISTRY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** One day in milliseconds (clean-up ages). @internal */
export const DAY_MS = 24 * 60 * 60 * 1000

/** One index file: which blob a registry's package version is. @internal */
export interface IndexRecord {
  readonly registry: string
  readonly name: string
  readonly version: string
  readonly sha256: string
  readonly size: number
  readonly stored_at: string
}

/** 12 random hex digits drawn once per process (see {@link uniqueSuffix}). */
let processNonce: string | undefined
/** Temp names handed out by this process so far. */
let tempCount = 0

/**
 * A unique part for temp file names: pid, time, 12 random hex digits drawn once per process, and a
 * counter (one random draw per process, not one per temp file: a cold install names about 300).
 * @internal
 */
export const uniqueSuffix = () =>
  `${process.pid}-${Date.now().toString(36)}-${(processNonce ??= crypto.randomBytes(6).toString("hex"))}${
    (tempCount++).toString(36)
  }`

/** The folders of a cache directory. @internal */
export interface CacheLayout {
  readonly dir: string
  readonly blobsDir: string
  readonly indexDir: string
  readonly tmpDir: string
  readonly verifiedDir: string
}

/** The layout below `dir`. @internal */
export const cacheLayout = (dir: string): CacheLayout => ({
  dir,
  blobsDir: path.join(dir, "blobs"),
  indexDir: path.join(dir, "index"),
  tmpDir: path.join(dir, "tmp"),
  verifiedDir: path.join(dir, "verified")
})

/** Where the blob with this SHA-256 lives. @internal */
export const blobPath = (layout: CacheLayout, sha256: string): string => path.join(layout.blobsDir, `${sha256}.fmpkg`)

/** Validates a key and returns its normalized form and index file. @internal */
export const resolveKey = (
  layout: CacheLayout,
  key: CacheKey
): Effect.Effect<{ readonly key: CacheKey; readonly indexFile: string }, CacheError> =>
  Effect.suspend(() => {
    const name = normalizeName(key.name)
    if (!REGISTRY_RE.test(key.registry)) {
      return Effect.fail(new CacheError({ file: layout.dir, reason: `invalid registry name '${key.registry}'` }))
    }
    if (!isPackageName(name)) {
      return Effect.fail(new CacheError({ file: layout.dir, reason: `invalid package name '${key.name}'` }))
    }
    if (!isVersion(key.version)) {
      return Effect.fail(
        new CacheError({ file: layout.dir, reason: `invalid version '${key.version}' for package ${name}` })
      )
    }
    const normalized: CacheKey = { registry: key.registry, name, version: key.version }
    return Effect.succeed({
      key: normalized,
      indexFile: path.join(layout.indexDir, key.registry, name, `${key.version}.json`)
    })
  })
