/**
 * A cache of a string type guard's positive answers.
 * @since 0.1.0
 */

/**
 * The guard `is`, remembering the strings it accepted (at most `max`; when full it starts over):
 * a project install asks about the same names and versions several times each (lock, cache key,
 * archive check), and each `Schema.is` runs the whole schema again. Only `is`'s own answers are
 * kept, so the result is always the same as `is`'s.
 * @since 0.1.0
 */
export const rememberAccepted = <A extends string>(
  is: (u: unknown) => u is A,
  max = 4096
): (u: unknown) => u is A => {
  let accepted = new Set<string>()
  return (u: unknown): u is A => {
    if (typeof u !== "string") return is(u)
    if (accepted.has(u)) return true
    if (!is(u)) return false
    if (accepted.size >= max) accepted = new Set()
    accepted.add(u)
    return true
  }
}
