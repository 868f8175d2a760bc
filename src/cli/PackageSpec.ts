/**
 * `NAME`, `NAME@VERSION` and `NAME@RANGE` on the command line (`fm install text-utils@^1.2`,
 * `fm info text-utils@1.0.0`), and the `--version` flag that says the same thing.
 * @since 0.1.0
 */
import { Option, Schema } from "effect"
import { VersionRange } from "../domain/Version.js"
import { UsageError } from "./Output.js"

/**
 * Splits `name@version` (a leading `@` is part of no valid name, so the last `@` separates).
 * @since 0.1.0
 */
export const splitSpec = (spec: string): { readonly name: string; readonly version: string | undefined } => {
  const at = spec.lastIndexOf("@")
  return at > 0 ? { name: spec.slice(0, at), version: spec.slice(at + 1) } : { name: spec, version: undefined }
}

const isRange = Schema.is(VersionRange)

/**
 * The package and version a command names: `NAME[@VERSION|RANGE]`, or `NAME` with `--version`
 * (never both); a version or range that semver cannot read is a usage error naming it.
 * @since 0.1.0
 */
export const packageSpec = (
  command: string,
  spec: string,
  versionFlag: Option.Option<string> = Option.none()
): { readonly name: string; readonly version: string | undefined } | UsageError => {
  const { name, version } = splitSpec(spec)
  if (version !== undefined && Option.isSome(versionFlag)) {
    return new UsageError({
      reason: `'${spec}' names a version and --version ${versionFlag.value} names another`,
      hint: `give one: fm ${command} ${name}@${version} or fm ${command} ${name} --version ${versionFlag.value}`
    })
  }
  const wanted = version ?? Option.getOrUndefined(versionFlag)
  if (wanted === "") {
    return new UsageError({
      reason: `'${spec}' has no version after '@'`,
      hint: `for example: fm ${command} ${name}@1.2.0`
    })
  }
  if (wanted !== undefined && !isRange(wanted)) {
    return new UsageError({
      reason: `'${wanted}' is not a version or a version range`,
      hint: `use a version (1.2.0) or a range (^1.2, ~1.2.3, >=1.0 <2): fm ${command} ${name}@^1.2`
    })
  }
  return { name, version: wanted }
}
