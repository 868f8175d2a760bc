/**
 * autocannon (the load generator of bench:server and bench:scale), typed for the fields the
 * benchmarks use.
 */
import { createRequire } from "node:module"

/** Latency, request-rate or throughput figures of a run. */
export interface Histogram {
  readonly average: number
  readonly p50: number
  readonly p99: number
}

/** What a run reports. */
export interface AutocannonResult {
  readonly requests: Histogram & { readonly total: number }
  readonly latency: Histogram
  readonly throughput: Histogram & { readonly total: number }
  readonly duration: number
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
  readonly "2xx": number
}

/** One request of a run; `setupRequest` may vary it per request (e.g. the body). */
export interface AutocannonRequest {
  readonly method?: string
  readonly path?: string
  readonly headers?: Record<string, string>
  readonly body?: Buffer
}

/** Runs autocannon against `url` with `connections` for `duration` seconds. */
export const autocannon: (options: {
  readonly url: string
  readonly connections: number
  readonly duration: number
  readonly pipelining?: number
  readonly requests?: ReadonlyArray<
    AutocannonRequest & { readonly setupRequest?: (req: AutocannonRequest) => AutocannonRequest }
  >
}) => PromiseLike<AutocannonResult> = createRequire(import.meta.url)("autocannon")
