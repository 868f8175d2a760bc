/**
 * The built `fm` against hostile registries (test/helpers/hostile-registry.ts): every transfer
 * ends (stalls, endless bodies, lying lengths, oversized JSON), nothing unverified lands in
 * `--dir` (traversal archives, a manifest naming another package), no escape code a registry
 * sends reaches the terminal (run under a pseudo-terminal, asserted on the bytes), Ctrl-C clears
 * the progress line and exits 130, and no temp file is left behind. How long `fm` took to give up
 * is printed as a table at the end.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { buildZip, projectManifest } from "../helpers/archives.js"
import { makeTempDir, removeDir, removeFmBinSnapshot, runFm } from "../helpers/cli.js"
import { type HostileOptions, runFmPty, startHostile } from "../helpers/hostile-registry.js"
import { makeFmpkg, writeRegistries } from "../helpers/quirky-server.js"

const TIMEOUT_S = 1
const env = {
  FLOWMASON_HTTP_TIMEOUT: String(TIMEOUT_S),
  FLOWMASON_HTTP_RETRIES: "0",
  FLOWMASON_HTTP_RETRY_DELAY_MS: "10"
}
/** Children are killed after this; a run that needs it has hung. */
const KILL_MS = 25_000

const timings: Array<{ readonly case: string; readonly outcome: string; readonly ms: number }> = []
const dirs: Array<string> = []
let good: Uint8Array

beforeAll(async () => {
  good = await makeFmpkg("victim", "1.0.0")
})

afterAll(() => {
  for (const d of dirs) removeDir(d)
  removeFmBinSnapshot()
  const rows = timings.map((t) => `| ${t.case} | ${t.outcome} | ${(t.ms / 1000).toFixed(2)} s |`)
  console.log(
    [
      `fm against hostile registries (FLOWMASON_HTTP_TIMEOUT=${TIMEOUT_S}, retries 0)`,
      "| case | outcome | fm gave up after |",
      "|---|---|---|",
      ...rows
    ]
      .join("\n")
  )
})

/** A home with one registry `evil` at the hostile stand-in, and a target directory. */
const setup = async (options: HostileOptions) => {
  const hostile = await startHostile(options)
  const home = makeTempDir("fm-hostile-")
  dirs.push(home)
  writeRegistries(home, [{ name: "evil", url: hostile.url, priority: 1 }])
  const target = path.join(home, "deep", "a", "b", "target")
  return { hostile, home, target }
}

/** Files left in the download cache's temp directory. */
const tmpLeftovers = (home: string): Array<string> => {
  const tmp = path.join(home, "cache", "packages", "tmp")
  return fs.existsSync(tmp) ? fs.readdirSync(tmp) : []
}

const record = (name: string, r: { readonly code: number | null; readonly ms: number }, stderr = "") => {
  const first = stderr.split("\n").find((l) => l.startsWith("error:")) ?? ""
  timings.push({
    case: name,
    outcome: r.code === null ? "killed (hung)" : `exit ${r.code}${first === "" ? "" : `: ${first.slice(0, 110)}`}`,
    ms: r.ms
  })
}

/**
 * Runs `fm` (args given the target directory) against a hostile registry serving victim@1.0.0
 * (`good` unless `options` say otherwise), records how long it took, and stops the registry.
 */
const against = async (
  label: string,
  options: Partial<HostileOptions>,
  args: (target: string) => ReadonlyArray<string>,
  extraEnv: Record<string, string> = {}
) => {
  const { home, hostile, target } = await setup({ name: "victim", version: "1.0.0", archive: good, ...options })
  try {
    const r = await runFm(args(target), { home, env: { ...env, ...extraEnv }, timeoutMs: KILL_MS })
    record(label, r, r.stderr)
    return { r, home, target }
  } finally {
    await hostile.stop()
  }
}

const install = (target: string) => ["install", "victim", "--dir", target]

describe("every transfer ends", () => {
  it("a download that stalls mid-body ends after the idle timeout; no temp file stays", async () => {
    const { home, r, target } = await against("download stalls after 10 bytes", { download: "stall" }, install)
    assert.strictEqual(r.code, 1, r.stderr)
    assert.match(r.stderr, /evil: unavailable \(the download stalled: no data for 1s\)/)
    assert.deepStrictEqual(tmpLeftovers(home), [])
    assert.isFalse(fs.existsSync(target))
  })

  it("package info that stalls mid-body ends after the idle timeout", async () => {
    const { r } = await against("package info stalls mid-body", { metadata: "stall" }, () => ["info", "victim"])
    assert.strictEqual(r.code, 1, r.stderr)
    assert.match(r.stderr, /evil: unavailable \(no data for 1s\)/)
  })

  it("an endless download stops at the size the metadata declared", async () => {
    const { home, r, target } = await against(`endless download, ${good.length} bytes declared`, {
      download: "endless"
    }, install)
    assert.strictEqual(r.code, 1, r.stderr)
    assert.match(r.stderr, new RegExp(`registry evil .*more than the ${good.length} bytes`))
    assert.deepStrictEqual(tmpLeftovers(home), [])
    assert.isFalse(fs.existsSync(target))
  })

  it("an endless download with no declared size stops at FLOWMASON_MAX_DOWNLOAD_BYTES", async () => {
    const { home, r } = await against(
      "endless download, no size declared (max 2 MiB)",
      { download: "endless", info: { size_bytes: 0 } },
      install,
      { FLOWMASON_MAX_DOWNLOAD_BYTES: String(2 * 1024 * 1024) }
    )
    assert.strictEqual(r.code, 1, r.stderr)
    assert.match(r.stderr, /registry evil .*more than the 2097152 bytes/)
    assert.deepStrictEqual(tmpLeftovers(home), [])
  })

  it("a Content-Length over the declared size is refused before any byte is stored", async () => {
    const { home, r } = await against("Content-Length 10 GiB, endless body", { download: "lying-length" }, install)
    assert.strictEqual(r.code, 1, r.stderr)
    assert.match(r.stderr, /registry evil .*announced 10737418240 bytes/)
    assert.deepStrictEqual(tmpLeftovers(home), [])
  })

  it("an error answer to a download (403) whose body never ends is cut off at 16 MiB", async () => {
    const { home, r } = await against(
      "download answers 403 with an endless body",
      { download: "endless", downloadError: { status: 403, detail: "" } },
      install
    )
    assert.strictEqual(r.code, 1, r.stderr)
    assert.match(r.stderr, /registry evil refused access \(403\) for victim@1\.0\.0/)
    assert.deepStrictEqual(tmpLeftovers(home), [])
  })

  it("package info over 16 MiB is refused with an error naming the registry", async () => {
    const { r } = await against("package info of 20 MiB", { metadata: "huge" }, () => ["info", "victim"])
    assert.strictEqual(r.code, 1, r.stderr)
    assert.match(r.stderr, /registry evil .*over the 16 MiB limit/)
  })

  it("a search answer over 16 MiB is refused with an error naming the registry", async () => {
    const { r } = await against("search answer of 20 MiB", { search: "huge" }, () => ["search", "victim"])
    assert.strictEqual(r.code, 1, r.stderr)
    assert.match(r.stderr, /warning: registry evil .*over the 16 MiB limit/)
  })
})

describe("every transfer ends: the health check of fm registry add", () => {
  it("a health answer over 16 MiB is refused (the registry is saved, with a warning)", async () => {
    const { home, hostile } = await setup({ name: "victim", version: "1.0.0", archive: good, health: "huge" })
    try {
      const r = await runFm(["registry", "add", "big", hostile.url], { home, env, timeoutMs: KILL_MS })
      record("health answer of 20 MiB (registry add)", r, r.stderr)
      assert.strictEqual(r.code, 0, r.stderr)
      assert.match(r.stderr, /warning: .*over 16777216 bytes/)
    } finally {
      await hostile.stop()
    }
  })
})

describe("nothing unverified lands", () => {
  const traversal = buildZip([
    { name: "manifest.json", data: projectManifest("victim", "1.0.0") },
    { name: "../../../evil.txt", data: "planted" }
  ])

  it("a traversal archive is refused without --extract: no archive, no folder", async () => {
    const { r, target } = await against("archive with ../../../evil.txt, no --extract", { archive: traversal }, install)
    assert.strictEqual(r.code, 1, r.stderr)
    assert.match(r.stderr, /refusing to install victim@1\.0\.0 from registry evil: .*evil\.txt/)
    assert.isFalse(fs.existsSync(target))
  })

  it("a traversal archive is refused with --extract: no archive, no folder", async () => {
    const { home, r, target } = await against(
      "archive with ../../../evil.txt, --extract",
      { archive: traversal },
      (t) => [...install(t), "--extract"]
    )
    assert.strictEqual(r.code, 1, r.stderr)
    assert.isFalse(fs.existsSync(target))
    assert.isFalse(fs.existsSync(path.join(home, "deep", "evil.txt")))
  })

  it("an archive whose manifest names another package is refused", async () => {
    const { r, target } = await against(
      "manifest says other@1.0.0 for victim@1.0.0",
      { archive: await makeFmpkg("other", "1.0.0") },
      install
    )
    assert.strictEqual(r.code, 1, r.stderr)
    assert.match(r.stderr, /victim@1\.0\.0.*manifest.*other@1\.0\.0/)
    assert.isFalse(fs.existsSync(target))
  })

  it("an archive whose manifest has another version is refused", async () => {
    const { r, target } = await against(
      "manifest says victim@0.9.0 for victim@1.0.0",
      { archive: await makeFmpkg("victim", "0.9.0") },
      (t) => [...install(t), "--extract"]
    )
    assert.strictEqual(r.code, 1, r.stderr)
    assert.match(r.stderr, /victim@1\.0\.0.*manifest.*victim@0\.9\.0/)
    assert.isFalse(fs.existsSync(target))
  })
})

describe("nothing unverified lands in a project", () => {
  it("a project install refuses an archive whose manifest names another package, from the network and from the cache", async () => {
    const { home, hostile } = await setup({
      name: "victim",
      version: "1.0.0",
      archive: await makeFmpkg("other", "1.0.0")
    })
    try {
      const project = path.join(home, "project")
      fs.mkdirSync(project)
      fs.writeFileSync(
        path.join(project, "manifest.json"),
        JSON.stringify({ name: "demo", version: "1.0.0", dependencies: { victim: "^1.0.0" } })
      )
      for (const attempt of ["download", "cache hit"]) {
        const r = await runFm(["install"], { home, env, cwd: project, timeoutMs: KILL_MS })
        record(`project install, manifest says other@1.0.0 (${attempt})`, r, r.stderr)
        assert.strictEqual(r.code, 1, r.stderr)
        assert.match(r.stderr, /victim.*manifest is for other@1\.0\.0/)
        assert.isFalse(fs.existsSync(path.join(project, "fm_packages")))
        assert.isFalse(fs.existsSync(path.join(project, "fm.lock.json")))
      }
    } finally {
      await hostile.stop()
    }
  })
})

/** Escape codes of every kind: CSI (clear screen, home, conceal), OSC (title, BEL and ST), 8-bit CSI, DCS, CR, BEL. */
const EVIL =
  "A\u001b[2J\u001b[H\u001b]0;pwned-title\u0007\u001b[8mhidden\u001b[0m\u009b31mC1\u0090dcs\u001b\\\u001b]8;;http://x\u001b\\link\rB\u0007Z"
const evilInfo = {
  description: `desc-${EVIL}`,
  author: `author-${EVIL}`,
  license: `license-${EVIL}`,
  category: `category-${EVIL}`,
  tags: [`tag-${EVIL}`],
  components: [`comp-${EVIL}`],
  dependencies: { [`dep-${EVIL}`]: `^1-${EVIL}` },
  homepage: `home-${EVIL}`,
  checksum: `sum-${EVIL}`,
  available_versions: ["1.0.0", `ver-${EVIL}`]
}

/**
 * No control codes at all other than the terminal's own CR LF line ends (the pty turns LF into CR
 * LF) and fm's own colour of its `error:` and `hint:` labels (exactly those: issue #14 wants
 * `error:` red on a terminal; a registry's text is never printed with them).
 */
const expectNoControls = (screen: Buffer) => {
  const text = screen.toString("utf8").replaceAll("\r\n", "\n")
    .replaceAll("\u001b[1;31merror:\u001b[0m", "error:")
    .replaceAll("\u001b[1;36mhint:\u001b[0m", "hint:")
  // eslint-disable-next-line no-control-regex
  const bad = text.match(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g) ?? []
  assert.deepStrictEqual(bad.map((c) => c.charCodeAt(0).toString(16)), [], JSON.stringify(text))
}

describe("what registries send is text, never control", () => {
  it("fm info on a terminal: every field plain, nothing else", async () => {
    const { home, hostile } = await setup({ name: "victim", version: "1.0.0", archive: good, info: evilInfo })
    try {
      const r = await runFmPty(["info", "victim"], { home, env, timeoutMs: KILL_MS })
      assert.strictEqual(r.code, 0, r.screen.toString())
      expectNoControls(r.screen)
      const text = r.screen.toString("utf8")
      for (
        const field of [
          "desc-A",
          "author-A",
          "license-A",
          "category-A",
          "tag-A",
          "comp-A",
          "dep-A",
          "home-A",
          "sum-A",
          "ver-A"
        ]
      ) {
        assert.include(text, field)
      }
      assert.include(text, "hidden")
      assert.notInclude(text, "pwned-title")
      // off a terminal (piped, as in a log file) the same
      const piped = await runFm(["info", "victim"], { home, env, timeoutMs: KILL_MS })
      assert.strictEqual(piped.code, 0, piped.stderr)
      expectNoControls(Buffer.from(piped.stdout + piped.stderr))
    } finally {
      await hostile.stop()
    }
  })

  it("fm info --json stays exact (JSON escapes the codes)", async () => {
    const { home, hostile } = await setup({ name: "victim", version: "1.0.0", archive: good, info: evilInfo })
    try {
      const r = await runFmPty(["info", "victim", "--json"], { home, env, timeoutMs: KILL_MS })
      assert.strictEqual(r.code, 0, r.screen.toString())
      expectNoControls(r.screen)
      const json = JSON.parse(r.screen.toString("utf8").replaceAll("\r\n", "\n")) as Record<string, unknown>
      assert.strictEqual(json["description"], `desc-${EVIL}`)
      assert.strictEqual(json["author"], `author-${EVIL}`)
    } finally {
      await hostile.stop()
    }
  })

  it("fm search and fm versions on a terminal: the table is plain text", async () => {
    const { home, hostile } = await setup({ name: "victim", version: "1.0.0", archive: good, info: evilInfo })
    try {
      const s = await runFmPty(["search", "victim"], { home, env, timeoutMs: KILL_MS })
      assert.strictEqual(s.code, 0, s.screen.toString())
      expectNoControls(s.screen)
      assert.match(s.screen.toString("utf8"), /victim\s+1\.0\.0\s+evil\s+category-A/)
      const v = await runFmPty(["versions", "victim"], { home, env, timeoutMs: KILL_MS })
      assert.strictEqual(v.code, 0, v.screen.toString())
      expectNoControls(v.screen)
    } finally {
      await hostile.stop()
    }
  })

  it("errors, hints and warnings from a registry are plain text", async () => {
    const { home, hostile, target } = await setup({
      name: "victim",
      version: "1.0.0",
      archive: good,
      downloadError: { status: 403, detail: `denied-${EVIL}\nhint: fake advice` }
    })
    try {
      const r = await runFmPty(["install", "victim", "--dir", target], { home, env, timeoutMs: KILL_MS })
      assert.strictEqual(r.code, 1, r.screen.toString())
      expectNoControls(r.screen)
      const text = r.screen.toString("utf8").replaceAll("\r\n", "\n")
      assert.include(text, "denied-A")
      // the registry's text cannot start a line of its own (no fake `hint:`)
      assert.notMatch(text, /^hint: fake advice/m)
      const s = await runFmPty(["search", "victim"], {
        home,
        env: { ...env, FLOWMASON_HTTP_TIMEOUT: "5" },
        timeoutMs: KILL_MS
      })
      expectNoControls(s.screen)
    } finally {
      await hostile.stop()
    }
  })

  it("Ctrl-C during a download clears the progress line, exits 130 and leaves no temp file", async () => {
    const big = await makeFmpkg("victim", "1.0.0", { padBytes: 3 * 1024 * 1024 })
    const { home, hostile, target } = await setup({
      name: "victim",
      version: "1.0.0",
      archive: big,
      download: "stall",
      stallAfter: 2 * 1024 * 1024
    })
    try {
      const r = await runFmPty(["install", "victim", "--dir", target], {
        home,
        env: { ...env, FLOWMASON_HTTP_TIMEOUT: "20" },
        timeoutMs: KILL_MS,
        keys: "\u0003",
        keysWhen: (screen) => screen.includes("MiB")
      })
      record("Ctrl-C during a stalled download", r)
      const text = r.screen.toString("latin1")
      assert.strictEqual(r.code, 130, text)
      assert.include(text, "downloading victim")
      // the last thing on the progress line is a clear (CR, erase line)
      const lastBar = text.lastIndexOf("downloading victim")
      assert.include(text.slice(lastBar), "\r\u001b[2K")
      assert.deepStrictEqual(tmpLeftovers(home), [])
      assert.isFalse(fs.existsSync(target))
    } finally {
      await hostile.stop()
    }
  })
})

describe("config writes leave no token-bearing temp files", () => {
  it("temp files a killed `fm registry add` left next to registries.json are removed by the next write", async () => {
    const home = makeTempDir("fm-hostile-config-")
    dirs.push(home)
    writeRegistries(home, [{ name: "one", url: "http://127.0.0.1:1", priority: 1, auth_token: "secret-token" }])
    const stale = [".registries.json.4242.lx1.tmp", ".registries.json.99999.abc123.tmp"]
    for (const f of stale) {
      fs.writeFileSync(path.join(home, f), "{\"registries\":[{\"auth_token\":\"secret-token\"}]}", { mode: 0o600 })
    }
    const r = await runFm(["registry", "add", "two", "http://127.0.0.1:2"], { home, env, timeoutMs: KILL_MS })
    assert.strictEqual(r.code, 0, r.stderr)
    assert.deepStrictEqual(fs.readdirSync(home).filter((f) => f.endsWith(".tmp")), [])
    assert.isTrue(fs.existsSync(path.join(home, "registries.json")))
  })
})
