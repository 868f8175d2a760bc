/**
 * The publish log on a real server, on SQLite and PostgreSQL: every publish, yank, unyank and
 * delete is an entry written with the change; the signed checkpoint verifies with the key the
 * health answer names; entries, inclusion and consistency proofs verify against it; package
 * answers carry their log index; proofs are cacheable; `--private` covers the log; the key is
 * generated once (0600) or taken from `--log-key`; a refused publish logs nothing.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Checkpoint } from "../../src/shared/log/Checkpoint.js"
import { openCheckpoint } from "../../src/shared/log/Checkpoint.js"
import type { LogEntryFields } from "../../src/shared/log/LogEntry.js"
import { entryLeafHash } from "../../src/shared/log/LogEntry.js"
import { MerkleTree, verifyConsistency, verifyInclusion } from "../../src/shared/log/Merkle.js"
import type { NoteVerifier } from "../../src/shared/log/SignedNote.js"
import { parseVerifier } from "../../src/shared/log/SignedNote.js"
import { acquireTestDatabase, testBackends } from "../helpers/pg.js"
import { tempDir } from "../helpers/scoped.js"
import type { StartServerOptions } from "../helpers/server.js"
import {
  acquireServer,
  createToken,
  fixtureArchive,
  publishFixture,
  runStudio,
  TestServer,
  uploadArchive,
  withServer
} from "../helpers/server.js"

const API = "/api/v1/registry"
const backends = await testBackends()

interface Json {
  readonly [key: string]: unknown
}
const getJson = async (base: string, p: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${base}${API}${p}`, { headers })
  const text = await res.text()
  return {
    status: res.status,
    headers: res.headers,
    text,
    body: (text.startsWith("{") ? JSON.parse(text) : {}) as Json
  }
}
const unb64 = (s: unknown): Uint8Array => new Uint8Array(Buffer.from(String(s), "base64"))
const hashesOf = (v: unknown): Array<Uint8Array> => (Array.isArray(v) ? v.map(unb64) : [])
const fieldsOf = (e: unknown): LogEntryFields => {
  const o = (e ?? {}) as Record<string, unknown>
  return {
    operation: o["operation"] === "yank" || o["operation"] === "unyank" || o["operation"] === "delete"
      ? o["operation"]
      : "publish",
    name: String(o["name"]),
    version: String(o["version"]),
    sha256: String(o["sha256"]),
    size: Number(o["size"]),
    time: String(o["time"])
  }
}

const verifierOf = async (base: string, token?: string): Promise<NoteVerifier> => {
  const health = await getJson(base, "/health", token === undefined ? {} : { authorization: `Bearer ${token}` })
  const verifier = parseVerifier(String(health.body["log_key"]))
  if (verifier === undefined) throw new Error(`no log key in ${health.text}`)
  return verifier
}

const checkpointOf = async (
  base: string,
  verifier: NoteVerifier,
  headers: Record<string, string> = {}
): Promise<Checkpoint> => {
  const res = await getJson(base, "/log/checkpoint", headers)
  assert.strictEqual(res.status, 200, res.text)
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain/)
  const opened = openCheckpoint(res.text, verifier)
  if ("refused" in opened) throw new Error(`checkpoint refused: ${opened.refused}\n${res.text}`)
  return opened.checkpoint
}

/** The server of one backend (on PostgreSQL, on a database of its own). */
const onBackend = (backend: string) =>
  Layer.scoped(
    TestServer,
    Effect.gen(function*() {
      const db = backend === "postgres" ? yield* acquireTestDatabase("log") : undefined
      return yield* acquireServer(db === undefined ? {} : { databaseUrl: db.url })
    })
  )

/** The verifier key a server started on `options` names, read and the server stopped again. */
const keyOf = (options: StartServerOptions) =>
  Effect.scoped(Effect.flatMap(acquireServer(options), (s) => Effect.promise(() => verifierOf(s.url))))

for (const backend of backends) {
  layer(onBackend(backend), { excludeTestServices: true })(`the publish log (${backend})`, (it) => {
    it.effect("logs every change with the write, signs checkpoints, and proves inclusion and consistency", () =>
      withServer(async (server) => {
        const base = server.url
        const verifier = await verifierOf(base)
        const empty = await checkpointOf(base, verifier)
        assert.strictEqual(empty.size, 0)

        const a1 = fixtureArchive({ name: "log-a", version: "1.0.0" })
        const published = await publishFixture(base, server.adminToken, { name: "log-a", version: "1.0.0" })
        await publishFixture(base, server.adminToken, { name: "log-a", version: "1.1.0" })
        await publishFixture(base, server.adminToken, { name: "log-b", version: "2.0.0" })
        assert.strictEqual(published["log_index"], 0)
        // a refused publish (the version exists) appends nothing
        const again = await uploadArchive(base, server.adminToken, a1, "log-a-1.0.0.fmpkg")
        assert.strictEqual(again.status, 409)
        const auth = { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" }
        assert.strictEqual(
          (await fetch(`${base}${API}/packages/log-a/1.1.0/yank`, {
            method: "POST",
            headers: auth,
            body: JSON.stringify({ reason: "bad" })
          })).status,
          200
        )
        assert.strictEqual(
          (await fetch(`${base}${API}/packages/log-a/1.1.0/unyank`, { method: "POST", headers: auth })).status,
          200
        )
        assert.strictEqual(
          (await fetch(`${base}${API}/packages/log-b/2.0.0`, { method: "DELETE", headers: auth })).status,
          200
        )

        const head = await checkpointOf(base, verifier)
        assert.strictEqual(head.size, 6)
        const entries = await getJson(base, "/log/entries?start=0&end=6")
        assert.strictEqual(entries.status, 200)
        const list = Array.isArray(entries.body["entries"]) ? entries.body["entries"] : []
        assert.deepStrictEqual(
          list.map((e) => `${fieldsOf(e).operation} ${fieldsOf(e).name}@${fieldsOf(e).version}`),
          [
            "publish log-a@1.0.0",
            "publish log-a@1.1.0",
            "publish log-b@2.0.0",
            "yank log-a@1.1.0",
            "unyank log-a@1.1.0",
            "delete log-b@2.0.0"
          ]
        )
        assert.strictEqual(fieldsOf(list[0]).sha256, crypto.createHash("sha256").update(a1).digest("hex"))
        assert.strictEqual(fieldsOf(list[0]).size, a1.length)
        // the entries are the tree the checkpoint signs
        const tree = MerkleTree.fromLeafHashes(list.map((e) => entryLeafHash(fieldsOf(e))))
        assert.strictEqual(Buffer.from(tree.root()).toString("hex"), Buffer.from(head.root).toString("hex"))

        // package answers carry their index
        const info = await getJson(base, "/packages/log-a/1.1.0")
        assert.strictEqual(info.body["log_index"], 1)
        const versions = await getJson(base, "/packages/log-a/versions")
        const listed = (versions.body["releases"] ?? []) as Array<Json>
        assert.deepStrictEqual(listed.map((v) => v["log_index"]).sort(), [0, 1])

        // inclusion at a fixed size: immutable; by leaf hash too
        const fixed = await getJson(base, "/log/proof/inclusion?index=1&size=6")
        assert.strictEqual(fixed.status, 200, fixed.text)
        assert.match(fixed.headers.get("cache-control") ?? "", /immutable/)
        const etag = fixed.headers.get("etag") ?? ""
        assert.match(etag, /^"[0-9a-f]{64}"$/)
        assert.strictEqual(
          (await fetch(`${base}${API}/log/proof/inclusion?index=1&size=6`, { headers: { "if-none-match": etag } }))
            .status,
          304
        )
        const leaf = entryLeafHash(fieldsOf(fixed.body["entry"]))
        assert.isTrue(verifyInclusion(1, 6, leaf, hashesOf(fixed.body["hashes"]), head.root))
        const byHash = await getJson(
          base,
          `/log/proof/inclusion?hash=${encodeURIComponent(Buffer.from(leaf).toString("base64"))}&size=6`
        )
        assert.strictEqual(byHash.body["index"], 1)

        // the install bundle: current checkpoint + inclusion + consistency from an old size, one request
        const bundle = await getJson(base, "/log/proof/inclusion?index=0&old=3")
        assert.strictEqual(bundle.status, 200, bundle.text)
        assert.strictEqual(bundle.headers.get("cache-control"), "no-cache")
        const opened = openCheckpoint(String(bundle.body["checkpoint"]), verifier)
        if ("refused" in opened) throw new Error(opened.refused)
        assert.strictEqual(opened.checkpoint.size, 6)
        assert.isTrue(
          verifyInclusion(
            0,
            6,
            entryLeafHash(fieldsOf(bundle.body["entry"])),
            hashesOf(bundle.body["hashes"]),
            opened.checkpoint.root
          )
        )
        assert.isTrue(
          verifyConsistency(3, 6, tree.root(3), opened.checkpoint.root, hashesOf(bundle.body["consistency"]))
        )

        const consistency = await getJson(base, "/log/proof/consistency?old=2&new=6")
        assert.match(consistency.headers.get("cache-control") ?? "", /immutable/)
        assert.isTrue(verifyConsistency(2, 6, tree.root(2), head.root, hashesOf(consistency.body["hashes"])))
      }))

    it.effect("refuses bad and out-of-range parameters", () =>
      withServer(async (server) => {
        const base = server.url
        assert.strictEqual((await getJson(base, "/log/proof/inclusion?index=-1&size=2")).status, 422)
        assert.strictEqual((await getJson(base, "/log/proof/inclusion?size=2")).status, 422)
        assert.strictEqual((await getJson(base, "/log/proof/inclusion?index=0&size=999")).status, 404)
        assert.strictEqual((await getJson(base, "/log/proof/inclusion?index=5&size=3")).status, 404)
        assert.strictEqual((await getJson(base, "/log/proof/consistency?old=5&new=3")).status, 404)
        assert.strictEqual((await getJson(base, "/log/proof/consistency?new=3")).status, 422)
        assert.strictEqual((await getJson(base, "/log/entries?start=99")).status, 404)
        assert.strictEqual((await getJson(base, "/log/entries?start=3&end=1")).status, 422)
        assert.strictEqual((await getJson(base, "/log/entries?start=1e3")).status, 422)
      }))
  })
}

describe("the publish log's key and --private", () => {
  it.scopedLive("generates the key once (0600), keeps it across restarts, and takes --log-key", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("fm-logkey-")
      const key1 = (yield* keyOf({ dataDir: dir })).text
      assert.strictEqual(fs.statSync(path.join(dir, "log-key.pem")).mode & 0o777, 0o600)
      assert.strictEqual((yield* keyOf({ dataDir: dir })).text, key1)
      yield* Effect.promise(async () => {
        assert.strictEqual((await runStudio(["log-key", "--data-dir", dir])).trim(), key1)
      })

      const pemFile = path.join(dir, "given.pem")
      fs.writeFileSync(pemFile, execFileSync("openssl", ["genpkey", "-algorithm", "ed25519"]), { mode: 0o600 })
      const printed = JSON.parse(
        yield* Effect.promise(() => runStudio(["log-key", "--log-key", pemFile, "--json"]))
      ) as Json
      const key3 = (yield* keyOf({ dataDir: dir, args: ["--log-key", pemFile] })).text
      assert.notStrictEqual(key3, key1)
      assert.strictEqual(key3, printed["verifier_key"])
      assert.match(String(printed["public_key_pem"]), /^-----BEGIN PUBLIC KEY-----/)

      const rsa = path.join(dir, "rsa.pem")
      fs.writeFileSync(
        rsa,
        execFileSync("openssl", ["genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:1024"])
      )
      const refused = yield* Effect.promise(() =>
        runStudio(["log-key", "--log-key", rsa]).then(() => "", (e: unknown) => String(e))
      )
      assert.match(refused, /rsa key; the log needs Ed25519/)
    }))

  it.scopedLive("on a private registry the log needs a read token", () =>
    Effect.flatMap(acquireServer({ private: true }), (server) =>
      Effect.promise(async () => {
        const read = await createToken(server.dataDir, "read")
        assert.strictEqual((await getJson(server.url, "/log/checkpoint")).status, 401)
        assert.strictEqual((await getJson(server.url, "/log/entries")).status, 401)
        assert.strictEqual((await getJson(server.url, "/log/proof/consistency?old=0")).status, 401)
        const verifier = await verifierOf(server.url, read)
        const head = await checkpointOf(server.url, verifier, { authorization: `Bearer ${read}` })
        assert.strictEqual(head.size, 0)
      })))
})

describe.skipIf(!backends.includes("postgres"))("replicas of one PostgreSQL database", () => {
  it.scopedLive("agree on one log: concurrent publishes through two replicas get indexes 0..n-1 and one checkpoint", () =>
    Effect.gen(function*() {
      const db = yield* acquireTestDatabase("logrep")
      const dir = yield* tempDir("fm-logrep-")
      const keyFile = path.join(dir, "log.pem")
      fs.writeFileSync(keyFile, execFileSync("openssl", ["genpkey", "-algorithm", "ed25519"]), { mode: 0o600 })
      const admin = `fmr_test_${crypto.randomBytes(8).toString("hex")}`
      const replica = (name: string) => {
        fs.mkdirSync(path.join(dir, name))
        return acquireServer({
          dataDir: path.join(dir, name),
          databaseUrl: db.url,
          adminToken: admin,
          args: ["--log-key", keyFile]
        })
      }
      const r1 = yield* replica("r1")
      const r2 = yield* replica("r2")
      yield* Effect.promise(async () => {
        const verifier = await verifierOf(r1.url)
        assert.strictEqual((await verifierOf(r2.url)).text, verifier.text)
        const n = 12
        const indexes = await Promise.all(
          Array.from(
            { length: n },
            (_, i) =>
              publishFixture(i % 2 === 0 ? r1.url : r2.url, admin, { name: `rep-${i}`, version: "1.0.0" }).then((p) =>
                p["log_index"]
              )
          )
        )
        assert.deepStrictEqual(
          [...indexes].sort((a, b) => Number(a) - Number(b)),
          Array.from({ length: n }, (_, i) => i)
        )
        const c1 = await checkpointOf(r1.url, verifier)
        const c2 = await checkpointOf(r2.url, verifier)
        assert.strictEqual(c1.size, n)
        assert.deepStrictEqual(c2, c1)
      })
    }))
})
