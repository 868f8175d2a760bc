/**
 * The built `fm` (dist/fm.js) against a real registry server and a stand-in: install, publish,
 * search, info and versions, with --json and exit codes.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeTempDir, parseJsonOut, removeDir, runFm } from "../helpers/cli.js"
import { closedPort, makeFmpkg, type StandIn, startStandIn, writeRegistries } from "../helpers/quirky-server.js"
import { fixtureArchive, publishFixture, type RunningServer, startServer } from "../helpers/server.js"

let real: RunningServer
let standIn: StandIn
let home: string
let work: string
let downPort: number
const env = { FLOWMASON_HTTP_RETRIES: "0", FLOWMASON_HTTP_RETRY_DELAY_MS: "10" }

beforeAll(async () => {
  real = await startServer({ inProcess: true })
  await publishFixture(real.url, real.adminToken, {
    name: "alpha",
    version: "1.0.0",
    manifest: { description: "first alpha" }
  })
  await publishFixture(real.url, real.adminToken, {
    name: "alpha",
    version: "1.2.0",
    manifest: { description: "alpha tools" }
  })
  standIn = await startStandIn({
    packages: [{
      name: "lower",
      version: "0.3.0",
      bytes: await makeFmpkg("lower", "0.3.0"),
      description: "only in the stand-in"
    }]
  })
  downPort = await closedPort()
  home = makeTempDir("fm-cli-client-")
  work = makeTempDir("fm-cli-work-")
  writeRegistries(home, [
    { name: "main", url: real.url, priority: 10, auth_token: real.adminToken, can_publish: true, is_default: true },
    { name: "mirror", url: standIn.url, priority: 20 }
  ])
}, 120_000)

afterAll(async () => {
  await Promise.all([real?.stop(), standIn?.stop()])
  removeDir(home)
  removeDir(work)
})

const fm = (args: ReadonlyArray<string>, extraEnv: Record<string, string | undefined> = {}) =>
  runFm(args, { home, env: { ...env, ...extraEnv }, cwd: work })

describe("fm search / info / versions", () => {
  it("search merges registries, shows a REGISTRY column, --json", async () => {
    const table = await fm(["search", "alpha"])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/NAME\s+VERSION\s+REGISTRY/)
    expect(table.stdout).toMatch(/alpha\s+1\.2\.0\s+main/)
    const lower = await fm(["search", "lower"])
    expect(lower.stdout).toMatch(/lower\s+0\.3\.0\s+mirror/)
    const js = parseJsonOut<{ packages: Array<{ name: string; registry: string }>; errors: Array<unknown> }>(
      await fm(["search", "alpha", "--json"])
    )
    expect(js.packages.map((p) => `${p.name}:${p.registry}`)).toEqual(["alpha:main"])
    expect(js.errors).toEqual([])
  })

  it("search warns about a registry that is down and still exits 0; all down exits 1", async () => {
    const h = makeTempDir("fm-cli-down-")
    try {
      writeRegistries(h, [
        { name: "down", url: `http://127.0.0.1:${downPort}`, priority: 1 },
        { name: "mirror", url: standIn.url, priority: 2 }
      ])
      const r = await runFm(["search", "lower"], { home: h, env })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toMatch(/lower/)
      expect(r.stderr).toMatch(/warning: registry down .* unavailable/)
      const only = await runFm(["search", "lower", "--registry", "down", "--json"], { home: h, env })
      expect(only.code).toBe(1)
      // with --json the error is a JSON object on stdout
      expect(parseJsonOut<{ error: { code: string; message: string } }>(only).error).toMatchObject({
        code: "search_failed",
        message: expect.stringMatching(/no registry answered/)
      })
    } finally {
      removeDir(h)
    }
  })

  it("an unknown --registry is an error naming the known ones", async () => {
    const r = await fm(["search", "x", "--registry", "nope"])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/no registry named 'nope'.*main, mirror/)
  })

  it("info NAME, NAME@VERSION and --json", async () => {
    const latest = parseJsonOut<{ name: string; version: string; registry: string; checksum: string }>(
      await fm(["info", "alpha", "--json"])
    )
    expect(latest).toMatchObject({ name: "alpha", version: "1.2.0", registry: "main" })
    expect(latest.checksum).toMatch(/^[0-9a-f]{64}$/)
    const old = await fm(["info", "alpha@1.0.0"])
    expect(old.code, old.stderr).toBe(0)
    expect(old.stdout).toMatch(/version\s+1\.0\.0/)
    expect(old.stdout).toMatch(/registry\s+main/)
    const missing = await fm(["info", "ghost"])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/ghost/)
    expect(missing.stderr).toMatch(/main: not found/)
    expect(missing.stderr).toMatch(/mirror: not found/)
  })

  it("versions lists newest first with the latest marked; --json", async () => {
    const r = await fm(["versions", "alpha"])
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.split("\n")
    expect(lines[0]).toMatch(/VERSION\s+PUBLISHED\s+STATUS/)
    expect(lines[1]).toMatch(/^1\.2\.0\s+\d{4}-\d{2}-\d{2}\s+latest/)
    expect(lines[2]).toMatch(/^1\.0\.0/)
    const js = parseJsonOut<{ latest_version: string; versions: Array<{ version: string; yanked: boolean }> }>(
      await fm(["versions", "alpha", "--json"])
    )
    expect(js.latest_version).toBe("1.2.0")
    expect(js.versions.map((v) => [v.version, v.yanked])).toEqual([["1.0.0", false], ["1.2.0", false]])
  })
})

describe("fm install", () => {
  it("installs by name (latest, exact, range) with --json, from the right registry", async () => {
    const dir = path.join(work, "pk1")
    const r = parseJsonOut<{ name: string; version: string; registry: string; path: string; from_cache: boolean }>(
      await fm(["install", "alpha", "--dir", dir, "--json"])
    )
    expect(r).toMatchObject({ name: "alpha", version: "1.2.0", registry: "main", from_cache: false })
    expect(fs.existsSync(path.join(dir, "alpha-1.2.0.fmpkg"))).toBe(true)
    const again = parseJsonOut<{ from_cache: boolean }>(await fm(["install", "alpha", "--dir", dir, "--json"]))
    expect(again.from_cache).toBe(true)
    const ranged = await fm(["install", "alpha", "--version", "~1.0", "--dir", dir])
    expect(ranged.code, ranged.stderr).toBe(0)
    expect(ranged.stdout).toMatch(/Installed alpha@1\.0\.0 from registry main/)
    const lower = await fm(["install", "lower", "--dir", dir])
    expect(lower.code, lower.stderr).toBe(0)
    expect(lower.stdout).toMatch(/lower@0\.3\.0 from registry mirror/)
    expect(fs.readdirSync(dir).sort()).toEqual(["alpha-1.0.0.fmpkg", "alpha-1.2.0.fmpkg", "lower-0.3.0.fmpkg"])
  })

  it("--extract unpacks into <dir>/<name>/<version>/", async () => {
    const dir = path.join(work, "pk2")
    const r = await fm(["install", "alpha", "--version", "1.0.0", "--dir", dir, "--extract"])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(fs.readFileSync(path.join(dir, "alpha", "1.0.0", "manifest.json"), "utf8")).version).toBe("1.0.0")
  })

  it("installs a local .fmpkg by path (validated, copied in)", async () => {
    const file = path.join(work, "local-pkg-2.0.0.fmpkg")
    fs.writeFileSync(file, fixtureArchive({ name: "local-pkg", version: "2.0.0" }))
    const dir = path.join(work, "pk3")
    const r = parseJsonOut<{ name: string; registry: null; path: string }>(
      await fm(["install", "./local-pkg-2.0.0.fmpkg", "--dir", dir, "--json"])
    )
    expect(r).toMatchObject({ name: "local-pkg", registry: null })
    expect(fs.readFileSync(r.path)).toEqual(fs.readFileSync(file))
    fs.writeFileSync(path.join(work, "broken.fmpkg"), "not an archive")
    const bad = await fm(["install", "./broken.fmpkg", "--dir", dir])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/broken\.fmpkg/)
    expect(fs.readdirSync(dir)).toEqual(["local-pkg-2.0.0.fmpkg"])
  })

  it("exit codes: not found 1 (lists registries), no argument outside a project 1, bad option 2, offline without exact version 1", async () => {
    const nf = await fm(["install", "ghost", "--dir", path.join(work, "pk4")])
    expect(nf.code).toBe(1)
    expect(nf.stderr).toMatch(/package ghost could not be found in any registry/)
    expect(fs.existsSync(path.join(work, "pk4"))).toBe(false)
    // no NAME outside a project: the project install (RESOLVER) says there is no project
    const none = await fm(["install"])
    expect(none.code).toBe(1)
    expect(none.stderr).toMatch(/fm install NAME/)
    const usage = await fm(["install", "alpha", "--no-such-option"])
    expect(usage.code).toBe(2)
    const off = await fm(["install", "alpha", "--offline"])
    expect(off.code).toBe(1)
    expect(off.stderr).toMatch(/--offline needs an exact --version/)
  })
})

describe("fm publish", () => {
  it("publishes to the default registry, then a second time is a 409 that says what to do", async () => {
    const file = path.join(work, "beta-1.0.0.fmpkg")
    fs.writeFileSync(file, fixtureArchive({ name: "beta", version: "1.0.0" }))
    const ok = parseJsonOut<{ registry: string; name: string; version: string; checksum: string }>(
      await fm(["publish", file, "--json"])
    )
    expect(ok).toMatchObject({ registry: "main", name: "beta", version: "1.0.0" })
    const info = parseJsonOut<{ version: string }>(await fm(["info", "beta", "--json"]))
    expect(info.version).toBe("1.0.0")
    const dup = await fm(["publish", file])
    expect(dup.code).toBe(1)
    expect(dup.stderr).toMatch(/409/)
    expect(dup.stderr).toMatch(/bump the version/)
  })

  it("refuses locally: a registry that is not publishable, and a private one without a token", async () => {
    const file = path.join(work, "gamma-1.0.0.fmpkg")
    fs.writeFileSync(file, fixtureArchive({ name: "gamma", version: "1.0.0" }))
    const notPub = await fm(["publish", file, "--registry", "mirror"])
    expect(notPub.code).toBe(1)
    expect(notPub.stderr).toMatch(/not marked for publishing/)
    expect(notPub.stderr).toMatch(/--publish/)
    expect(standIn.log.some((l) => l.method === "POST")).toBe(false)
    const h = makeTempDir("fm-cli-notoken-")
    try {
      writeRegistries(h, [{ name: "private", url: real.url, can_publish: true, requires_auth: true }])
      const r = await runFm(["publish", file], { home: h, env })
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/requires authentication and no token is set/)
      expect(r.stderr).toMatch(/FLOWMASON_REGISTRY_TOKEN/)
      // a wrong token: the server's 401 becomes a clear message
      const bad = await runFm(["publish", file], { home: h, env: { ...env, FLOWMASON_REGISTRY_TOKEN: "fmr_wrong" } })
      expect(bad.code).toBe(1)
      expect(bad.stderr).toMatch(/registry private rejected the credentials \(401\) for gamma@1\.0\.0/)
      expect(bad.stderr).toMatch(/hint: .*fm login private/)
    } finally {
      removeDir(h)
    }
  })

  it("a file that is not an archive is refused before anything is sent", async () => {
    const file = path.join(work, "junk.fmpkg")
    fs.writeFileSync(file, "junk")
    const r = await fm(["publish", file])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/junk\.fmpkg/)
  })
})
