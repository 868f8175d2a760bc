/**
 * What a client reads through in the answers of FlowMason's existing server: relative or empty
 * `download_url`s, and `published_at` timestamps without a timezone. (Its shadowed versions
 * listing: `VersionsFallback.ts`; its unreported dependencies: `resolver/ArchiveDependencies.ts`.)
 * `RemoteRegistry` re-exports them.
 * @since 0.1.0
 */
import { API_PREFIX } from "../api/ApiPrefix.js"
import { PackageInfo } from "../api/Models.js"

/**
 * Resolves a registry's `download_url` (absolute, relative, or empty) against its base URL.
 * A root-relative path is appended to the base so that a path prefix is kept.
 * @since 0.1.0
 */
export const resolveDownloadUrl = (base: string, name: string, version: string, downloadUrl: string): string => {
  const trimmed = base.replace(/\/+$/, "")
  if (downloadUrl === "") {
    return `${trimmed}${API_PREFIX}/packages/${encodeURIComponent(name)}/${encodeURIComponent(version)}/download`
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(downloadUrl)) return downloadUrl
  if (downloadUrl.startsWith("//")) return new URL(downloadUrl, trimmed).toString()
  if (downloadUrl.startsWith("/")) {
    const prefix = new URL(trimmed).pathname.replace(/\/+$/, "")
    if (prefix !== "" && downloadUrl.startsWith(`${prefix}/`)) return new URL(downloadUrl, trimmed).toString()
    return `${trimmed}${downloadUrl}`
  }
  return new URL(downloadUrl, `${trimmed}/`).toString()
}

/**
 * A `published_at` as a Date; a timestamp without timezone (FlowMason's server) is read as UTC.
 * @since 0.1.0
 */
export const parsePublishedAt = (s: string | null | undefined): Date | undefined => {
  if (s === null || s === undefined || s === "") return undefined
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(s)
  const d = new Date(hasZone ? s : `${s}Z`)
  return Number.isNaN(d.getTime()) ? undefined : d
}

/**
 * A `published_at` as it is passed on: ISO-8601 in UTC (`...Z`; one without timezone read as
 * UTC), or unchanged when it is not a date.
 * @since 0.1.0
 */
export const normalizePublishedAt = (s: string | null): string | null => parsePublishedAt(s)?.toISOString() ?? s

/**
 * A package answer (or search entry) of a registry at `base` read through those quirks:
 * `components: [""]` is none, `download_url` is absolute, `published_at` is UTC (`...Z`).
 * @since 0.1.0
 */
export const readThroughQuirks = (base: string, info: PackageInfo): PackageInfo =>
  new PackageInfo({
    ...info,
    components: info.components.filter((c) => c.trim() !== ""),
    download_url: resolveDownloadUrl(base, info.name, info.version, info.download_url),
    published_at: normalizePublishedAt(info.published_at)
  })
