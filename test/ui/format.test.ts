/**
 * The UI's pure formatting helpers (run in Node; the DOM-free parts).
 */
import { assert, describe, it } from "vitest"
import { compareVersions, formatBytes, formatCount, formatDate, parseDate } from "../../src/ui/format.js"

describe("UI formatting", () => {
  it("formats sizes in binary units", () => {
    assert.strictEqual(formatBytes(0), "0 B")
    assert.strictEqual(formatBytes(1023), "1023 B")
    assert.strictEqual(formatBytes(1536), "1.5 KiB")
    assert.strictEqual(formatBytes(100 * 1024 * 1024), "100 MiB")
    assert.strictEqual(formatBytes(undefined), "0 B")
  })

  it("formats counts with separators", () => {
    assert.strictEqual(formatCount(1234567), "1,234,567")
  })

  it("reads timestamps without a zone as UTC and rejects junk", () => {
    assert.strictEqual(formatDate("2026-01-31T23:30:00"), "2026-01-31")
    assert.strictEqual(formatDate("2026-01-31T23:30:00+02:00"), "2026-01-31")
    assert.strictEqual(formatDate("2026-01-31T23:30:00Z"), "2026-01-31")
    assert.strictEqual(formatDate("yesterday"), "unknown")
    assert.strictEqual(formatDate(null), "unknown")
    assert.isUndefined(parseDate(""))
  })

  it("orders versions by semver, prereleases below their release", () => {
    const vs = ["1.10.0", "1.9.0", "2.0.0-rc.1", "2.0.0", "2.0.0-beta.2", "2.0.0-beta.10", "1.0.0+build.5", "0.9.9"]
    const sorted = [...vs].sort(compareVersions)
    assert.deepStrictEqual(sorted, [
      "0.9.9",
      "1.0.0+build.5",
      "1.9.0",
      "1.10.0",
      "2.0.0-beta.2",
      "2.0.0-beta.10",
      "2.0.0-rc.1",
      "2.0.0"
    ])
    assert.strictEqual(compareVersions("1.0.0", "1.0.0"), 0)
  })
})
