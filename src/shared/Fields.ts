/**
 * Reading a field of a value of unknown shape (a library's error, a descriptor) without a cast.
 * @since 0.1.0
 */
import { Predicate } from "effect"

/**
 * `u[key]` when `u` is an object that has `key` (own or inherited, getters included), else undefined.
 * @since 0.1.0
 */
export const fieldOf = (u: unknown, key: string): unknown =>
  typeof u === "object" && u !== null && Predicate.hasProperty(u, key) ? u[key] : undefined
