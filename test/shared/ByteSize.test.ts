/**
 * ByteSize: the three named variants print the texts their readers rely on (the CLI's tables, the
 * web UI, the archive refusals the hostile-archive tests match on).
 */
import { assert, describe, it } from "@effect/vitest"
import { formatBytes, formatBytesExact, formatBytesShort } from "../../src/shared/ByteSize.js"

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB

describe("ByteSize", () => {
  it("formatBytes (CLI): one decimal from KiB up, B below", () => {
    assert.deepStrictEqual(
      [0, 512, 1023, KiB, 1536, 12 * MiB, 1.5 * GiB, 2 * 1024 * GiB, 5000 * 1024 * GiB].map(formatBytes),
      ["0 B", "512 B", "1023 B", "1.0 KiB", "1.5 KiB", "12.0 MiB", "1.5 GiB", "2.0 TiB", "5000.0 TiB"]
    )
  })
  it("formatBytesShort (web UI): whole numbers from 10 up", () => {
    assert.deepStrictEqual(
      [512, 1536, 10 * KiB, 10.5 * KiB, 12 * MiB, 9.94 * MiB].map(formatBytesShort),
      ["512 B", "1.5 KiB", "10 KiB", "11 KiB", "12 MiB", "9.9 MiB"]
    )
  })
  it("formatBytesExact (archive messages): `bytes` below 1 KiB, two decimals of GiB, no TiB", () => {
    assert.deepStrictEqual(
      [100, 64 * KiB, 4 * MiB, GiB, 2048 * GiB].map(formatBytesExact),
      ["100 bytes", "64.0 KiB", "4.0 MiB", "1.00 GiB", "2048.00 GiB"]
    )
  })
  it("a size that is not a finite number is printed as it is, without a unit above bytes", () => {
    assert.strictEqual(formatBytes(Number.NaN), "NaN B")
    assert.strictEqual(formatBytesShort(Number.POSITIVE_INFINITY), "Infinity B")
  })
})
