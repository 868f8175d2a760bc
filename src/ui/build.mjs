// Run by esbuild.config.mjs (the `build` and `prepare` scripts): builds the web UI into dist/ui.
import { buildUi, defaultOutDir } from "./bundle.mjs"

await buildUi({ outDir: defaultOutDir })
