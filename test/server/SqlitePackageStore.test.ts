/**
 * The SQLite store's batched download counts (a read always sees every download counted; counts
 * still pending are written when the store closes), its tokens kept in memory (a token written by
 * this store or by any other connection is read afresh at once) and the hot path's archive cache.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, ManagedRuntime, Option } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { afterEach, assert, describe, it } from "vitest"
import { BlobCache } from "../../src/server/storage/BlobCache.js"
import { PackageStore } from "../../src/server/storage/PackageStore.js"
import * as SqlitePackageStore from "../../src/server/storage/SqlitePackageStore.js"
import { newRelease } from "../helpers/releases.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

const release = (name: string, version: string) => newRelease(name, version, { checksum: "1".repeat(64) })

const open = () => {
  const dir = dirs[0] ?? fs.mkdtempSync(path.join(os.tmpdir(), "fm-sqlite-store-"))
  if (dirs.length === 0) dirs.push(dir)
  const file = path.join(dir, "registry.db")
  const runtime = ManagedRuntime.make(SqlitePackageStore.layer(file))
  return {
    file,
    run: <A, E>(f: (s: PackageStore["Type"]) => Effect.Effect<A, E>) =>
      runtime.runPromise(Effect.flatMap(PackageStore, f)),
    close: () => runtime.dispose()
  }
}

describe("download counts on SQLite", () => {
  it("every read sees every download counted, at once", async () => {
    const store = open()
    await store.run((s) => s.publish(release("counted", "1.0.0")))
    for (let i = 0; i < 7; i++) await store.run((s) => s.recordDownload("counted", "1.0.0"))
    const pkg = Option.getOrThrow(await store.run((s) => s.getPackage("counted")))
    assert.strictEqual(pkg.downloads, 7)
    assert.strictEqual(Option.getOrThrow(await store.run((s) => s.getRelease("Counted", "1.0.0"))).downloads, 7)
    await store.run((s) => s.recordDownload("counted", "1.0.0"))
    assert.strictEqual((await store.run((s) => s.listReleases("counted")))[0]!.downloads, 8)
    await store.run((s) => s.recordDownload("counted", "1.0.0"))
    assert.strictEqual((await store.run((s) => s.stats)).totalDownloads, 9)
    await store.run((s) => s.recordDownload("counted", "1.0.0"))
    assert.strictEqual(
      (await store.run((s) => s.search({ q: "counted", category: undefined, page: 1, pageSize: 5 }))).rows[0]!
        .downloads,
      10
    )
    await store.close()
  })

  it("counts not yet written are written when the store closes", async () => {
    const first = open()
    await first.run((s) => s.publish(release("closing", "1.0.0")))
    await Promise.all(Array.from({ length: 25 }, () => first.run((s) => s.recordDownload("closing", "1.0.0"))))
    await first.close() // well within the flush delay
    const second = open()
    assert.strictEqual(Option.getOrThrow(await second.run((s) => s.getPackage("closing"))).downloads, 25)
    await second.close()
  })

  it("a download of an unknown or deleted release counts nothing and breaks nothing", async () => {
    const store = open()
    await store.run((s) => s.publish(release("gone", "1.0.0")))
    await store.run((s) => s.recordDownload("gone", "1.0.0"))
    await store.run((s) => s.delete("gone", "1.0.0"))
    await store.run((s) => s.recordDownload("never-was", "9.9.9"))
    assert.strictEqual((await store.run((s) => s.stats)).totalDownloads, 0)
    await store.close()
  })
})

describe("tokens on SQLite", () => {
  it("a token check sees every token write at once: this store's own and another connection's", async () => {
    const store = open()
    const token = (name: string, hash: string) =>
      store.run((s) => s.createToken({ name, prefix: "fmr_test", hash, scope: "publish", expiresAt: null }))
    const find = async (hash: string) => Option.getOrNull(await store.run((s) => s.findTokenByHash(hash)))
    await token("own", "a".repeat(64))
    for (let i = 0; i < 3; i++) assert.isNull((await find("a".repeat(64)))?.revokedAt)
    await store.run((s) => s.revokeToken("own"))
    assert.isString((await find("a".repeat(64)))?.revokedAt)

    // written by another connection (as `fm studio token revoke`, or a sqlite3 shell) while known here
    const other = ManagedRuntime.make(SqliteClient.layer({ filename: store.file }))
    const elsewhere = (f: (sql: SqliteClient.SqliteClient) => Effect.Effect<unknown, unknown>) =>
      other.runPromise(Effect.flatMap(SqliteClient.SqliteClient, f))
    await token("other", "b".repeat(64))
    for (let i = 0; i < 3; i++) assert.isNull((await find("b".repeat(64)))?.revokedAt)
    await elsewhere((sql) => sql`UPDATE tokens SET revoked_at = ${new Date().toISOString()} WHERE name = 'other'`)
    assert.isString((await find("b".repeat(64)))?.revokedAt)
    await elsewhere((sql) => sql`DELETE FROM tokens WHERE name = 'other'`)
    assert.isNull(await find("b".repeat(64)))
    // and a token another connection adds is known at once
    assert.isNull(await find("c".repeat(64)))
    await elsewhere((sql) =>
      sql`INSERT INTO tokens (name, prefix, hash, scope, created_at)
        VALUES ('third', 'fmr_test', ${"c".repeat(64)}, 'read', ${new Date().toISOString()})`
    )
    assert.strictEqual((await find("c".repeat(64)))?.name, "third")
    await other.dispose()
    await store.close()
  })
})

/**
 * Another process (the server, or `fm studio token` beside it) in the middle of a write: it holds
 * SQLite's write lock for `holdMs`, then commits. Resolves once it holds the lock; `done` once it
 * has committed and exited.
 */
const writerElsewhere = async (file: string, holdMs: number) => {
  const child = spawn(process.execPath, [
    "-e",
    `const D = require("better-sqlite3"); const db = new D(process.argv[1]);
     db.exec("BEGIN IMMEDIATE"); db.prepare("UPDATE packages SET updated_at = updated_at").run();
     process.stdout.write("locked\\n");
     setTimeout(() => { db.exec("COMMIT"); db.close(); }, Number(process.argv[2]));`,
    file,
    String(holdMs)
  ], { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] })
  const done = new Promise<number | null>((resolve) => child.on("exit", resolve))
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", () => resolve())
    child.on("exit", (code) => reject(new Error(`the other writer exited (${code}) before it held the lock`)))
  })
  return { done }
}

describe("writes beside another process on SQLite", () => {
  // A transaction that reads before it writes would hold a snapshot from before the other
  // process's commit and fail at its first write (SQLITE_BUSY_SNAPSHOT, which no busy timeout
  // waits out); each such write transaction takes the write lock first, waiting for the other.
  it("token create, token revoke and delete wait for another process's write and succeed", async () => {
    const store = open()
    await store.run((s) => s.publish(release("kept", "1.0.0")))
    await store.run((s) => s.publish(release("gone", "1.0.0")))
    await store.run((s) =>
      s.createToken({ name: "old", prefix: "fmr_test", hash: "d".repeat(64), scope: "publish", expiresAt: null })
    )

    const writes = [
      () =>
        store.run((s) =>
          s.createToken({ name: "new", prefix: "fmr_test", hash: "e".repeat(64), scope: "read", expiresAt: null })
        ),
      () => store.run((s) => s.revokeToken("old")),
      () => store.run((s) => s.delete("gone", "1.0.0"))
    ]
    for (const write of writes) {
      const other = await writerElsewhere(store.file, 300)
      await write()
      assert.strictEqual(await other.done, 0)
    }
    assert.strictEqual(Option.getOrNull(await store.run((s) => s.findTokenByHash("e".repeat(64))))?.name, "new")
    assert.isString(Option.getOrNull(await store.run((s) => s.findTokenByHash("d".repeat(64))))?.revokedAt)
    assert.isTrue(Option.isNone(await store.run((s) => s.getRelease("gone", "1.0.0"))))
    await store.close()
  })
})

describe("two processes opening a new database at once on SQLite", () => {
  // `fm studio start` and `fm studio token create` on a new data directory: the one that loses
  // the race to migrate must wait for the other's migrations, not use the tables before they exist.
  it("the store opened while another process is migrating waits for its tables", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-sqlite-migrating-"))
    dirs.push(dir)
    const file = path.join(dir, "registry.db")
    const library = pathToFileURL(path.resolve("build/server/storage/SqlitePackageStore.js")).href
    // the real migrations, the first of them slowed down, in a process of their own
    const child = spawn(process.execPath, [
      "--input-type=module",
      "-e",
      `import * as Migrator from "@effect/sql/Migrator"
       import { Effect } from "effect"
       const S = await import(process.argv[1])
       const slow = Object.fromEntries(Object.entries(S.migrations).map(([k, m], i) => [k, i > 0 ? m :
         m.pipe(Effect.zipRight(Effect.sync(() => process.stdout.write("migrating\\n"))), Effect.zipRight(Effect.sleep("700 millis")))]))
       await Effect.runPromise(Migrator.make({})({ loader: Migrator.fromRecord(slow) }).pipe(Effect.provide(S.clientLayer(process.argv[2]))))`,
      library,
      file
    ], { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] })
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve))
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", () => resolve())
      child.on("exit", (code) => reject(new Error(`the migrating process exited (${code}) before migrating`)))
    })
    const runtime = ManagedRuntime.make(SqlitePackageStore.layer(file))
    const run = <A, E>(f: (s: PackageStore["Type"]) => Effect.Effect<A, E>) =>
      runtime.runPromise(Effect.flatMap(PackageStore, f))
    const token = await run((s) =>
      s.createToken({ name: "first", prefix: "fmr_test", hash: "f".repeat(64), scope: "publish", expiresAt: null })
    )
    assert.strictEqual(token.name, "first")
    assert.lengthOf(await run((s) => s.listTokens), 1)
    assert.strictEqual(await exited, 0)
    await runtime.dispose()
  })
})

describe("BlobCache", () => {
  it("keeps small archives within its byte budget, least recently used out first", () => {
    const cache = new BlobCache(10, 4)
    const b = (n: number) => Buffer.alloc(n)
    cache.set("a", b(4))
    cache.set("b", b(4))
    assert.strictEqual(cache.get("a")?.byteLength, 4) // a is now the most recent
    cache.set("c", b(4)) // 12 > 10: b goes
    assert.isUndefined(cache.get("b"))
    assert.isDefined(cache.get("a"))
    assert.isDefined(cache.get("c"))
    assert.strictEqual(cache.size, 8)
    cache.set("big", b(5)) // over the entry limit: not kept
    assert.isUndefined(cache.get("big"))
    assert.strictEqual(cache.size, 8)
  })
})
