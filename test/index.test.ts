import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import * as archive from "../src/archive/index.js"
import * as client from "../src/client/index.js"
import * as fm from "../src/index.js"
import * as server from "../src/server/index.js"
import { FM_VERSION } from "../src/shared/FmVersion.js"

describe("the library barrels", () => {
  it("`fm` exposes the client side: services, layers, archives, domain and the promise facade", () => {
    expect(typeof fm.getRemoteRegistry).toBe("function")
    expect(fm.ClientLive).toBeDefined()
    expect(fm.Registries.Registries).toBeDefined()
    expect(fm.PackageArchive.PackageArchive).toBeDefined()
    expect(fm.RegistryConfig.RegistryConfig).toBeDefined()
    expect(fm.PackageCache.PackageCache).toBeDefined()
    expect(fm.Checksum.Checksum).toBeDefined()
    expect(fm.RegistryApi.RegistryApi).toBeDefined()
    expect(typeof fm.Pubgrub.solve).toBe("function")
    expect(typeof fm.PackageName.isPackageName).toBe("function")
  })
  it("`fm` holds no server module; `fm/server` does", () => {
    expect("RegistryServer" in fm).toBe(false)
    expect("SqlitePackageStore" in fm).toBe(false)
    expect(typeof server.RegistryServer.layer).toBe("function")
    expect(server.PackageStore.PackageStore).toBeDefined()
    expect(typeof server.SqlitePackageStore.layer).toBe("function")
  })
  it("`fm/client` and `fm/archive` are parts of `fm`", () => {
    const all = new Map(Object.entries(fm))
    for (const [name, value] of [...Object.entries(client), ...Object.entries(archive)]) {
      expect(all.get(name)).toBe(value)
    }
  })
  it("reports the version package.json declares", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
    expect(FM_VERSION).toBe(pkg.version)
  })
})
