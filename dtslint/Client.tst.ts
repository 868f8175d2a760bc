import type { FileSystem, HttpClient } from "@effect/platform"
import type { Effect, Layer } from "effect"
import { expect, test } from "tstyche"
import type { ArchiveError } from "../src/archive/PackageArchive.js"
import type { ClientServices } from "../src/client/ClientLayers.js"
import { ClientLive, ClientServicesLive } from "../src/client/ClientLayers.js"
import type { InstallResult, InvalidPackageName, NotCached, OfflineNeedsVersion } from "../src/client/Installer.js"
import { Installer } from "../src/client/Installer.js"
import type { LogUnavailable, LogVerificationFailed } from "../src/client/LogVerifier.js"
import type { CacheError, CacheStats, ClearResult } from "../src/client/PackageCache.js"
import type {
  DefaultRegistryUnavailable,
  Published,
  Publisher,
  PublishNotAllowed,
  TokenMissing
} from "../src/client/Publisher.js"
import type { Fetched, Found, Registries, RegistriesExhausted, SearchResult } from "../src/client/Registries.js"
import type { ConfigError, RegistryEntry, UnknownRegistry } from "../src/client/RegistryConfig.js"
import type {
  AuthenticationFailed,
  MalformedResponse,
  PackageNotFound,
  PublishRejected,
  RegistryUnavailable,
  VersionList
} from "../src/client/RemoteRegistry.js"
import type { RegistryPackage, RemoteRegistryClient, SearchResults } from "../src/client/RemoteRegistryClient.js"
import { getRemoteRegistry } from "../src/client/RemoteRegistryClient.js"
import type { PackageRefused } from "../src/client/VerifiedArchive.js"
import type { ManifestError } from "../src/domain/Manifest.js"
import type { ChecksumMismatch } from "../src/shared/Checksum.js"
import type { FileError } from "../src/shared/FileError.js"
import type { FlowmasonHome } from "../src/shared/FlowmasonHome.js"

declare const registries: Registries
declare const installer: Installer
declare const publisher: Publisher

type LookupErrors = RegistriesExhausted | AuthenticationFailed | MalformedResponse | UnknownRegistry | ConfigError

test("Registries.getPackage: the fallback-eligible errors are folded into RegistriesExhausted; auth and malformed stay", () => {
  expect(registries.getPackage("x")).type.toBe<Effect.Effect<Found, LookupErrors>>()
  type E = Effect.Effect.Error<ReturnType<Registries["getPackage"]>>
  expect<Extract<E, PackageNotFound | RegistryUnavailable>>().type.toBe<never>()
  expect<Extract<E, AuthenticationFailed>>().type.toBe<AuthenticationFailed>()
  expect<Extract<E, MalformedResponse>>().type.toBe<MalformedResponse>()
})

test("Registries.fetch keeps ChecksumMismatch (never hidden by the fallback)", () => {
  expect(registries.fetch("x")).type.toBe<
    Effect.Effect<Fetched, LookupErrors | ChecksumMismatch | CacheError>
  >()
  type E = Effect.Effect.Error<ReturnType<Registries["fetch"]>>
  expect<Extract<E, ChecksumMismatch>>().type.toBe<ChecksumMismatch>()
  expect<Extract<E, AuthenticationFailed>>().type.toBe<AuthenticationFailed>()
})

test("search and listVersions: no requirements", () => {
  expect(registries.search("q")).type.toBe<Effect.Effect<SearchResult, UnknownRegistry | ConfigError>>()
  expect(registries.listVersions("x")).type.toBe<Effect.Effect<VersionList, LookupErrors>>()
})

test("Installer.installName and Publisher.publish error channels", () => {
  expect(installer.installName("x")).type.toBe<
    Effect.Effect<
      InstallResult,
      | InvalidPackageName
      | OfflineNeedsVersion
      | LookupErrors
      | ChecksumMismatch
      | CacheError
      | FileError
      | ArchiveError
      | ManifestError
      | PackageRefused
      | NotCached
      // the publish-log check after the download (src/client/LogVerifier.ts): its request's
      // failures are log errors that name the registry and the log
      | LogVerificationFailed
      | LogUnavailable
    >
  >()
  expect(publisher.publish("f.fmpkg")).type.toBe<
    Effect.Effect<
      Published,
      | ArchiveError
      | ManifestError
      | ConfigError
      | UnknownRegistry
      | PublishNotAllowed
      | TokenMissing
      | FileError
      | PublishRejected
      | RegistryUnavailable
      | AuthenticationFailed
      | MalformedResponse
      | DefaultRegistryUnavailable
    >
  >()
})

test("ClientLive needs nothing", () => {
  expect(ClientLive).type.toBe<Layer.Layer<ClientServices | FlowmasonHome | HttpClient.HttpClient>>()
})

test("the client services need what an app provides: HttpClient, FileSystem, FlowmasonHome", () => {
  expect(ClientServicesLive).type.toBe<
    Layer.Layer<ClientServices, never, HttpClient.HttpClient | FileSystem.FileSystem | FlowmasonHome>
  >()
  expect(Installer.Default).type.toBe<
    Layer.Layer<Installer, never, HttpClient.HttpClient | FileSystem.FileSystem | FlowmasonHome>
  >()
})

test("the promise facade's method signatures", () => {
  const client = getRemoteRegistry()
  expect(client).type.toBe<RemoteRegistryClient>()
  expect(client.search("q")).type.toBe<Promise<SearchResults>>()
  expect(client.getPackage("x", { version: "1.0.0" })).type.toBe<Promise<RegistryPackage>>()
  expect(client.listVersions("x")).type.toBe<Promise<VersionList>>()
  expect(client.download("x", { verify: false })).type.toBe<Promise<string>>()
  expect(client.install("x", { dir: "d", extract: true })).type.toBe<Promise<string>>()
  expect(client.publish("f.fmpkg", { registry: "r" })).type.toBe<Promise<RegistryPackage>>()
  expect(client.addRegistry({ name: "n", url: "http://x", priority: 10 })).type.toBe<Promise<RegistryEntry>>()
  expect(client.removeRegistry("n")).type.toBe<Promise<void>>()
  expect(client.listRegistries()).type.toBe<Promise<ReadonlyArray<RegistryEntry>>>()
  expect(client.getCacheStats()).type.toBe<Promise<CacheStats>>()
  expect(client.clearCache({ olderThanDays: 30 })).type.toBe<Promise<ClearResult>>()
  expect(client.dispose()).type.toBe<Promise<void>>()
  expect(client.download).type.not.toBeCallableWith("x", { verify: "yes" })
  expect(getRemoteRegistry).type.toBeCallableWith({ home: "/tmp/h" })
})
