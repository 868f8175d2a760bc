import type { FileSystem } from "@effect/platform"
import type { Effect, Layer, Option, Redacted, Stream } from "effect"
import { expect, test } from "tstyche"
import { PackageCacheLive, RegistryConfigLive } from "../src/client/ClientLayers.js"
import type { CachedPackage, CacheError, CacheKey, CacheStats, ClearResult } from "../src/client/PackageCache.js"
import { PackageCache } from "../src/client/PackageCache.js"
import type {
  ConfigError,
  InvalidRegistry,
  RegistryEntry,
  RegistryExists,
  TokenSource,
  UnknownRegistry
} from "../src/client/RegistryConfig.js"
import { RegistryConfig } from "../src/client/RegistryConfig.js"
import type { ChecksumMismatch } from "../src/shared/Checksum.js"
import type { FlowmasonHome } from "../src/shared/FlowmasonHome.js"

declare const config: RegistryConfig
declare const cache: PackageCache
declare const entry: RegistryEntry
declare const key: CacheKey
declare const download: Stream.Stream<Uint8Array, "ConnectionReset">
declare const local: Stream.Stream<Uint8Array>

test("RegistryConfig methods have no requirements and precise errors", () => {
  expect(config.list).type.toBe<Effect.Effect<ReadonlyArray<RegistryEntry>, ConfigError, never>>()
  expect(config.enabled).type.toBe<Effect.Effect<ReadonlyArray<RegistryEntry>, ConfigError, never>>()
  expect(config.get("x")).type.toBe<Effect.Effect<RegistryEntry, ConfigError | UnknownRegistry, never>>()
  expect(config.defaultRegistry).type.toBe<Effect.Effect<RegistryEntry, ConfigError | UnknownRegistry, never>>()
  expect(config.add(entry)).type.toBe<Effect.Effect<void, ConfigError | RegistryExists | InvalidRegistry, never>>()
  expect(config.remove("x")).type.toBe<Effect.Effect<void, ConfigError | UnknownRegistry, never>>()
  expect(config.setEnabled("x", true)).type.toBe<Effect.Effect<void, ConfigError | UnknownRegistry, never>>()
  expect(config.token(entry)).type.toBe<Option.Option<Redacted.Redacted<string>>>()
  expect(config.tokenSource(entry)).type.toBe<TokenSource>()
  expect(config.file).type.toBe<string>()
})

test("RegistryConfig.Default and PackageCache.Default need a FileSystem and the home; the Live layers provide Node's", () => {
  expect(RegistryConfig.Default).type.toBe<Layer.Layer<RegistryConfig, never, FileSystem.FileSystem | FlowmasonHome>>()
  expect(PackageCache.Default).type.toBe<Layer.Layer<PackageCache, never, FileSystem.FileSystem | FlowmasonHome>>()
  expect(RegistryConfigLive).type.toBe<Layer.Layer<RegistryConfig, never, FlowmasonHome>>()
  expect(PackageCacheLive).type.toBe<Layer.Layer<PackageCache, never, FlowmasonHome>>()
})

test("PackageCache.store passes the stream's error through, plus ChecksumMismatch and CacheError", () => {
  expect(cache.store(key, "abc", download)).type.toBe<
    Effect.Effect<CachedPackage, "ConnectionReset" | ChecksumMismatch | CacheError, never>
  >()
  expect(cache.store(key, undefined, local)).type.toBe<
    Effect.Effect<CachedPackage, ChecksumMismatch | CacheError, never>
  >()
  expect(cache.storeFile(key, "f")).type.toBe<Effect.Effect<CachedPackage, ChecksumMismatch | CacheError, never>>()
  expect(cache.store).type.not.toBeCallableWith(key, "abc", "not a stream")
})

test("PackageCache reads never fail with ChecksumMismatch (corrupt blobs are evicted)", () => {
  expect(cache.lookup(key)).type.toBe<Effect.Effect<Option.Option<CachedPackage>, CacheError, never>>()
  expect(cache.lookupAnyRegistry("a", "1.0.0")).type.toBe<
    Effect.Effect<Option.Option<CachedPackage>, CacheError, never>
  >()
  expect(cache.stats).type.toBe<Effect.Effect<CacheStats, CacheError, never>>()
  expect(cache.clear(30)).type.toBe<Effect.Effect<ClearResult, CacheError, never>>()
})
