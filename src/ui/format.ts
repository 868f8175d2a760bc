/**
 * Formatting of sizes, dates, counts and versions for display.
 * @since 0.1.0
 */
import { formatBytesShort } from "../shared/ByteSize.js"

/**
 * `1536` -> `"1.5 KiB"`, `12582912` -> `"12 MiB"`: `ByteSize.formatBytesShort`, with a missing size as 0.
 * @since 0.1.0
 */
export const formatBytes = (n: number | undefined): string => formatBytesShort(n ?? 0)

/** `12345` -> `"12,345"`. @since 0.1.0 */
export const formatCount = (n: number | undefined): string => (n ?? 0).toLocaleString("en-US")

/**
 * An ISO-8601 timestamp as a date (`2026-01-31`), or `"unknown"`. Timestamps without a zone (as
 * FlowMason's own server sends) are read as UTC.
 * @since 0.1.0
 */
export const formatDate = (iso: string | null | undefined): string => {
  const d = parseDate(iso)
  return d ? d.toISOString().slice(0, 10) : "unknown"
}

/** A `<time>` element showing the date, with the full UTC timestamp as its tooltip. @since 0.1.0 */
export const timeEl = (iso: string | null | undefined): HTMLElement | string => {
  const d = parseDate(iso)
  if (!d) return "unknown"
  const el = document.createElement("time")
  el.dateTime = d.toISOString()
  el.title = d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC")
  el.textContent = d.toISOString().slice(0, 10)
  return el
}

/** Parses a timestamp, reading one without a zone as UTC. @since 0.1.0 */
export const parseDate = (iso: string | null | undefined): Date | undefined => {
  if (!iso) return undefined
  const zoned = /[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`
  const d = new Date(zoned)
  return Number.isNaN(d.getTime()) ? undefined : d
}

const parts = (v: string): [Array<number>, Array<string>] => {
  const [core = "", pre = ""] = v.split("+")[0].split(/-(.*)/s)
  return [core.split(".").map((x) => Number.parseInt(x, 10) || 0), pre ? pre.split(".") : []]
}

/** Semver order (descending use: `b` before `a`); prereleases sort below their release. @since 0.1.0 */
export const compareVersions = (a: string, b: string): number => {
  const [ca, pa] = parts(a)
  const [cb, pb] = parts(b)
  for (let i = 0; i < Math.max(ca.length, cb.length); i++) {
    const d = (ca[i] ?? 0) - (cb[i] ?? 0)
    if (d !== 0) return d
  }
  if (pa.length === 0 || pb.length === 0) return pb.length - pa.length
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i]
    const y = pb[i]
    if (x === undefined) return -1
    if (y === undefined) return 1
    const nx = /^\d+$/.test(x) ? Number(x) : undefined
    const ny = /^\d+$/.test(y) ? Number(y) : undefined
    if (nx !== undefined && ny !== undefined) {
      if (nx !== ny) return nx - ny
    } else if (x !== y) {
      return nx !== undefined ? -1 : ny !== undefined ? 1 : x < y ? -1 : 1
    }
  }
  return 0
}
