/**
 * The errors of the registry configuration: the file cannot be read or written, no such registry,
 * a registry already exists, a registry is not valid. `RegistryConfig` re-exports them.
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * `registries.json` cannot be read, parsed or written. Names the file and, for syntax errors,
 * the line and column (1-based). The file is never replaced because of this error.
 * @since 0.1.0
 * @category errors
 */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly file: string
  readonly reason: string
  readonly line?: number
  readonly column?: number
}> {
  /** `<file>:<line>:<column>: <reason>`, plus what to do. */
  override get message(): string {
    const at = this.line !== undefined ? `:${this.line}${this.column !== undefined ? `:${this.column}` : ""}` : ""
    return `${this.file}${at}: ${this.reason}`
  }
  /** What the user can do about it. */
  get hint(): string {
    return `fix or move ${this.file} by hand; fm will not overwrite it while it is unreadable`
  }
}

/**
 * No registry of that name is configured.
 * @since 0.1.0
 * @category errors
 */
export class UnknownRegistry extends Data.TaggedError("UnknownRegistry")<{
  readonly name: string
  readonly known: ReadonlyArray<string>
}> {
  /** Names the registry and lists the known ones. */
  override get message(): string {
    const known = this.known.length === 0 ? "none are configured" : `known: ${this.known.join(", ")}`
    const what = this.name === "(default)"
      ? "no enabled registry to use as the default"
      : `no registry named '${this.name}'`
    return `${what} (${known}); see \`fm registry list --all\`, or add one with \`fm registry add NAME URL\``
  }
}

/**
 * A registry of that name already exists.
 * @since 0.1.0
 * @category errors
 */
export class RegistryExists extends Data.TaggedError("RegistryExists")<{
  readonly name: string
  readonly url: string
}> {
  /** Names the registry and its URL. */
  override get message(): string {
    return `a registry named '${this.name}' already exists (${this.url})`
  }
  /** What the user can do about it. */
  get hint(): string {
    return `change it with \`fm registry set ${this.name} ...\`, or pick another name`
  }
}

/**
 * A registry name or URL that cannot be saved.
 * @since 0.1.0
 * @category errors
 */
export class InvalidRegistry extends Data.TaggedError("InvalidRegistry")<{
  readonly name: string
  readonly reason: string
}> {
  /** Names the registry and the problem. */
  override get message(): string {
    return `registry '${this.name}': ${this.reason}`
  }
}
