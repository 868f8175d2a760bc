import type { Layer } from "effect"
import { Effect, Exit, ManagedRuntime, Option } from "effect"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import * as PgPackageStore from "../../src/server/pg/PgPackageStore.js"
import { PackageStore } from "../../src/server/storage/PackageStore.js"
import { eventually, pgEnabled, usePgDatabase } from "../helpers/pg.js"
import { newRelease } from "../helpers/releases.js"

const enabled = await pgEnabled()

const release = newRelease

describe("tsQuery", () => {
  it("makes every word a prefix term, dropping punctuation", () => {
    assert.strictEqual(PgPackageStore.tsQuery("JSON-transform"), "json:* & transform:*")
    assert.strictEqual(PgPackageStore.tsQuery("  "), "")
    assert.strictEqual(PgPackageStore.tsQuery("a'b & c|d"), "a:* & b:* & c:* & d:*")
  })
})

describe.skipIf(!enabled)("PgPackageStore on PostgreSQL", () => {
  const { db } = usePgDatabase({ beforeAll, afterAll }, "store")
  // Two runtimes = two replicas with separate pools on one database.
  let replicas: Array<ManagedRuntime.ManagedRuntime<PackageStore, unknown>> = []
  const on = <A, E>(i: number, f: (s: PackageStore["Type"]) => Effect.Effect<A, E>) =>
    replicas[i]!.runPromise(Effect.flatMap(PackageStore, f))

  beforeAll(async () => {
    const make = (): Layer.Layer<PackageStore, unknown> => PgPackageStore.layer({ url: db().url, maxConnections: 8 })
    replicas = [ManagedRuntime.make(make()), ManagedRuntime.make(make())]
    await Promise.all(replicas.map((r) => r.runPromise(Effect.void)))
  })
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.dispose()))
  })

  it("publishes, reads back from the other replica, and counts downloads exactly", async () => {
    const row = await on(
      0,
      (s) =>
        s.publish(
          release("json_transform", "1.0.0", {
            description: "Transforms JSON",
            tags: ["json", "data"],
            dependencies: { "flowmason-http": "^1.0.0" }
          })
        )
    )
    assert.strictEqual(row.nameNorm, "json-transform")
    const pkg = await on(1, (s) => s.getPackage("json-transform"))
    assert.deepStrictEqual(Option.getOrThrow(pkg).latest.dependencies, { "flowmason-http": "^1.0.0" })
    assert.deepStrictEqual(Option.getOrThrow(pkg).latest.tags, ["json", "data"])
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => on(i % 2, (s) => s.recordDownload("json-transform", "1.0.0")))
    )
    // each replica writes its batch of counts within 50 ms; its own reads see its own at once
    const after = await eventually(
      async () => Option.getOrThrow(await on(1, (s) => s.getRelease("json-transform", "1.0.0"))),
      (r) => r.downloads === 40
    )
    assert.strictEqual(after.downloads, 40)
    const counted = await eventually(
      async () => Option.getOrThrow(await on(0, (s) => s.getPackage("json-transform"))),
      (p) => p.downloads === 40
    )
    assert.strictEqual(counted.downloads, 40)
    const stats = await on(0, (s) => s.stats)
    assert.strictEqual(stats.totalDownloads, 40)
    assert.strictEqual(stats.packages, 1)
  })

  it("lets exactly one of 30 concurrent publishes of one name@version win", async () => {
    const exits = await Promise.all(
      Array.from(
        { length: 30 },
        (_, i) =>
          replicas[i % 2]!.runPromiseExit(
            Effect.flatMap(PackageStore, (s) =>
              s.publish(release("race-pkg", "1.0.0", { checksum: String(i % 10).repeat(64) })))
          )
      )
    )
    const ok = exits.filter(Exit.isSuccess)
    assert.strictEqual(ok.length, 1)
    for (const e of exits.filter(Exit.isFailure)) {
      assert.include(JSON.stringify(e.cause), "VersionExists")
    }
    assert.deepStrictEqual(Option.getOrThrow(await on(1, (s) => s.getPackage("race-pkg"))).versions, ["1.0.0"])
  })

  it("keeps latest/versions right when replicas publish versions of one package at once, and yanks are seen everywhere", async () => {
    const versions = ["1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0", "0.9.0", "3.0.0-rc.1", "2.2.0"]
    await Promise.all(versions.map((v, i) => on(i % 2, (s) => s.publish(release("multi", v)))))
    const pkg = Option.getOrThrow(await on(0, (s) => s.getPackage("multi")))
    assert.deepStrictEqual(pkg.versions, ["0.9.0", "1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0", "2.2.0", "3.0.0-rc.1"])
    assert.strictEqual(pkg.latest.version, "2.2.0")
    await on(0, (s) => s.yank("multi", "2.2.0", "broken"))
    assert.strictEqual(Option.getOrThrow(await on(1, (s) => s.getPackage("multi"))).latest.version, "2.1.0")
    await on(1, (s) => s.delete("multi", "2.1.0"))
    assert.strictEqual(Option.getOrThrow(await on(0, (s) => s.getPackage("multi"))).latest.version, "2.0.0")
    const again = await replicas[0]!.runPromiseExit(
      Effect.flatMap(PackageStore, (s) => s.publish(release("multi", "2.1.0")))
    )
    assert.include(JSON.stringify(Exit.isFailure(again) ? again.cause : ""), "\"deleted\":true")
  })

  it("sees a token revoked on one replica as revoked on the other at once", async () => {
    await on(
      0,
      (s) => s.createToken({ name: "ci", prefix: "fmr_ab", hash: "f".repeat(64), scope: "publish", expiresAt: null })
    )
    assert.isNull(Option.getOrThrow(await on(1, (s) => s.findTokenByHash("f".repeat(64)))).revokedAt)
    await on(1, (s) => s.revokeToken("ci"))
    assert.isNotNull(Option.getOrThrow(await on(0, (s) => s.findTokenByHash("f".repeat(64)))).revokedAt)
  })

  it("lets replicas starting together register the same FM_ADMIN_TOKEN (same hash) without failing", async () => {
    const rows = await Promise.all(
      [0, 1, 0, 1].map((i) =>
        on(i, (s) =>
          s.createToken({
            name: "admin (FM_ADMIN_TOKEN)",
            prefix: "fmr_ad",
            hash: "a".repeat(64),
            scope: "admin",
            expiresAt: null
          }))
      )
    )
    assert.strictEqual(new Set(rows.map((r) => r.id)).size, 1)
  })

  it("searches with full text and trigram on names: exact name first, then relevance, then downloads", async () => {
    await on(
      0,
      (s) =>
        s.publish(
          release("csv-tools", "1.0.0", { description: "Read and write CSV files", tags: ["csv"], category: "io" })
        )
    )
    await on(0, (s) => s.publish(release("csv", "1.0.0", { description: "Minimal reader", category: "io" })))
    await on(
      0,
      (s) => s.publish(release("table-kit", "1.0.0", { description: "Tables from csv and json", category: "data" }))
    )
    await on(
      0,
      (s) =>
        s.publish(
          release("summarizer", "1.0.0", {
            description: "Summarizes text with an LLM",
            components: ["Summarize"],
            category: "ai"
          })
        )
    )
    await on(
      0,
      (s) =>
        s.publish(
          release("text-summary", "1.0.0", { description: "Short texts", tags: ["summarizer"], category: "ai" })
        )
    )
    const names = async (q: string, category?: string, page = 1, pageSize = 20) => {
      const r = await on(1, (s) => s.search({ q, category, page, pageSize }))
      return { names: r.rows.map((p) => p.name), total: r.total }
    }
    assert.deepStrictEqual(await names("csv"), { names: ["csv", "csv-tools", "table-kit"], total: 3 })
    assert.deepStrictEqual(await names("csv", "data"), { names: ["table-kit"], total: 1 })
    assert.deepStrictEqual(await names("csv", undefined, 2, 2), { names: ["table-kit"], total: 3 })
    // prefix matching
    assert.deepStrictEqual((await names("summ")).names, ["summarizer", "text-summary"])
    // a typo in a name still finds it (trigram), no full-text hit needed
    assert.strictEqual((await names("sumarizer")).names[0], "summarizer")
    assert.deepStrictEqual(await names("zzzqqq"), { names: [], total: 0 })
    // downloads break ties between equally relevant packages
    await on(0, (s) => s.publish(release("alpha-util", "1.0.0", { description: "parser helpers" })))
    await on(0, (s) => s.publish(release("beta-util", "1.0.0", { description: "parser helpers" })))
    await on(0, (s) => s.recordDownload("beta-util", "1.0.0"))
    // the count reaches replica 1 once replica 0 has written its batch (within 50 ms)
    const ranked = await eventually(() => names("parser"), (r) => r.names[0] === "beta-util")
    assert.deepStrictEqual(ranked.names, ["beta-util", "alpha-util"])
    // empty q lists newest first
    assert.deepStrictEqual((await names("")).names.slice(0, 2), ["beta-util", "alpha-util"])
  })

  it("publishes, yanks and deletes one package at once on two replicas without a deadlock", async () => {
    await on(0, (s) => s.publish(release("lock-order", "1.0.0")))
    await on(0, (s) => s.publish(release("lock-order", "1.0.1")))
    // a publish locks the package row and then the log; a yank or delete once took them the other way
    const writes = Array.from({ length: 24 }, (_, i) => {
      const replica = replicas[i % 2]!
      const write: Effect.Effect<unknown, unknown, PackageStore> = i % 3 === 0
        ? Effect.flatMap(PackageStore, (s) => s.publish(release("lock-order", `2.0.${i}`)))
        : i % 3 === 1
        ? Effect.flatMap(PackageStore, (s) => s.yank("lock-order", "1.0.0", `round ${i}`))
        : Effect.flatMap(PackageStore, (s) => s.unyank("lock-order", "1.0.0"))
      return replica.runPromiseExit(write)
    })
    const exits = await Promise.all(writes)
    const failed = exits.filter(Exit.isFailure).map((e) => String(Exit.isFailure(e) ? e.cause : ""))
    assert.deepStrictEqual(failed, [])
    await on(1, (s) => s.delete("lock-order", "1.0.1"))
    const versions = (await on(0, (s) => s.listReleases("lock-order"))).map((r) => r.version)
    assert.strictEqual(versions.length, 9)
  })
})
