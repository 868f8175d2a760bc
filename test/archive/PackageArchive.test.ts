/**
 * PackageArchive on real files: deterministic packing (both formats), round trips, FlowMason-style
 * packages, and archives written by third-party tools (python3 zipfile, Info-ZIP, GNU tar, npm tar).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as tar from "tar"
import { vi } from "vitest"
import { READ_WHOLE_BYTES } from "../../src/archive/internal/operations.js"
import { PackageArchive } from "../../src/archive/PackageArchive.js"
import { sha256Hex } from "../../src/shared/Checksum.js"
import {
  buildZip,
  componentManifest,
  makeTempDir,
  projectManifest,
  removeDir,
  snapshotTree,
  writeTree
} from "../helpers/archives.js"

const tempDir = Effect.acquireRelease(Effect.sync(() => makeTempDir()), (dir) => Effect.sync(() => removeDir(dir)))

const projectTree = (): Record<string, string | Uint8Array> => ({
  "manifest.json": projectManifest("demo-pkg", "1.2.3", {
    author: "Ada <ada@example.com>",
    dependencies: { "flowmason-http": "^1.0.0" },
    components: ["components/nodes/summarize.py"],
    pipelines: ["pipelines/main.pipeline.json"]
  }),
  "pipelines/main.pipeline.json": JSON.stringify({ stages: [{ id: "a" }] }),
  "components/nodes/summarize.py": "def run():\n    return 1\n",
  "prompts/templates/intro.txt": "Hello {{name}}\n".repeat(50),
  "config/default.env": "LEVEL=1\n",
  "data/random.bin": crypto.randomBytes(300_000),
  "unicodé/naïve.txt": "non-ascii names survive\n",
  [`deep/${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(60)}.txt`]: "a long path needing ustar prefix or pax\n",
  "empty.txt": ""
})

const python = (script: string, ...args: Array<string>): string =>
  execFileSync("python3", ["-c", script, ...args], { encoding: "utf8" })

describe("pack", () => {
  for (const format of ["zip", "tar"] as const) {
    it.scoped(`${format}: packing twice gives byte-identical archives, whatever the mtimes and location`, () =>
      Effect.gen(function*() {
        const archive = yield* PackageArchive
        const dir = yield* tempDir
        const src = path.join(dir, "src")
        writeTree(src, projectTree())
        const first = yield* archive.pack(src, { output: path.join(dir, "a.fmpkg"), format })
        // touch every file with a different mtime, copy the tree elsewhere, pack again
        for (const [rel] of Object.entries(projectTree())) {
          fs.utimesSync(path.join(src, ...rel.split("/")), new Date(2001, 1, 1), new Date(2001, 1, 1))
        }
        const copy = path.join(dir, "elsewhere", "copy")
        fs.cpSync(src, copy, { recursive: true })
        const second = yield* archive.pack(copy, { output: path.join(dir, "b.fmpkg"), format })
        assert.strictEqual(first.format, format)
        assert.strictEqual(first.sha256, second.sha256)
        assert.strictEqual(first.sha256, sha256Hex(fs.readFileSync(first.file)))
        assert.strictEqual(first.size, fs.statSync(first.file).size)
        assert.isTrue(fs.readFileSync(first.file).equals(fs.readFileSync(second.file)))
        // format is told by the first bytes
        const head = fs.readFileSync(first.file).subarray(0, 2).toString("hex")
        assert.strictEqual(head, format === "zip" ? "504b" : "1f8b")
      }).pipe(Effect.provide(PackageArchive.Default)))

    it.scoped(`${format}: pack, open, readManifest and extract agree with the source`, () =>
      Effect.gen(function*() {
        const archive = yield* PackageArchive
        const dir = yield* tempDir
        const src = path.join(dir, "src")
        writeTree(src, projectTree())
        fs.chmodSync(path.join(src, "components/nodes/summarize.py"), 0o755)
        const packed = yield* archive.pack(src, { output: path.join(dir, "out", "p.fmpkg"), format })
        assert.strictEqual(packed.manifest.name, "demo-pkg")
        assert.strictEqual(packed.manifest.version, "1.2.3")
        const opened = yield* archive.open(packed.file)
        assert.deepStrictEqual(opened.manifest, packed.manifest)
        assert.strictEqual(opened.format, format)
        assert.strictEqual(opened.size, packed.size)
        assert.deepStrictEqual(
          opened.entries.map((e) => e.path),
          Object.keys(projectTree()).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
        )
        const manifest = yield* archive.readManifest(packed.file)
        assert.deepStrictEqual(manifest, packed.manifest)
        const listed = yield* archive.list(packed.file)
        assert.deepStrictEqual(listed, opened.entries)
        const target = path.join(dir, "x")
        const extracted = yield* archive.extract(packed.file, target)
        assert.deepStrictEqual(extracted.manifest, packed.manifest)
        assert.deepStrictEqual(snapshotTree(target), snapshotTree(src))
        assert.strictEqual(fs.statSync(path.join(target, "components/nodes/summarize.py")).mode & 0o111, 0o111)
        assert.strictEqual(fs.statSync(path.join(target, "manifest.json")).mode & 0o111, 0)
        assert.deepStrictEqual(fs.readdirSync(dir).sort(), ["out", "src", "x"])
      }).pipe(Effect.provide(PackageArchive.Default)))
  }

  for (const format of ["zip", "tar"] as const) {
    it.scoped(`${format}: files over 1 MiB (streamed when packed, written in pieces when extracted) round-trip`, () =>
      Effect.gen(function*() {
        const archive = yield* PackageArchive
        const dir = yield* tempDir
        const src = path.join(dir, "src")
        writeTree(src, {
          "manifest.json": projectManifest("big-pkg", "1.0.0"),
          "data/exact.bin": crypto.randomBytes(1024 * 1024),
          "data/large.bin": crypto.randomBytes(3 * 1024 * 1024 + 7),
          "data/text.txt": crypto.randomBytes(1_200_000).toString("hex"),
          "z.txt": "after the big ones\n"
        })
        const packed = yield* archive.pack(src, { output: path.join(dir, "p.fmpkg"), format })
        assert.strictEqual(packed.sha256, sha256Hex(fs.readFileSync(packed.file)))
        const target = path.join(dir, "x")
        yield* archive.extract(packed.file, target)
        assert.deepStrictEqual(snapshotTree(target), snapshotTree(src))
      }).pipe(Effect.provide(PackageArchive.Default)))
  }

  it.scoped("our ZIP is read by python3 zipfile and our tar by GNU tar", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const dir = yield* tempDir
      const src = path.join(dir, "src")
      writeTree(src, projectTree())
      const zip = yield* archive.pack(src, { output: path.join(dir, "p.zip.fmpkg") })
      const tgz = yield* archive.pack(src, { output: path.join(dir, "p.tar.fmpkg"), format: "tar" })
      const report = python(
        "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint(z.testzip())\n" +
          "print(sorted(set(i.date_time for i in z.infolist())))\nz.extractall(sys.argv[2])",
        zip.file,
        path.join(dir, "py")
      )
      assert.strictEqual(report, "None\n[(1980, 1, 1, 0, 0, 0)]\n")
      assert.deepStrictEqual(snapshotTree(path.join(dir, "py")), snapshotTree(src))
      fs.mkdirSync(path.join(dir, "gnu"))
      execFileSync("tar", ["xzf", tgz.file, "-C", path.join(dir, "gnu")])
      assert.deepStrictEqual(snapshotTree(path.join(dir, "gnu")), snapshotTree(src))
      const verbose = execFileSync("tar", ["tzvf", tgz.file, "--numeric-owner"], { encoding: "utf8" })
      for (const line of verbose.trim().split("\n")) {
        assert.match(line, /^-rw[-x]r-[-x]r-[-x] 0\/0 .* 1970-01-01 00:00 /)
      }
    }).pipe(Effect.provide(PackageArchive.Default)))

  it.scoped("leaves out hidden files, __pycache__, *.pyc and *.fmpkg; default output is <cwd>/<name>-<version>.fmpkg", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const dir = yield* tempDir
      const src = path.join(dir, "src")
      writeTree(src, {
        "manifest.json": projectManifest("hidden-test", "0.1.0"),
        "main.py": "x = 1\n",
        ".env": "SECRET=1\n",
        ".git/config": "[core]\n",
        "__pycache__/main.cpython-311.pyc": "bytecode",
        "lib/util.pyc": "bytecode",
        "packages/hidden-test-0.0.9.fmpkg": "old package"
      })
      const cwd = process.cwd()
      process.chdir(src)
      const packed = yield* archive.pack(src).pipe(Effect.ensuring(Effect.sync(() => process.chdir(cwd))))
      assert.strictEqual(packed.file, path.join(fs.realpathSync(src), "hidden-test-0.1.0.fmpkg"))
      const entries = yield* archive.list(packed.file)
      assert.deepStrictEqual(entries.map((e) => e.path), ["main.py", "manifest.json"])
      // packing again in the same directory does not pick up the previous output
      process.chdir(src)
      const again = yield* archive.pack(src).pipe(Effect.ensuring(Effect.sync(() => process.chdir(cwd))))
      assert.strictEqual(again.sha256, packed.sha256)
    }).pipe(Effect.provide(PackageArchive.Default)))

  it.scoped("refuses symlinks, a missing manifest and a bad manifest, writing nothing", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const dir = yield* tempDir
      const src = path.join(dir, "src")
      writeTree(src, { "manifest.json": projectManifest(), "a.txt": "a" })
      fs.symlinkSync("/etc/passwd", path.join(src, "link"))
      const out = path.join(dir, "out.fmpkg")
      const link = yield* Effect.flip(archive.pack(src, { output: out }))
      assert.strictEqual(link._tag, "ArchiveError")
      assert.match(link.message, /entry 'link': is a symbolic link/)
      fs.unlinkSync(path.join(src, "link"))
      fs.unlinkSync(path.join(src, "manifest.json"))
      const missing = yield* Effect.flip(archive.pack(src, { output: out }))
      assert.strictEqual(missing._tag, "ManifestError")
      assert.match(missing.message, /missing manifest/)
      fs.writeFileSync(path.join(src, "flowmason-package.json"), JSON.stringify({ name: "x", version: "nope" }))
      const bad = yield* Effect.flip(archive.pack(src, { output: out }))
      assert.strictEqual(bad._tag, "ManifestError")
      assert.match(bad.message, /flowmason-package\.json: field 'version'/)
      assert.deepStrictEqual(fs.readdirSync(dir), ["src"])
    }).pipe(Effect.provide(PackageArchive.Default)))
})

describe("FlowMason-style packages (built with python3 zipfile exactly as FlowMason's builders do)", () => {
  it.scoped("component package: flowmason-package.json + index.py + requirements.txt", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const dir = yield* tempDir
      const file = path.join(dir, "json_transform-1.0.0.fmpkg")
      python(
        "import sys, zipfile\n" +
          "with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as zf:\n" +
          "    zf.writestr('flowmason-package.json', sys.argv[2])\n" +
          "    zf.writestr('index.py', 'class JsonTransform:\\n    pass\\n')\n" +
          "    zf.writestr('requirements.txt', 'jmespath>=1.0\\n')\n",
        file,
        componentManifest()
      )
      const opened = yield* archive.open(file)
      assert.strictEqual(opened.format, "zip")
      assert.strictEqual(opened.manifest.name, "json_transform")
      assert.strictEqual(opened.manifest.kind, "component")
      assert.deepStrictEqual(opened.manifest.pythonRequirements, ["jmespath>=1.0"])
      assert.deepStrictEqual(opened.entries.map((e) => e.path), [
        "flowmason-package.json",
        "index.py",
        "requirements.txt"
      ])
      const target = path.join(dir, "x")
      yield* archive.extract(file, target)
      assert.strictEqual(fs.readFileSync(path.join(target, "requirements.txt"), "utf8"), "jmespath>=1.0\n")
    }).pipe(Effect.provide(PackageArchive.Default)))

  it.scoped("project package as FlowMason's fm pack writes it: manifest.json + pipelines/ + components/", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const dir = yield* tempDir
      const project = path.join(dir, "project")
      writeTree(project, {
        "pipelines/main.pipeline.json": "{\"stages\": []}",
        "components/nodes/summarize.py": "def run(): pass\n",
        "components/operators/filter.py": "def run(): pass\n",
        "prompts/templates/a.txt": "hi",
        "config/default.env": "A=1\n"
      })
      const file = path.join(dir, "my-workflow-1.0.0.fmpkg")
      const manifest = JSON.stringify({
        name: "my-workflow",
        version: "1.0.0",
        description: "Content processing pipeline",
        author: "team@company.com",
        license: "MIT",
        flowmason: ">=0.1.0",
        entry: "pipelines/main.pipeline.json",
        exports: ["pipelines/main.pipeline.json"],
        dependencies: { "flowmason-http": "^1.0.0" },
        pipelines: ["pipelines/main.pipeline.json"],
        components: ["components/nodes/summarize.py", "components/operators/filter.py"],
        built_at: "2024-05-01T10:00:00",
        built_by: "flowmason-cli"
      })
      python(
        "import sys, zipfile, pathlib\n" +
          "root = pathlib.Path(sys.argv[2])\n" +
          "with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as zf:\n" +
          "    zf.writestr('manifest.json', sys.argv[3])\n" +
          "    for f in sorted(p for p in root.rglob('*') if p.is_file()):\n" +
          "        zf.write(f, str(f.relative_to(root)))\n",
        file,
        project,
        manifest
      )
      const opened = yield* archive.open(file)
      assert.strictEqual(opened.manifest.name, "my-workflow")
      assert.strictEqual(opened.manifest.kind, "project")
      assert.deepStrictEqual(opened.manifest.dependencies, { "flowmason-http": "^1.0.0" })
      assert.deepStrictEqual(opened.manifest.components, ["summarize", "filter"])
      const target = path.join(dir, "x")
      yield* archive.extract(file, target)
      const { "manifest.json": _, ...rest } = snapshotTree(target)
      assert.deepStrictEqual(rest, snapshotTree(project))
    }).pipe(Effect.provide(PackageArchive.Default)))
})

describe("ZIP structure", () => {
  it.scoped("reads ZIP64 end records and ZIP64 extra fields, an archive comment and data descriptors", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const dir = yield* tempDir
      const file = path.join(dir, "z64.fmpkg")
      fs.writeFileSync(
        file,
        buildZip([
          { name: "manifest.json", data: projectManifest("zip-sixty-four"), zip64: true },
          { name: "lib/a.py", data: "print('a')\n".repeat(100), zip64: true, flags: 8 },
          { name: "b.txt", data: "b", method: 0 }
        ], { zip64End: true, comment: "made by a test" })
      )
      const opened = yield* archive.open(file)
      assert.strictEqual(opened.manifest.name, "zip-sixty-four")
      assert.deepStrictEqual(opened.entries.map((e) => [e.path, e.size]), [
        ["manifest.json", Buffer.byteLength(projectManifest("zip-sixty-four"))],
        ["lib/a.py", 1100],
        ["b.txt", 1]
      ])
      yield* archive.extract(file, path.join(dir, "x"))
      assert.strictEqual(fs.readFileSync(path.join(dir, "x", "lib", "a.py"), "utf8"), "print('a')\n".repeat(100))
    }).pipe(Effect.provide(PackageArchive.Default)))

  it.scoped("readManifest and list of a ZIP read no file data: a corrupt non-manifest entry only fails open", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const dir = yield* tempDir
      const zip = buildZip([
        { name: "manifest.json", data: projectManifest("lazy-read") },
        { name: "payload.txt", data: "hello world", method: 0 }
      ])
      zip[zip.indexOf("hello world")] = 0x6a
      const file = path.join(dir, "lazy.fmpkg")
      fs.writeFileSync(file, zip)
      assert.strictEqual((yield* archive.readManifest(file)).name, "lazy-read")
      assert.strictEqual((yield* archive.list(file)).length, 2)
      const error = yield* Effect.flip(archive.open(file))
      assert.match(error.message, /payload\.txt.*CRC-32 mismatch/)
    }).pipe(Effect.provide(PackageArchive.Default)))
})

describe("reading archives from disk", () => {
  it.scoped("a small archive is read in one read, then checked in memory; a large one piece by piece, same answer", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const dir = yield* tempDir
      const entries = (payload: Uint8Array) => [
        { name: "manifest.json", data: projectManifest("read-whole") },
        { name: "index.js", data: "module.exports = 1\n" },
        { name: "README.md", data: "# read-whole\n" },
        { name: "data.bin", data: payload, method: 0 }
      ]
      const small = path.join(dir, "small.fmpkg")
      fs.writeFileSync(small, buildZip(entries(crypto.randomBytes(20_000))))
      const large = path.join(dir, "large.fmpkg")
      fs.writeFileSync(large, buildZip(entries(crypto.randomBytes(READ_WHOLE_BYTES + 1))))
      // FileHandle is not exported by node:fs: its prototype is that of any open handle
      const handle = yield* Effect.promise(() => fs.promises.open(small, "r"))
      const proto: { read: fs.promises.FileHandle["read"] } = Object.getPrototypeOf(handle)
      yield* Effect.promise(() => handle.close())
      const reads = vi.spyOn(proto, "read")
      yield* Effect.addFinalizer(() => Effect.sync(() => reads.mockRestore()))
      const fromSmall = yield* archive.open(small)
      const smallReads = reads.mock.calls.length
      reads.mockClear()
      const fromLarge = yield* archive.open(large)
      assert.isAtMost(smallReads, 2, `open of a ${fs.statSync(small).size}-byte archive made ${smallReads} reads`)
      assert.isAbove(reads.mock.calls.length, 2)
      assert.strictEqual(fromSmall.manifest.name, "read-whole")
      assert.deepStrictEqual(fromSmall.entries.map((e) => e.path), fromLarge.entries.map((e) => e.path))
      // a corrupt entry of a small archive is still found (every entry is inflated and CRC-checked)
      const bad = buildZip(entries(Buffer.from("x".repeat(1000))))
      bad[bad.indexOf("x".repeat(100)) + 10] = 0x79
      fs.writeFileSync(small, bad)
      assert.match((yield* Effect.flip(archive.open(small))).message, /data\.bin.*CRC-32 mismatch/)
    }).pipe(Effect.provide(PackageArchive.Default)))
})

describe("openBytes", () => {
  it.scoped("reads an archive from memory exactly as open reads it from disk (ZIP and tar)", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const dir = yield* tempDir
      writeTree(path.join(dir, "src"), projectTree())
      for (const format of ["zip", "tar"] as const) {
        const packed = yield* archive.pack(path.join(dir, "src"), {
          output: path.join(dir, `p.${format}.fmpkg`),
          format
        })
        const fromDisk = yield* archive.open(packed.file)
        const fromMemory = yield* archive.openBytes(fs.readFileSync(packed.file), "upload")
        assert.deepStrictEqual({ ...fromMemory, file: "" }, { ...fromDisk, file: "" })
        assert.strictEqual(fromMemory.file, "upload")
        assert.strictEqual(fromMemory.format, format)
      }
    }).pipe(Effect.provide(PackageArchive.Default)))
})

describe("archives written by other tools", () => {
  const sources = (dir: string) => {
    const src = path.join(dir, "src")
    writeTree(src, {
      "manifest.json": projectManifest("third-party", "2.0.0"),
      "a/b/c.txt": "nested\n",
      "big.txt": "line of text\n".repeat(20_000),
      "rand.bin": crypto.randomBytes(70_000)
    })
    return src
  }

  it.scoped("python3 zipfile: stored entries with directory entries, streamed (data descriptors), forced ZIP64", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const dir = yield* tempDir
      const src = sources(dir)
      const script = "import sys, zipfile, pathlib, io\n" +
        "root = pathlib.Path(sys.argv[1])\n" +
        "files = sorted(p for p in root.rglob('*') if p.is_file())\n" +
        "with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_STORED) as zf:\n" +
        "    zf.mkdir('a'); zf.mkdir('a/b')\n" +
        "    for f in files: zf.write(f, str(f.relative_to(root)))\n" +
        "class Unseekable(io.RawIOBase):\n" +
        "    def __init__(s, f): s.f = f\n" +
        "    def writable(s): return True\n" +
        "    def write(s, b): return s.f.write(b)\n" +
        "with open(sys.argv[3], 'wb') as raw:\n" +
        "    with zipfile.ZipFile(Unseekable(raw), 'w', zipfile.ZIP_DEFLATED) as zf:\n" +
        "        for f in files: zf.write(f, str(f.relative_to(root)))\n" +
        "with zipfile.ZipFile(sys.argv[4], 'w', zipfile.ZIP_DEFLATED) as zf:\n" +
        "    for f in files:\n" +
        "        with zf.open(str(f.relative_to(root)), 'w', force_zip64=True) as w: w.write(f.read_bytes())\n"
      const stored = path.join(dir, "stored.fmpkg")
      const streamed = path.join(dir, "streamed.fmpkg")
      const zip64 = path.join(dir, "zip64.fmpkg")
      python(script, src, stored, streamed, zip64)
      // the streamed one really uses data descriptors (general-purpose flag bit 3)
      assert.strictEqual(fs.readFileSync(streamed).readUInt16LE(6) & 8, 8)
      for (const file of [stored, streamed, zip64]) {
        const opened = yield* archive.open(file)
        assert.strictEqual(opened.manifest.name, "third-party")
        const target = path.join(dir, `x-${path.basename(file)}`)
        yield* archive.extract(file, target)
        assert.deepStrictEqual(
          Object.fromEntries(Object.entries(snapshotTree(target)).filter(([k]) => !k.endsWith("/"))),
          Object.fromEntries(Object.entries(snapshotTree(src)).filter(([k]) => !k.endsWith("/")))
        )
      }
      const dirs = (yield* archive.list(stored)).filter((e) => e.type === "directory").map((e) => e.path)
      assert.deepStrictEqual(dirs, ["a", "a/b"])
    }).pipe(Effect.provide(PackageArchive.Default)))

  it.scoped("Info-ZIP zip -r opens and extracts; zip -y with a symlink is refused", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const dir = yield* tempDir
      const src = sources(dir)
      const file = path.join(dir, "infozip.fmpkg")
      execFileSync("zip", ["-q", "-r", "-X", file, "."], { cwd: src })
      const opened = yield* archive.open(file)
      assert.strictEqual(opened.manifest.version, "2.0.0")
      yield* archive.extract(file, path.join(dir, "x"))
      assert.deepStrictEqual(snapshotTree(path.join(dir, "x")), snapshotTree(src))
      fs.symlinkSync("/etc/passwd", path.join(src, "evil-link"))
      const linked = path.join(dir, "link.fmpkg")
      execFileSync("zip", ["-q", "-r", "-y", linked, "."], { cwd: src })
      const before = snapshotTree(dir)
      const error = yield* Effect.flip(archive.extract(linked, path.join(dir, "y")))
      assert.match(error.message, /entry 'evil-link': is a symbolic link/)
      assert.deepStrictEqual(snapshotTree(dir), before)
    }).pipe(Effect.provide(PackageArchive.Default)))

  it.scoped("GNU tar czf (with ./ prefixes and directory entries) opens; GNU tar with a symlink is refused", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const dir = yield* tempDir
      const src = sources(dir)
      const file = path.join(dir, "gnu.fmpkg")
      execFileSync("tar", ["czf", file, "-C", src, "."])
      const opened = yield* archive.open(file)
      assert.strictEqual(opened.format, "tar")
      assert.strictEqual(opened.manifest.name, "third-party")
      assert.isTrue(opened.entries.some((e) => e.path === "a/b" && e.type === "directory"))
      yield* archive.extract(file, path.join(dir, "x"))
      assert.deepStrictEqual(snapshotTree(path.join(dir, "x")), snapshotTree(src))
      // a long name GNU tar stores with its own long-name extension
      writeTree(src, { [`${"long-dir-".repeat(15)}/${"n".repeat(120)}.txt`]: "long\n" })
      const gnuLong = path.join(dir, "gnu-long.fmpkg")
      execFileSync("tar", ["--format=gnu", "-czf", gnuLong, "-C", src, "."])
      yield* archive.extract(gnuLong, path.join(dir, "long"))
      assert.deepStrictEqual(snapshotTree(path.join(dir, "long")), snapshotTree(src))
      fs.symlinkSync("../../outside", path.join(src, "escape"))
      const linked = path.join(dir, "link.fmpkg")
      execFileSync("tar", ["czf", linked, "-C", src, "."])
      const error = yield* Effect.flip(archive.open(linked))
      assert.match(error.message, /entry '\.\/escape': is a symbolic link/)
    }).pipe(Effect.provide(PackageArchive.Default)))

  it.scoped("npm tar v7 (pax format) opens and extracts", () =>
    Effect.gen(function*() {
      const archive = yield* PackageArchive
      const dir = yield* tempDir
      const src = sources(dir)
      writeTree(src, { [`${"x".repeat(90)}/${"y".repeat(90)}/${"z".repeat(90)}.txt`]: "pax path\n" })
      const file = path.join(dir, "npm.fmpkg")
      yield* Effect.promise(() => tar.create({ gzip: true, file, cwd: src }, fs.readdirSync(src)))
      const opened = yield* archive.open(file)
      assert.strictEqual(opened.manifest.name, "third-party")
      yield* archive.extract(file, path.join(dir, "x"))
      assert.deepStrictEqual(snapshotTree(path.join(dir, "x")), snapshotTree(src))
    }).pipe(Effect.provide(PackageArchive.Default)))
})
