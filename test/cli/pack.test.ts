import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
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
      expect(r.code, r.stderr).toBe(0)
      const j = parseJsonOut<PackJson>(r)
      expect(j.name).toBe("demo-pkg")
      expect(j.version).toBe("1.2.3")
      expect(j.format).toBe("zip")
      expect(fs.realpathSync(j.file)).toBe(fs.realpathSync(path.join(out, "demo-pkg-1.2.3.fmpkg")))
      const bytes = fs.readFileSync(j.file)
      expect(j.size).toBe(bytes.length)
      expect(j.sha256).toBe(sha256Hex(bytes))
      expect(bytes.subarray(0, 4).toString("hex")).toBe("504b0304") // ZIP
    } finally {
      removeDir(out)
    }
  }, CLI_TIMEOUT)

  it("defaults DIR to '.', honours -o and --format tar, and prints a readable summary", async () => {
    const target = path.join(home, "out", "demo.tgz")
    fs.mkdirSync(path.dirname(target), { recursive: true })
    const r = await runFm(["pack", "-o", target, "--format", "tar"], { home, cwd: pkgDir })
    expect(r.code, r.stderr).toBe(0)
    const bytes = fs.readFileSync(target)
    expect(bytes.subarray(0, 2).toString("hex")).toBe("1f8b") // gzip
    expect(r.stdout).toContain("Packed demo-pkg@1.2.3")
    expect(r.stdout).toContain(`sha256:  ${sha256Hex(bytes)}`)
    expect(r.stdout).toContain(`(${bytes.length} bytes)`)
    expect(r.stdout).toContain(target)
  }, CLI_TIMEOUT)

  it("fails with exit 1 naming the directory when there is no manifest; usage errors exit 2", async () => {
    const empty = path.join(home, "empty")
    fs.mkdirSync(empty, { recursive: true })
    const r = await runFm(["pack", empty], { home })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^error: .*empty/m)
    expect(r.stderr).toMatch(/manifest/)
    expect(fs.readdirSync(empty)).toEqual([])

    const missing = await runFm(["pack", path.join(home, "does-not-exist")], { home })
    expect(missing.code).toBe(2)
    const badFormat = await runFm(["pack", pkgDir, "--format", "rar"], { home })
    expect(badFormat.code).toBe(2)
    expect(badFormat.stderr).toContain("zip, tar")
  }, CLI_TIMEOUT)
})
