// Builds what `npm ci` / `npm install` must produce: the bundled CLI (dist/fm.js) and, when it
// exists, the web UI (dist/ui). Run by the `prepare` and `build` scripts; nothing is downloaded.
import * as esbuild from "esbuild"
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { pathToFileURL } from "node:url"

rmSync("dist", { recursive: true, force: true })
mkdirSync("dist", { recursive: true })

/**
 * @effect/cli imports `yaml` and `toml` (about 150 KiB minified, parsed on every `fm` start) only
 * for `Args.fileParse` / `Options.fileParse` / `fileSchema`, which fm does not use (src/ has no
 * such call). They are replaced by a stub that fails clearly should that ever change.
 */
const unusedCliParsers = {
  name: "fm-unused-cli-parsers",
  setup(build) {
    build.onResolve({ filter: /^(yaml|toml)$/ }, (args) =>
      /[\\/]@effect[\\/]cli[\\/]/.test(args.importer)
        ? { path: args.path, namespace: "fm-unused-cli-parser" }
        : undefined)
    build.onLoad({ filter: /.*/, namespace: "fm-unused-cli-parser" }, (args) => ({
      contents: `export const parse = () => { throw new Error("fm is built without ${args.path} support ` +
        `(esbuild.config.mjs stubs it out; @effect/cli's fileParse/fileSchema need it)") }`,
      loader: "js"
    }))
  }
}

/**
 * fm's sources import Effect's barrels (`import { Effect, Schema } from "effect"`). Bundled as
 * ES modules that costs nothing (esbuild drops what is unused), but in the CommonJS bundle below
 * every module behind an `import()` is wrapped in a lazy initialiser, and initialising a barrel
 * initialises all its modules: `fm registry list` ran the top level of all of effect (and of the
 * fast-check copy behind `effect/FastCheck`). This rewrites such imports in src/ to the modules
 * themselves (`import * as Effect from "effect/Effect"`), reading each barrel's `export * as`
 * list; any name it does not know leaves the import as written. Lines are kept (source maps).
 */
const barrelMaps = new Map()
const barrelMap = (pkg) => {
  if (!barrelMaps.has(pkg)) {
    const map = new Map()
    try {
      const text = readFileSync(path.join("node_modules", pkg, "dist", "esm", "index.js"), "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/^\s*\/\/.*$/gm, "")
      for (const m of text.matchAll(/export\s*\*\s*as\s+(\w+)\s+from\s*"\.\/([\w/]+)\.js"/g)) {
        map.set(m[1], { from: `${pkg}/${m[2]}`, name: "*" })
      }
      for (const m of text.matchAll(/export\s*\{([^}]*)\}\s*from\s*"\.\/([\w/]+)\.js"/g)) {
        for (const n of m[1].split(",").map((x) => x.trim()).filter((x) => /^\w+$/.test(x))) {
          map.set(n, { from: `${pkg}/${m[2]}`, name: n })
        }
      }
    } catch {
      // no ESM barrel where expected: imports of this package stay as they are
    }
    barrelMaps.set(pkg, map)
  }
  return barrelMaps.get(pkg)
}
const deepImports = {
  name: "fm-deep-imports",
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, (args) => {
      const text = readFileSync(args.path, "utf8")
      const contents = text.replace(
        /^import\s+\{([^}]*)\}\s+from\s+"(effect|@effect\/[\w-]+)";?[ \t]*$/gm,
        (whole, specifiers, pkg) => {
          const map = barrelMap(pkg)
          const types = []
          const values = []
          for (const spec of specifiers.split(",").map((x) => x.trim()).filter((x) => x !== "")) {
            const m = spec.match(/^(type\s+)?(\w+)(?:\s+as\s+(\w+))?$/)
            if (m === null) return whole
            if (m[1] !== undefined) types.push(spec)
            else if (map.has(m[2])) values.push({ ...map.get(m[2]), local: m[3] ?? m[2] })
            else return whole
          }
          const lines = [
            ...(types.length > 0 ? [`import { ${types.join(", ")} } from "${pkg}";`] : []),
            ...values.map((v) =>
              v.name === "*"
                ? `import * as ${v.local} from "${v.from}";`
                : `import { ${v.name} as ${v.local} } from "${v.from}";`
            )
          ]
          return lines.join(" ") + "\n".repeat(whole.split("\n").length - 1)
        }
      )
      return { contents, loader: "ts" }
    })
  }
}

/**
 * better-sqlite3's JavaScript is bundled (so it is in the code cache instead of being read and
 * compiled from node_modules on every start); its native addon is not. better-sqlite3 finds the
 * addon with the `bindings` package, which walks the stack and tries a dozen paths on every start
 * (tens of milliseconds of a registry server's start-up). Here it is loaded from where
 * better-sqlite3 builds or installs it, `<better-sqlite3>/build/Release/`; anywhere else,
 * `bindings` searches better-sqlite3's directory as before.
 */
const sqliteAddon = {
  name: "fm-sqlite-addon",
  setup(build) {
    build.onResolve(
      { filter: /^bindings$/ },
      (args) =>
        /[\\/]better-sqlite3[\\/]/.test(args.importer) ? { path: "bindings", namespace: "fm-sqlite-addon" } : undefined
    )
    build.onLoad({ filter: /.*/, namespace: "fm-sqlite-addon" }, () => ({
      contents: `const path = require("node:path")
const fs = require("node:fs")
const { createRequire } = require("node:module")
module.exports = (name) => {
  const pkg = require.resolve("better-sqlite3/package.json")
  const root = path.dirname(pkg)
  const built = path.join(root, "build", "Release", name)
  if (fs.existsSync(built)) return require(built)
  // bindings as better-sqlite3 itself finds and calls it, searching better-sqlite3's directory
  return createRequire(pkg)("bindings")({ bindings: name, module_root: root })
}
`,
      loader: "js"
    }))
  }
}

/**
 * @effect/platform's HttpApiSwagger holds the Swagger UI (its script and stylesheet, about 1.9 MB
 * of text) in a module of its own, which the docs page (`/api/v1/registry/docs`) is the only user
 * of. Bundled, every `fm` start read and copied that text (half the bundle) and the server's code
 * cache carried it too. Instead it is written to dist/swagger-ui.json and read when the docs page
 * is first built; the module is replaced by one that reads the file on first use.
 */
const SWAGGER_UI_FILE = "swagger-ui.json"
/** The module replaced, as esbuild resolved it (what writeSwaggerUi reads). */
let swaggerUiModule
const lazySwaggerUi = {
  name: "fm-lazy-swagger-ui",
  setup(build) {
    build.onResolve({ filter: /[\\/]internal[\\/]httpApiSwagger\.js$/ }, (args) => {
      if (!/[\\/]@effect[\\/]platform[\\/]/.test(args.importer)) return undefined
      swaggerUiModule = path.join(path.dirname(args.importer), args.path)
      return { path: args.path, namespace: "fm-lazy-swagger-ui" }
    })
    build.onLoad({ filter: /.*/, namespace: "fm-lazy-swagger-ui" }, () => ({
      contents: `let ui
const load = () => ui ??= JSON.parse(require("node:fs").readFileSync(require("node:path").join(__dirname, ${
        JSON.stringify(SWAGGER_UI_FILE)
      }), "utf8"))
module.exports = { get css() { return load().css }, get javascript() { return load().javascript } }
`,
      loader: "js"
    }))
  }
}

/** Writes the Swagger UI text the bundle's docs page reads (see `lazySwaggerUi`) to dist/. */
const writeSwaggerUi = async () => {
  if (swaggerUiModule === undefined) throw new Error("esbuild did not reach @effect/platform's Swagger UI module")
  const { css, javascript } = await import(pathToFileURL(swaggerUiModule).href)
  if (typeof css !== "string" || typeof javascript !== "string") throw new Error("no Swagger UI in @effect/platform")
  writeFileSync(path.join("dist", SWAGGER_UI_FILE), JSON.stringify({ css, javascript }))
}

/**
 * Packages that are imported at the top of modules on every `fm studio start` (and other commands)
 * but used only later, if at all: `ws` (@effect/platform-node's HTTP server needs it only for a
 * WebSocket upgrade, which fm never serves; it loads Node's `https` and `tls`) and `semver` (its
 * index loads every function, and `ranges/subset` parses comparators at load). An import of one of
 * them by the given importers gets a module with the same export names whose getters load the
 * package on first use (the package itself stays in the bundle, initialised only then).
 */
const LAZY_PACKAGES = {
  ws: /[\\/]@effect[\\/]platform-node(-shared)?[\\/]/,
  semver: /[\\/]src[\\/].*\.ts$/
}
const lazyPackages = {
  name: "fm-lazy-packages",
  setup(build) {
    build.onResolve(
      { filter: new RegExp(`^(${Object.keys(LAZY_PACKAGES).join("|")})$`) },
      (args) =>
        args.namespace === "file" && LAZY_PACKAGES[args.path].test(args.importer)
          ? { path: args.path, namespace: "fm-lazy-package", pluginData: { resolveDir: args.resolveDir } }
          : undefined
    )
    build.onLoad({ filter: /.*/, namespace: "fm-lazy-package" }, async (args) => {
      const names = Object.keys(createRequire(path.join(args.pluginData.resolveDir, "x.js"))(args.path))
      const getters = names.map((n) => `  get ${JSON.stringify(n)}() { return load()[${JSON.stringify(n)}] }`)
      return {
        contents: `let pkg
const load = () => pkg ??= require(${JSON.stringify(args.path)})
module.exports = {
${getters.join(",\n")}
}
`,
        loader: "js",
        resolveDir: args.pluginData.resolveDir
      }
    })
  }
}

/**
 * effect's `Utils` module probes, when it is initialised (on every `fm` start), whether a bundler
 * renamed or inlined its `effect_internal_function` wrapper: it formats a `new Error().stack`
 * and looks for the name. Formatting a stack makes V8 compute the line ends of the script a frame
 * is in, here the whole 1.7 MB bundle (about 20 M instructions, 1.3 % of a frozen install). In
 * this bundle the answer is known: esbuild keeps property names, so the arrow function keeps the
 * name `effect_internal_function` (the build checks the wrapper is in the output as written). The
 * probe is replaced by that answer; every other line of the module is as published.
 */
const EFFECT_UTILS_PROBE =
  "standard.effect_internal_function(() => new Error().stack)?.includes(\"effect_internal_function\") === true"
const effectUtilsProbe = {
  name: "fm-effect-utils-probe",
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]effect[\\/]dist[\\/]esm[\\/]Utils\.js$/ }, (args) => {
      const text = readFileSync(args.path, "utf8")
      if (!text.includes(EFFECT_UTILS_PROBE)) {
        throw new Error(`${args.path}: effect's internalCall probe changed; update fm-effect-utils-probe`)
      }
      return { contents: text.replace(EFFECT_UTILS_PROBE, "true"), loader: "js" }
    })
  }
}

/**
 * Packages fm never loads from the bundle, or only optionally (left to `require`). The AWS SDK
 * (archives in S3, `--blob-url`) is required from node_modules when asked for: it loads parts of
 * itself with `import()`, which the bundle cannot hold.
 */
const external = [
  "better-sqlite3/package.json", // only resolved, by fm-sqlite-addon
  "@parcel/watcher",
  "pg-native",
  "playwright-core",
  "autocannon",
  "@aws-sdk/client-s3"
]

/**
 * The CLI is two files:
 * - dist/cli-<hash>.cjs, the command tree (src/cli/Main.ts and everything it loads), one CommonJS
 *   bundle whose whole text is a function expression. dist/fm.js runs it with `vm.Script` and a V8
 *   code cache (src/cli/CodeCache.ts), which an ES module cannot have on Node 20; compiling this
 *   code was most of fm's start-up time. Subcommands stay lazily initialised (esbuild wraps what
 *   `import()` reaches), so `fm registry list` runs only the registry command's modules.
 * - dist/fm.js, the executable (CommonJS too, see dist/package.json): `fm --version`, and the
 *   loader of the bundle, whose name it gets through `define` (the hash in it keys the code cache).
 */
if (existsSync("src/cli/bin.ts")) {
  const tree = await esbuild.build({
    entryPoints: { cli: "src/cli/Main.ts" },
    entryNames: "[name]-[hash]",
    outExtension: { ".js": ".cjs" },
    outdir: "dist",
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    charset: "ascii", // CodeCache.ts reads the bundle as latin1 (checked below)
    legalComments: "linked", // the licences go to dist/cli-<hash>.cjs.LEGAL.txt (they are not ASCII)
    sourcemap: "linked",
    minify: true,
    metafile: true,
    plugins: [unusedCliParsers, deepImports, sqliteAddon, lazySwaggerUi, lazyPackages, effectUtilsProbe],
    external,
    // `import.meta.url` (src/server/webui/WebUi.ts finds dist/ui with it) is the bundle's own URL
    define: { "import.meta.url": "__fmImportMetaUrl" },
    banner: {
      js: "(function (exports, require, module, __filename, __dirname) { \"use strict\"; " +
        "var __fmImportMetaUrl = require(\"node:url\").pathToFileURL(__filename).href;"
    },
    footer: { js: "\n})" },
    logLevel: "warning"
  })
  await writeSwaggerUi()
  const bundle = Object.keys(tree.metafile.outputs).find((f) => f.endsWith(".cjs"))
  if (bundle === undefined) throw new Error("esbuild produced no dist/cli-*.cjs")
  const text = readFileSync(bundle, "latin1")
  if (/[\x80-\xff]/.test(text)) throw new Error(`${bundle} is not ASCII`)
  // vm.Script has no module loader for import() on Node 20 (short of an experimental flag that
  // warns on stderr): everything the bundle loads must be bundled or require()d
  if (/\bimport\(/.test(text)) throw new Error(`${bundle} contains import(): bundle that module or require() it`)
  // fm-effect-utils-probe's answer: the wrapper keeps its name (a property key, never renamed)
  if (!/[{,]effect_internal_function:\w+=>\w+\(\)[,}]/.test(text)) {
    throw new Error(`${bundle}: effect's effect_internal_function wrapper is not as fm-effect-utils-probe expects`)
  }
  await esbuild.build({
    entryPoints: { fm: "src/cli/bin.ts" },
    outdir: "dist",
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    sourcemap: "linked",
    minify: true,
    define: {
      FM_CLI_BUNDLE: JSON.stringify(path.basename(bundle)),
      "import.meta.url": "__fmImportMetaUrl"
    },
    banner: { js: "\"use strict\"; var __fmImportMetaUrl = require(\"node:url\").pathToFileURL(__filename).href;" },
    external,
    logLevel: "warning"
  })
  // dist/fm.js is CommonJS: Node starts a CommonJS main module without its ES module loader
  // (whose set-up, and the ES module views of every builtin imported, cost about 15 ms a run)
  writeFileSync("dist/package.json", JSON.stringify({ type: "commonjs" }, null, 2) + "\n")
  chmodSync("dist/fm.js", 0o755)
}

if (existsSync("src/ui/build.mjs")) {
  await import("./src/ui/build.mjs")
}
