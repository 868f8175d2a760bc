/**
 * Package names: the rules every registry, archive and path builder checks.
 * @since 0.1.0
 */
import { Schema } from "effect"
import { rememberAccepted } from "./RememberAccepted.js"

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/

/**
 * A validated package name: lowercase letters, digits, `-`, `_` and `.`, starting with a letter
 * or digit, at most 214 characters. `-`, `_` and `.` compare equal (see {@link normalizeName}).
 * @since 0.1.0
 * @category models
 */
export const PackageName = Schema.String.pipe(
  Schema.maxLength(214, { message: () => "a package name has at most 214 characters" }),
  Schema.pattern(NAME_PATTERN, {
    message: () => "a package name uses lowercase letters, digits, '-', '_' and '.', and starts with a letter or digit"
  }),
  Schema.brand("PackageName"),
  Schema.annotations({ identifier: "PackageName", description: "A FlowMason package name" })
)

/**
 * The branded type of a validated package name.
 * @since 0.1.0
 * @category models
 */
export type PackageName = typeof PackageName.Type

/**
 * The canonical form of a name: runs of `-`, `_` and `.` become one `-`, so `json_transform`,
 * `json.transform` and `json-transform` are one package.
 * @since 0.1.0
 */
export const normalizeName = (name: string): string => name.toLowerCase().replace(/[-_.]+/g, "-")

/**
 * Whether two names denote the same package.
 * @since 0.1.0
 */
export const sameName = (a: string, b: string): boolean => normalizeName(a) === normalizeName(b)

/**
 * Whether a string is a valid package name.
 * @since 0.1.0
 */
export const isPackageName: (u: unknown) => u is PackageName = rememberAccepted(Schema.is(PackageName))
