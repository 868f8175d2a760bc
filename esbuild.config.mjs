// Builds what `npm ci` / `npm install` must produce: the bundled CLI (dist/fm.js) and, when it
// exists, the web UI (dist/ui). Run by the `prepare` and `build` scripts; nothing is downloaded.
import * as esbuild from "esbuild"
import { existsSync, mkdirSync, rmSync, chmodSync } from "node:fs"

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

if (existsSync("src/cli/bin.ts")) {
  await esbuild.build({
    entryPoints: { fm: "src/cli/bin.ts" },
    outdir: "dist",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: "linked",
    minify: true,
    plugins: [unusedCliParsers],
    external: ["better-sqlite3", "@parcel/watcher", "pg-native", "playwright-core", "autocannon"],
    banner: {
      js: "import { createRequire as __fmCreateRequire } from 'node:module'; const require = __fmCreateRequire(import.meta.url);"
    },
    logLevel: "warning"
  })
  chmodSync("dist/fm.js", 0o755)
}

if (existsSync("src/ui/build.mjs")) {
  await import("./src/ui/build.mjs")
}
