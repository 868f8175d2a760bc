/**
 * The package manifest: one model decoded from either FlowMason dialect
 * (`manifest.json` for projects, `flowmason-package.json` for components) or both.
 * @since 0.1.0
 */
import { Data, Effect, Either, ParseResult, Schema } from "effect"
import { parseJsonText } from "../shared/JsonText.js"
import { PackageName } from "./PackageName.js"
import { Version, VersionRange } from "./Version.js"

/**
 * File name of the project dialect.
 * @since 0.1.0
 */
export const PROJECT_MANIFEST = "manifest.json"
/**
 * File name of the component dialect.
 * @since 0.1.0
 */
export const COMPONENT_MANIFEST = "flowmason-package.json"

/**
 * A package author.
 * @since 0.1.0
 * @category models
 */
export class Author extends Schema.Class<Author>("Author")({
  name: Schema.String,
  email: Schema.optional(Schema.String)
}) {}

/**
 * The unified manifest of a `.fmpkg`.
 * @since 0.1.0
 * @category models
 */
export class Manifest extends Schema.Class<Manifest>("Manifest")({
  name: PackageName,
  version: Version,
  description: Schema.String,
  author: Schema.optional(Author),
  license: Schema.optional(Schema.String),
  category: Schema.optional(Schema.String),
  tags: Schema.Array(Schema.String),
  components: Schema.Array(Schema.String),
  /** Registry dependencies: package name to semver range. */
  dependencies: Schema.Record({ key: Schema.String, value: Schema.String }),
  /** Python requirement strings such as `numpy>=1.20.0`. */
  pythonRequirements: Schema.Array(Schema.String),
  flowmasonVersion: Schema.optional(Schema.String),
  homepage: Schema.optional(Schema.String),
  repository: Schema.optional(Schema.String),
  kind: Schema.Literal("project", "component")
}) {}

/**
 * A manifest that is missing, not JSON, or fails the schema. Names the file and the field.
 * @since 0.1.0
 * @category errors
 */
export class ManifestError extends Data.TaggedError("ManifestError")<{
  readonly file: string
  readonly field: string
  readonly reason: string
}> {
  override get message(): string {
    return this.field === ""
      ? `${this.file}: ${this.reason}`
      : `${this.file}: field '${this.field}': ${this.reason}`
  }
}

const AuthorIn = Schema.Union(
  Schema.String,
  Schema.Struct({ name: Schema.optional(Schema.String), email: Schema.optional(Schema.String) })
)
const Str = Schema.optional(Schema.NullOr(Schema.String))
const StrList = Schema.optional(Schema.NullOr(Schema.Array(Schema.String)))

/**
 * The project dialect, `manifest.json` (what FlowMason's `fm pack` writes).
 * @since 0.1.0
 * @category models
 */
export const ProjectManifestJson = Schema.Struct({
  name: PackageName,
  version: Version,
  description: Str,
  author: Schema.optional(Schema.NullOr(AuthorIn)),
  license: Str,
  repository: Str,
  homepage: Str,
  keywords: StrList,
  tags: StrList,
  category: Str,
  flowmason: Str,
  dependencies: Schema.optional(Schema.NullOr(Schema.Record({ key: PackageName, value: VersionRange }))),
  components: StrList,
  pipelines: StrList
})

/**
 * The component dialect, `flowmason-package.json` (what FlowMason's component builder writes).
 * @since 0.1.0
 * @category models
 */
export const ComponentManifestJson = Schema.Struct({
  name: PackageName,
  version: Version,
  description: Str,
  type: Str,
  author: Schema.optional(Schema.NullOr(AuthorIn)),
  license: Str,
  category: Str,
  tags: StrList,
  dependencies: StrList,
  flowmason_version: Str,
  homepage: Str,
  repository: Str,
  components: StrList
})

/**
 * A manifest file as read from an archive or directory: its path and its text.
 * @since 0.1.0
 */
export interface ManifestFile {
  readonly file: string
  readonly text: string
}

const firstIssue = (file: string, error: ParseResult.ParseError): ManifestError => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const issue = issues[0]
  return new ManifestError({
    file,
    field: issue === undefined ? "" : issue.path.map(String).join("."),
    reason: issue === undefined ? "does not match the manifest schema" : issue.message
  })
}

const parseJson = (m: ManifestFile): Either.Either<unknown, ManifestError> =>
  Either.mapLeft(
    parseJsonText(m.text),
    (why) => new ManifestError({ file: m.file, field: "", reason: `is not valid JSON (${why})` })
  )

const decodeWith = <A, I>(schema: Schema.Schema<A, I>, m: ManifestFile): Either.Either<A, ManifestError> =>
  Either.flatMap(
    parseJson(m),
    (json) =>
      Schema.decodeUnknownEither(schema, { errors: "first" })(json).pipe(Either.mapLeft((e) => firstIssue(m.file, e)))
  )

const toAuthor = (a: typeof AuthorIn.Type | null | undefined): Author | undefined => {
  if (a === null || a === undefined) return undefined
  if (typeof a === "string") {
    const match = /^\s*([^<]*?)\s*<([^>]+)>\s*$/.exec(a)
    if (match !== null) return new Author({ name: match[1] ?? "", email: match[2] ?? "" })
    return a.trim() === "" ? undefined : new Author({ name: a.trim() })
  }
  if (a.name === undefined && a.email === undefined) return undefined
  return new Author(a.email === undefined ? { name: a.name ?? "" } : { name: a.name ?? "", email: a.email })
}

const componentName = (path: string): string => {
  const base = path.split(/[\\/]/).at(-1) ?? path
  return base.replace(/\.[A-Za-z0-9]+$/, "")
}

const opt = <A>(a: A | null | undefined): A | undefined => (a === null ? undefined : a)
const nonEmpty = (xs: ReadonlyArray<string>): Array<string> => xs.filter((x) => x.trim() !== "")
/** A copy of `o` without the keys whose value is undefined (absent, not present-but-undefined). */
const compact = <T extends object>(o: T): T => {
  const out = { ...o }
  for (const key of Object.keys(out)) if (Reflect.get(out, key) === undefined) Reflect.deleteProperty(out, key)
  return out
}

/**
 * Decodes the manifest of a package from its `manifest.json`, its `flowmason-package.json`, or
 * both (they must then agree on name and version). Fails with a {@link ManifestError} naming the
 * file and the field.
 * @since 0.1.0
 */
export const decodeManifest = (files: {
  readonly project?: ManifestFile | undefined
  readonly component?: ManifestFile | undefined
}): Either.Either<Manifest, ManifestError> => {
  const { component, project } = files
  if (project === undefined && component === undefined) {
    return Either.left(
      new ManifestError({
        file: PROJECT_MANIFEST,
        field: "",
        reason: `missing: a package needs ${PROJECT_MANIFEST} or ${COMPONENT_MANIFEST} at its root`
      })
    )
  }
  const p = project === undefined ? Either.right(undefined) : decodeWith(ProjectManifestJson, project)
  if (Either.isLeft(p)) return Either.left(p.left)
  const c = component === undefined ? Either.right(undefined) : decodeWith(ComponentManifestJson, component)
  if (Either.isLeft(c)) return Either.left(c.left)
  const pj = p.right
  const cj = c.right
  if (pj !== undefined && cj !== undefined) {
    if (pj.name !== cj.name) {
      return Either.left(
        new ManifestError({
          file: COMPONENT_MANIFEST,
          field: "name",
          reason: `'${cj.name}' does not match '${pj.name}' in ${PROJECT_MANIFEST}`
        })
      )
    }
    if (pj.version !== cj.version) {
      return Either.left(
        new ManifestError({
          file: COMPONENT_MANIFEST,
          field: "version",
          reason: `'${cj.version}' does not match '${pj.version}' in ${PROJECT_MANIFEST}`
        })
      )
    }
  }
  const head = pj ?? cj
  if (head === undefined) {
    return Either.left(new ManifestError({ file: PROJECT_MANIFEST, field: "", reason: "missing" }))
  }
  const components = pj?.components != null
    ? nonEmpty(pj.components).map(componentName)
    : cj?.components != null
    ? nonEmpty(cj.components)
    : cj !== undefined
    ? [cj.name]
    : []
  const fields = compact({
    name: head.name,
    version: head.version,
    description: opt(pj?.description) ?? opt(cj?.description) ?? "",
    author: toAuthor(pj?.author ?? cj?.author),
    license: opt(pj?.license) ?? opt(cj?.license),
    category: opt(cj?.category) ?? opt(pj?.category),
    tags: nonEmpty([...(cj?.tags ?? []), ...(pj?.tags ?? []), ...(pj?.keywords ?? [])]).filter(
      (t, i, all) => all.indexOf(t) === i
    ),
    components: [...new Set(components)],
    dependencies: { ...(pj?.dependencies ?? {}) },
    pythonRequirements: nonEmpty(cj?.dependencies ?? []),
    flowmasonVersion: opt(pj?.flowmason) ?? opt(cj?.flowmason_version),
    homepage: opt(pj?.homepage) ?? opt(cj?.homepage),
    repository: opt(pj?.repository) ?? opt(cj?.repository),
    kind: cj !== undefined ? "component" as const : "project" as const
  })
  // every field comes from a dialect schema's decode above (or is built here from its strings), so
  // the class is not asked to validate them again: that second pass was most of a decode's cost
  // (about 0.7 ms per manifest in a fresh process, once per archive an install checks)
  return Either.right(new Manifest(fields, { disableValidation: true }))
}

/**
 * Effectful form of {@link decodeManifest}.
 * @since 0.1.0
 */
export const decodeManifestEffect = (files: {
  readonly project?: ManifestFile | undefined
  readonly component?: ManifestFile | undefined
}): Effect.Effect<Manifest, ManifestError> =>
  Either.match(decodeManifest(files), {
    onLeft: (e) => Effect.fail(e),
    onRight: (m) => Effect.succeed(m)
  })
