/**
 * Byte counts for people: the one `formatBytes` of the CLI and the archive messages. (The web UI,
 * bundled for the browser on its own, keeps its own display format in `src/ui/format.ts`.)
 * @since 0.1.0
 */

/**
 * A human-readable size in binary units: `512 B`, `1.5 KiB`, `12.0 MiB`.
 * @since 0.1.0
 */
export const formatBytes = (bytes: number): string => {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${bytes} B`
  const units = ["KiB", "MiB", "GiB", "TiB"] as const
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}
