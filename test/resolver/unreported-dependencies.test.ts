/**
 * "Dependencies unknown" is not "no dependencies": a release whose registry did not report its
 * dependencies is resolved only once they have been read (from its archive), and only the
 * releases the solver picks are read.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { PackageInfo, ReleaseInfo } from "../../src/api/Models.js"
import {
  makeMemory,
  type PackageMetadata,
  ResolveError,
  type UnreportedDependencies
} from "../../src/resolver/MetadataSource.js"
import { resolveFrom } from "../../src/resolver/Resolver.js"

const registry = { name: "orig", url: "http://127.0.0.1:1" }
/** A release whose registry reported `deps` (`{}` included), or did not (`undefined`). */
const rel = (version: string, dependencies?: Record<string, string>) =>
  new ReleaseInfo({ version, checksum: "0".repeat(64), ...(dependencies === undefined ? {} : { dependencies }) })

/** A reader over "archives" (name@version -> manifest dependencies) that records what it read. */
const archives = (manifests: Record<string, Record<string, string>>) => {
  const read: Array<string> = []
  const reader: UnreportedDependencies = (meta: PackageMetadata, release: ReleaseInfo) =>
    Effect.suspend(() => {
      const key = `${meta.name}@${release.version}`
      read.push(key)
      const deps = manifests[key]
      return deps === undefined
        ? Effect.fail(
          new ResolveError({ package: key, registry: meta.registry.name, reason: "its archive could not be read" })
        )
        : Effect.succeed(deps)
    })
  return { read, reader }
}

const versions = (packages: ReadonlyArray<{ readonly name: string; readonly version: string }>) =>
  packages.map((p) => `${p.name}@${p.version}`)

describe("unreported dependencies", () => {
  it("the wire: a missing or null `dependencies` decodes to undefined (not reported), `{}` to none", () => {
    const decode = Schema.decodeUnknownSync(PackageInfo)
    assert.isUndefined(decode({ name: "a", version: "1.0.0" }).dependencies)
    assert.isUndefined(decode({ name: "a", version: "1.0.0", dependencies: null }).dependencies)
    assert.deepStrictEqual(decode({ name: "a", version: "1.0.0", dependencies: {} }).dependencies, {})
    assert.isUndefined(Schema.decodeUnknownSync(ReleaseInfo)({ version: "1.0.0" }).dependencies)
    // our server's answers always carry the field, `{}` when there are none
    assert.deepStrictEqual(Schema.encodeSync(ReleaseInfo)(rel("1.0.0", {})).dependencies, {})
  })

  it.effect("without a way to read them, a release with unreported dependencies fails the resolution", () =>
    Effect.gen(function*() {
      const source = makeMemory([{ registry, packages: { app: [rel("1.0.0")] } }])
      const e = yield* Effect.flip(resolveFrom(source, { dependencies: { app: "^1.0.0" } }))
      assert.strictEqual(e._tag, "ResolveError")
      assert.include(e.message, "app@1.0.0")
      assert.include(e.message, "does not report its dependencies")
    }))

  it.effect("a chain app -> mid -> base known only from the archives resolves completely", () =>
    Effect.gen(function*() {
      const { read, reader } = archives({
        "app@1.0.0": { mid: "^1.0.0" },
        "mid@1.0.0": { base: "^1.0.0" },
        "base@1.2.0": {}
      })
      const source = makeMemory(
        [{
          registry,
          packages: { app: [rel("1.0.0")], mid: [rel("1.0.0")], base: [rel("1.0.0"), rel("1.2.0")] }
        }],
        {},
        reader
      )
      const res = yield* resolveFrom(source, { dependencies: { app: "^1.0.0" } })
      assert.deepStrictEqual(versions(res.packages), ["app@1.0.0", "base@1.2.0", "mid@1.0.0"])
      assert.deepStrictEqual(res.packages.find((p) => p.name === "mid")?.dependencies, { base: "^1.0.0" })
      // only the releases picked were read: never base 1.0.0
      assert.deepStrictEqual(read.sort(), ["app@1.0.0", "base@1.2.0", "mid@1.0.0"])
      // mid and base were asked for only once the archives named them
      assert.deepStrictEqual([...source.calls.keys()].sort(), ["orig\u0000app", "orig\u0000base", "orig\u0000mid"])
    }))

  it.effect("reported `{}` is none and is never read; learned dependencies can rule a release out", () =>
    Effect.gen(function*() {
      // app 2.0.0's archive needs base ^9 (there is none): app 1.0.0, which reports none, is taken
      const { read, reader } = archives({ "app@2.0.0": { base: "^9.0.0" } })
      const source = makeMemory(
        [{ registry, packages: { app: [rel("1.0.0", {}), rel("2.0.0")], base: [rel("1.0.0", {})] } }],
        {},
        reader
      )
      const res = yield* resolveFrom(source, { dependencies: { app: "*" } })
      assert.deepStrictEqual(versions(res.packages), ["app@1.0.0"])
      assert.deepStrictEqual(read, ["app@2.0.0"])
    }))

  it.effect("an archive that cannot be read fails the resolution, naming the package and the registry", () =>
    Effect.gen(function*() {
      const { reader } = archives({ "app@1.0.0": { mid: "^1.0.0" } })
      const source = makeMemory([{ registry, packages: { app: [rel("1.0.0")], mid: [rel("1.0.0")] } }], {}, reader)
      const e = yield* Effect.flip(resolveFrom(source, { dependencies: { app: "^1.0.0" } }))
      assert.strictEqual(e._tag, "ResolveError")
      assert.include(e.message, "mid@1.0.0")
      assert.include(e.message, "orig")
    }))

  it.effect("a dependency named only by an archive and found nowhere is a conflict naming it", () =>
    Effect.gen(function*() {
      const { reader } = archives({ "app@1.0.0": { ghost: "^1.0.0" } })
      const source = makeMemory([{ registry, packages: { app: [rel("1.0.0")] } }], {}, reader)
      const e = yield* Effect.flip(resolveFrom(source, { dependencies: { app: "^1.0.0" } }))
      assert.strictEqual(e._tag, "ResolutionConflict")
      assert.include(e.message, "ghost")
    }))
})
