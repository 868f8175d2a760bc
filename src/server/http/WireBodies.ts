/**
 * The JSON bodies and headers the registry API answers with, built straight from store rows.
 * @since 0.1.0
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { PackageInfo, ReleaseInfo, SearchResponse } from "../../api/Models.js"
import { API_PREFIX } from "../../api/RegistryApi.js"
import type { PackageRow, ReleaseRow, SearchResult } from "../storage/PackageStore.js"

/**
 * The absolute base URL of this server as the client sees it: `--public-url`, else the request's
 * `Host` (and, only with `--trust-proxy`, `X-Forwarded-Proto`/`X-Forwarded-Host`).
 * @since 0.1.0
 * @category utils
 */
export const baseUrlOf = (
  request: HttpServerRequest.HttpServerRequest,
  options: { readonly publicUrl: string | undefined; readonly trustProxy: boolean }
): string => baseUrlFromHeaders(request.headers, options)

/**
 * {@link baseUrlOf} from the request headers alone.
 * @since 0.1.0
 * @category utils
 */
export const baseUrlFromHeaders = (
  h: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>,
  options: { readonly publicUrl: string | undefined; readonly trustProxy: boolean }
): string => {
  if (options.publicUrl !== undefined && options.publicUrl !== "") return options.publicUrl.replace(/\/+$/, "")
  const one = (v: string | ReadonlyArray<string> | undefined) => (typeof v === "string" ? v : v?.[0])
  const first = (v: string | ReadonlyArray<string> | undefined) => {
    const s = one(v)
    return s === undefined ? undefined : s.split(",")[0]!.trim()
  }
  const proto = (options.trustProxy ? first(h["x-forwarded-proto"]) : undefined) ?? "http"
  const host = (options.trustProxy ? first(h["x-forwarded-host"]) : undefined) ?? one(h.host) ?? "localhost"
  return `${proto === "https" ? "https" : "http"}://${host}`
}

/**
 * The absolute download URL of a release.
 * @since 0.1.0
 * @category utils
 */
export const downloadUrl = (base: string, name: string, version: string): string =>
  `${base}${API_PREFIX}/packages/${encodeURIComponent(name)}/${encodeURIComponent(version)}/download`

/**
 * A release as the wire's package object.
 * @since 0.1.0
 * @category utils
 */
export const toPackageInfo = (
  r: ReleaseRow,
  base: string,
  extra: { readonly versions: ReadonlyArray<string>; readonly latest: string | null; readonly downloads?: number }
): PackageInfo =>
  new PackageInfo({
    name: r.name,
    version: r.version,
    description: r.description,
    author: r.author,
    author_email: r.authorEmail,
    download_url: downloadUrl(base, r.name, r.version),
    checksum: r.checksum,
    size_bytes: r.sizeBytes,
    components: [...r.components],
    component_count: r.components.length,
    tags: [...r.tags],
    category: r.category,
    license: r.license,
    homepage: r.homepage,
    repository: r.repository,
    published_at: r.publishedAt,
    downloads: extra.downloads ?? r.downloads,
    available_versions: [...extra.versions],
    latest_version: extra.latest,
    dependencies: { ...r.dependencies },
    python_requirements: [...r.pythonRequirements],
    flowmason_version: r.flowmasonVersion,
    kind: r.kind,
    yanked: r.yanked,
    yank_reason: r.yankReason
  }, true)

/**
 * A release as the wire's entry of the versions list.
 * @since 0.1.0
 * @category utils
 */
export const toReleaseInfo = (r: ReleaseRow, base: string): ReleaseInfo =>
  new ReleaseInfo({
    version: r.version,
    yanked: r.yanked,
    yank_reason: r.yankReason,
    published_at: r.publishedAt,
    checksum: r.checksum,
    size_bytes: r.sizeBytes,
    downloads: r.downloads,
    download_url: downloadUrl(base, r.name, r.version),
    dependencies: { ...r.dependencies }
  }, true)

/**
 * The `info` answer of a package (the same JSON the HttpApi handler sends).
 * @since 0.1.0
 * @category utils
 */
export const infoBody = (p: PackageRow, base: string): PackageInfo =>
  toPackageInfo(p.latest, base, { versions: p.versions, latest: p.latest.version, downloads: p.downloads })

/**
 * The `search` answer of a result page (the same JSON the HttpApi handler sends).
 * @since 0.1.0
 * @category utils
 */
export const searchBody = (
  result: SearchResult,
  base: string,
  query: { readonly q: string; readonly page: number; readonly pageSize: number }
): SearchResponse =>
  new SearchResponse({
    packages: result.rows.map((p) => infoBody(p, base)),
    total_count: result.total,
    page: query.page,
    page_size: query.pageSize,
    query: query.q
  }, true)

/**
 * The headers of a whole-archive download (`ETag` = the quoted SHA-256, immutable caching).
 * @since 0.1.0
 * @category utils
 */
export const downloadHeaders = (r: ReleaseRow): Record<string, string> => ({
  "etag": `"${r.checksum}"`,
  "accept-ranges": "bytes",
  "cache-control": "public, max-age=31536000, immutable",
  "content-disposition": `attachment; filename="${r.name}-${r.version}.fmpkg"`
})

/**
 * The `404 {detail}` answer to a request for a path under `/api` that no endpoint serves (from the
 * registry's middleware, and from the web UI's catch-all route, which never answers `/api/*`).
 * @since 0.1.0
 * @category utils
 */
export const noApiEndpoint = (request: HttpServerRequest.HttpServerRequest): HttpServerResponse.HttpServerResponse => {
  const raw = new URL(request.url, "http://localhost").pathname
  let path = raw
  try {
    path = decodeURIComponent(raw)
  } catch {
    // shown as sent
  }
  return HttpServerResponse.unsafeJson(
    { detail: `No API endpoint ${request.method} ${path}. The registry API lives under ${API_PREFIX}/.` },
    { status: 404 }
  )
}
