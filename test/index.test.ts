import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import * as fm from "../src/index.js"
import { FM_VERSION } from "../src/shared/Version.js"

describe("the library barrel", () => {
  it("exposes the services, layers and the promise facade", () => {
    expect(typeof fm.getRemoteRegistry).toBe("function")
    expect(fm.ClientLive).toBeDefined()
    expect(fm.Registries.Registries).toBeDefined()
    expect(fm.PackageArchive.PackageArchive).toBeDefined()
    expect(fm.RegistryConfig.RegistryConfig).toBeDefined()
    expect(fm.PackageCache.PackageCache).toBeDefined()
    expect(fm.Checksum.Checksum).toBeDefined()
    expect(fm.RegistryApi.RegistryApi).toBeDefined()
    expect(typeof fm.RegistryServer.layer).toBe("function")
    expect(typeof fm.Pubgrub.solve).toBe("function")
  })
  it("reports the version package.json declares", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
    expect(FM_VERSION).toBe(pkg.version)
  })
})
