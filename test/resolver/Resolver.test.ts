import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { ReleaseInfo } from "../../src/api/Models.js"
import { makeMemory, type MemoryRegistry, MetadataSource } from "../../src/resolver/MetadataSource.js"
import { ResolutionConflict, Resolver } from "../../src/resolver/Resolver.js"

const rel = (version: string, dependencies: Record<string, string> = {}, yank?: string) =>
  new ReleaseInfo({
    version,
    dependencies,
    yanked: yank !== undefined,
    yank_reason: yank ?? null,
    checksum: "0".repeat(64),
    size_bytes: 10,
    download_url: `http://x/${version}`,
    published_at: null,
    downloads: 0
  })

const primary = { name: "primary", url: "http://127.0.0.1:1" }
const secondary = { name: "secondary", url: "http://127.0.0.1:2" }

const run = <A, E>(
  registries: ReadonlyArray<MemoryRegistry>,
  pins: Record<string, string>,
  f: (r: Resolver) => Effect.Effect<A, E>
) => {
  const mem = makeMemory(registries, pins)
  const layer = Resolver.Default.pipe(Layer.provide(Layer.succeed(MetadataSource, mem)))
  return { mem, effect: Effect.flatMap(Resolver, f).pipe(Effect.provide(layer)) }
}

describe("Resolver", () => {
  it.effect("resolves from metadata and asks each registry once per name", () =>
    Effect.gen(function*() {
      const { effect, mem } = run(
        [
          {
            registry: primary,
            packages: {
              app: [rel("1.0.0", { lib: "^1.0.0", util: "^1.0.0" })],
              lib: [rel("1.0.0", { util: "^1.1.0" }), rel("1.2.0", { util: "^1.1.0" })],
              util: [rel("1.0.0"), rel("1.1.0"), rel("1.3.0", { lib: "^1.0.0" })]
            }
          }
        ],
        {},
        (r) => r.resolve({ dependencies: { app: "^1.0.0" } })
      )
      const res = yield* effect
      assert.deepStrictEqual(res.packages.map((p) => `${p.name}@${p.version}@${p.registry.name}`), [
        "app@1.0.0@primary",
        "lib@1.2.0@primary",
        "util@1.3.0@primary"
      ])
      assert.isTrue([...mem.calls.values()].every((n) => n === 1))
      assert.strictEqual(mem.calls.size, 3)
    }))

  it.effect("never merges versions across registries: the highest-priority registry that has a name wins", () =>
    Effect.gen(function*() {
      const { effect } = run(
        [
          { registry: primary, packages: { lib: [rel("1.0.0")] } },
          { registry: secondary, packages: { lib: [rel("9.0.0")], other: [rel("1.0.0")] } }
        ],
        {},
        (r) => r.resolve({ dependencies: { lib: "*", other: "^1.0.0" } })
      )
      const res = yield* effect
      assert.deepStrictEqual(res.packages.map((p) => `${p.name}@${p.version}@${p.registry.name}`), [
        "lib@1.0.0@primary",
        "other@1.0.0@secondary"
      ])
      // the secondary's lib 9.0.0 is not visible, so asking for it fails
      const { effect: e2 } = run(
        [
          { registry: primary, packages: { lib: [rel("1.0.0")] } },
          { registry: secondary, packages: { lib: [rel("9.0.0")] } }
        ],
        {},
        (r) => r.resolve({ dependencies: { lib: "^9.0.0" } })
      )
      const exit = yield* Effect.exit(e2)
      assert.isTrue(Exit.isFailure(exit))
    }))

  it.effect("a registry pin makes only that registry asked", () =>
    Effect.gen(function*() {
      const { effect, mem } = run(
        [
          { registry: primary, packages: { lib: [rel("1.0.0")] } },
          { registry: secondary, packages: { lib: [rel("9.0.0")] } }
        ],
        { lib: "secondary" },
        (r) => r.resolve({ dependencies: { lib: "*" } })
      )
      const res = yield* effect
      assert.strictEqual(res.packages[0]!.registry.name, "secondary")
      assert.strictEqual(res.packages[0]!.version, "9.0.0")
      assert.isFalse(mem.calls.has("primary\u0000lib"))
    }))

  it.effect("yanked versions are skipped, but used with a warning when pinned exactly or locked", () =>
    Effect.gen(function*() {
      const registries = [{
        registry: primary,
        packages: { lib: [rel("1.0.0"), rel("1.1.0", {}, "security hole CVE-1")] }
      }]
      const a = yield* run(registries, {}, (r) => r.resolve({ dependencies: { lib: "^1.0.0" } })).effect
      assert.strictEqual(a.packages[0]!.version, "1.0.0")
      assert.deepStrictEqual(a.warnings, [])
      const pinned = yield* run(registries, {}, (r) => r.resolve({ dependencies: { lib: "=1.1.0" } })).effect
      assert.strictEqual(pinned.packages[0]!.version, "1.1.0")
      assert.include(pinned.warnings[0], "lib 1.1.0 from registry 'primary' is yanked (security hole CVE-1)")
      assert.include(pinned.warnings[0], "pinned exactly")
      const locked = yield* run(
        registries,
        {},
        (r) => r.resolve({ dependencies: { lib: "^1.0.0" }, locked: new Map([["lib", "1.1.0"]]) })
      ).effect
      assert.strictEqual(locked.packages[0]!.version, "1.1.0")
      assert.include(locked.warnings[0], "locked in fm.lock.json")
    }))

  it.effect("a conflict fails with ResolutionConflict whose message explains it", () =>
    Effect.gen(function*() {
      const { effect } = run(
        [
          {
            registry: primary,
            packages: {
              a: [rel("1.0.0", { b: "^2.0.0" })],
              c: [rel("3.1.0", { b: "^1.0.0" })],
              b: [rel("1.0.0"), rel("2.0.0")]
            }
          }
        ],
        {},
        (r) => r.resolve({ dependencies: { a: "^1.0.0", c: "^3.0.0", ghost: "^1.0.0" }, rootName: "demo" })
      )
      const err = yield* Effect.flip(effect)
      assert.instanceOf(err, ResolutionConflict)
      assert.include(err.message, "cannot resolve the dependencies of demo")
      assert.include(err.message, "ghost was not found in any configured registry")
    }))
})
