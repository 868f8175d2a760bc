import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import * as archive from "../src/archive/index.js"
import * as client from "../src/client/index.js"
import * as fm from "../src/index.js"
import * as server from "../src/server/index.js"
import { FM_VERSION } from "../src/shared/FmVersion.js"

describe("the library barrels", () => {
  it("`fm` exposes the client side: services, layers, archives, domain and the promise facade", () => {
    assert.strictEqual(typeof fm.getRemoteRegistry, "function")
    assert.isDefined(fm.ClientLive)
    assert.isDefined(fm.Registries.Registries)
    assert.isDefined(fm.PackageArchive.PackageArchive)
    assert.isDefined(fm.RegistryConfig.RegistryConfig)
    assert.isDefined(fm.PackageCache.PackageCache)
    assert.isDefined(fm.Checksum.Checksum)
    assert.isDefined(fm.RegistryApi.RegistryApi)
    assert.strictEqual(typeof fm.Pubgrub.solve, "function")
    assert.strictEqual(typeof fm.PackageName.isPackageName, "function")
  })
  it("`fm` holds no server module; `fm/server` does", () => {
    assert.isFalse("RegistryServer" in fm)
    assert.isFalse("SqlitePackageStore" in fm)
    assert.strictEqual(typeof server.RegistryServer.layer, "function")
    assert.isDefined(server.PackageStore.PackageStore)
    assert.strictEqual(typeof server.SqlitePackageStore.layer, "function")
  })
  it("`fm/client` and `fm/archive` are parts of `fm`", () => {
    const all = new Map(Object.entries(fm))
    for (const [name, value] of [...Object.entries(client), ...Object.entries(archive)]) {
      assert.strictEqual(all.get(name), value)
    }
  })
  it("reports the version package.json declares", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
    assert.strictEqual(FM_VERSION, pkg.version)
  })
})
