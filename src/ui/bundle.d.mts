/** Builds the web UI into `outDir` and returns the entry script and stylesheet paths inside it. */
export declare const buildUi: (options: { readonly outDir: string }) => Promise<{ readonly js: string; readonly css: string; readonly outDir: string }>
/** `dist/ui` at the repository root. */
export declare const defaultOutDir: string
