/**
 * The project file (`manifest.json` or `flowmason.json`: `dependencies` name -> range, and
 * optional `registries` name -> registry pins) and the lockfile `fm.lock.json` (for each package:
 * version, registry name and URL, SHA-256, size, dependencies). Both are written atomically
 * (temp file in the same directory, fsync, rename) and keep keys they do not know.
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Data, Effect, Either } from "effect"
import * as path from "node:path"
import semver from "semver"
import { isPackageName, normalizeName } from "../domain/PackageName.js"
import { isVersion } from "../domain/Version.js"
import { tempBeside, writeFileAtomic } from "../shared/AtomicFile.js"
import { parseJsonText } from "../shared/JsonText.js"

/**
 * Project file names, in the order they are looked for.
 * @since 0.1.0
 */
export const PROJECT_FILES = ["manifest.json", "flowmason.json"] as const
/**
 * The lockfile's name.
 * @since 0.1.0
 */
export const LOCKFILE = "fm.lock.json"
/**
 * The lockfile format version written by this fm.
 * @since 0.1.0
 */
export const LOCKFILE_VERSION = 1

/**
 * A project file or lockfile that cannot be read, parsed or written. Names the file and, where
 * it helps, the field.
 * @since 0.1.0
 * @category errors
 */
export class ProjectError extends Data.TaggedError("ProjectError")<{
  readonly file: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.file}: ${this.reason}`
  }
}

/**
 * A project: its directory, its file, and what it asks for.
 * @since 0.1.0
 * @category models
 */
export interface Project {
  readonly dir: string
  readonly file: string
  /** The project's `name`, or the directory's name. */
  readonly name: string
  readonly dependencies: Readonly<Record<string, string>>
  /** name -> registry name pins. */
  readonly registries: Readonly<Record<string, string>>
  /** The whole JSON object (written back with unknown keys kept). */
  readonly raw: Readonly<Record<string, unknown>>
}

/**
 * One locked package.
 * @since 0.1.0
 * @category models
 */
export interface LockedPackage {
  readonly name: string
  readonly version: string
  readonly registry: { readonly name: string; readonly url: string }
  readonly sha256: string
  readonly size: number
  readonly dependencies: Readonly<Record<string, string>>
  /** The index of its publish entry in the registry's log (`log_index`; absent in older locks). */
  readonly logIndex?: number | undefined
}

/**
 * The lockfile: packages keyed by normalized name.
 * @since 0.1.0
 * @category models
 */
export interface Lockfile {
  readonly lockfileVersion: number
  readonly packages: ReadonlyMap<string, LockedPackage>
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const stringMap = (file: string, field: string, u: unknown): Effect.Effect<Record<string, string>, ProjectError> => {
  if (u === undefined || u === null) return Effect.succeed({})
  if (!isRecord(u)) {
    return Effect.fail(new ProjectError({ file, reason: `field '${field}' must be an object of name -> string` }))
  }
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(u)) {
    if (typeof v !== "string") {
      return Effect.fail(new ProjectError({ file, reason: `field '${field}.${k}' must be a string` }))
    }
    out[k] = v
  }
  return Effect.succeed(out)
}

const readJson = (fs: FileSystem.FileSystem, file: string) =>
  fs.readFileString(file).pipe(
    Effect.mapError((e) => new ProjectError({ file, reason: `cannot be read (${e.message})` })),
    Effect.flatMap((text) =>
      Either.mapLeft(parseJsonText(text), (why) => new ProjectError({ file, reason: `is not valid JSON (${why})` }))
    )
  )

/**
 * Writes a file atomically: a temp file in the same directory, fsync, rename.
 * @since 0.1.0
 */
export const writeAtomic = (file: string, text: string): Effect.Effect<void, ProjectError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    yield* writeFileAtomic(file, text, { temp: tempBeside(file) }).pipe(
      Effect.mapError((e) => new ProjectError({ file, reason: `cannot be written (${e.message})` }))
    )
  })

/**
 * Reads the project file in `dir` (`manifest.json`, else `flowmason.json`); `undefined` when
 * there is none. Checks every dependency name and range and every registry pin.
 * @since 0.1.0
 */
export const readProject = (dir: string): Effect.Effect<Project | undefined, ProjectError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    for (const name of PROJECT_FILES) {
      const file = path.join(path.resolve(dir), name)
      const exists = yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))
      if (!exists) continue
      const json = yield* readJson(fs, file)
      if (!isRecord(json)) return yield* new ProjectError({ file, reason: "must hold a JSON object" })
      const dependencies = yield* stringMap(file, "dependencies", json.dependencies)
      for (const [n, r] of Object.entries(dependencies)) {
        if (!isPackageName(n)) {
          return yield* new ProjectError({ file, reason: `'${n}' in 'dependencies' is not a valid package name` })
        }
        if (semver.validRange(r) === null) {
          return yield* new ProjectError({
            file,
            reason: `the range '${r}' of dependency '${n}' is not a semver range (such as ^1.2.0)`
          })
        }
      }
      const registries = yield* stringMap(file, "registries", json.registries)
      const projectName = typeof json.name === "string" && json.name !== ""
        ? json.name
        : path.basename(path.dirname(file))
      return { dir: path.dirname(file), file, name: projectName, dependencies, registries, raw: json }
    }
    return undefined
  })

/**
 * Writes the project file with new dependencies (sorted by name), keeping every other key.
 * @since 0.1.0
 */
export const writeProjectDependencies = (
  project: Project,
  dependencies: Readonly<Record<string, string>>
): Effect.Effect<Project, ProjectError, FileSystem.FileSystem> => {
  const sorted = Object.fromEntries(Object.entries(dependencies).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  const raw = { ...project.raw, dependencies: sorted }
  return Effect.as(writeAtomic(project.file, `${JSON.stringify(raw, null, 2)}\n`), {
    ...project,
    dependencies: sorted,
    raw
  })
}

/**
 * Reads `fm.lock.json` in `dir`; `undefined` when there is none.
 * @since 0.1.0
 */
export const readLock = (dir: string): Effect.Effect<Lockfile | undefined, ProjectError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = path.join(path.resolve(dir), LOCKFILE)
    const exists = yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))
    if (!exists) return undefined
    const json = yield* readJson(fs, file)
    const bad = (reason: string) =>
      new ProjectError({ file, reason: `${reason}; delete it and run \`fm install\` to make a new one` })
    if (!isRecord(json) || !isRecord(json.packages)) return yield* bad("has no 'packages' object")
    if (json.lockfileVersion !== LOCKFILE_VERSION) {
      return yield* bad(`has lockfileVersion ${String(json.lockfileVersion)}, expected ${LOCKFILE_VERSION}`)
    }
    const packages = new Map<string, LockedPackage>()
    for (const [name, p] of Object.entries(json.packages)) {
      if (!isPackageName(name)) return yield* bad(`'${name}' is not a valid package name`)
      if (!isRecord(p) || typeof p.version !== "string" || !isVersion(p.version)) {
        return yield* bad(`'${name}' has no valid version`)
      }
      const reg = p.registry
      if (!isRecord(reg) || typeof reg.name !== "string" || typeof reg.url !== "string") {
        return yield* bad(`'${name}' has no registry name and url`)
      }
      if (typeof p.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(p.sha256)) {
        return yield* bad(`'${name}' has no valid sha256`)
      }
      const dependencies = yield* stringMap(file, `packages.${name}.dependencies`, p.dependencies)
      const logIndex = p.log_index
      if (
        logIndex !== undefined && !(typeof logIndex === "number" && Number.isSafeInteger(logIndex) && logIndex >= 0)
      ) {
        return yield* bad(`'${name}' has a log_index that is not a non-negative integer`)
      }
      packages.set(normalizeName(name), {
        ...(logIndex === undefined ? {} : { logIndex }),
        name,
        version: p.version,
        registry: { name: reg.name, url: reg.url },
        sha256: p.sha256,
        size: typeof p.size === "number" ? p.size : 0,
        dependencies
      })
    }
    return { lockfileVersion: LOCKFILE_VERSION, packages }
  })

/**
 * The lockfile's JSON text: packages sorted by name, keys in a fixed order (stable diffs).
 * @since 0.1.0
 */
export const renderLock = (packages: Iterable<LockedPackage>): string => {
  const sorted = [...packages].sort((a, b) => (normalizeName(a.name) < normalizeName(b.name) ? -1 : 1))
  const body = {
    lockfileVersion: LOCKFILE_VERSION,
    packages: Object.fromEntries(sorted.map((p) => [p.name, {
      version: p.version,
      registry: { name: p.registry.name, url: p.registry.url },
      sha256: p.sha256,
      size: p.size,
      ...(p.logIndex === undefined ? {} : { log_index: p.logIndex }),
      dependencies: Object.fromEntries(Object.entries(p.dependencies).sort(([a], [b]) => (a < b ? -1 : 1)))
    }]))
  }
  return `${JSON.stringify(body, null, 2)}\n`
}

/**
 * Writes `fm.lock.json` in `dir` atomically.
 * @since 0.1.0
 */
export const writeLock = (
  dir: string,
  packages: Iterable<LockedPackage>
): Effect.Effect<void, ProjectError, FileSystem.FileSystem> =>
  writeAtomic(path.join(path.resolve(dir), LOCKFILE), renderLock(packages))

/**
 * Why the lock does not satisfy the project (empty when it does): a dependency missing or out of
 * range, a locked package's own dependency unmet, or a registry pin the lock does not follow.
 * @since 0.1.0
 */
export const lockProblems = (project: Project, lock: Lockfile): Array<string> => {
  const problems: Array<string> = []
  // a lock repeats a few ranges and versions over hundreds of edges: semver answers each pair once
  const answers = new Map<string, boolean>()
  const satisfies = (version: string, range: string): boolean => {
    const key = `${version}\u0000${range}`
    let ok = answers.get(key)
    if (ok === undefined) {
      ok = semver.satisfies(version, range)
      answers.set(key, ok)
    }
    return ok
  }
  const check = (who: string, deps: Readonly<Record<string, string>>) => {
    for (const [n, r] of Object.entries(deps)) {
      const p = lock.packages.get(normalizeName(n))
      if (p === undefined) problems.push(`${who} depends on ${n} ${r}, which is not in ${LOCKFILE}`)
      else if (!satisfies(p.version, r)) {
        problems.push(`${who} depends on ${n} ${r}, but ${LOCKFILE} has ${p.version}`)
      }
    }
  }
  check(path.basename(project.file), project.dependencies)
  for (const p of lock.packages.values()) check(`${p.name} ${p.version}`, p.dependencies)
  for (const [n, reg] of Object.entries(project.registries)) {
    const p = lock.packages.get(normalizeName(n))
    if (p !== undefined && p.registry.name !== reg) {
      problems.push(
        `${
          path.basename(project.file)
        } pins ${n} to registry '${reg}', but ${LOCKFILE} has it from '${p.registry.name}'`
      )
    }
  }
  return problems
}

/**
 * The locked packages reachable from the project's dependencies (a lock may hold leftovers).
 * @since 0.1.0
 */
export const reachable = (
  roots: Readonly<Record<string, string>>,
  packages: ReadonlyMap<string, LockedPackage>
): Array<LockedPackage> => {
  const out = new Map<string, LockedPackage>()
  const stack = Object.keys(roots).map(normalizeName)
  for (let k = stack.pop(); k !== undefined; k = stack.pop()) {
    if (out.has(k)) continue
    const p = packages.get(k)
    if (p === undefined) continue
    out.set(k, p)
    for (const d of Object.keys(p.dependencies)) stack.push(normalizeName(d))
  }
  return [...out.values()]
}
