/**
 * Byte sizes as text, in binary units (1 KiB = 1024 B), one module for the three places that
 * print them, each variant named for where it is used and why it differs:
 * - {@link formatBytes}: the CLI, one decimal everywhere (`512 B`, `1.5 KiB`, `12.0 MiB`).
 * - {@link formatBytesShort}: the web UI, whole numbers from 10 up (`1.5 KiB`, `12 MiB`).
 * - {@link formatBytesExact}: archive refusals, `N bytes` under 1 KiB and two decimals of GiB
 *   (`1.00 GiB`), the words tests and users match on.
 *
 * No imports: the web UI's browser bundle includes this module.
 * @since 0.1.0
 */

/** How one variant prints: the word for plain bytes, its units, and how many decimals a value gets. */
interface ByteStyle {
  readonly bytes: string
  readonly units: ReadonlyArray<string>
  readonly decimals: (value: number, unit: string) => number
}

const format = (style: ByteStyle) => (n: number): string => {
  if (!Number.isFinite(n) || n < 1024) return `${n} ${style.bytes}`
  let value = n / 1024
  let i = 0
  while (value >= 1024 && i < style.units.length - 1) {
    value /= 1024
    i++
  }
  const unit = style.units[i] ?? ""
  return `${value.toFixed(style.decimals(value, unit))} ${unit}`
}

/**
 * The CLI's sizes: `512 B`, `1.5 KiB`, `12.0 MiB`.
 * @since 0.1.0
 */
export const formatBytes: (n: number) => string = format({
  bytes: "B",
  units: ["KiB", "MiB", "GiB", "TiB"],
  decimals: () => 1
})

/**
 * The web UI's shorter sizes: `1.5 KiB`, `12 MiB` (whole numbers from 10 up).
 * @since 0.1.0
 */
export const formatBytesShort: (n: number) => string = format({
  bytes: "B",
  units: ["KiB", "MiB", "GiB", "TiB"],
  decimals: (value) => (value < 10 ? 1 : 0)
})

/**
 * Sizes in archive messages: `100 bytes`, `1.5 KiB`, `4.0 MiB`, `1.00 GiB`.
 * @since 0.1.0
 */
export const formatBytesExact: (n: number) => string = format({
  bytes: "bytes",
  units: ["KiB", "MiB", "GiB"],
  decimals: (_value, unit) => (unit === "GiB" ? 2 : 1)
})
