/**
 * Versions: strict semver, parsed with `semver`.
 * @since 0.1.0
 */
import { Schema } from "effect"
import semver from "semver"
import { rememberAccepted } from "./RememberAccepted.js"

/**
 * A strict semantic version such as `1.2.3` or `2.0.0-rc.1` (no leading `v`, no loose forms).
 * @since 0.1.0
 * @category models
 */
export const Version = Schema.String.pipe(
  Schema.filter((s) => semver.valid(s) === s || `'${s}' is not a strict semver version such as 1.2.3`),
  Schema.brand("Version"),
  Schema.annotations({ identifier: "Version", description: "A strict semver version" })
)

/**
 * The branded type of a strict semver version.
 * @since 0.1.0
 * @category models
 */
export type Version = typeof Version.Type

/**
 * A semver range such as `^1.2.0`, `>=1 <3` or `1.2.3`.
 * @since 0.1.0
 * @category models
 */
export const VersionRange = Schema.String.pipe(
  Schema.filter((s) => semver.validRange(s) !== null || `'${s}' is not a semver range such as ^1.2.0`),
  Schema.annotations({ identifier: "VersionRange" })
)

/**
 * Whether a string is a valid strict semver version.
 * @since 0.1.0
 */
export const isVersion: (u: unknown) => u is Version = rememberAccepted(Schema.is(Version))

/**
 * Semver ordering of two versions (negative, zero, positive).
 * @since 0.1.0
 */
export const compareVersions = (a: string, b: string): number => semver.compare(a, b)

/**
 * Sorts versions ascending by semver; invalid strings sort first, by text.
 * @since 0.1.0
 */
export const sortVersions = <A extends string>(versions: ReadonlyArray<A>): Array<A> =>
  [...versions].sort((a, b) => {
    const va = semver.valid(a) !== null
    const vb = semver.valid(b) !== null
    if (va && vb) return semver.compare(a, b)
    if (va !== vb) return va ? 1 : -1
    return a < b ? -1 : a > b ? 1 : 0
  })

/**
 * The latest version by the registry rule: the highest release among `candidates`, or the
 * highest prerelease when there is no release. `undefined` when empty.
 * @since 0.1.0
 */
export const pickLatest = <A extends string>(candidates: ReadonlyArray<A>): A | undefined => {
  const valid = candidates.filter((v) => semver.valid(v) !== null)
  const releases = valid.filter((v) => semver.prerelease(v) === null)
  const pool = releases.length > 0 ? releases : valid
  return sortVersions(pool).at(-1)
}

/**
 * The highest version satisfying `range` (prereleases only when the range names one).
 * @since 0.1.0
 */
export const maxSatisfying = <A extends string>(versions: ReadonlyArray<A>, range: string): A | undefined => {
  const hit = semver.maxSatisfying([...versions], range)
  return hit === null ? undefined : versions.find((v) => v === hit)
}
