/**
 * The client's disk cache of registry metadata answers (package info, versions, one version), kept
 * with their ETags so that a repeated request is a conditional one.
 * @internal
 */
import { Effect, Option, Schema } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { API_PREFIX } from "../api/ApiPrefix.js"
import { writeFileAtomicSync } from "../shared/AtomicFile.js"
import { uniqueSuffix } from "./CacheLayout.js"

/**
 * One cached metadata answer: the URL it answers, its ETag and the JSON body.
 * @internal
 */
export interface MetadataRecord {
  readonly url: string
  readonly etag: string
  readonly body: string
  /** When the registry last confirmed it (epoch ms; the file's mtime), when read from a file. */
  readonly checkedAt?: number | undefined
}

const SAFE_SEGMENT = /^[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,213}$/

/**
 * The cache file of a metadata URL (package info, versions, one version), or `undefined` for
 * anything else (search, downloads, queries, names that are not plain file names).
 * @internal
 */
export const metadataFile = (dir: string, registry: string, base: string, url: string): string | undefined => {
  const prefix = `${base}${API_PREFIX}/packages/`
  if (!url.startsWith(prefix) || url.includes("?") || url.includes("#")) return undefined
  let segments: Array<string>
  try {
    segments = url.slice(prefix.length).split("/").map(decodeURIComponent)
  } catch {
    return undefined
  }
  if (!segments.every((x) => SAFE_SEGMENT.test(x)) || !SAFE_SEGMENT.test(registry)) return undefined
  const [name, second] = segments
  if (name === undefined || name === "search" || segments.length > 2) return undefined
  const file = second === undefined
    ? `${name}.json`
    : second === "versions"
    ? `${name}.versions.json`
    : `${name}@${second}.json`
  return nodePath.join(dir, registry, file)
}

/**
 * The cached answer of `url` in `file`, if there is one for that URL (a torn file reads as none).
 * @internal
 */
export const readMetadata = (file: string, url: string): Effect.Effect<Option.Option<MetadataRecord>> =>
  // synchronous: a small file, and on a cold cache one failed open (thread-pool round trips cost more)
  Effect.sync(() => {
    let fd: number
    try {
      fd = fs.openSync(file, "r")
    } catch {
      return Option.none()
    }
    try {
      // the file's mtime is when the registry last confirmed it (written on a 200, touched on a 304)
      const info = fs.fstatSync(fd)
      const text = fs.readFileSync(fd, "utf8")
      return Option.filterMap(
        decodeMetadataFile(text),
        (
          r
        ) => (r.url === url ? Option.some({ url, etag: r.etag, body: r.body, checkedAt: info.mtimeMs }) : Option.none())
      )
    } catch {
      return Option.none()
    } finally {
      fs.closeSync(fd)
    }
  })

/** A metadata cache file (a torn or foreign one does not decode, and reads as absent). */
const decodeMetadataFile = Schema.decodeUnknownOption(
  Schema.parseJson(Schema.Struct({ url: Schema.String, etag: Schema.String, body: Schema.String }))
)

/**
 * Marks a cached answer as confirmed now (after a 304): its mtime is its age. Failures are ignored.
 * @internal
 */
export const touchMetadata = (file: string): Effect.Effect<void> =>
  Effect.promise(() => {
    const now = new Date()
    return fs.promises.utimes(file, now, now).catch(() => undefined)
  })

/**
 * Writes a record atomically (temp file in the same directory, then rename); failures are ignored
 * (it is a cache). No fsync: a file torn by a crash does not parse, and reads as absent.
 * Synchronous (a few small system calls), so Ctrl-C never stops it half-way: no temp file stays.
 * @internal
 */
export const writeMetadata = (file: string, record: Omit<MetadataRecord, "checkedAt">): Effect.Effect<void> =>
  // the directory is created only when missing
  Effect.sync(() => {
    try {
      writeFileAtomicSync(file, JSON.stringify(record), {
        temp: `${file}.${uniqueSuffix()}.tmp`,
        createDirectories: true,
        fsync: false
      })
    } catch {
      // a cache: not kept
    }
  })
