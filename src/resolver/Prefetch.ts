/**
 * Downloads that overlap resolution: while metadata arrives, a greedy guess of what the solver
 * will pick (for each name, the locked version when the first range that asked for it allows it,
 * else the highest non-yanked version in that range; then the same for that version's
 * dependencies) names the archives worth fetching before the solver has run. A guess is only a
 * download hint: the solver decides, and a wrong guess costs one archive in the cache.
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { ReleaseInfo } from "../api/Models.js"
import { normalizeName } from "../domain/PackageName.js"
import { maxSatisfying } from "../domain/Version.js"
import type { PackageMetadata } from "./MetadataSource.js"
import type { OnMetadata } from "./Resolver.js"

/**
 * Builds the metadata hook that calls `start` once for every guessed (metadata, release).
 * @since 0.1.0
 */
export const guessDownloads = (
  roots: Readonly<Record<string, string>>,
  locked: ReadonlyMap<string, string>,
  start: (metadata: PackageMetadata, release: ReleaseInfo) => Effect.Effect<void>
): OnMetadata => {
  const wanted = new Map<string, string>() // normalized name -> the first range that asked for it
  const known = new Map<string, PackageMetadata>()
  const guessed = new Set<string>()
  for (const [n, r] of Object.entries(roots)) wanted.set(normalizeName(n), r)

  const consider = (key: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      const meta = known.get(key)
      const range = wanted.get(key)
      if (meta === undefined || range === undefined || guessed.has(key)) return Effect.void
      guessed.add(key)
      const usable = meta.releases.filter((r) => !r.yanked)
      const lockedVersion = locked.get(key)
      const fromLock = lockedVersion === undefined ? undefined : usable.find((r) => r.version === lockedVersion)
      const version = fromLock !== undefined && maxSatisfying([fromLock.version], range) !== undefined
        ? fromLock.version
        : maxSatisfying(usable.map((r) => r.version), range)
      const release = version === undefined ? undefined : usable.find((r) => r.version === version)
      if (release === undefined) return Effect.void
      const next: Array<string> = []
      for (const [d, r] of Object.entries(release.dependencies ?? {})) { // a guess: unreported ones are learned later
        const k = normalizeName(d)
        if (!wanted.has(k)) {
          wanted.set(k, r)
          next.push(k)
        }
      }
      return Effect.zipRight(start(meta, release), Effect.forEach(next, consider, { discard: true }))
    })

  return (name, metadata) =>
    Effect.suspend(() => {
      const key = normalizeName(name)
      known.set(key, metadata)
      return consider(key)
    })
}
