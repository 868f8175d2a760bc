/**
 * The browser's client of the registry JSON API (`/api/v1/registry`): adds the session's read
 * token as `Authorization: Bearer`, never to a URL, and turns `{detail}` errors into
 * {@link ApiError}.
 * @since 0.1.0
 */
import type {
  CategoryCount,
  HealthResponse,
  PackageInfo,
  ReleaseInfo,
  SearchResponse,
  StatsResponse,
  VersionsResponse
} from "../api/Models.js"

/** The API prefix, on the page's own origin. @since 0.1.0 */
export const API = "/api/v1/registry"

/** A package object as sent on the wire. @since 0.1.0 */
export type Pkg = typeof PackageInfo.Encoded
/** One release of the versions answer as sent on the wire. @since 0.1.0 */
export type Release = typeof ReleaseInfo.Encoded
/** The versions answer. @since 0.1.0 */
export type Versions = typeof VersionsResponse.Encoded
/** The search answer. @since 0.1.0 */
export type Search = typeof SearchResponse.Encoded
/** The stats answer. @since 0.1.0 */
export type Stats = typeof StatsResponse.Encoded
/** One category count. @since 0.1.0 */
export type Category = typeof CategoryCount.Encoded
/** The health answer. @since 0.1.0 */
export type Health = typeof HealthResponse.Encoded

const TOKEN_KEY = "fm.registry.token"

/** The read token kept for this browser session (sessionStorage), if any. @since 0.1.0 */
export const getToken = (): string | undefined => {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined
  } catch {
    return undefined
  }
}

/** Keeps (or, with `undefined`, forgets) the session's read token. @since 0.1.0 */
export const setToken = (token: string | undefined): void => {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token)
    else sessionStorage.removeItem(TOKEN_KEY)
  } catch {
    // storage disabled: the token lives as long as the page
  }
}

/**
 * A failed API call: `status` 0 means the registry could not be reached; `detail` is the
 * server's `{detail}` message or a description of what went wrong.
 * @since 0.1.0
 */
export class ApiError extends Error {
  constructor(readonly status: number, readonly detail: string, readonly path: string) {
    super(status === 0 ? `Could not reach the registry (${path}): ${detail}` : `${detail} (HTTP ${status})`)
  }
}

/** Headers for an API call, with the session token when there is one. @since 0.1.0 */
export const authHeaders = (): Record<string, string> => {
  const token = getToken()
  return token ? { Authorization: `Bearer ${token}`, Accept: "application/json" } : { Accept: "application/json" }
}

const detailOf = async (res: Response): Promise<string> => {
  try {
    const body: unknown = await res.json()
    if (body && typeof body === "object" && "detail" in body) {
      const d = body.detail
      return typeof d === "string" ? d : JSON.stringify(d)
    }
  } catch {
    // not JSON
  }
  return res.statusText || "request failed"
}

/** GETs `API + path` as JSON. @since 0.1.0 */
export const getJson = async <A>(path: string, signal?: AbortSignal): Promise<A> => {
  let res: Response
  try {
    res = await fetch(API + path, { headers: authHeaders(), ...(signal ? { signal } : {}) })
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e
    throw new ApiError(0, e instanceof Error ? e.message : String(e), path)
  }
  if (!res.ok) throw new ApiError(res.status, await detailOf(res), path)
  // The one unchecked edge of the UI: the bundle stays free of the Effect runtime, the answer comes
  // from the page's own origin (the server encoded it with the API's schemas), and views only ever
  // set it as text, never as HTML.
  // eslint-disable-next-line @typescript-eslint/consistent-type-assertions
  return (await res.json()) as A
}

/** Percent-encodes one path segment. @since 0.1.0 */
export const seg = (s: string): string => encodeURIComponent(s)

/** The download path of `name@version` on this origin. @since 0.1.0 */
export const downloadPath = (name: string, version: string): string =>
  `${API}/packages/${seg(name)}/${seg(version)}/download`

/** The API calls the pages make. @since 0.1.0 */
export const api = {
  health: (signal?: AbortSignal) => getJson<Health>("/health", signal),
  search: (q: string, category: string, page: number, pageSize: number, signal?: AbortSignal) => {
    const p = new URLSearchParams({ q, page: String(page), page_size: String(pageSize) })
    if (category) p.set("category", category)
    return getJson<Search>(`/packages/search?${p}`, signal)
  },
  info: (name: string, version: string | undefined, signal?: AbortSignal) =>
    getJson<Pkg>(version ? `/packages/${seg(name)}/${seg(version)}` : `/packages/${seg(name)}`, signal),
  versions: (name: string, signal?: AbortSignal) => getJson<Versions>(`/packages/${seg(name)}/versions`, signal),
  categories: (signal?: AbortSignal) => getJson<ReadonlyArray<string>>("/categories", signal),
  stats: (signal?: AbortSignal) => getJson<Stats>("/stats", signal)
}

/**
 * Downloads `name@version` with the session token (a plain link cannot send a header): fetches
 * the bytes, checks their SHA-256 against `checksum` when the browser can hash (secure contexts),
 * and saves them through a short-lived Blob URL. Resolves to whether the checksum was verified.
 * @since 0.1.0
 */
export const downloadWithToken = async (name: string, version: string, checksum: string): Promise<boolean> => {
  const path = downloadPath(name, version)
  let res: Response
  try {
    res = await fetch(path, { headers: authHeaders() })
  } catch (e) {
    throw new ApiError(0, e instanceof Error ? e.message : String(e), path)
  }
  if (!res.ok) throw new ApiError(res.status, await detailOf(res), path)
  const bytes = await res.arrayBuffer()
  let verified = false
  if (checksum && globalThis.crypto?.subtle) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")
    if (hex !== checksum.toLowerCase()) {
      throw new ApiError(
        res.status,
        `checksum mismatch for ${name}@${version}: expected ${checksum}, got ${hex}; the file was not saved`,
        path
      )
    }
    verified = true
  }
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }))
  const a = document.createElement("a")
  a.href = url
  a.download = `${name}-${version}.fmpkg`
  a.hidden = true
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
  return verified
}
