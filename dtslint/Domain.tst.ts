import { HttpApiClient } from "@effect/platform"
import type { Brand, Effect } from "effect"
import { Schema } from "effect"
import { expect, test } from "tstyche"
import type { NotFound } from "../src/api/ApiErrors.js"
import type { PackageInfo } from "../src/api/Models.js"
import { RegistryApi } from "../src/api/RegistryApi.js"
import type { Manifest, ManifestError } from "../src/domain/Manifest.js"
import { decodeManifestEffect } from "../src/domain/Manifest.js"
import { PackageName } from "../src/domain/PackageName.js"
import type { Version } from "../src/domain/Version.js"

test("PackageName and Version are branded strings", () => {
  expect(Schema.decodeSync(PackageName)("x")).type.toBe<string & Brand.Brand<"PackageName">>()
  expect<string>().type.not.toBeAssignableTo<typeof Version.Type>()
  expect<typeof PackageName.Type>().type.toBeAssignableTo<string>()
})

test("decodeManifestEffect fails only with ManifestError", () => {
  expect(decodeManifestEffect({})).type.toBe<Effect.Effect<Manifest, ManifestError, never>>()
})

test("the typed client's package info returns PackageInfo and can fail with NotFound", () => {
  const _make = () => HttpApiClient.make(RegistryApi)
  type Client = Effect.Effect.Success<ReturnType<typeof _make>>
  const _info = (client: Client) => client.packages.info({ path: { name: "x" } })
  type Info = ReturnType<typeof _info>
  expect<Effect.Effect.Success<Info>>().type.toBe<PackageInfo>()
  expect<NotFound>().type.toBeAssignableTo<Effect.Effect.Error<Info>>()
  expect<Effect.Effect.Context<Info>>().type.toBe<never>()
})
