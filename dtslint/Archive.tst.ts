import type { Effect, Layer, Stream } from "effect"
import { expect, test } from "tstyche"
import type {
  ArchiveEntry,
  ArchiveError,
  ArchiveLimits,
  OpenedArchive,
  PackResult
} from "../src/archive/PackageArchive.js"
import { layerWithLimits, PackageArchive } from "../src/archive/PackageArchive.js"
import type { Manifest, ManifestError } from "../src/domain/Manifest.js"
import type { ChecksumMismatch, Hashing } from "../src/shared/Checksum.js"
import { Checksum } from "../src/shared/Checksum.js"
import type { FileError } from "../src/shared/FileError.js"

declare const archive: PackageArchive
declare const checksum: Checksum
declare const bytes: Stream.Stream<Uint8Array, "ReadFailed">

test("PackageArchive methods: exact errors, no requirements", () => {
  expect(archive.open("p.fmpkg")).type.toBe<Effect.Effect<OpenedArchive, ArchiveError | ManifestError, never>>()
  expect(archive.readManifest("p.fmpkg")).type.toBe<Effect.Effect<Manifest, ArchiveError | ManifestError, never>>()
  expect(archive.list("p.fmpkg")).type.toBe<Effect.Effect<ReadonlyArray<ArchiveEntry>, ArchiveError, never>>()
  expect(archive.extract("p.fmpkg", "dir")).type.toBe<
    Effect.Effect<OpenedArchive, ArchiveError | ManifestError, never>
  >()
  expect(archive.pack("dir")).type.toBe<Effect.Effect<PackResult, ArchiveError | ManifestError, never>>()
  expect(archive.pack("dir", { output: "o.fmpkg", format: "tar" })).type.toBe<
    Effect.Effect<PackResult, ArchiveError | ManifestError, never>
  >()
  expect(archive.pack).type.not.toBeCallableWith("dir", { format: "rar" })
})

test("PackageArchive layers need nothing", () => {
  expect(PackageArchive.Default).type.toBe<Layer.Layer<PackageArchive, never, never>>()
  expect(layerWithLimits({ maxEntries: 10 })).type.toBe<Layer.Layer<PackageArchive, never, never>>()
  expect(layerWithLimits).type.not.toBeCallableWith({ maxEntries: "10" })
  expect<ArchiveLimits["maxCompressionRatio"]>().type.toBe<number>()
})

test("Checksum methods: exact errors, no requirements", () => {
  expect(checksum.hashFile("f")).type.toBe<Effect.Effect<string, FileError, never>>()
  expect(checksum.verifyFile("f", "abc")).type.toBe<Effect.Effect<void, ChecksumMismatch | FileError, never>>()
  expect(checksum.verifyFile("f", "abc", { package: "p", registry: "r" })).type.toBe<
    Effect.Effect<void, ChecksumMismatch | FileError, never>
  >()
  expect(checksum.hashStream(bytes)).type.toBe<Effect.Effect<string, "ReadFailed", never>>()
  expect(checksum.hashing()).type.toBe<Hashing>()
  expect(Checksum.Default).type.toBe<Layer.Layer<Checksum, never, never>>()
})

test("errors are tagged", () => {
  expect<ArchiveError["_tag"]>().type.toBe<"ArchiveError">()
  expect<ChecksumMismatch["_tag"]>().type.toBe<"ChecksumMismatch">()
  expect<FileError["_tag"]>().type.toBe<"FileError">()
  expect<ArchiveError["entry"]>().type.toBe<string | undefined>()
})
