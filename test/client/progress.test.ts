import { assert, describe, it } from "vitest"
import { makeProgress, PROGRESS_THRESHOLD, progressEnabled, renderProgress } from "../../src/cli/Progress.js"

describe("Progress", () => {
  it("renders bytes, total, a bar, the rate and the time left", () => {
    const line = renderProgress("downloading x", 1024 * 1024, 2 * 1024 * 1024, 1000)
    assert.strictEqual(line, "downloading x [############............] 1.0 MiB / 2.0 MiB  1.0 MiB/s  ETA 1s")
    assert.include(renderProgress("x", 1024 * 1024, 200 * 1024 * 1024, 1000), "ETA 3m19s")
    assert.strictEqual(renderProgress("x", 2048, undefined, 2000), "x 2.0 KiB  1.0 KiB/s")
  })

  it("is off with --json and when stderr is not a terminal (as under vitest)", () => {
    assert.isFalse(progressEnabled(true))
    assert.strictEqual(progressEnabled(false), process.stderr.isTTY === true)
  })

  it("draws nothing for a small transfer or when disabled", () => {
    const writes: Array<string> = []
    const original = process.stderr.write.bind(process.stderr)
    process.stderr.write = ((chunk: string) => {
      writes.push(chunk)
      return true
    }) as typeof process.stderr.write
    try {
      const p = makeProgress("x", { json: true })
      p.update(PROGRESS_THRESHOLD * 4, PROGRESS_THRESHOLD * 4)
      p.done()
    } finally {
      process.stderr.write = original
    }
    assert.deepStrictEqual(writes, [])
  })
})
