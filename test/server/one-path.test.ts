/**
 * One request path: `fm studio start` and `RegistryServer.layer` mounted in another app (as the
 * README shows) are the same server. Both start from copies of one data directory, get the same
 * requests in the same order, and must give the same answers: status, the headers that matter
 * and the body bytes, for every read (info, versions, version, search, download, 304s, 404s,
 * bad parameters) and every upload outcome (201, 409, 400s, 413, 401, 403), including reads right
 * after writes (a cached answer must not outlive the store's next write).
 */
import { HttpApiBuilder, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { createServer } from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as RegistryServer from "../../src/server/RegistryServer.js"
import type { RunningServer } from "../helpers/server.js"
import { createToken, fixtureArchive, publishFixture, startServer } from "../helpers/server.js"

const LIMIT = 300_000
const PUBLIC_URL = "http://registry.test"
const API = "/api/v1/registry"
/** The headers a client acts on; `date`, `keep-alive` and `connection` say nothing about the registry. */
const HEADERS = [
  "content-type",
  "content-length",
  "etag",
  "cache-control",
  "content-disposition",
  "accept-ranges",
  "content-range",
  "retry-after",
  "www-authenticate",
  "location"
]

const dirs: Array<string> = []
const tempDir = (prefix: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  dirs.push(dir)
  return dir
}

let studio: RunningServer
let embedded: { readonly url: string; readonly close: () => Promise<void> }
let admin: string
let reader: string
let publisher: string

/** The registry's layer in a host app of its own, next to the host's route, as in the README. */
const mount = async (dataDir: string) => {
  const Hello = HttpApiBuilder.Router.use((router) =>
    router.get("/hello", HttpServerResponse.text("hello from the host app"))
  )
  const App = HttpApiBuilder.serve().pipe(
    Layer.provide(Hello),
    Layer.provide(RegistryServer.layer({ dataDir, publicUrl: PUBLIC_URL, maxUploadSize: LIMIT, logRequests: false })),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
  )
  const scope = Effect.runSync(Scope.make())
  const ctx = await Effect.runPromise(Layer.buildWithScope(App, scope))
  return {
    url: RegistryServer.listeningUrl(Context.get(ctx, HttpServer.HttpServer)),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

beforeAll(async () => {
  // one data directory with packages and tokens, made by `fm studio start` itself ...
  const seed = tempDir("fm-one-path-seed-")
  admin = `fmr_test${crypto.randomBytes(24).toString("base64url")}`
  const first = await startServer({ dataDir: seed, adminToken: admin, publicUrl: PUBLIC_URL, maxUploadSize: LIMIT })
  try {
    await publishFixture(first.url, admin, {
      name: "alpha",
      version: "1.0.0",
      manifest: { description: "Alpha does data things", category: "data", tags: ["etl", "csv"] }
    })
    await publishFixture(first.url, admin, {
      name: "alpha",
      version: "1.2.0",
      manifest: { description: "Alpha, newer", category: "data" }
    })
    await publishFixture(first.url, admin, {
      name: "beta_pkg",
      version: "0.1.0",
      deps: { alpha: "^1.0.0" },
      manifest: { category: "io" }
    })
    await publishFixture(first.url, admin, {
      name: "gamma",
      version: "2.0.0",
      manifest: { description: "Gamma is yanked" }
    })
    const yanked = await fetch(`${first.url}${API}/packages/gamma/2.0.0/yank`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "broken" })
    })
    expect(yanked.status).toBe(200)
    reader = await createToken(seed, "read", { name: "reader" })
    publisher = await createToken(seed, "publish", { name: "publisher" })
  } finally {
    await first.stop()
  }
  // ... copied, so both servers start from the same bytes
  const a = tempDir("fm-one-path-studio-")
  const b = tempDir("fm-one-path-embedded-")
  fs.cpSync(seed, a, { recursive: true })
  fs.cpSync(seed, b, { recursive: true })
  studio = await startServer({ dataDir: a, adminToken: admin, publicUrl: PUBLIC_URL, maxUploadSize: LIMIT })
  embedded = await mount(b)
}, 120_000)

afterAll(async () => {
  await studio?.stop()
  await embedded?.close()
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

interface Answer {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}

const answer = async (res: Response, blank: ReadonlyArray<string> = []): Promise<Answer> => {
  const headers: Record<string, string> = {}
  for (const h of HEADERS) {
    const v = res.headers.get(h)
    if (v !== null) headers[h] = v
  }
  let body = Buffer.from(await res.arrayBuffer()).toString("base64")
  if (blank.length > 0 && (res.headers.get("content-type") ?? "").startsWith("application/json")) {
    // fields that differ by when a write happened (a publish's time), not by which server answered
    body = JSON.stringify(
      JSON.parse(Buffer.from(body, "base64").toString("utf8")),
      (k, v) => (blank.includes(k) ? "<blank>" : v)
    )
    delete headers["content-length"]
    delete headers["etag"]
  }
  return { status: res.status, headers, body }
}

type Init = RequestInit & { readonly blank?: ReadonlyArray<string>; readonly duplex?: "half" }

/**
 * Sends the same request to both servers (studio first, then embedded) and expects one answer.
 * `init` may be a function, for bodies that can be sent only once (streams).
 */
const same = async (
  p: string,
  init: Init | (() => Init) = {}
): Promise<Answer & { readonly json: () => Readonly<Record<string, unknown>> }> => {
  const make = typeof init === "function" ? init : () => init
  const a = await answer(await fetch(`${studio.url}${p}`, { ...make(), redirect: "manual" }), make().blank)
  const b = await answer(await fetch(`${embedded.url}${p}`, { ...make(), redirect: "manual" }), make().blank)
  const request = `${make().method ?? "GET"} ${p}`
  expect({ request, ...b }).toEqual({ request, ...a })
  return {
    ...a,
    json: () => JSON.parse(make().blank === undefined ? Buffer.from(a.body, "base64").toString("utf8") : a.body)
  }
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

describe("fm studio start and RegistryServer.layer give the same answers", () => {
  it("the host app's own route still answers next to the registry", async () => {
    const res = await fetch(`${embedded.url}/hello`)
    expect(await res.text()).toBe("hello from the host app")
  })

  it("package info, versions and one version: anonymous, read, admin and bad tokens", async () => {
    for (const headers of [{}, bearer(reader), bearer(admin)]) {
      expect((await same(`${API}/packages/alpha`, { headers })).status).toBe(200)
      expect((await same(`${API}/packages/ALPHA`, { headers })).status).toBe(200)
      expect((await same(`${API}/packages/beta-pkg`, { headers })).json()).toMatchObject({ name: "beta_pkg" })
      expect((await same(`${API}/packages/gamma`, { headers })).json()).toMatchObject({
        yanked: true,
        yank_reason: "broken"
      })
      expect((await same(`${API}/packages/alpha/versions`, { headers })).json()).toMatchObject({
        versions: ["1.0.0", "1.2.0"]
      })
      expect((await same(`${API}/packages/alpha/1.0.0`, { headers })).json()).toMatchObject({ latest_version: "1.2.0" })
    }
    expect((await same(`${API}/packages/alpha`, { headers: bearer("fmr_not-a-token") })).status).toBe(401)
    await same(`${API}/packages/alpha`, { headers: { authorization: "Basic abc" } })
  })

  it("not found and bad requests", async () => {
    expect((await same(`${API}/packages/nope`)).json()).toEqual({ detail: "Package 'nope' not found" })
    expect((await same(`${API}/packages/nope/versions`)).status).toBe(404)
    expect((await same(`${API}/packages/alpha/9.9.9`)).status).toBe(404)
    expect((await same(`${API}/packages/alpha/9.9.9/download`)).status).toBe(404)
    expect((await same(`${API}/no-such-route`)).status).toBe(404)
    expect((await same(`${API}/packages/%E0%A4%A`)).status).toBeGreaterThanOrEqual(400)
    expect((await same(`${API}/packages/alpha`, { method: "DELETE" })).status).toBe(404)
    expect((await same(`${API}/packages/alpha/1.0.0`, { method: "DELETE" })).status).toBe(401)
  })

  it("the API description and the publish log's refusals", async () => {
    expect((await same(`${API}/openapi.json`)).json()).toMatchObject({ openapi: expect.any(String) })
    for (const p of ["entries?start=x&end=1", "proof/inclusion", "proof/consistency?first=2&second=1"]) {
      const a = await same(`${API}/log/${p}`)
      expect([a.status, typeof a.json().detail]).toEqual([expect.any(Number), "string"])
      expect(a.status >= 400 && a.status < 500).toBe(true)
    }
  })

  it("search: query, category, paging, empty query, bad parameters", async () => {
    for (const headers of [{}, bearer(reader)]) {
      expect((await same(`${API}/packages/search?q=alpha`, { headers })).json()).toMatchObject({ total_count: 1 })
      await same(`${API}/packages/search?q=`, { headers })
      await same(`${API}/packages/search`, { headers })
      await same(`${API}/packages/search?category=data`, { headers })
      await same(`${API}/packages/search?q=a&page=2&page_size=1`, { headers })
      await same(`${API}/packages/search?q=gam`, { headers })
    }
    expect((await same(`${API}/packages/search?page=0`)).status).toBe(422)
    expect((await same(`${API}/packages/search?page_size=abc`)).status).toBe(422)
    await same(`${API}/packages/search?q=a&q=b`)
    await same(`${API}/packages/search?q=a&unknown=1`)
    await same(`${API}/categories`)
    await same(`${API}/stats`)
    await same(`${API}/health`)
  })

  it("conditional requests: 304 for info and downloads, by strong, weak and * tags", async () => {
    const info = await same(`${API}/packages/alpha`)
    const etag = info.headers["etag"]!
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/)
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const r = await same(`${API}/packages/alpha`, { headers: { "if-none-match": inm } })
      expect(r.status).toBe(304)
      expect(r.body).toBe("")
    }
    expect((await same(`${API}/packages/alpha`, { headers: { "if-none-match": "\"other\"" } })).status).toBe(200)
    expect((await same(`${API}/packages/search?q=alpha`, { headers: { "if-none-match": etag } })).status).toBe(200)

    const download = await same(`${API}/packages/alpha/1.0.0/download`)
    const tag = download.headers["etag"]!
    for (const inm of [tag, `W/${tag}`, `"other", ${tag}`, "*"]) {
      expect((await same(`${API}/packages/alpha/1.0.0/download`, { headers: { "if-none-match": inm } })).status).toBe(
        304
      )
    }
    expect((await same(`${API}/packages/alpha/1.0.0/download`, { headers: { "if-none-match": "\"other\"" } })).status)
      .toBe(200)
  })

  it("downloads: whole, HEAD, byte ranges, unsatisfiable ranges; the count shows at once", async () => {
    expect((await same(`${API}/packages/beta-pkg/0.1.0/download`)).status).toBe(200)
    expect((await same(`${API}/packages/beta-pkg/0.1.0/download`, { headers: bearer(reader) })).status).toBe(200)
    expect((await same(`${API}/packages/beta-pkg/0.1.0/download`, { method: "HEAD" })).status).toBe(200)
    expect((await same(`${API}/packages/beta-pkg/0.1.0/download`, { headers: { range: "bytes=0-9" } })).status).toBe(
      206
    )
    expect((await same(`${API}/packages/beta-pkg/0.1.0/download`, { headers: { range: "bytes=-5" } })).status).toBe(206)
    expect((await same(`${API}/packages/beta-pkg/0.1.0/download`, { headers: { range: "bytes=999999-" } })).status)
      .toBe(416)
    expect((await same(`${API}/packages/beta-pkg`)).json()).toMatchObject({ downloads: 2 })
    expect((await same(`${API}/packages/beta-pkg/versions`)).json()).toMatchObject({ releases: [{ downloads: 2 }] })
    // the same download again and again (an answer the server may replay): each one counts, a 304 does not
    const url = `${API}/packages/beta-pkg/0.1.0/download`
    const first = await same(url)
    for (let i = 0; i < 4; i++) expect((await same(url)).body).toBe(first.body)
    expect((await same(url, { headers: { "if-none-match": first.headers["etag"]! } })).status).toBe(304)
    expect((await same(`${API}/packages/beta-pkg`)).json()).toMatchObject({ downloads: 7 })
  })

  it("upload outcomes: 201, 409, 400s, 413, 401, 403", async () => {
    const post = (token: string | undefined, body: Uint8Array, contentType: string) =>
      ({
        method: "POST",
        headers: { ...(token === undefined ? {} : bearer(token)), "content-type": contentType },
        body: Buffer.from(body)
      }) as const
    const upload = (token: string | undefined, archive: Uint8Array, checksum?: string) => {
      const form = new FormData()
      form.append("file", new Blob([Buffer.from(archive)], { type: "application/octet-stream" }), "x.fmpkg")
      form.append("checksum", checksum ?? crypto.createHash("sha256").update(archive).digest("hex"))
      return {
        method: "POST",
        headers: token === undefined ? {} : bearer(token),
        body: form,
        blank: ["published_at"]
      } as const
    }
    const url = `${API}/packages/upload`
    const good = fixtureArchive({ name: "delta", version: "1.0.0", manifest: { description: "Fresh" } })
    expect((await same(url, upload(publisher, good))).json()).toMatchObject({ name: "delta", version: "1.0.0" })
    expect((await same(url, upload(publisher, good))).status).toBe(409)
    expect((await same(url, upload(admin, good, "0".repeat(64)))).json().detail).toMatch(/^Checksum mismatch/)
    expect((await same(url, upload(admin, Buffer.from("not a zip at all")))).json().detail).toMatch(
      /^Invalid package archive: .*upload/
    )
    const noFile = new FormData()
    noFile.append("checksum", "0".repeat(64))
    expect((await same(url, { method: "POST", headers: bearer(admin), body: noFile })).json()).toEqual({
      detail: "Missing multipart file part 'file' (the .fmpkg archive)"
    })
    const unclosed = Buffer.from(
      "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nno closing boundary"
    )
    const truncated = await same(url, post(admin, unclosed, "multipart/form-data; boundary=b"))
    expect(truncated.status).toBe(400)
    expect(truncated.json().detail).toMatch(/^Bad multipart body: /)
    const big = fixtureArchive({
      name: "too-big",
      version: "1.0.0",
      files: { "big.bin": crypto.randomBytes(LIMIT + 10) }
    })
    expect((await same(url, upload(admin, big))).json()).toEqual({
      detail: `Upload too large: the limit is ${LIMIT} bytes`
    })
    const other = fixtureArchive({ name: "epsilon", version: "1.0.0" })
    expect((await same(url, upload(undefined, other))).status).toBe(401)
    expect((await same(url, upload("fmr_not-a-token", other))).status).toBe(401)
    expect((await same(url, upload(reader, other))).json().detail).toContain("this needs scope 'publish'")
    // a streamed upload (no Content-Length) of a good archive, and of one over the limit
    const stream = (bytes: Uint8Array) => (): Init => ({
      method: "POST",
      headers: { ...bearer(admin), "content-type": "multipart/form-data; boundary=s" },
      duplex: "half",
      blank: ["published_at"],
      body: new ReadableStream({
        start(c) {
          c.enqueue(Buffer.from("--s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.fmpkg\"\r\n\r\n"))
          c.enqueue(bytes)
          c.enqueue(Buffer.from("\r\n--s--\r\n"))
          c.close()
        }
      })
    })
    expect((await same(url, stream(fixtureArchive({ name: "zeta", version: "1.0.0" })))).status).toBe(201)
    expect((await same(url, stream(big))).status).toBe(413)
  })

  it("a read right after a write sees it (publish, yank, delete, downloads)", async () => {
    expect((await same(`${API}/packages/alpha`)).json()).toMatchObject({ latest_version: "1.2.0" })
    await same(`${API}/packages/search?q=alpha`)
    const newer = fixtureArchive({ name: "alpha", version: "1.3.0", manifest: { description: "Alpha, newest" } })
    const form = new FormData()
    form.append("file", new Blob([Buffer.from(newer)], { type: "application/octet-stream" }), "x.fmpkg")
    expect(
      (await same(`${API}/packages/upload`, {
        method: "POST",
        headers: bearer(admin),
        body: form,
        blank: ["published_at"]
      })).status
    ).toBe(201)
    expect((await same(`${API}/packages/alpha`, { blank: ["published_at"] })).json()).toMatchObject({
      latest_version: "1.3.0"
    })
    expect((await same(`${API}/packages/search?q=alpha`, { blank: ["published_at"] })).json()).toMatchObject({
      packages: [{ latest_version: "1.3.0" }]
    })

    const yank = {
      method: "POST",
      headers: { ...bearer(admin), "content-type": "application/json" },
      body: JSON.stringify({ reason: "oops" })
    }
    expect((await same(`${API}/packages/alpha/1.3.0/yank`, { ...yank, blank: ["published_at"] })).status).toBe(200)
    expect((await same(`${API}/packages/alpha`)).json()).toMatchObject({ latest_version: "1.2.0" })
    expect((await same(`${API}/packages/alpha/1.3.0`, { blank: ["published_at"] })).json()).toMatchObject({
      yanked: true
    })

    const before = (await same(`${API}/packages/alpha`)).json() as { downloads: number }
    expect((await same(`${API}/packages/alpha/1.2.0/download`)).status).toBe(200)
    expect((await same(`${API}/packages/alpha`)).json()).toMatchObject({ downloads: before.downloads + 1 })

    expect((await same(`${API}/packages/alpha/1.0.0`, { method: "DELETE", headers: bearer(admin) })).status).toBe(200)
    expect((await same(`${API}/packages/alpha/1.0.0`)).status).toBe(404)
    expect((await same(`${API}/packages/alpha/versions`, { blank: ["published_at"] })).status).toBe(200)
  })
})
