import { assert, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { decodeManifest, Manifest, ManifestError } from "../../src/domain/Manifest.js"
import { isPackageName, normalizeName, PackageName, sameName } from "../../src/domain/PackageName.js"
import { isVersion, maxSatisfying, pickLatest, sortVersions } from "../../src/domain/Version.js"

describe("PackageName", () => {
  it("accepts lowercase names with digits, '-', '_' and '.'", () => {
    for (const name of ["a", "json-transform", "json_transform", "x.y", "9lives", "a".repeat(214)]) {
      assert.isTrue(isPackageName(name))
    }
  })
  it("refuses uppercase, leading punctuation, slashes, spaces, empty and overlong names", () => {
    for (const name of ["", "A", "-a", "_a", ".a", "a/b", "a b", "../x", "a\\b", "a".repeat(215)]) {
      assert.isFalse(isPackageName(name))
    }
  })
  it("explains a refusal", () => {
    const result = Schema.decodeUnknownEither(PackageName)("Bad/Name")
    assert.isTrue(Either.isLeft(result))
    if (Either.isLeft(result)) assert.include(String(result.left.message), "lowercase letters")
  })
  it("treats '-', '_' and '.' as one", () => {
    assert.strictEqual(normalizeName("json_transform"), "json-transform")
    assert.strictEqual(normalizeName("json.__transform"), "json-transform")
    assert.isTrue(sameName("json_transform", "json-transform"))
    assert.isFalse(sameName("json-transform", "json-transformer"))
  })
})

describe("Version", () => {
  it("accepts strict semver only", () => {
    assert.isTrue(isVersion("1.2.3"))
    assert.isTrue(isVersion("2.0.0-rc.1"))
    for (const v of ["v1.2.3", "1.2", "01.2.3", "1.2.3 ", "latest", ""]) assert.isFalse(isVersion(v))
  })
  it("sorts by semver, not by text", () => {
    assert.deepStrictEqual(sortVersions(["1.10.0", "1.9.0", "1.2.0", "1.10.0-beta.1"]), [
      "1.2.0",
      "1.9.0",
      "1.10.0-beta.1",
      "1.10.0"
    ])
  })
  it("picks the highest release as latest, a prerelease only when nothing else", () => {
    assert.strictEqual(pickLatest(["1.9.0", "1.10.0", "2.0.0-rc.1"]), "1.10.0")
    assert.strictEqual(pickLatest(["2.0.0-rc.1", "2.0.0-rc.2"]), "2.0.0-rc.2")
    assert.isUndefined(pickLatest([]))
  })
  it("resolves ranges", () => {
    assert.strictEqual(maxSatisfying(["1.0.0", "1.4.2", "2.0.0"], "^1.0.0"), "1.4.2")
    assert.isUndefined(maxSatisfying(["1.0.0"], "^2.0.0"))
  })
})

describe("Manifest", () => {
  const project = (o: unknown) => ({ file: "manifest.json", text: JSON.stringify(o) })
  const component = (o: unknown) => ({ file: "flowmason-package.json", text: JSON.stringify(o) })

  it("decodes the project dialect", () => {
    const m = Either.getOrThrow(decodeManifest({
      project: project({
        name: "my-pipeline",
        version: "1.2.0",
        description: "Pipelines",
        author: "Ada <ada@example.com>",
        keywords: ["nlp"],
        dependencies: { "flowmason-http": "^1.0.0" },
        components: ["components/summarizer.py", "components/filter.py"],
        flowmason: ">=0.5"
      })
    }))
    assert.strictEqual(m.kind, "project")
    assert.strictEqual(m.author?.name, "Ada")
    assert.strictEqual(m.author?.email, "ada@example.com")
    assert.deepStrictEqual(m.components, ["summarizer", "filter"])
    assert.deepStrictEqual(m.dependencies, { "flowmason-http": "^1.0.0" })
    assert.deepStrictEqual(m.tags, ["nlp"])
    assert.strictEqual(m.flowmasonVersion, ">=0.5")
  })

  it("decodes the component dialect with an object author and python requirements", () => {
    const m = Either.getOrThrow(decodeManifest({
      component: component({
        name: "json_transform",
        version: "0.3.1",
        type: "operator",
        author: { name: "Bob", email: "bob@example.com" },
        category: "transformers",
        tags: ["json", ""],
        dependencies: ["numpy>=1.20.0"],
        flowmason_version: ">=1.0.0"
      })
    }))
    assert.strictEqual(m.kind, "component")
    assert.deepStrictEqual(m.components, ["json_transform"])
    assert.deepStrictEqual(m.pythonRequirements, ["numpy>=1.20.0"])
    assert.deepStrictEqual(m.dependencies, {})
    assert.strictEqual(m.category, "transformers")
    assert.deepStrictEqual(m.tags, ["json"])
  })

  it("accepts both dialects together when they agree, and refuses when they do not", () => {
    const both = decodeManifest({
      project: project({ name: "x", version: "1.0.0", dependencies: { y: "^1" } }),
      component: component({ name: "x", version: "1.0.0", category: "c" })
    })
    assert.isTrue(Either.isRight(both))
    const clash = decodeManifest({
      project: project({ name: "x", version: "1.0.0" }),
      component: component({ name: "x", version: "1.0.1" })
    })
    assert.strictEqual(Either.isLeft(clash) && clash.left.field, "version")
  })

  it("builds manifests the Manifest schema accepts as they are (the class is not asked to check them again)", () => {
    const decoded = [
      decodeManifest({
        project: project({
          name: "my-pipeline",
          version: "1.2.0",
          author: "Ada <ada@example.com>",
          keywords: ["nlp", "nlp"],
          dependencies: { "flowmason-http": "^1.0.0" },
          components: ["components/summarizer.py"],
          flowmason: ">=0.5",
          license: null
        })
      }),
      decodeManifest({
        component: component({ name: "json_transform", version: "0.3.1", author: { email: "b@example.com" } })
      }),
      decodeManifest({
        project: project({ name: "x", version: "1.0.0", description: null, dependencies: null }),
        component: component({ name: "x", version: "1.0.0", category: "c", tags: ["t"], components: [] })
      })
    ]
    for (const d of decoded) {
      const m = Either.getOrThrow(d)
      const checked = Schema.validateSync(Manifest)(m)
      assert.deepStrictEqual({ ...checked }, { ...m })
    }
  })

  it("names the file and the field in errors", () => {
    const bad = decodeManifest({ project: project({ name: "x", version: "one" }) })
    assert.isTrue(Either.isLeft(bad))
    if (Either.isLeft(bad)) {
      assert.instanceOf(bad.left, ManifestError)
      assert.strictEqual(bad.left.file, "manifest.json")
      assert.strictEqual(bad.left.field, "version")
      assert.include(bad.left.message, "manifest.json: field 'version'")
    }
    const badDep = decodeManifest({
      project: project({ name: "x", version: "1.0.0", dependencies: { y: "not a range!" } })
    })
    assert.strictEqual(Either.isLeft(badDep) && badDep.left.field, "dependencies.y")
    const notJson = decodeManifest({ component: { file: "flowmason-package.json", text: "{ nope" } })
    assert.include(Either.isLeft(notJson) && notJson.left.reason, "not valid JSON")
    const missing = decodeManifest({})
    assert.include(Either.isLeft(missing) && missing.left.reason, "missing")
  })
})
