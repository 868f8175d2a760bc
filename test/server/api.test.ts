/**
 * The registry API end to end against a real server (child process, 127.0.0.1, random port,
 * real SQLite file): every endpoint and status code, both manifest dialects, a ZIP written by
 * python3's zipfile (as FlowMason's builder does), tar.gz, `_` vs `-` names, tokens and scopes.
 */
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FM_VERSION } from "../../src/shared/FmVersion.js"
import { buildTarGz, buildZip, componentManifest, projectManifest } from "../helpers/archives.js"
import type { TestDatabase } from "../helpers/pg.js"
import { createTestDatabase, testBackends, usesPostgres, usesS3 } from "../helpers/pg.js"
import type { TestS3 } from "../helpers/s3.js"
import { startS3 } from "../helpers/s3.js"
import type { RunningServer } from "../helpers/server.js"
import {
  createToken,
  fixtureArchive,
  publishFixture,
  runStudio,
  startServer,
  uploadArchive
} from "../helpers/server.js"

const sha256 = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex")

let server: RunningServer
let api: string
let readToken: string
let publishToken: string

const get = (p: string, headers: Record<string, string> = {}) => fetch(`${api}${p}`, { headers, redirect: "manual" })
const json = async (res: Response) => JSON.parse(await res.text()) as any
const post = (p: string, token: string | undefined, body?: unknown) =>
  fetch(`${api}${p}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
    },
    body: body === undefined ? "{}" : typeof body === "string" ? body : JSON.stringify(body)
  })
const del = (p: string, token: string | undefined) =>
  fetch(`${api}${p}`, { method: "DELETE", headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })

// The whole suite runs once per storage backend: SQLite, then PostgreSQL (a database created
// for this file and dropped after) when reachable; CI requires it (FM_REQUIRE_POSTGRES=1); then
// with the archives in S3 (s3rver started here; FM_BLOB_URL and the AWS variables are inherited).
// FM_DATABASE_URL is inherited by the server and `fm studio token` processes.
describe.each(await testBackends({ s3: true }))("on %s", (backend) => {
  let db: TestDatabase | undefined
  let s3: TestS3 | undefined
  let undoS3 = () => {}

  beforeAll(async () => {
    if (usesPostgres(backend)) {
      db = await createTestDatabase("api")
      process.env.FM_DATABASE_URL = db.url
    }
    if (usesS3(backend)) {
      s3 = await startS3()
      undoS3 = s3.useFor("api")
    }
    server = await startServer()
    api = `${server.url}/api/v1/registry`
    ;[readToken, publishToken] = await Promise.all([
      createToken(server.dataDir, "read", { name: "reader" }),
      createToken(server.dataDir, "publish", { name: "publisher" })
    ])
  })

  afterAll(async () => {
    await server?.stop()
    delete process.env.FM_DATABASE_URL
    undoS3()
    await s3?.stop()
    await db?.drop()
  })

  describe("health, docs, unknown routes", () => {
    it("health answers the FlowMason shape", async () => {
      const res = await get("/health", { "content-type": "application/json" })
      expect(res.status).toBe(200)
      const body = await json(res)
      expect(body.status).toBe("healthy")
      expect(body.database).toBe(usesPostgres(backend) ? "pg" : "sqlite")
      expect(typeof body.packages_count).toBe("number")
    })

    it("unknown API routes are a JSON 404 {detail}, never a redirect", async () => {
      for (const p of ["/nope", "/packages/a/b/c/d", "/packages/a/1.0.0/download/x"]) {
        const res = await get(p)
        expect(res.status).toBe(404)
        expect(typeof (await json(res)).detail).toBe("string")
      }
    })

    it("serves the OpenAPI document and the docs page", async () => {
      const spec = await json(await get("/openapi.json"))
      expect(spec.openapi).toMatch(/^3\./)
      expect(spec.info.version).toBe(FM_VERSION)
      expect(Object.keys(spec.paths)).toContain("/api/v1/registry/packages/upload")
      const docs = await get("/docs")
      expect(docs.status).toBe(200)
      expect(await docs.text()).toMatch(/swagger/i)
    })
  })

  describe("upload", () => {
    it("needs a token (401), with publish scope (403 for read)", async () => {
      const archive = fixtureArchive({ name: "auth-check", version: "1.0.0" })
      const anon = await uploadArchive(server.url, undefined, archive)
      expect(anon.status).toBe(401)
      expect((await json(anon)).detail).toMatch(/token/i)
      const bad = await uploadArchive(server.url, "fmr_not-a-real-token", archive)
      expect(bad.status).toBe(401)
      const reader = await uploadArchive(server.url, readToken, archive)
      expect(reader.status).toBe(403)
      expect((await json(reader)).detail).toMatch(/scope/)
    })

    it("publishes a project package (manifest.json) and answers 201 with the package object", async () => {
      const archive = fixtureArchive({
        name: "http-tools",
        version: "1.0.0",
        deps: { "json-core": "^1.0.0" },
        manifest: { description: "HTTP helpers", author: "Ada", license: "MIT", keywords: ["http"] }
      })
      const res = await uploadArchive(server.url, publishToken, archive, "http-tools-1.0.0.fmpkg")
      expect(res.status).toBe(201)
      const body = await json(res)
      expect(body).toMatchObject({
        name: "http-tools",
        version: "1.0.0",
        checksum: sha256(archive),
        size_bytes: archive.length
      })
      expect(body.dependencies).toEqual({ "json-core": "^1.0.0" })
      expect(body.download_url).toBe(`${api}/packages/http-tools/1.0.0/download`)
      expect(body.latest_version).toBe("1.0.0")
    })

    it("publishes a component package (flowmason-package.json + index.py)", async () => {
      const archive = buildZip([
        {
          name: "flowmason-package.json",
          data: componentManifest("csv_reader", "0.2.0", { category: "io", tags: ["csv", "files"] })
        },
        { name: "index.py", data: "def run():\n    pass\n" },
        { name: "requirements.txt", data: "pandas>=2\n" }
      ])
      const res = await uploadArchive(server.url, publishToken, archive, "csv_reader-0.2.0.fmpkg")
      expect(res.status).toBe(201)
      const body = await json(res)
      expect(body).toMatchObject({ name: "csv_reader", version: "0.2.0", category: "io", kind: "component" })
      expect(body.tags).toEqual(["csv", "files"])
    })

    it("accepts a ZIP written by python3's zipfile, like FlowMason's builder", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-pyzip-"))
      try {
        const out = path.join(dir, "py-built-1.0.0.fmpkg")
        const script = [
          "import json, sys, zipfile",
          "with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:",
          "    z.writestr('manifest.json', json.dumps({'name': 'py-built', 'version': '1.0.0', 'description': 'built by python',",
          "        'author': 'FlowMason', 'dependencies': {'http-tools': '^1.0.0'}, 'components': ['components/a.py'],",
          "        'built_at': '2024-01-01T00:00:00', 'built_by': 'flowmason 1.0'}, indent=2))",
          "    z.writestr('components/a.py', 'print(1)\\n')",
          "    z.writestr('pipelines/main.pipeline.json', '{}')"
        ].join("\n")
        execFileSync("python3", ["-c", script, out])
        const archive = fs.readFileSync(out)
        const res = await uploadArchive(server.url, publishToken, archive, "py-built-1.0.0.fmpkg")
        expect(res.status).toBe(201)
        const body = await json(res)
        expect(body.components).toHaveLength(1)
        expect(body.component_count).toBe(1)
        expect(body.dependencies).toEqual({ "http-tools": "^1.0.0" })
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    })

    it("accepts a gzip tar .fmpkg", async () => {
      const archive = buildTarGz([{ name: "manifest.json", data: projectManifest("tar-pkg", "1.0.0") }])
      const res = await uploadArchive(server.url, publishToken, archive)
      expect(res.status).toBe(201)
    })

    it("refuses a duplicate name@version with 409, also spelled with _ instead of -", async () => {
      await publishFixture(server.url, publishToken, { name: "dup-pkg", version: "1.0.0" })
      const again = await uploadArchive(
        server.url,
        publishToken,
        fixtureArchive({ name: "dup-pkg", version: "1.0.0", files: { "x": "other bytes" } })
      )
      expect(again.status).toBe(409)
      expect((await json(again)).detail).toMatch(/dup-pkg@1\.0\.0/)
      const underscore = await uploadArchive(
        server.url,
        publishToken,
        fixtureArchive({ name: "dup_pkg", version: "1.0.0" })
      )
      expect(underscore.status).toBe(409)
    })

    it("answers 400 for a checksum mismatch, a non-archive, a missing manifest and a missing file part", async () => {
      const archive = fixtureArchive({ name: "bad-upload", version: "1.0.0" })
      const mismatch = await uploadArchive(server.url, publishToken, archive, "x.fmpkg", "0".repeat(64))
      expect(mismatch.status).toBe(400)
      expect((await json(mismatch)).detail).toMatch(/checksum/i)

      const notArchive = await uploadArchive(server.url, publishToken, Buffer.from("just some text, not a zip"))
      expect(notArchive.status).toBe(400)
      expect((await json(notArchive)).detail).toMatch(/archive|zip|tar/i)

      const noManifest = await uploadArchive(server.url, publishToken, buildZip([{ name: "README.md", data: "hi" }]))
      expect(noManifest.status).toBe(400)
      expect((await json(noManifest)).detail).toMatch(/manifest/i)

      const form = new FormData()
      form.append("checksum", "abc")
      const noFile = await fetch(`${api}/packages/upload`, {
        method: "POST",
        headers: { authorization: `Bearer ${publishToken}` },
        body: form
      })
      expect(noFile.status).toBe(400)
      expect((await json(noFile)).detail).toMatch(/file/)
      // nothing of these was stored
      expect((await get("/packages/bad-upload")).status).toBe(404)
    })
  })

  describe("reads", () => {
    beforeAll(async () => {
      for (const v of ["1.0.0", "1.10.0", "1.9.0", "2.0.0-beta.1"]) {
        await publishFixture(server.url, publishToken, {
          name: "semver_pkg",
          version: v,
          deps: v === "1.9.0" ? { "http-tools": "^1.0.0" } : {},
          manifest: { category: "testing", keywords: ["ordering"] }
        })
      }
    })

    it("latest is the highest release (not filename order, not a prerelease), by either spelling", async () => {
      for (const name of ["semver_pkg", "semver-pkg", "SEMVER-PKG"]) {
        const body = await json(await get(`/packages/${name}`, { "content-type": "application/json" }))
        expect(body.version).toBe("1.10.0")
        expect(body.latest_version).toBe("1.10.0")
        expect(body.available_versions).toEqual(["1.0.0", "1.9.0", "1.10.0", "2.0.0-beta.1"])
      }
    })

    it("versions are semver-sorted with yanked, reason, published_at, checksum, deps, size, downloads, download_url", async () => {
      const body = await json(await get("/packages/semver-pkg/versions"))
      expect(body.versions).toEqual(["1.0.0", "1.9.0", "1.10.0", "2.0.0-beta.1"])
      const r = body.releases.find((x: any) => x.version === "1.9.0")
      expect(r).toMatchObject({ yanked: false, yank_reason: null, dependencies: { "http-tools": "^1.0.0" } })
      expect(r.checksum).toMatch(/^[0-9a-f]{64}$/)
      expect(r.size_bytes).toBeGreaterThan(0)
      expect(Date.parse(r.published_at)).not.toBeNaN()
      expect(r.download_url).toBe(`${api}/packages/semver_pkg/1.9.0/download`)
      expect((await get("/packages/no-such/versions")).status).toBe(404)
    })

    it("a single version answers 200, an unknown one 404 {detail}", async () => {
      expect((await json(await get("/packages/semver-pkg/1.9.0"))).version).toBe("1.9.0")
      const missing = await get("/packages/semver-pkg/9.9.9")
      expect(missing.status).toBe(404)
      expect((await json(missing)).detail).toMatch(/semver-pkg@9\.9\.9/)
      expect((await get("/packages/nothing-here")).status).toBe(404)
    })

    it("yank (publish scope, with reason) moves latest; unyank restores it", async () => {
      expect((await post("/packages/semver-pkg/1.10.0/yank", undefined, { reason: "x" })).status).toBe(401)
      expect((await post("/packages/semver-pkg/1.10.0/yank", readToken, { reason: "x" })).status).toBe(403)
      const y = await post("/packages/semver-pkg/1.10.0/yank", publishToken, { reason: "broken build" })
      expect(y.status).toBe(200)
      expect(await json(y)).toEqual({ name: "semver_pkg", version: "1.10.0", status: "yanked", reason: "broken build" })
      expect((await json(await get("/packages/semver-pkg"))).version).toBe("1.9.0")
      const versions = await json(await get("/packages/semver-pkg/versions"))
      expect(versions.releases.find((x: any) => x.version === "1.10.0")).toMatchObject({
        yanked: true,
        yank_reason: "broken build"
      })
      expect((await post("/packages/semver-pkg/7.7.7/yank", publishToken, { reason: "x" })).status).toBe(404)
      const bad = await post("/packages/semver-pkg/1.10.0/yank", publishToken, "{not json")
      expect(bad.status).toBe(400)
      expect(typeof (await json(bad)).detail).toBe("string")
      const badShape = await post("/packages/semver-pkg/1.10.0/yank", publishToken, { reason: 42 })
      expect(badShape.status).toBe(400)
      expect((await json(badShape)).detail).toMatch(/reason/)
      const u = await post("/packages/semver-pkg/1.10.0/unyank", publishToken)
      expect(u.status).toBe(200)
      expect((await json(u)).status).toBe("unyanked")
      expect((await json(await get("/packages/semver-pkg"))).version).toBe("1.10.0")
    })

    it("download: bytes, Content-Length, ETag, Content-Disposition; 304, 206, 416; exact counts", async () => {
      const info = await json(await get("/packages/http-tools/1.0.0"))
      // with archives in S3, the bytes served are the object at the content address
      if (s3 !== undefined) expect(await s3.keys("api/blobs/")).toContain(`api/blobs/${info.checksum}`)
      const res = await fetch(info.download_url, { redirect: "manual" })
      expect(res.status).toBe(200)
      const bytes = new Uint8Array(await res.arrayBuffer())
      expect(sha256(bytes)).toBe(info.checksum)
      expect(res.headers.get("content-length")).toBe(String(bytes.length))
      expect(res.headers.get("etag")).toBe(`"${info.checksum}"`)
      expect(res.headers.get("content-disposition")).toBe(`attachment; filename="http-tools-1.0.0.fmpkg"`)

      const notModified = await fetch(info.download_url, { headers: { "if-none-match": `"${info.checksum}"` } })
      expect(notModified.status).toBe(304)

      const partial = await fetch(info.download_url, { headers: { range: "bytes=2-9" } })
      expect(partial.status).toBe(206)
      expect(partial.headers.get("content-range")).toBe(`bytes 2-9/${bytes.length}`)
      expect(Buffer.from(await partial.arrayBuffer())).toEqual(Buffer.from(bytes.subarray(2, 10)))
      const suffix = await fetch(info.download_url, { headers: { range: "bytes=-4" } })
      expect(Buffer.from(await suffix.arrayBuffer())).toEqual(Buffer.from(bytes.subarray(bytes.length - 4)))
      const unsatisfiable = await fetch(info.download_url, { headers: { range: `bytes=${bytes.length + 10}-` } })
      expect(unsatisfiable.status).toBe(416)
      await unsatisfiable.arrayBuffer()

      await Promise.all(Array.from({ length: 25 }, () => fetch(info.download_url).then((r) => r.arrayBuffer())))
      const after = await json(await get("/packages/http-tools/1.0.0"))
      expect(after.downloads).toBe(26) // the first full GET + 25; 304, 206 and 416 are not counted
      expect((await get("/packages/http-tools/9.0.0/download")).status).toBe(404)
    })
  })

  describe("search, categories, stats", () => {
    beforeAll(async () => {
      await publishFixture(server.url, publishToken, {
        name: "json",
        version: "1.0.0",
        manifest: { description: "the json package", category: "data" }
      })
      await publishFixture(server.url, publishToken, {
        name: "json-transform",
        version: "1.0.0",
        manifest: { description: "transform json documents", category: "data", keywords: ["mapping"] }
      })
      await publishFixture(server.url, publishToken, {
        name: "yaml-tools",
        version: "1.0.0",
        manifest: { description: "reads YAML and json", category: "formats" }
      })
    })

    it("ranks the exact name first, matches prefixes, and counts the total", async () => {
      const body = await json(await get("/packages/search?q=json", { "content-type": "application/json" }))
      expect(body.packages[0].name).toBe("json")
      const names = body.packages.map((p: any) => p.name)
      expect(names).toEqual(expect.arrayContaining(["json", "json-transform", "yaml-tools"]))
      expect(body.total_count).toBe(body.packages.length)
      expect(body).toMatchObject({ page: 1, page_size: 20, query: "json" })

      const prefix = await json(await get("/packages/search?q=yam"))
      expect(prefix.packages.map((p: any) => p.name)).toEqual(["yaml-tools"])
      const underscore = await json(await get("/packages/search?q=json_transform"))
      expect(underscore.packages[0].name).toBe("json-transform")
      const byTag = await json(await get("/packages/search?q=mapping"))
      expect(byTag.packages.map((p: any) => p.name)).toEqual(["json-transform"])
    })

    it("filters by category and pages", async () => {
      const data = await json(await get("/packages/search?q=json&category=data"))
      expect(data.packages.map((p: any) => p.name).sort()).toEqual(["json", "json-transform"])
      const page1 = await json(await get("/packages/search?q=json&page_size=1&page=1"))
      const page2 = await json(await get("/packages/search?q=json&page_size=1&page=2"))
      expect(page1.packages).toHaveLength(1)
      expect(page2.packages).toHaveLength(1)
      expect(page1.packages[0].name).not.toBe(page2.packages[0].name)
      expect(page1.total_count).toBeGreaterThanOrEqual(3)
    })

    it("empty q lists everything, newest first", async () => {
      const body = await json(await get("/packages/search?page_size=100"))
      expect(body.packages[0].name).toBe("yaml-tools")
      expect(body.total_count).toBe(body.packages.length)
    })

    it("bad page parameters answer 422 naming the parameter", async () => {
      for (
        const [q, name] of [["page_size=101", "page_size"], ["page=0", "page"], ["page=abc", "page"], [
          "page_size=-1",
          "page_size"
        ]]
      ) {
        const res = await get(`/packages/search?q=json&${q}`)
        expect(res.status).toBe(422)
        expect((await json(res)).detail).toContain(`'${name}'`)
      }
    })

    it("categories is a JSON array of strings; stats carries counts", async () => {
      const cats = await json(await get("/categories"))
      expect(cats).toEqual(expect.arrayContaining(["data", "formats", "io", "testing"]))
      expect(cats.every((c: unknown) => typeof c === "string")).toBe(true)
      const stats = await json(await get("/stats"))
      expect(stats.packages).toBeGreaterThanOrEqual(8)
      expect(stats.versions).toBeGreaterThan(stats.packages)
      expect(stats.total_size_bytes).toBeGreaterThan(0)
      expect(stats.total_downloads).toBeGreaterThanOrEqual(26)
      expect(stats.categories).toEqual(expect.arrayContaining([{ name: "data", count: 2 }]))
    })
  })

  describe("delete and tokens", () => {
    it("delete needs admin; a deleted version is gone and can never be re-published", async () => {
      await publishFixture(server.url, publishToken, { name: "doomed", version: "1.0.0" })
      await publishFixture(server.url, publishToken, { name: "doomed", version: "1.1.0" })
      expect((await del("/packages/doomed/1.1.0", undefined)).status).toBe(401)
      expect((await del("/packages/doomed/1.1.0", publishToken)).status).toBe(403)
      const res = await del("/packages/doomed/1.1.0", server.adminToken)
      expect(res.status).toBe(200)
      expect(await json(res)).toMatchObject({ name: "doomed", version: "1.1.0", status: "deleted" })
      expect((await get("/packages/doomed/1.1.0")).status).toBe(404)
      expect((await get("/packages/doomed/1.1.0/download")).status).toBe(404)
      expect((await json(await get("/packages/doomed"))).version).toBe("1.0.0")
      const again = await uploadArchive(server.url, publishToken, fixtureArchive({ name: "doomed", version: "1.1.0" }))
      expect(again.status).toBe(409)
      expect((await json(again)).detail).toMatch(/deleted/)
      expect((await del("/packages/doomed/1.1.0", server.adminToken)).status).toBe(404)
    })

    it("revoked and expired tokens answer 401; token list never shows secrets", async () => {
      const token = await createToken(server.dataDir, "publish", { name: "short-lived" })
      await runStudio(["token", "revoke", "short-lived", "--data-dir", server.dataDir])
      const res = await uploadArchive(server.url, token, fixtureArchive({ name: "revoked-pkg", version: "1.0.0" }))
      expect(res.status).toBe(401)
      expect((await json(res)).detail).toMatch(/revoked/)
      const listed = await runStudio(["token", "list", "--data-dir", server.dataDir, "--json"])
      expect(listed).not.toContain(token)
      expect(listed).not.toContain(publishToken)
      const rows = JSON.parse(listed) as Array<{ name: string; state: string; scope: string }>
      expect(rows.find((r) => r.name === "short-lived")?.state).toBe("revoked")
      expect(rows.find((r) => r.name === "reader")?.scope).toBe("read")
    })
  })
})
