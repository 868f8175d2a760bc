/**
 * The client's disk cache of registry metadata answers (package info, versions, one version), kept
 * with their ETags so that a repeated request is a conditional one.
 * @internal
 */
import { Effect, Option } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { API_PREFIX } from "../api/RegistryApi.js"

/**
 * One cached metadata answer: the URL it answers, its ETag and the JSON body.
 * @internal
 */
export interface MetadataRecord {
  readonly url: string
  readonly etag: string
  readonly body: string
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
  const file = second === undefined ? `${name}.json` : second === "versions" ? `${name}.versions.json` : `${name}@${second}.json`
  return nodePath.join(dir, registry, file)
}

/**
 * The cached answer of `url` in `file`, if there is one for that URL (a torn file reads as none).
 * @internal
 */
export const readMetadata = (file: string, url: string): Effect.Effect<Option.Option<MetadataRecord>> =>
  Effect.promise(() =>
    fs.promises.readFile(file, "utf8").then(
      (text): Option.Option<MetadataRecord> => {
        let r: unknown
        try {
          r = JSON.parse(text)
        } catch {
          return Option.none() // a torn or foreign file: ask without If-None-Match, then replace it
        }
        return typeof r === "object" && r !== null && "url" in r && r.url === url && "etag" in r &&
            typeof r.etag === "string" && "body" in r && typeof r.body === "string"
          ? Option.some({ url, etag: r.etag, body: r.body })
          : Option.none()
      },
      () => Option.none()
    )
  )

/**
 * Writes a record atomically (temp file in the same directory, then rename); failures are ignored
 * (it is a cache). No fsync: a file torn by a crash does not parse, and reads as absent.
 * Uninterruptible: Ctrl-C waits the few milliseconds it takes, so no temp file stays.
 * @internal
 */
export const writeMetadata = (file: string, record: MetadataRecord): Effect.Effect<void> =>
  Effect.uninterruptible(Effect.promise(async () => {
    const tmp = `${file}.${process.pid}-${crypto.randomBytes(6).toString("hex")}.tmp`
    try {
      // the directory is created only when missing (a recursive mkdir per answer was a hot spot)
      const handle = await fs.promises.open(tmp, "wx").catch(async (e: NodeJS.ErrnoException) => {
        if (e.code !== "ENOENT") throw e
        await fs.promises.mkdir(nodePath.dirname(file), { recursive: true })
        return fs.promises.open(tmp, "wx")
      })
      try {
        await handle.writeFile(JSON.stringify(record))
      } finally {
        await handle.close()
      }
      await fs.promises.rename(tmp, file)
    } catch {
      await fs.promises.rm(tmp, { force: true }).catch(() => undefined)
    }
  }))
