/**
 * The resolver service: fetches the metadata of every package reachable from the root
 * concurrently (bounded, each name asked once per run), then runs the pure PubGrub core.
 * Yanked versions are left out unless pinned exactly or locked (then used with a warning).
 * A release whose registry did not report its dependencies is never part of a resolution until
 * they have been read (see {@link resolveFrom}).
 * @since 0.1.0
 */
import { type Context, Data, Effect } from "effect"
import { ReleaseInfo } from "../api/Models.js"
import { normalizeName } from "../domain/PackageName.js"
import { MetadataSource, type PackageMetadata, type RegistryRef, ResolveError } from "./MetadataSource.js"
import { exactPin, type PackageSource, solve } from "./Pubgrub.js"

/**
 * One package of a resolution, with everything needed to download and verify it.
 * @since 0.1.0
 * @category models
 */
export interface ResolvedPackage {
  /** The name as the registry spells it. */
  readonly name: string
  readonly version: string
  readonly registry: RegistryRef
  /** Lowercase hex SHA-256 of the archive. */
  readonly checksum: string
  readonly sizeBytes: number
  readonly downloadUrl: string
  readonly dependencies: Readonly<Record<string, string>>
  readonly yanked: boolean
  readonly yankReason: string | null
  /** The index of its publish entry in the registry's log, when the registry has a log. */
  readonly logIndex?: number | undefined
}

/**
 * The outcome of a resolution: the packages (sorted by name) and warnings to show the user.
 * @since 0.1.0
 * @category models
 */
export interface Resolution {
  readonly packages: ReadonlyArray<ResolvedPackage>
  readonly warnings: ReadonlyArray<string>
  /** Names fetched, decisions and conflicts (for diagnostics and benchmarks). */
  readonly stats: { readonly fetched: number; readonly decisions: number; readonly conflicts: number }
}

/**
 * What to resolve.
 * @since 0.1.0
 * @category models
 */
export interface ResolveRequest {
  /** The root's dependencies: name -> semver range. */
  readonly dependencies: Readonly<Record<string, string>>
  /** How the root is called in explanations (default `the project`). */
  readonly rootName?: string | undefined
  /** Locked versions (name -> version): preferred when allowed, and usable even when yanked. */
  readonly locked?: ReadonlyMap<string, string> | undefined
  /** Metadata fetch concurrency (default {@link METADATA_CONCURRENCY}). */
  readonly concurrency?: number | undefined
  /** Called as each name's metadata arrives (e.g. to start downloads before the solver runs). */
  readonly onMetadata?: OnMetadata | undefined
}

/**
 * A hook called once per name, as soon as its metadata has arrived (while the rest is fetched).
 * @since 0.1.0
 * @category models
 */
export type OnMetadata = (name: string, metadata: PackageMetadata) => Effect.Effect<void>

/**
 * How many metadata requests are in flight by default: the graph is discovered level by level,
 * so a wide window keeps the network busy (uv uses 50).
 * @since 0.1.0
 */
export const METADATA_CONCURRENCY = 32

/**
 * No set of versions satisfies the root: `lines` explain why in plain English.
 * @since 0.1.0
 * @category errors
 */
export class ResolutionConflict extends Data.TaggedError("ResolutionConflict")<{
  readonly root: string
  readonly lines: ReadonlyArray<string>
}> {
  override get message(): string {
    return `cannot resolve the dependencies of ${this.root}:\n${this.lines.map((l) => `  ${l}`).join("\n")}`
  }
}

const yankWarning = (p: ResolvedPackage, why: string): string =>
  `${p.name} ${p.version} from registry '${p.registry.name}' is yanked${
    p.yankReason !== null && p.yankReason !== "" ? ` (${p.yankReason})` : ""
  }; installing it because it is ${why}`

/**
 * Turns fetched metadata into the synchronous source of the PubGrub core and runs it.
 * Exported for benchmarks and tests that already hold the metadata.
 * @since 0.1.0
 */
export const resolveWith = (
  metadata: ReadonlyMap<string, PackageMetadata | undefined>,
  request: ResolveRequest
): { readonly _tag: "Right"; readonly resolution: Resolution } | {
  readonly _tag: "Left"
  readonly error: ResolutionConflict
} => {
  const rootName = request.rootName ?? "the project"
  const locked = new Map<string, string>()
  for (const [n, v] of request.locked ?? []) locked.set(normalizeName(n), v)
  // exact pins anywhere in the graph make a yanked version usable (only by that pin)
  const pins = new Map<string, Set<string>>()
  const notePins = (deps: Readonly<Record<string, string>>) => {
    for (const [n, r] of Object.entries(deps)) {
      const v = exactPin(r)
      if (v === undefined) continue
      const k = normalizeName(n)
      const s = pins.get(k) ?? new Set<string>()
      s.add(v)
      pins.set(k, s)
    }
  }
  notePins(request.dependencies)
  const index = new Map<string, { meta: PackageMetadata; byVersion: Map<string, ReleaseInfo>; pinOnly: Set<string> }>()
  for (const [k, meta] of metadata) {
    if (meta === undefined) continue
    const byVersion = new Map<string, ReleaseInfo>()
    const pinOnly = new Set<string>()
    for (const r of meta.releases) {
      byVersion.set(r.version, r)
      notePins(r.dependencies ?? {})
      if (r.yanked && locked.get(k) !== r.version) pinOnly.add(r.version)
    }
    index.set(k, { meta, byVersion, pinOnly })
  }
  const source: PackageSource = {
    versions: (name) => {
      const e = index.get(name)
      if (e === undefined) return []
      const pinned = pins.get(name)
      const out: Array<string> = []
      for (const r of e.meta.releases) {
        if (!r.yanked || locked.get(name) === r.version || pinned?.has(r.version) === true) out.push(r.version)
      }
      return out
    },
    // unreported dependencies count as none here, tentatively: resolveFrom reads those of every
    // release picked and solves again, so no resolution it returns rests on this
    dependencies: (name, version) => index.get(name)?.byVersion.get(version)?.dependencies ?? {},
    pinOnly: (name) => index.get(name)?.pinOnly
  }
  const result = solve(request.dependencies, source, { rootName, preferred: locked })
  if (result._tag === "NoSolution") {
    const missing = [...metadata].filter(([, m]) => m === undefined).map(([k]) => k)
    const hints = missing
      .filter((k) => result.lines.some((l) => l.includes(`versions of ${k} are available`)))
      .map((k) => `(${k} was not found in any configured registry)`)
    return { _tag: "Left", error: new ResolutionConflict({ root: rootName, lines: [...result.lines, ...hints] }) }
  }
  const packages: Array<ResolvedPackage> = []
  const warnings: Array<string> = []
  for (const [k, version] of result.solution) {
    const e = index.get(k)
    const r = e?.byVersion.get(version)
    // the solver only picks versions it was given from this index
    if (e === undefined || r === undefined) throw new Error(`resolver invariant: ${k}@${version} is not in the index`)
    const p: ResolvedPackage = {
      name: e.meta.name,
      version,
      registry: e.meta.registry,
      checksum: r.checksum,
      sizeBytes: r.size_bytes,
      downloadUrl: r.download_url,
      dependencies: r.dependencies ?? {},
      yanked: r.yanked,
      yankReason: r.yank_reason,
      ...(r.log_index === undefined ? {} : { logIndex: r.log_index })
    }
    packages.push(p)
    if (r.yanked) warnings.push(yankWarning(p, locked.get(k) === version ? "locked in fm.lock.json" : "pinned exactly"))
    for (const s of e.meta.shadows ?? []) {
      warnings.push(
        `${p.name} is also published by registry '${s.name}' (${s.url}); using '${p.registry.name}', which has higher priority. ` +
          `If '${s.name}' is the one you mean, pin it in the project file: "registries": { "${p.name}": "${s.name}" }`
      )
    }
  }
  packages.sort((a, b) => (normalizeName(a.name) < normalizeName(b.name) ? -1 : 1))
  return {
    _tag: "Right",
    resolution: {
      packages,
      warnings,
      stats: { fetched: metadata.size, decisions: result.decisions, conflicts: result.conflicts }
    }
  }
}

/**
 * Gathers the metadata of every name reachable from `roots` (through any release's
 * dependencies), asking the source once per name with at most `concurrency` requests at a time.
 * @since 0.1.0
 */
export const fetchAllFrom = (
  source: Context.Tag.Service<MetadataSource>,
  roots: Iterable<string>,
  concurrency: number = METADATA_CONCURRENCY,
  onMetadata?: OnMetadata | undefined
): Effect.Effect<ReadonlyMap<string, PackageMetadata | undefined>, ResolveError> =>
  Effect.gen(function*() {
    const sem = yield* Effect.makeSemaphore(Math.max(1, concurrency))
    const seen = new Map<string, PackageMetadata | undefined>()
    const visiting = new Set<string>()
    const visit = (name: string): Effect.Effect<void, ResolveError> =>
      Effect.suspend(() => {
        const key = normalizeName(name)
        if (visiting.has(key)) return Effect.void
        visiting.add(key)
        return sem.withPermits(1)(source.releases(name)).pipe(
          Effect.flatMap((meta) => {
            seen.set(key, meta)
            if (meta === undefined) return Effect.void
            const hook = onMetadata === undefined ? Effect.void : onMetadata(name, meta)
            const next = new Map<string, string>()
            for (const r of meta.releases) {
              for (const d of Object.keys(r.dependencies ?? {})) {
                const k = normalizeName(d)
                if (!visiting.has(k) && !next.has(k)) next.set(k, d)
              }
            }
            return Effect.zipRight(
              hook,
              Effect.forEach(next.values(), visit, { concurrency: "unbounded", discard: true })
            )
          })
        )
      })
    yield* Effect.forEach(roots, visit, { concurrency: "unbounded", discard: true })
    return seen
  })

/**
 * The most solving rounds of {@link resolveFrom} (each reads the unreported dependencies of at
 * least one release): a bound that only a registry adding releases without end could reach.
 * @since 0.1.0
 */
export const MAX_DISCOVERY_ROUNDS = 1000

/**
 * Fetches (see {@link fetchAllFrom}) and solves (see {@link resolveWith}) against one source.
 * When the solution picks releases whose registry did not report their dependencies, they are read
 * (`source.dependencies`, e.g. from the archives' manifests), their new names are fetched, and the
 * solver runs again, until every release of the solution has known dependencies: no resolution is
 * returned with a release whose dependencies were not seen (without `source.dependencies`, such a
 * release fails the resolution with a {@link ResolveError}).
 * @since 0.1.0
 */
export const resolveFrom = (
  source: Context.Tag.Service<MetadataSource>,
  request: ResolveRequest
): Effect.Effect<Resolution, ResolveError | ResolutionConflict> =>
  Effect.gen(function*() {
    const concurrency = request.concurrency ?? METADATA_CONCURRENCY
    const metadata = new Map(
      yield* fetchAllFrom(source, Object.keys(request.dependencies), concurrency, request.onMetadata)
    )
    for (let round = 0;; round++) {
      const out = resolveWith(metadata, request)
      if (out._tag === "Left") return yield* out.error
      const unreported = out.resolution.packages.flatMap((p) => {
        const key = normalizeName(p.name)
        const meta = metadata.get(key)
        const release = meta?.releases.find((r) => r.version === p.version)
        return meta !== undefined && release !== undefined && release.dependencies === undefined
          ? [{ key, meta, release }]
          : []
      })
      if (unreported.length === 0) return out.resolution
      const read = source.dependencies
      const first = unreported[0]
      if (read === undefined || round >= MAX_DISCOVERY_ROUNDS) {
        return yield* new ResolveError({
          package: first === undefined ? "" : `${first.meta.name}@${first.release.version}`,
          registry: first?.meta.registry.name ?? "",
          reason: read === undefined
            ? "the registry does not report its dependencies, and they cannot be read from its archive here"
            : `still unreported dependencies after ${MAX_DISCOVERY_ROUNDS} rounds of reading archives`
        })
      }
      const learned = yield* Effect.forEach(
        unreported,
        (u) => Effect.map(read(u.meta, u.release), (dependencies) => ({ ...u, dependencies })),
        { concurrency }
      )
      const before = new Set(metadata.keys())
      const fresh = new Map<string, string>()
      for (const u of learned) {
        const releases = u.meta.releases.map((r) =>
          r === u.release ? new ReleaseInfo({ ...r, dependencies: u.dependencies }) : r
        )
        metadata.set(u.key, { ...u.meta, releases })
        for (const d of Object.keys(u.dependencies)) if (!before.has(normalizeName(d))) fresh.set(normalizeName(d), d)
      }
      if (fresh.size === 0) continue
      // the names first seen in those manifests (and what they reach); known names are not asked again
      const known: Context.Tag.Service<MetadataSource> = {
        ...source,
        releases: (name) => {
          const key = normalizeName(name)
          return before.has(key) ? Effect.succeed(metadata.get(key)) : source.releases(name)
        }
      }
      const hook = request.onMetadata
      const more = yield* fetchAllFrom(
        known,
        fresh.values(),
        concurrency,
        hook === undefined
          ? undefined
          : (name, meta) => (before.has(normalizeName(name)) ? Effect.void : hook(name, meta))
      )
      for (const [k, m] of more) if (!metadata.has(k)) metadata.set(k, m)
    }
  })

/**
 * The resolver over the {@link MetadataSource} in context: `fetchAll` gathers metadata for every
 * reachable name (each asked once, bounded concurrency), `resolve` fetches and solves.
 * @since 0.1.0
 * @category services
 */
export class Resolver extends Effect.Service<Resolver>()("fm/Resolver", {
  effect: Effect.gen(function*() {
    const source = yield* MetadataSource
    const fetchAll = Effect.fn("Resolver.fetchAll")(
      function*(roots: Iterable<string>, concurrency: number = METADATA_CONCURRENCY) {
        return yield* fetchAllFrom(source, roots, concurrency)
      }
    )
    const resolve = Effect.fn("Resolver.resolve")(function*(request: ResolveRequest) {
      return yield* resolveFrom(source, request)
    })
    return { fetchAll, resolve } as const
  })
}) {}
