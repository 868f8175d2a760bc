import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import semver from "semver"
import { type PackageSource, solve } from "../../src/resolver/Pubgrub.js"

type Registry = Record<string, Record<string, Record<string, string>>>

const sourceOf = (reg: Registry): PackageSource => ({
  versions: (n) => Object.keys(reg[n] ?? {}),
  dependencies: (n, v) => reg[n]?.[v] ?? {}
})

const satisfiesAll = (root: Record<string, string>, reg: Registry, sel: ReadonlyMap<string, string>): boolean => {
  const ok = (deps: Record<string, string>) =>
    Object.entries(deps).every(([d, r]) => {
      const v = sel.get(d)
      return v !== undefined && semver.satisfies(v, r)
    })
  if (!ok(root)) return false
  for (const [n, v] of sel) {
    const deps = reg[n]?.[v]
    if (deps === undefined || !ok(deps)) return false
  }
  return true
}

const bruteForce = (root: Record<string, string>, reg: Registry): boolean => {
  const names = Object.keys(reg)
  const sel = new Map<string, string>()
  const go = (i: number): boolean => {
    if (i === names.length) return satisfiesAll(root, reg, sel)
    const n = names[i]!
    if (go(i + 1)) return true
    for (const v of Object.keys(reg[n]!)) {
      sel.set(n, v)
      if (go(i + 1)) return true
      sel.delete(n)
    }
    return false
  }
  return go(0)
}

describe("Pubgrub.solve", () => {
  it("solves a diamond with the newest compatible versions", () => {
    const reg: Registry = {
      a: { "1.0.0": { c: "^1.0.0" }, "1.1.0": { c: "^1.1.0" } },
      b: { "1.0.0": { c: "^1.0.0" }, "2.0.0": { c: "^2.0.0" } },
      c: { "1.0.0": {}, "1.1.0": {}, "1.2.0": {}, "2.0.0": {} }
    }
    const r = solve({ a: "^1.0.0", b: "^1.0.0" }, sourceOf(reg))
    assert.strictEqual(r._tag, "Solved")
    if (r._tag === "Solved") {
      assert.deepStrictEqual(Object.fromEntries(r.solution), { a: "1.1.0", b: "1.0.0", c: "1.2.0" })
    }
  })

  it("backtracks away from the newest version when it leads to a conflict", () => {
    const reg: Registry = {
      foo: { "1.0.0": {}, "1.1.0": { bar: "^2.0.0" } },
      bar: { "1.0.0": {}, "1.1.0": {}, "2.0.0": { baz: "^3.0.0" } },
      baz: { "1.0.0": {}, "2.0.0": {} }
    }
    const r = solve({ foo: "^1.0.0", bar: "^1.0.0 || ^2.0.0" }, sourceOf(reg))
    assert.strictEqual(r._tag, "Solved")
    if (r._tag === "Solved") {
      assert.deepStrictEqual(Object.fromEntries(r.solution), { foo: "1.0.0", bar: "1.1.0" })
      assert.isAbove(r.conflicts, 0)
    }
  })

  it("backtracks through a chain of conflicting ranges (learned incompatibility)", () => {
    // the newest a needs b 2 which needs c 2, but root pins c ^1: must fall back to a 1.0.0
    const reg: Registry = {
      a: { "1.0.0": { b: "^1.0.0" }, "2.0.0": { b: "^2.0.0" }, "3.0.0": { b: "^2.0.0" } },
      b: { "1.0.0": { c: "^1.0.0" }, "2.0.0": { c: "^2.0.0" }, "2.1.0": { c: "^2.0.0" } },
      c: { "1.0.0": {}, "2.0.0": {} }
    }
    const r = solve({ a: "*", c: "^1.0.0" }, sourceOf(reg))
    assert.deepStrictEqual(r._tag === "Solved" && Object.fromEntries(r.solution), {
      a: "1.0.0",
      b: "1.0.0",
      c: "1.0.0"
    })
  })

  it("explains a conflict in plain lines naming packages and ranges", () => {
    const reg: Registry = {
      a: { "1.0.0": { b: "^2.0.0" } },
      c: { "3.1.0": { b: "^1.0.0" } },
      b: { "1.0.0": {}, "2.0.0": {} }
    }
    const r = solve({ a: "^1.0.0", c: "^3.0.0" }, sourceOf(reg), { rootName: "my-project" })
    assert.strictEqual(r._tag, "NoSolution")
    if (r._tag === "NoSolution") {
      assert.deepStrictEqual(r.lines, [
        "a 1.0.0 depends on b ^2.0.0; c 3.1.0 depends on b ^1.0.0; so a 1.0.0 and c 3.1.0 cannot be installed together",
        "my-project depends on a ^1.0.0; so c 3.1.0 cannot be installed",
        "my-project depends on c ^3.0.0; so my-project's dependencies cannot be satisfied"
      ])
    }
  })

  it("collapses version sets into ranges in explanations", () => {
    const reg: Registry = {
      a: { "1.0.0": { b: "^2.0.0" }, "1.1.0": { b: "^2.0.0" }, "1.2.0": { b: "^2.0.0" } },
      b: { "1.0.0": {}, "1.5.0": {} }
    }
    const r = solve({ a: "^1.0.0" }, sourceOf(reg))
    assert.strictEqual(
      r._tag === "NoSolution" && r.message,
      "every version of a depends on b ^2.0.0, but no version of b matches ^2.0.0; the project depends on a ^1.0.0; so the project's dependencies cannot be satisfied"
    )
  })

  it("explains a missing package and a missing version", () => {
    const reg: Registry = { a: { "1.0.0": {}, "2.0.0": {} } }
    const missing = solve({ ghost: "^1.0.0" }, sourceOf(reg))
    assert.include(missing._tag === "NoSolution" && missing.message, "no versions of ghost are available")
    const noVersion = solve({ a: "^3.0.0" }, sourceOf(reg))
    assert.include(noVersion._tag === "NoSolution" && noVersion.message, "no version of a matches ^3.0.0")
  })

  it("uses prereleases only when a range asks for them", () => {
    const reg: Registry = { a: { "1.0.0": {}, "1.1.0-beta.1": {}, "2.0.0-rc.1": {} } }
    const plain = solve({ a: "^1.0.0" }, sourceOf(reg))
    assert.strictEqual(plain._tag === "Solved" && plain.solution.get("a"), "1.0.0")
    const star = solve({ a: "*" }, sourceOf(reg))
    assert.strictEqual(star._tag === "Solved" && star.solution.get("a"), "1.0.0")
    const asked = solve({ a: "^1.1.0-beta.0" }, sourceOf(reg))
    assert.strictEqual(asked._tag === "Solved" && asked.solution.get("a"), "1.1.0-beta.1")
    const rc = solve({ a: ">=2.0.0-rc.0" }, sourceOf(reg))
    assert.strictEqual(rc._tag === "Solved" && rc.solution.get("a"), "2.0.0-rc.1")
  })

  it("leaves out versions the source drops (yanked) and fails clearly when only those match", () => {
    const reg: Registry = { a: { "1.0.0": {}, "1.1.0": {} } }
    const noYanked: PackageSource = { ...sourceOf(reg), versions: () => ["1.0.0"] }
    const r = solve({ a: "^1.0.0" }, noYanked)
    assert.strictEqual(r._tag === "Solved" && r.solution.get("a"), "1.0.0")
    const pinned = solve({ a: "1.1.0" }, noYanked)
    assert.include(pinned._tag === "NoSolution" && pinned.message, "no version of a matches 1.1.0")
  })

  it("compares names through normalizeName and prefers locked versions", () => {
    const reg: Registry = { "json-tool": { "1.0.0": {}, "1.5.0": {} }, app: { "1.0.0": { "json.tool": "^1.0.0" } } }
    const r = solve({ app: "*", JSON_tool: "^1.0.0" }, sourceOf(reg), { preferred: new Map([["json-tool", "1.0.0"]]) })
    assert.deepStrictEqual(r._tag === "Solved" && Object.fromEntries(r.solution), {
      app: "1.0.0",
      "json-tool": "1.0.0"
    })
  })

  const names = ["a", "b", "c", "d"]
  const allVersions = ["1.0.0", "1.1.0", "2.0.0", "2.1.0-beta.1"]
  const ranges = ["^1.0.0", "^2.0.0", ">=1.1.0", "1.0.0", "*", "^3.0.0", "^2.1.0-beta.0", "<2.0.0"]
  const depsArb = (self: string) =>
    fc.dictionary(fc.constantFrom(...names.filter((n) => n !== self)), fc.constantFrom(...ranges), { maxKeys: 3 })
  const registryArb: fc.Arbitrary<Registry> = fc.record(
    Object.fromEntries(
      names.map((n) => [
        n,
        fc.subarray(allVersions).chain((vs) =>
          fc.tuple(...vs.map(() => depsArb(n))).map((ds) => Object.fromEntries(vs.map((v, i) => [v, ds[i]!])))
        )
      ])
    ) as Record<string, fc.Arbitrary<Record<string, Record<string, string>>>>
  )
  const rootArb = fc.dictionary(fc.constantFrom(...names), fc.constantFrom(...ranges), { minKeys: 1, maxKeys: 3 })

  it("property: every solution satisfies every constraint; 'no solution' agrees with brute force", () => {
    fc.assert(
      fc.property(registryArb, rootArb, (reg, root) => {
        const r = solve(root, sourceOf(reg))
        if (r._tag === "Solved") {
          assert.isTrue(satisfiesAll(root, reg, r.solution))
        } else {
          assert.isFalse(bruteForce(root, reg))
          assert.isAbove(r.lines.length, 0)
          assert.match(r.message, /cannot be satisfied/)
        }
      }),
      { numRuns: 3000 }
    )
  })
})
