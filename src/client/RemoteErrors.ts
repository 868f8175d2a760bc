/**
 * The typed errors of a call to one registry, each naming the package and the registry.
 * `RemoteRegistry` re-exports them.
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * No such package (or no such version, or no version matching a range) in a registry.
 * Moves on to the next registry during a fallback.
 * @since 0.1.0
 * @category errors
 */
export class PackageNotFound extends Data.TaggedError("PackageNotFound")<{
  readonly name: string
  readonly version?: string | undefined
  readonly registry: string
}> {
  /** Names the package, the version asked for and the registry. */
  override get message(): string {
    const v = this.version === undefined ? "" : `@${this.version}`
    return `package ${this.name}${v} not found in registry ${this.registry}`
  }
}

/**
 * A registry cannot be reached or keeps failing: connection refused, timeout, or a 5xx answer
 * after the retries. Moves on to the next registry during a fallback.
 * @since 0.1.0
 * @category errors
 */
export class RegistryUnavailable extends Data.TaggedError("RegistryUnavailable")<{
  readonly registry: string
  readonly url: string
  readonly reason: string
  /** The package being fetched, when there is one. */
  readonly package?: string | undefined
}> {
  /** Names the registry, its URL, the package (when known) and the reason. */
  override get message(): string {
    const pkg = this.package === undefined ? "" : ` while fetching ${this.package}`
    return `registry ${this.registry} (${this.url}) is unavailable${pkg}: ${this.reason}`
  }
}

/**
 * A registry refused our credentials (401) or their scope (403). Never hidden by trying the
 * next registry.
 * @since 0.1.0
 * @category errors
 */
export class AuthenticationFailed extends Data.TaggedError("AuthenticationFailed")<{
  readonly registry: string
  readonly status: number
  readonly detail: string
  readonly hint: string
  readonly package?: string | undefined
}> {
  /** Names the registry, the status and the server's detail (`hint` says what to do). */
  override get message(): string {
    const what = this.status === 403 ? "refused access (403)" : "rejected the credentials (401)"
    const pkg = this.package === undefined ? "" : ` for ${this.package}`
    return `registry ${this.registry} ${what}${pkg}: ${this.detail}`
  }
}

/**
 * A registry answered something we cannot use: not JSON, the wrong shape, or a package other than
 * the one asked for. Never hidden by trying the next registry.
 * @since 0.1.0
 * @category errors
 */
export class MalformedResponse extends Data.TaggedError("MalformedResponse")<{
  readonly registry: string
  readonly url: string
  readonly reason: string
}> {
  /** Names the registry, the URL and what was wrong. */
  override get message(): string {
    return `registry ${this.registry} sent a malformed answer for ${this.url}: ${this.reason}`
  }
}

/**
 * A registry refused an upload: 400 (bad archive / checksum), 409 (version exists), 413 (too large).
 * @since 0.1.0
 * @category errors
 */
export class PublishRejected extends Data.TaggedError("PublishRejected")<{
  readonly registry: string
  readonly package: string
  readonly status: number
  readonly detail: string
  readonly hint: string
}> {
  /** Names the package, the registry and the server's detail (`hint` says what to do). */
  override get message(): string {
    return `registry ${this.registry} rejected ${this.package} (${this.status}): ${this.detail}`
  }
}

/**
 * The errors any call to a registry can fail with (besides {@link PackageNotFound}).
 * @since 0.1.0
 * @category errors
 */
export type RemoteError = RegistryUnavailable | AuthenticationFailed | MalformedResponse
