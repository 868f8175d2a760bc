/**
 * The registry server's options as a service, read by the handlers and the start-up code.
 * @since 0.1.0
 */
import { Context, Layer } from "effect"

/**
 * The options of a registry server.
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions {
  /** Interface to bind (default `127.0.0.1`). */
  readonly host: string
  /** Port to bind; 0 picks a free one (default 8999). */
  readonly port: number
  /**
   * An inherited listening socket to serve on instead of `host:port` (systemd socket activation,
   * `--listen-fd`): other processes may hold it too, so a successor can take over without a gap.
   */
  readonly listenFd?: number | undefined
  /** Where the database (`registry.db`), `blobs/` and `tmp/` live. */
  readonly dataDir: string
  /** When true, everything but `health` needs a token with scope `read`. */
  readonly private: boolean
  /** Base URL for `download_url` (e.g. `https://registry.example.com`); else the request's host. */
  readonly publicUrl: string | undefined
  /** Trust `X-Forwarded-Proto` / `X-Forwarded-Host` when building URLs. */
  readonly trustProxy: boolean
  /** Largest accepted archive, in bytes (default 100 MiB). */
  readonly maxUploadSize: number
  /** Name reported by `health`. */
  readonly registryName: string
  /** Log one line per request (default true). */
  readonly logRequests: boolean
  /**
   * The publish log's Ed25519 key (PKCS#8 PEM file); `undefined`: `<dataDir>/log-key.pem`,
   * generated on first start. Replicas sharing a database must be given the same key.
   */
  readonly logKeyFile: string | undefined
  /** Keep the log's latest signed checkpoint in this file, for witnesses (`--log-witness-file`). */
  readonly logWitnessFile?: string | undefined
  /** POST each new signed checkpoint to this URL, for witnesses (`--log-witness-url`). */
  readonly logWitnessUrl?: string | undefined
}

/**
 * Default options: 127.0.0.1:8999, public, 100 MiB uploads.
 * @since 0.1.0
 */
export const defaults = (dataDir: string): ServerOptions => ({
  host: "127.0.0.1",
  port: 8999,
  dataDir,
  private: false,
  publicUrl: undefined,
  trustProxy: false,
  maxUploadSize: 100 * 1024 * 1024,
  registryName: "fm",
  logRequests: true,
  logKeyFile: undefined
})

/**
 * The server's options.
 * @since 0.1.0
 * @category tags
 */
export class ServerConfig extends Context.Tag("fm/server/ServerConfig")<ServerConfig, ServerOptions>() {}

/**
 * Provides the given options (missing ones take their {@link defaults}).
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Partial<ServerOptions> & { readonly dataDir: string }): Layer.Layer<ServerConfig> =>
  Layer.succeed(ServerConfig, { ...defaults(options.dataDir), ...options })
