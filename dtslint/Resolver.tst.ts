import type { FileSystem } from "@effect/platform"
import type { Effect, Layer } from "effect"
import { expect, test } from "tstyche"
import type { LogUnavailable, LogVerificationFailed } from "../src/client/LogVerifier.js"
import type { MetadataSource, PackageMetadata, ResolveError } from "../src/resolver/MetadataSource.js"
import { layerMemory } from "../src/resolver/MetadataSource.js"
import type { Lockfile, Project, ProjectError } from "../src/resolver/ProjectFile.js"
import { readLock, readProject } from "../src/resolver/ProjectFile.js"
import type {
  InstallFailed,
  LockOutOfDate,
  NoProject,
  OutdatedRow,
  ProjectInstall,
  ProjectInstallResult,
  ProjectTree
} from "../src/resolver/ProjectInstall.js"
import type { SolveResult } from "../src/resolver/Pubgrub.js"
import { exactPin, solve } from "../src/resolver/Pubgrub.js"
import type { Resolution, ResolutionConflict, Resolver } from "../src/resolver/Resolver.js"

declare const resolver: Resolver
declare const _project: ProjectInstall

test("the pure core is synchronous and total", () => {
  expect(solve({ a: "^1.0.0" }, { versions: () => [], dependencies: () => ({}) })).type.toBe<SolveResult>()
  expect(exactPin("=1.2.3")).type.toBe<string | undefined>()
  expect(solve).type.not.toBeCallableWith({ a: 1 }, { versions: () => [], dependencies: () => ({}) })
})

test("Resolver.resolve: typed errors, no requirements", () => {
  expect(resolver.resolve({ dependencies: { a: "^1" } })).type.toBe<
    Effect.Effect<Resolution, ResolveError | ResolutionConflict, never>
  >()
  expect(resolver.fetchAll(["a"])).type.toBe<
    Effect.Effect<ReadonlyMap<string, PackageMetadata | undefined>, ResolveError, never>
  >()
  expect(layerMemory([])).type.toBe<Layer.Layer<MetadataSource>>()
})

test("project files need only a FileSystem", () => {
  expect(readProject(".")).type.toBe<Effect.Effect<Project | undefined, ProjectError, FileSystem.FileSystem>>()
  expect(readLock(".")).type.toBe<Effect.Effect<Lockfile | undefined, ProjectError, FileSystem.FileSystem>>()
})

test("ProjectInstall methods have no requirements and name their errors", () => {
  type R<T> = T extends Effect.Effect<infer _A, infer _E, infer R> ? R : never
  type E<T> = T extends Effect.Effect<infer _A, infer E, infer _R> ? E : never
  type A<T> = T extends Effect.Effect<infer A, infer _E, infer _R> ? A : never
  expect<R<ReturnType<typeof _project.install>>>().type.toBe<never>()
  expect<A<ReturnType<typeof _project.install>>>().type.toBe<ProjectInstallResult>()
  expect<NoProject>().type.toBeAssignableTo<E<ReturnType<typeof _project.install>>>()
  expect<LockOutOfDate>().type.toBeAssignableTo<E<ReturnType<typeof _project.install>>>()
  expect<InstallFailed>().type.toBeAssignableTo<E<ReturnType<typeof _project.install>>>()
  expect<ResolutionConflict>().type.toBeAssignableTo<E<ReturnType<typeof _project.install>>>()
  // a project install checks every registry's publish log (src/client/LogVerifier.ts)
  expect<LogVerificationFailed>().type.toBeAssignableTo<E<ReturnType<typeof _project.install>>>()
  expect<LogUnavailable>().type.toBeAssignableTo<E<ReturnType<typeof _project.install>>>()
  expect<A<ReturnType<typeof _project.tree>>>().type.toBe<ProjectTree>()
  expect<A<ReturnType<typeof _project.outdated>>>().type.toBe<ReadonlyArray<OutdatedRow>>()
})
