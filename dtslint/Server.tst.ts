import type { HttpApi, HttpServer } from "@effect/platform"
import type { Effect, Layer, Option, Redacted } from "effect"
import { expect, test } from "tstyche"
import type { Forbidden, Unauthorized, Unavailable } from "../src/api/ApiErrors.js"
import type { Principal } from "../src/api/RegistryApi.js"
import type { Auth } from "../src/server/http/Auth.js"
import { principalFor } from "../src/server/http/Auth.js"
import type { LogKeyError } from "../src/server/log/LogKey.js"
import * as RegistryServer from "../src/server/RegistryServer.js"
import type { BlobError, BlobStore } from "../src/server/storage/BlobStore.js"
import type {
  PackageRow,
  PackageStore,
  PackageStoreService,
  PublishedRelease,
  ReleaseNotFound,
  ReleaseRow,
  StoreError,
  VersionExists
} from "../src/server/storage/PackageStore.js"

declare const store: PackageStoreService

test("PackageStore methods: typed errors, no requirements", () => {
  expect(store.publish).type.toBe<
    (
      release: Parameters<PackageStoreService["publish"]>[0]
    ) => Effect.Effect<PublishedRelease, StoreError | VersionExists>
  >()
  expect<PublishedRelease>().type.toBeAssignableTo<ReleaseRow>()
  expect(store.findArchive("x", "1.0.0")).type.toBe<Effect.Effect<Option.Option<ReleaseRow>, StoreError>>()
  expect(store.counts).type.toBe<
    Effect.Effect<{ readonly packages: number; readonly components: number }, StoreError>
  >()
  expect(store.getPackage("x")).type.toBe<Effect.Effect<Option.Option<PackageRow>, StoreError>>()
  expect(store.yank("x", "1.0.0", "why")).type.toBe<Effect.Effect<ReleaseRow, StoreError | ReleaseNotFound>>()
  expect(store.recordDownload("x", "1.0.0")).type.toBe<Effect.Effect<void, StoreError>>()
})

declare const auth: Auth
declare const bearer: Redacted.Redacted<string>

test("principalFor gives the Principal or fails with 401/403/503, needing nothing", () => {
  expect(principalFor(auth, "publish")(bearer)).type.toBe<
    Effect.Effect<Principal["Type"], Unauthorized | Forbidden | Unavailable>
  >()
  expect(principalFor).type.not.toBeCallableWith(auth, "owner")
})

test("the registry layer composes with no requirements left", () => {
  expect(RegistryServer.layer({ dataDir: "/tmp/x" })).type.toBe<
    Layer.Layer<HttpApi.Api | RegistryServer.AnswerReplay, StoreError | BlobError | LogKeyError, never>
  >()
  expect(RegistryServer.storageLayer("/tmp/x")).type.toBe<
    Layer.Layer<PackageStore | BlobStore, StoreError | BlobError, never>
  >()
  expect(RegistryServer.listeningUrl).type.toBe<(server: HttpServer.HttpServer) => string>()
})
