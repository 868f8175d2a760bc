/**
 * The browser tests' skip policy (test/ui/harness.ts `browserEnabled`): without Chromium they skip
 * with one line saying why, unless FM_REQUIRE_BROWSER is set; with Chromium they run.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { browserEnabled } from "./harness.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-browser-policy-"))
const missing = path.join(dir, "no-chromium-here")
const present = path.join(dir, "chromium")
fs.writeFileSync(present, "#!/bin/sh\nexit 0\n", { mode: 0o755 })
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe("browser tests without Chromium", () => {
  it("skip, saying why in exactly one line", () => {
    const lines: Array<string> = []
    assert.isFalse(browserEnabled({ FM_CHROMIUM: missing }, (l) => lines.push(l)))
    assert.strictEqual(lines.length, 1)
    assert.include(lines[0], `no Chromium at ${missing}`)
    assert.notInclude(lines[0], "\n")
  })

  it("fail when FM_REQUIRE_BROWSER is set (CI)", () => {
    const lines: Array<string> = []
    assert.throws(
      () => browserEnabled({ FM_CHROMIUM: missing, FM_REQUIRE_BROWSER: "1" }, (l) => lines.push(l)),
      /FM_REQUIRE_BROWSER/
    )
    assert.deepStrictEqual(lines, [])
  })

  it("skip when FM_REQUIRE_BROWSER is 0 or false", () => {
    for (const flag of ["0", "false", ""]) {
      assert.isFalse(browserEnabled({ FM_CHROMIUM: missing, FM_REQUIRE_BROWSER: flag }, () => undefined))
    }
  })

  it("run when Chromium is there, required or not", () => {
    const lines: Array<string> = []
    assert.isTrue(browserEnabled({ FM_CHROMIUM: present }, (l) => lines.push(l)))
    assert.isTrue(browserEnabled({ FM_CHROMIUM: present, FM_REQUIRE_BROWSER: "1" }, (l) => lines.push(l)))
    assert.deepStrictEqual(lines, [])
  })
})
