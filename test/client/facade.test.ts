/** The promise facade, used from plain async code (no Effect in the test). */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { getRemoteRegistry, type RemoteRegistryClient } from "../../src/client/RemoteRegistryClient.js"
import { makeFmpkg, sha256, type StandIn, startStandIn } from "../helpers/quirky-server.js"
import { fixtureArchive, type RunningServer, startServer } from "../helpers/server.js"

process.env.FLOWMASON_HTTP_RETRIES = "0"

let real: RunningServer
let evil: StandIn
let home: string
let client: RemoteRegistryClient
let good: Uint8Array

beforeAll(async () => {
  real = await startServer({ inProcess: true })
  good = await makeFmpkg("tampered", "1.0.0")
  evil = await startStandIn({
    packages: [{ name: "tampered", version: "1.0.0", bytes: good }],
    tamper: ["tampered@1.0.0"]
  })
  home = fs.mkdtempSync(path.join(os.tmpdir(), "fm-facade-"))
  fs.writeFileSync(path.join(home, "registries.json"), JSON.stringify({ registries: [] }))
  client = getRemoteRegistry({ home })
}, 120_000)

afterAll(async () => {
  await client?.dispose()
  await Promise.all([real?.stop(), evil?.stop()])
  fs.rmSync(home, { recursive: true, force: true })
})

describe("getRemoteRegistry() from plain async code", () => {
  it("adds registries, publishes, searches, gets info, lists versions, downloads, installs, manages the cache", async () => {
    await client.addRegistry({
      name: "primary",
      url: real.url,
      authToken: real.adminToken,
      priority: 10,
      canPublish: true,
      isDefault: true
    })
    await client.addRegistry({ name: "evil", url: evil.url, priority: 100 })
    expect((await client.listRegistries()).map((r) => r.name)).toEqual(["primary", "evil"])

    const file = path.join(home, "facade-pkg-1.0.0.fmpkg")
    fs.writeFileSync(
      file,
      fixtureArchive({ name: "facade-pkg", version: "1.0.0", manifest: { description: "made by the facade test" } })
    )
    const published = await client.publish(file)
    expect(published).toMatchObject({ name: "facade-pkg", version: "1.0.0", registry: "primary" })

    const results = await client.search("facade")
    expect(results.packages.map((p) => `${p.name}@${p.version}:${p.registry}`)).toEqual(["facade-pkg@1.0.0:primary"])
    expect(results.errors).toEqual([])

    const info = await client.getPackage("facade-pkg")
    expect(info.version).toBe("1.0.0")
    expect(info.checksum).toBe(sha256(fs.readFileSync(file)))

    const versions = await client.listVersions("facade-pkg")
    expect(versions.releases.map((r) => r.version)).toEqual(["1.0.0"])

    const cached = await client.download("facade-pkg", { version: "1.0.0" })
    expect(fs.readFileSync(cached)).toEqual(fs.readFileSync(file))

    const dir = path.join(home, "installed")
    const installed = await client.install("facade-pkg", { dir, extract: true })
    expect(installed).toBe(path.join(dir, "facade-pkg-1.0.0.fmpkg"))
    expect(fs.existsSync(path.join(dir, "facade-pkg", "1.0.0", "manifest.json"))).toBe(true)

    const stats = await client.getCacheStats()
    expect(stats.packages).toBe(1)
    expect((await client.clearCache()).removed).toBe(1)
    expect((await client.getCacheStats()).packages).toBe(0)
  })

  it("rejects with the typed errors themselves", async () => {
    const missing = await client.getPackage("no-such-package").catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(Error)
    expect((missing as { _tag: string })._tag).toBe("RegistriesExhausted")
    expect((missing as Error).message).toMatch(/no-such-package[\s\S]*primary: not found[\s\S]*evil: not found/)

    const tampered = await client.download("tampered", { version: "1.0.0" }).catch((e: unknown) => e)
    expect((tampered as { _tag: string })._tag).toBe("ChecksumMismatch")
    expect((tampered as Error).message).toMatch(/tampered@1\.0\.0 from registry evil/)

    // verify: false stores the bytes unchecked (and warns)
    const unchecked = await client.download("tampered", { version: "1.0.0", verify: false })
    expect(fs.readFileSync(unchecked)).not.toEqual(Buffer.from(good))

    const unknown = await client.search("x", { registry: "nope" }).catch((e: unknown) => e)
    expect((unknown as { _tag: string })._tag).toBe("UnknownRegistry")

    await client.removeRegistry("evil")
    expect((await client.listRegistries({ all: true })).map((r) => r.name)).toEqual(["primary"])
  })
})
