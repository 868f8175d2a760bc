import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { decodeManifest, ManifestError } from "../../src/domain/Manifest.js"
import { isPackageName, normalizeName, PackageName, sameName } from "../../src/domain/PackageName.js"
import { isVersion, maxSatisfying, pickLatest, sortVersions } from "../../src/domain/Version.js"

describe("PackageName", () => {
  it("accepts lowercase names with digits, '-', '_' and '.'", () => {
    for (const name of ["a", "json-transform", "json_transform", "x.y", "9lives", "a".repeat(214)]) {
      expect(isPackageName(name)).toBe(true)
    }
  })
  it("refuses uppercase, leading punctuation, slashes, spaces, empty and overlong names", () => {
    for (const name of ["", "A", "-a", "_a", ".a", "a/b", "a b", "../x", "a\\b", "a".repeat(215)]) {
      expect(isPackageName(name)).toBe(false)
    }
  })
  it("explains a refusal", () => {
    const result = Schema.decodeUnknownEither(PackageName)("Bad/Name")
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) expect(String(result.left.message)).toContain("lowercase letters")
  })
  it("treats '-', '_' and '.' as one", () => {
    expect(normalizeName("json_transform")).toBe("json-transform")
    expect(normalizeName("json.__transform")).toBe("json-transform")
    expect(sameName("json_transform", "json-transform")).toBe(true)
    expect(sameName("json-transform", "json-transformer")).toBe(false)
  })
})

describe("Version", () => {
  it("accepts strict semver only", () => {
    expect(isVersion("1.2.3")).toBe(true)
    expect(isVersion("2.0.0-rc.1")).toBe(true)
    for (const v of ["v1.2.3", "1.2", "01.2.3", "1.2.3 ", "latest", ""]) expect(isVersion(v)).toBe(false)
  })
  it("sorts by semver, not by text", () => {
    expect(sortVersions(["1.10.0", "1.9.0", "1.2.0", "1.10.0-beta.1"])).toEqual([
      "1.2.0",
      "1.9.0",
      "1.10.0-beta.1",
      "1.10.0"
    ])
  })
  it("picks the highest release as latest, a prerelease only when nothing else", () => {
    expect(pickLatest(["1.9.0", "1.10.0", "2.0.0-rc.1"])).toBe("1.10.0")
    expect(pickLatest(["2.0.0-rc.1", "2.0.0-rc.2"])).toBe("2.0.0-rc.2")
    expect(pickLatest([])).toBeUndefined()
  })
  it("resolves ranges", () => {
    expect(maxSatisfying(["1.0.0", "1.4.2", "2.0.0"], "^1.0.0")).toBe("1.4.2")
    expect(maxSatisfying(["1.0.0"], "^2.0.0")).toBeUndefined()
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
    expect(m.kind).toBe("project")
    expect(m.author?.name).toBe("Ada")
    expect(m.author?.email).toBe("ada@example.com")
    expect(m.components).toEqual(["summarizer", "filter"])
    expect(m.dependencies).toEqual({ "flowmason-http": "^1.0.0" })
    expect(m.tags).toEqual(["nlp"])
    expect(m.flowmasonVersion).toBe(">=0.5")
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
    expect(m.kind).toBe("component")
    expect(m.components).toEqual(["json_transform"])
    expect(m.pythonRequirements).toEqual(["numpy>=1.20.0"])
    expect(m.dependencies).toEqual({})
    expect(m.category).toBe("transformers")
    expect(m.tags).toEqual(["json"])
  })

  it("accepts both dialects together when they agree, and refuses when they do not", () => {
    const both = decodeManifest({
      project: project({ name: "x", version: "1.0.0", dependencies: { y: "^1" } }),
      component: component({ name: "x", version: "1.0.0", category: "c" })
    })
    expect(Either.isRight(both)).toBe(true)
    const clash = decodeManifest({
      project: project({ name: "x", version: "1.0.0" }),
      component: component({ name: "x", version: "1.0.1" })
    })
    expect(Either.isLeft(clash) && clash.left.field).toBe("version")
  })

  it("names the file and the field in errors", () => {
    const bad = decodeManifest({ project: project({ name: "x", version: "one" }) })
    expect(Either.isLeft(bad)).toBe(true)
    if (Either.isLeft(bad)) {
      expect(bad.left).toBeInstanceOf(ManifestError)
      expect(bad.left.file).toBe("manifest.json")
      expect(bad.left.field).toBe("version")
      expect(bad.left.message).toContain("manifest.json: field 'version'")
    }
    const badDep = decodeManifest({
      project: project({ name: "x", version: "1.0.0", dependencies: { y: "not a range!" } })
    })
    expect(Either.isLeft(badDep) && badDep.left.field).toBe("dependencies.y")
    const notJson = decodeManifest({ component: { file: "flowmason-package.json", text: "{ nope" } })
    expect(Either.isLeft(notJson) && notJson.left.reason).toContain("not valid JSON")
    const missing = decodeManifest({})
    expect(Either.isLeft(missing) && missing.left.reason).toContain("missing")
  })
})
