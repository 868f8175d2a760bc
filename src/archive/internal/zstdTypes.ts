/**
 * node-tar's `minizlib` types name `zlib.ZstdCompress`/`ZstdDecompress`, which `@types/node` 20
 * lacks; these type-only stand-ins let the build check library types. fm never uses zstd.
 * @internal
 */
import type { Transform } from "node:stream"

declare module "zlib" {
  /** Type-only stand-in (Node 22.15+ has the real class). */
  interface ZstdCompress extends Transform {
    readonly bytesWritten: number
  }
  /** Type-only stand-in (Node 22.15+ has the real class). */
  interface ZstdDecompress extends Transform {
    readonly bytesWritten: number
  }
}
