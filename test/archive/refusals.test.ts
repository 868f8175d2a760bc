/**
 * Every refused archive, built byte by byte: the error, and proof that nothing was written outside
 * the target and the target was left absent.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { layerWithLimits, PackageArchive } from "../../src/archive/PackageArchive.js"
import {
  buildTar,
  buildTarGz,
  buildZip,
  gzip,
  makeTempDir,
  minimalZip,
  paxRecord,
  projectManifest,
  removeDir,
  snapshotTree,
  writeArchive
} from "../helpers/archives.js"

const manifest = { name: "manifest.json", data: projectManifest() }
const tarManifest = { name: "manifest.json", data: projectManifest() }

interface Case {
  readonly name: string
  readonly archive: () => Buffer
  readonly tag: "ArchiveError" | "ManifestError"
  readonly reason: RegExp
  readonly limits?: Parameters<typeof layerWithLimits>[0]
}

/**
 * Runs `open`, `readManifest`/`list` where they must also refuse, and `extract`; asserts the error and
 * that the whole temp dir (archive, sibling file, parent of the target) is unchanged.
 */
const assertRefused = (c: Case) =>
  Effect.gen(function*() {
    const archive = yield* PackageArchive
    const dir = makeTempDir()
    yield* Effect.addFinalizer(() => Effect.sync(() => removeDir(dir)))
    const bytes = c.archive()
    const file = writeArchive(dir, "pkg.fmpkg", bytes)
    const parent = path.join(dir, "out")
    fs.mkdirSync(parent)
    fs.writeFileSync(path.join(parent, "keep.txt"), "keep")
    const target = path.join(parent, "target")
    const before = snapshotTree(dir)

    const opened = yield* Effect.flip(archive.open(file))
    assert.strictEqual(opened._tag, c.tag, `open: ${opened.message}`)
    assert.match(opened.message, c.reason)
    assert.include(opened.message, c.tag === "ArchiveError" ? file : "")

    // the same bytes from memory (an upload): the same refusal, named by the label
    const fromMemory = yield* Effect.flip(archive.openBytes(bytes, "upload"))
    assert.strictEqual(fromMemory._tag, c.tag, `openBytes: ${fromMemory.message}`)
    assert.match(fromMemory.message, c.reason)
    assert.include(fromMemory.message, c.tag === "ArchiveError" ? "upload" : "")

    const extracted = yield* Effect.flip(archive.extract(file, target))
    assert.strictEqual(extracted._tag, c.tag, `extract: ${extracted.message}`)
    assert.match(extracted.message, c.reason)

    assert.isFalse(fs.existsSync(target), "target must stay absent")
    assert.isFalse(fs.existsSync("/tmp/fm-evil.txt"), "absolute entries must not be written")
    assert.deepStrictEqual(snapshotTree(dir), before, "nothing may be written anywhere")
  }).pipe(Effect.scoped, Effect.provide(c.limits === undefined ? PackageArchive.Default : layerWithLimits(c.limits)))

const zeros = (n: number) => Buffer.alloc(n)

const zipCases: ReadonlyArray<Case> = [
  {
    name: "data after the end record",
    archive: () => Buffer.concat([minimalZip(), Buffer.from("hidden data after the end record")]),
    tag: "ArchiveError",
    reason: /data after the end of the ZIP archive/
  },
  {
    name: "a second archive appended after the end record",
    archive: () => Buffer.concat([minimalZip(), Buffer.alloc(16), buildZip([{ name: "../../x", data: "x" }])]),
    tag: "ArchiveError",
    reason: /central directory|data after the end/
  },
  {
    name: "'..' entry",
    archive: () => buildZip([manifest, { name: "../evil.txt", data: "x" }]),
    tag: "ArchiveError",
    reason: /entry '\.\.\/evil\.txt'.*'\.\.'/
  },
  {
    name: "'..' in the middle of a path",
    archive: () => buildZip([manifest, { name: "pipelines/../../evil.txt", data: "x" }]),
    tag: "ArchiveError",
    reason: /'\.\.'/
  },
  {
    name: "absolute path",
    archive: () => buildZip([manifest, { name: "/tmp/fm-evil.txt", data: "x" }]),
    tag: "ArchiveError",
    reason: /absolute path/
  },
  {
    name: "drive-letter path",
    archive: () => buildZip([manifest, { name: "C:/evil.txt", data: "x" }]),
    tag: "ArchiveError",
    reason: /drive letter/
  },
  {
    name: "drive-relative path (C:evil)",
    archive: () => buildZip([manifest, { name: "C:evil.txt", data: "x" }]),
    tag: "ArchiveError",
    reason: /drive letter/
  },
  {
    name: "backslash traversal",
    archive: () => buildZip([manifest, { name: "..\\..\\evil.txt", data: "x" }]),
    tag: "ArchiveError",
    reason: /backslash/
  },
  {
    name: "backslash separator",
    archive: () => buildZip([manifest, { name: "dir\\file.txt", data: "x" }]),
    tag: "ArchiveError",
    reason: /backslash/
  },
  {
    name: "NTFS stream syntax",
    archive: () => buildZip([manifest, { name: "file.txt:stream", data: "x" }]),
    tag: "ArchiveError",
    reason: /':'/
  },
  {
    name: "symlink entry",
    archive: () => buildZip([manifest, { name: "link", data: "../../etc/passwd", unixMode: 0o120777 }]),
    tag: "ArchiveError",
    reason: /entry 'link'.*symbolic link/
  },
  {
    name: "character device entry",
    archive: () => buildZip([manifest, { name: "dev", data: "", unixMode: 0o020644 }]),
    tag: "ArchiveError",
    reason: /device/
  },
  {
    name: "FIFO entry",
    archive: () => buildZip([manifest, { name: "fifo", data: "", unixMode: 0o010644 }]),
    tag: "ArchiveError",
    reason: /FIFO/
  },
  {
    name: "duplicate names",
    archive: () => buildZip([manifest, { name: "a.txt", data: "1" }, { name: "a.txt", data: "2" }]),
    tag: "ArchiveError",
    reason: /duplicate entry name/
  },
  {
    name: "names differing only in case",
    archive: () => buildZip([manifest, { name: "README.md", data: "1" }, { name: "readme.md", data: "2" }]),
    tag: "ArchiveError",
    reason: /ignoring case/
  },
  {
    name: "names differing only in Unicode normalisation",
    archive: () =>
      buildZip([manifest, { name: "caf\u00e9.txt", data: "1", flags: 0x800 }, {
        name: "cafe\u0301.txt",
        data: "2",
        flags: 0x800
      }]),
    tag: "ArchiveError",
    reason: /duplicate/
  },
  {
    name: "a file also used as a directory",
    archive: () => buildZip([manifest, { name: "a", data: "1" }, { name: "a/b", data: "2" }]),
    tag: "ArchiveError",
    reason: /parent 'a' is a file/
  },
  {
    name: "more than 10,000 entries (default limit)",
    archive: () =>
      buildZip([manifest, ...Array.from({ length: 10_000 }, (_, i) => ({ name: `f/${i}.txt`, data: "", method: 0 }))]),
    tag: "ArchiveError",
    reason: /10001 entries, more than the limit of 10000/
  },
  {
    name: "more entries than a configured limit",
    archive: () => buildZip([manifest, { name: "a", data: "" }, { name: "b", data: "" }]),
    tag: "ArchiveError",
    reason: /more than the limit of 2/,
    limits: { maxEntries: 2 }
  },
  {
    name: "more than 1 GiB unpacked (declared)",
    archive: () =>
      buildZip([manifest, { name: "big.bin", data: "x", method: 0, size: 1, compressedSize: 1 }, {
        name: "huge.bin",
        data: "tiny",
        size: 1536 * 1024 * 1024
      }]),
    tag: "ArchiveError",
    reason: /more than 1\.00 GiB/
  },
  {
    name: "more unpacked bytes than a configured limit",
    archive: () => buildZip([manifest, { name: "data.bin", data: zeros(5000) }]),
    tag: "ArchiveError",
    reason: /more than 4\.9 KiB/,
    limits: { maxUnpackedBytes: 5000 }
  },
  {
    name: "compression ratio over 200:1 (zip bomb entry)",
    archive: () => buildZip([manifest, { name: "zeros.bin", data: zeros(10 * 1024 * 1024) }]),
    tag: "ArchiveError",
    reason: /ratio \d+:1 is over the limit of 200:1/
  },
  {
    name: "compression ratio over a configured limit (whole archive)",
    archive: () => buildZip([manifest, { name: "zeros.bin", data: zeros(200 * 1024) }]),
    tag: "ArchiveError",
    reason: /over the limit of 20:1/,
    limits: { maxCompressionRatio: 20 }
  },
  {
    name: "a header that lies about the size (inflates past it)",
    archive: () => buildZip([manifest, { name: "liar.bin", data: zeros(1024 * 1024), size: 100 }]),
    tag: "ArchiveError",
    reason: /inflates to more than its declared size of 100 bytes/
  },
  {
    name: "a large entry that lies about its size (streamed inflate path)",
    archive: () =>
      buildZip([manifest, { name: "liar.bin", data: crypto.randomBytes(3 * 1024 * 1024), size: 2 * 1024 * 1024 }]),
    tag: "ArchiveError",
    reason: /entry 'liar\.bin'.*inflates to more than its declared size of 2097152 bytes/
  },
  {
    name: "a large corrupt entry (streamed CRC-32 check)",
    archive: () => {
      const data = crypto.randomBytes(2 * 1024 * 1024)
      const z = buildZip([manifest, { name: "big.bin", data, method: 0 }])
      const at = z.indexOf(data.subarray(0, 64)) + 1024 * 1024
      z[at] = z[at]! ^ 0xff
      return z
    },
    tag: "ArchiveError",
    reason: /entry 'big\.bin'.*CRC-32 mismatch/
  },
  {
    name: "a header that claims more than the data holds",
    archive: () => buildZip([manifest, { name: "short.bin", data: "hello", size: 50 }]),
    tag: "ArchiveError",
    reason: /inflates to 5 bytes but its header says 50/
  },
  {
    name: "truncated archive (end record cut)",
    archive: () => minimalZip().subarray(0, minimalZip().length - 10),
    tag: "ArchiveError",
    reason: /end of central directory not found/
  },
  {
    name: "truncated archive (cut in half)",
    archive: () => {
      const z = buildZip([manifest, { name: "data.bin", data: Buffer.from("abc".repeat(1000)) }])
      return z.subarray(0, Math.floor(z.length / 2))
    },
    tag: "ArchiveError",
    reason: /truncated|corrupt/
  },
  {
    name: "corrupt data (CRC-32 mismatch), after good entries were extracted",
    archive: () => {
      const z = buildZip([manifest, { name: "good.txt", data: "good" }, {
        name: "bad.txt",
        data: "hello world",
        method: 0
      }])
      const at = z.indexOf("hello world")
      z[at] = "j".charCodeAt(0)
      return z
    },
    tag: "ArchiveError",
    reason: /entry 'bad\.txt'.*CRC-32 mismatch/
  },
  {
    name: "corrupt deflate stream",
    archive: () =>
      buildZip([manifest, { name: "bad.bin", compressed: Buffer.from([0xff, 0xff, 0xff, 0xff]), size: 10 }]),
    tag: "ArchiveError",
    reason: /corrupt compressed data/
  },
  {
    name: "local header disagreeing with the central directory",
    archive: () => buildZip([manifest, { name: "a.txt", localName: "b.txt", data: "x" }]),
    tag: "ArchiveError",
    reason: /disagree on the name/
  },
  {
    name: "overlapping entries (overlap bomb)",
    archive: () =>
      buildZip([
        { name: "manifest.json", data: projectManifest() },
        { name: "m2.json", centralOnly: true, localOffset: 0, data: projectManifest() }
      ]),
    tag: "ArchiveError",
    reason: /corrupt/
  },
  {
    name: "encrypted entry",
    archive: () => buildZip([manifest, { name: "secret.txt", data: "x", flags: 1 }]),
    tag: "ArchiveError",
    reason: /encrypted/
  },
  {
    name: "unsupported compression method",
    archive: () => buildZip([manifest, { name: "a.bz2", data: "BZh9", method: 12 }]),
    tag: "ArchiveError",
    reason: /compression method 12/
  },
  {
    name: "not an archive at all",
    archive: () => Buffer.from("just some text, not a package"),
    tag: "ArchiveError",
    reason: /neither a ZIP nor a gzip tar/
  },
  {
    name: "empty file",
    archive: () => Buffer.alloc(0),
    tag: "ArchiveError",
    reason: /is empty/
  },
  {
    name: "manifest that is not JSON",
    archive: () => buildZip([{ name: "manifest.json", data: "{ name: nope" }]),
    tag: "ManifestError",
    reason: /manifest\.json: is not valid JSON/
  },
  {
    name: "manifest failing the schema",
    archive: () => buildZip([{ name: "manifest.json", data: JSON.stringify({ name: "demo-pkg", version: "one" }) }]),
    tag: "ManifestError",
    reason: /manifest\.json: field 'version'/
  },
  {
    name: "component manifest failing the schema",
    archive: () =>
      buildZip([{ name: "flowmason-package.json", data: JSON.stringify({ name: "Bad Name!", version: "1.0.0" }) }]),
    tag: "ManifestError",
    reason: /flowmason-package\.json: field 'name'/
  },
  {
    name: "missing manifest",
    archive: () => buildZip([{ name: "index.py", data: "print(1)" }]),
    tag: "ManifestError",
    reason: /missing manifest/
  },
  {
    name: "manifest wrapped in a top-level folder",
    archive: () => buildZip([{ name: "demo/manifest.json", data: projectManifest() }, { name: "demo/a.py", data: "" }]),
    tag: "ManifestError",
    reason: /found 'demo\/manifest\.json'; pack the folder's contents/
  },
  {
    name: "manifest over 1 MiB",
    archive: () =>
      buildZip([{
        name: "manifest.json",
        data: JSON.stringify({ name: "demo-pkg", version: "1.0.0", pad: crypto.randomBytes(600_000).toString("hex") })
      }]),
    tag: "ArchiveError",
    reason: /manifest is larger than 1\.0 MiB/
  }
]

const tarCases: ReadonlyArray<Case> = [
  {
    name: "'..' entry",
    archive: () => buildTarGz([tarManifest, { name: "../evil.txt", data: "x" }]),
    tag: "ArchiveError",
    reason: /'\.\.'/
  },
  {
    name: "absolute path",
    archive: () => buildTarGz([tarManifest, { name: "/tmp/fm-evil.txt", data: "x" }]),
    tag: "ArchiveError",
    reason: /absolute path/
  },
  {
    name: "drive-letter path",
    archive: () => buildTarGz([tarManifest, { name: "C:\\evil.txt", data: "x" }]),
    tag: "ArchiveError",
    reason: /backslash|drive letter/
  },
  {
    name: "backslash traversal",
    archive: () => buildTarGz([tarManifest, { name: "..\\evil.txt", data: "x" }]),
    tag: "ArchiveError",
    reason: /backslash/
  },
  {
    name: "ustar prefix escaping",
    archive: () => buildTarGz([tarManifest, { name: "evil.txt", prefix: "..", data: "x" }]),
    tag: "ArchiveError",
    reason: /'\.\.'/
  },
  {
    name: "pax path override escaping",
    archive: () =>
      buildTarGz([tarManifest, { name: "PaxHeader", type: "x", data: paxRecord("path", "../../evil.txt") }, {
        name: "innocent.txt",
        data: "x"
      }]),
    tag: "ArchiveError",
    reason: /entry '\.\.\/\.\.\/evil\.txt'/
  },
  {
    name: "GNU long name escaping",
    archive: () =>
      buildTarGz([tarManifest, { name: "././@LongLink", type: "L", data: "../evil.txt\0" }, {
        name: "innocent.txt",
        data: "x"
      }]),
    tag: "ArchiveError",
    reason: /'\.\.'/
  },
  {
    name: "symlink",
    archive: () => buildTarGz([tarManifest, { name: "link", type: "2", linkname: "/etc/passwd" }]),
    tag: "ArchiveError",
    reason: /entry 'link'.*symbolic link/
  },
  {
    name: "hardlink",
    archive: () => buildTarGz([tarManifest, { name: "hard", type: "1", linkname: "manifest.json" }]),
    tag: "ArchiveError",
    reason: /hard link/
  },
  {
    name: "character device",
    archive: () => buildTarGz([tarManifest, { name: "null", type: "3" }]),
    tag: "ArchiveError",
    reason: /character device/
  },
  {
    name: "block device",
    archive: () => buildTarGz([tarManifest, { name: "sda", type: "4" }]),
    tag: "ArchiveError",
    reason: /block device/
  },
  {
    name: "FIFO",
    archive: () => buildTarGz([tarManifest, { name: "pipe", type: "6" }]),
    tag: "ArchiveError",
    reason: /FIFO/
  },
  {
    name: "duplicate names",
    archive: () => buildTarGz([tarManifest, { name: "a.txt", data: "1" }, { name: "a.txt", data: "2" }]),
    tag: "ArchiveError",
    reason: /duplicate entry name/
  },
  {
    name: "names differing only in case",
    archive: () => buildTarGz([tarManifest, { name: "Config.json", data: "1" }, { name: "config.JSON", data: "2" }]),
    tag: "ArchiveError",
    reason: /ignoring case/
  },
  {
    name: "more entries than the limit",
    archive: () =>
      buildTarGz([tarManifest, ...Array.from({ length: 10 }, (_, i) => ({ name: `f${i}.txt`, data: "" }))]),
    tag: "ArchiveError",
    reason: /more than 5 entries/,
    limits: { maxEntries: 5 }
  },
  {
    name: "more unpacked bytes than the limit",
    archive: () => buildTarGz([tarManifest, { name: "data.bin", data: zeros(5000) }]),
    tag: "ArchiveError",
    reason: /more than 4\.9 KiB/,
    limits: { maxUnpackedBytes: 5000 }
  },
  {
    name: "compression ratio over 200:1 (gzip bomb)",
    archive: () => buildTarGz([tarManifest, { name: "zeros.bin", data: zeros(10 * 1024 * 1024) }]),
    tag: "ArchiveError",
    reason: /over the limit of 200:1/
  },
  {
    name: "truncated gzip",
    archive: () => {
      const t = buildTarGz([tarManifest, { name: "data.bin", data: Buffer.from("abcdefgh".repeat(5000)) }])
      return t.subarray(0, t.length - 20)
    },
    tag: "ArchiveError",
    reason: /truncated/
  },
  {
    name: "entry hidden after the end-of-archive marker (../../x)",
    archive: () => gzip(Buffer.concat([buildTar([tarManifest]), buildTar([{ name: "../../x", data: "hidden" }])])),
    tag: "ArchiveError",
    reason: /data after the end of the tar archive/
  },
  {
    name: "bytes other than zero padding after the end-of-archive marker",
    archive: () => gzip(Buffer.concat([buildTar([tarManifest]), Buffer.alloc(512), Buffer.from("junk")])),
    tag: "ArchiveError",
    reason: /data after the end of the tar archive/
  },
  {
    name: "tar without its end marker",
    archive: () => buildTarGz([tarManifest, { name: "a.txt", data: "x" }], { end: false }),
    tag: "ArchiveError",
    reason: /ends without its end marker/
  },
  {
    name: "tar truncated mid-entry",
    archive: () => gzip(buildTar([tarManifest, { name: "a.txt", data: "x".repeat(2000) }]).subarray(0, 1200)),
    tag: "ArchiveError",
    reason: /truncated/
  },
  {
    name: "corrupt header checksum",
    archive: () => buildTarGz([tarManifest, { name: "a.txt", data: "x", badChecksum: true }]),
    tag: "ArchiveError",
    reason: /checksum mismatch/
  },
  {
    name: "corrupt gzip data (CRC)",
    archive: () => {
      const raw = buildTar([tarManifest, { name: "a.txt", data: "hello" }])
      const body = zlib.deflateRawSync(raw, { level: 0 })
      const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])
      const trailer = Buffer.alloc(8)
      trailer.writeUInt32LE((zlib.crc32(raw) ^ 1) >>> 0, 0)
      trailer.writeUInt32LE(raw.length, 4)
      return Buffer.concat([header, body, trailer])
    },
    tag: "ArchiveError",
    reason: /corrupt gzip|incorrect data check/
  },
  // node-tar alone skips or tolerates each of the following; fm's layer over it refuses them
  {
    name: "entry after a lone zero block (GNU tar stops at it)",
    archive: () =>
      gzip(Buffer.concat([
        buildTar([tarManifest], { end: false }),
        Buffer.alloc(512),
        buildTar([{ name: "hidden.txt", data: "x" }])
      ])),
    tag: "ArchiveError",
    reason: /data after a zero block/
  },
  {
    name: "pax header larger than 1 MiB (node-tar would skip it and use the ustar name)",
    archive: () =>
      buildTarGz([tarManifest, { name: "PaxHeader", type: "x", data: paxRecord("comment", "x".repeat(1024 * 1024)) }, {
        name: "a.txt",
        data: "x"
      }]),
    tag: "ArchiveError",
    reason: /larger than 1\.0 MiB/
  },
  {
    name: "unknown entry type (node-tar would skip the entry)",
    archive: () => buildTarGz([tarManifest, { name: "odd", type: "Z", data: "x" }]),
    tag: "ArchiveError",
    reason: /unsupported tar entry type/
  },
  {
    name: "GNU sparse entry",
    archive: () => buildTarGz([tarManifest, { name: "sparse", type: "S", data: "x" }]),
    tag: "ArchiveError",
    reason: /unsupported tar entry type/
  },
  {
    name: "entry name that is not UTF-8 (node-tar would decode it to U+FFFD)",
    archive: () => buildTarGz([tarManifest, { name: "caf\xe9.txt", nameEncoding: "latin1", data: "x" }]),
    tag: "ArchiveError",
    reason: /not valid UTF-8/
  },
  {
    name: "size field that is not octal (node-tar would read the data as headers)",
    archive: () => buildTarGz([tarManifest, { name: "a.txt", data: "x", rawSize: "zzzzzzzzzzz" }]),
    tag: "ArchiveError",
    reason: /bad size/
  },
  {
    name: "a gzip stream inside the gzip (node-tar would gunzip it a second time)",
    archive: () => gzip(buildTarGz([tarManifest])),
    tag: "ArchiveError",
    reason: /control character/
  },
  {
    name: "more than 16 MiB of zero padding after the end-of-archive marker",
    archive: () => gzip(Buffer.concat([buildTar([tarManifest]), Buffer.alloc(17 * 1024 * 1024)])),
    tag: "ArchiveError",
    reason: /of padding after the end of the tar archive/
  },
  {
    name: "end marker, zeros for several chunks, then an entry",
    archive: () =>
      gzip(Buffer.concat([buildTar([tarManifest]), Buffer.alloc(300 * 1024), buildTar([{ name: "x", data: "y" }])])),
    tag: "ArchiveError",
    reason: /data after the end of the tar archive/
  },
  {
    name: "manifest that is not JSON",
    archive: () => buildTarGz([{ name: "manifest.json", data: "not json" }]),
    tag: "ManifestError",
    reason: /is not valid JSON/
  },
  {
    name: "manifest failing the schema",
    archive: () => buildTarGz([{ name: "manifest.json", data: JSON.stringify({ name: "demo-pkg" }) }]),
    tag: "ManifestError",
    reason: /field 'version'/
  },
  {
    name: "missing manifest",
    archive: () => buildTarGz([{ name: "index.py", data: "print(1)" }]),
    tag: "ManifestError",
    reason: /missing manifest/
  }
]

describe("refused ZIP archives", () => {
  for (const c of zipCases) it.effect(c.name, () => assertRefused(c))
})

describe("refused gzip tar archives", () => {
  for (const c of tarCases) it.effect(c.name, () => assertRefused(c))
})

describe("zero padding after the end is not data", () => {
  it.effect("a ZIP or gzip tar padded with zeros after its end opens", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const zip = yield* archive.openBytes(Buffer.concat([minimalZip(), Buffer.alloc(1000)]), "padded.zip")
      assert.strictEqual(zip.manifest.name, "demo-pkg")
      const tar = yield* archive.openBytes(
        gzip(Buffer.concat([buildTar([tarManifest]), Buffer.alloc(8192)])),
        "padded.tgz"
      )
      assert.strictEqual(tar.manifest.name, "demo-pkg")
    }).pipe(Effect.provide(PackageArchive.Default)))

  it.effect("zeros inside entries are data: files of zeros (small, last, and over many chunks) open and extract", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const dir = makeTempDir()
      yield* Effect.addFinalizer(() => Effect.sync(() => removeDir(dir)))
      // random bytes around 300 KiB of zeros (held back by the reader, then fed as data)
      const big = Buffer.concat([crypto.randomBytes(1024 * 1024), Buffer.alloc(300 * 1024), crypto.randomBytes(7)])
      const tgz = gzip(buildTar([
        tarManifest,
        { name: "big.bin", data: big },
        { name: "zeros.bin", data: Buffer.alloc(200 * 1024) },
        { name: "empty.txt", data: "" },
        { name: "last.bin", data: Buffer.alloc(1000) }
      ]))
      const opened = yield* archive.openBytes(tgz, "zeros.tgz")
      assert.deepStrictEqual(opened.entries.map((e) => [e.path, e.size]), [
        ["manifest.json", Buffer.byteLength(projectManifest())],
        ["big.bin", big.length],
        ["zeros.bin", 200 * 1024],
        ["empty.txt", 0],
        ["last.bin", 1000]
      ])
      const file = writeArchive(dir, "zeros.fmpkg", tgz)
      const target = path.join(dir, "x")
      yield* archive.extract(file, target)
      assert.isTrue(fs.readFileSync(path.join(target, "big.bin")).equals(big))
      assert.isTrue(fs.readFileSync(path.join(target, "zeros.bin")).equals(Buffer.alloc(200 * 1024)))
      assert.isTrue(fs.readFileSync(path.join(target, "last.bin")).equals(Buffer.alloc(1000)))
      assert.strictEqual(fs.readFileSync(path.join(target, "empty.txt"), "utf8"), "")
    }).pipe(Effect.scoped, Effect.provide(PackageArchive.Default)))
})

describe("refusals without extraction", () => {
  it.effect("list and readManifest refuse unsafe ZIP entries too", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const dir = makeTempDir()
      yield* Effect.addFinalizer(() => Effect.sync(() => removeDir(dir)))
      const file = writeArchive(dir, "evil.fmpkg", buildZip([manifest, { name: "../evil", data: "x" }]))
      const listed = yield* Effect.flip(archive.list(file))
      assert.strictEqual(listed._tag, "ArchiveError")
      assert.strictEqual(listed.entry, "../evil")
      const read = yield* Effect.flip(archive.readManifest(file))
      assert.strictEqual(read._tag, "ArchiveError")
    }).pipe(Effect.scoped, Effect.provide(PackageArchive.Default)))

  it.effect("a missing archive file is an ArchiveError naming it", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const error = yield* Effect.flip(archive.open("/nonexistent/dir/pkg.fmpkg"))
      assert.strictEqual(error._tag, "ArchiveError")
      assert.include(error.message, "/nonexistent/dir/pkg.fmpkg")
      assert.include(error.message, "ENOENT")
    }).pipe(Effect.provide(PackageArchive.Default)))
})

describe("extract target rules", () => {
  const setup = Effect.gen(function*() {
    const dir = makeTempDir()
    yield* Effect.addFinalizer(() => Effect.sync(() => removeDir(dir)))
    const file = writeArchive(dir, "ok.fmpkg", minimalZip())
    return { dir, file }
  })

  it.effect("refuses a non-empty target and leaves it unchanged", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const { dir, file } = yield* setup
      const target = path.join(dir, "target")
      fs.mkdirSync(target)
      fs.writeFileSync(path.join(target, "mine.txt"), "mine")
      const before = snapshotTree(dir)
      const error = yield* Effect.flip(archive.extract(file, target))
      assert.strictEqual(error._tag, "ArchiveError")
      assert.match(error.message, /is not empty/)
      assert.deepStrictEqual(snapshotTree(dir), before)
    }).pipe(Effect.scoped, Effect.provide(PackageArchive.Default)))

  it.effect("refuses a target that is a file", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const { dir, file } = yield* setup
      const target = path.join(dir, "target")
      fs.writeFileSync(target, "a file")
      const before = snapshotTree(dir)
      const error = yield* Effect.flip(archive.extract(file, target))
      assert.match(error.message, /not a directory/)
      assert.deepStrictEqual(snapshotTree(dir), before)
    }).pipe(Effect.scoped, Effect.provide(PackageArchive.Default)))

  it.effect("extracts into an existing empty directory and leaves no staging directory", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const { dir, file } = yield* setup
      const target = path.join(dir, "target")
      fs.mkdirSync(target)
      const opened = yield* archive.extract(file, target)
      assert.strictEqual(opened.manifest.name, "demo-pkg")
      assert.deepStrictEqual(fs.readdirSync(target).sort(), ["manifest.json", "pipelines"])
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), ["ok.fmpkg", "target"])
    }).pipe(Effect.scoped, Effect.provide(PackageArchive.Default)))
})
