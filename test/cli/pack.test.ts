import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { sha256Hex } from "../../src/shared/Checksum.js"
import { assertBuilt, makeTempDir, parseJsonOut, removeDir, removeFmBinSnapshot, runFm } from "../helpers/cli.js"

const CLI_TIMEOUT = 240_000
let home = ""
let pkgDir = ""

beforeAll(() => {
  assertBuilt()
  home = makeTempDir("fm-pack-")
  pkgDir = path.join(home, "src", "demo")
  fs.mkdirSync(path.join(pkgDir, "pipelines"), { recursive: true })
  fs.writeFileSync(
    path.join(pkgDir, "manifest.json"),
    JSON.stringify({ name: "demo-pkg", version: "1.2.3", description: "A demo", dependencies: {} }, null, 2)
  )
  fs.writeFileSync(path.join(pkgDir, "pipelines", "main.json"), JSON.stringify({ steps: [1, 2, 3] }))
  fs.writeFileSync(path.join(pkgDir, "README.md"), "# demo\n")
})

afterAll(() => {
  removeDir(home)
  removeFmBinSnapshot()
})

interface PackJson {
  name: string
  version: string
  file: string
  format: "zip" | "tar"
  sha256: string
  size: number
}

describe("fm pack (built binary)", () => {
  it("packs a directory into <name>-<version>.fmpkg in the current directory and reports it as JSON", async () => {
    const out = makeTempDir("fm-pack-out-")
    try {
      const r = await runFm(["pack", pkgDir, "--json"], { home, cwd: out })
      assert.strictEqual(r.code, 0, r.stderr)
      const j = parseJsonOut<PackJson>(r)
      assert.strictEqual(j.name, "demo-pkg")
      assert.strictEqual(j.version, "1.2.3")
      assert.strictEqual(j.format, "zip")
      assert.strictEqual(fs.realpathSync(j.file), fs.realpathSync(path.join(out, "demo-pkg-1.2.3.fmpkg")))
      const bytes = fs.readFileSync(j.file)
      assert.strictEqual(j.size, bytes.length)
      assert.strictEqual(j.sha256, sha256Hex(bytes))
      assert.strictEqual(bytes.subarray(0, 4).toString("hex"), "504b0304") // ZIP
    } finally {
      removeDir(out)
    }
  }, CLI_TIMEOUT)

  it("defaults DIR to '.', honours -o and --format tar, and prints a readable summary", async () => {
    const target = path.join(home, "out", "demo.tgz")
    fs.mkdirSync(path.dirname(target), { recursive: true })
    const r = await runFm(["pack", "-o", target, "--format", "tar"], { home, cwd: pkgDir })
    assert.strictEqual(r.code, 0, r.stderr)
    const bytes = fs.readFileSync(target)
    assert.strictEqual(bytes.subarray(0, 2).toString("hex"), "1f8b") // gzip
    assert.include(r.stdout, "Packed demo-pkg@1.2.3")
    assert.include(r.stdout, `sha256:  ${sha256Hex(bytes)}`)
    assert.include(r.stdout, `(${bytes.length} bytes)`)
    assert.include(r.stdout, target)
  }, CLI_TIMEOUT)

  it("fails with exit 1 naming the directory when there is no manifest; usage errors exit 2", async () => {
    const empty = path.join(home, "empty")
    fs.mkdirSync(empty, { recursive: true })
    const r = await runFm(["pack", empty], { home })
    assert.strictEqual(r.code, 1)
    assert.match(r.stderr, /^error: .*empty/m)
    assert.match(r.stderr, /manifest/)
    assert.deepStrictEqual(fs.readdirSync(empty), [])

    const missing = await runFm(["pack", path.join(home, "does-not-exist")], { home })
    assert.strictEqual(missing.code, 2)
    const badFormat = await runFm(["pack", pkgDir, "--format", "rar"], { home })
    assert.strictEqual(badFormat.code, 2)
    assert.include(badFormat.stderr, "zip, tar")
  }, CLI_TIMEOUT)
})
