/**
 * The package page (`/packages/{name}` and `/packages/{name}/{version}`): description, the
 * `fm install` line with a copy button, the download link, details (checksum, size, downloads),
 * components, dependencies and every version with its date and yank status.
 * @since 0.1.0
 */
import {
  api,
  ApiError,
  downloadPath,
  downloadWithToken,
  getToken,
  type Pkg,
  type Release,
  type Versions
} from "../api.js"
import { h, replace, safeHref } from "../dom.js"
import { compareVersions, formatBytes, formatCount, timeEl } from "../format.js"
import { type Ctx, heading, type Rendered } from "./common.js"
import { searchHref } from "./search.js"

const pkgHref = (name: string, version?: string): string =>
  `/packages/${encodeURIComponent(name)}${version ? `/${encodeURIComponent(version)}` : ""}`

const copyText = async (text: string): Promise<void> => {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text)
    return
  }
  const ta = h("textarea", { readonly: true, class: "offscreen", "aria-hidden": "true" }, text)
  document.body.append(ta)
  ta.select()
  const ok = document.execCommand("copy")
  ta.remove()
  if (!ok) throw new Error("the browser refused to copy")
}

const installBlock = (pkg: Pkg, pinned: boolean): HTMLElement => {
  const cmd = pinned ? `fm install ${pkg.name} --version ${pkg.version}` : `fm install ${pkg.name}`
  const status = h("span", { class: "copy-status", role: "status", "aria-live": "polite" })
  const button = h(
    "button",
    {
      type: "button",
      class: "secondary",
      "aria-label": "Copy install command",
      onclick: () => {
        copyText(cmd).then(
          () => (status.textContent = "Copied"),
          (
            e: unknown
          ) => (status.textContent = `Copy failed: ${
            e instanceof Error ? e.message : String(e)
          }; select the text instead`)
        )
      }
    },
    "Copy"
  )
  return h(
    "section",
    { class: "install", "aria-labelledby": "install-heading" },
    h("h2", { id: "install-heading" }, "Install"),
    h("div", { class: "cmd" }, h("code", { id: "install-cmd" }, cmd), button, status)
  )
}

const downloadBlock = (pkg: Pkg): HTMLElement => {
  const file = `${pkg.name}-${pkg.version}.fmpkg`
  const status = h("p", { class: "download-status", role: "status", "aria-live": "polite" })
  const link = h(
    "a",
    {
      id: "download",
      class: "button",
      href: downloadPath(pkg.name, pkg.version),
      download: file,
      onclick: (e: Event) => {
        // A private registry needs the token, which a plain link cannot send: fetch, verify, save.
        if (getToken() === undefined) return
        e.preventDefault()
        status.textContent = `Downloading ${file}…`
        downloadWithToken(pkg.name, pkg.version, pkg.checksum ?? "").then(
          (verified) => (status.textContent = `Saved ${file}${verified ? " (SHA-256 verified)" : ""}.`),
          (
            err: unknown
          ) => (status.textContent = `Download failed: ${err instanceof Error ? err.message : String(err)}`)
        )
      }
    },
    `Download ${file}`
  )
  return h("div", { class: "download" }, link, h("span", { class: "muted" }, ` ${formatBytes(pkg.size_bytes)}`), status)
}

const row = (label: string, value: Node | string | null | undefined): Array<HTMLElement> =>
  value === null || value === undefined || value === "" ? [] : [h("dt", null, label), h("dd", null, value)]

const extLink = (url: string | null | undefined): HTMLElement | string | undefined => {
  const href = safeHref(url)
  return href ? h("a", { href, rel: "noopener noreferrer" }, href) : url ?? undefined
}

/** Downloads of this version and of all versions, from the releases when the server lists them. */
interface DownloadCounts {
  readonly version: number
  readonly total: number | undefined
}

const details = (pkg: Pkg, downloads: DownloadCounts): HTMLElement =>
  h(
    "section",
    { "aria-labelledby": "details-heading" },
    h("h2", { id: "details-heading" }, "Details"),
    h(
      "dl",
      { class: "details" },
      row("Version", pkg.version),
      row("Published", timeEl(pkg.published_at)),
      row("Size", formatBytes(pkg.size_bytes)),
      row(
        "Downloads",
        downloads.total === undefined
          ? formatCount(downloads.version)
          : `${formatCount(downloads.version)} of this version, ${formatCount(downloads.total)} of all versions`
      ),
      row("SHA-256", pkg.checksum ? h("code", { id: "checksum", class: "hash" }, pkg.checksum) : undefined),
      row("Category", pkg.category ? h("a", { href: searchHref("", pkg.category, 1) }, pkg.category) : undefined),
      row("Tags", pkg.tags && pkg.tags.length > 0 ? pkg.tags.join(", ") : undefined),
      row("License", pkg.license),
      row("Author", pkg.author ? (pkg.author_email ? `${pkg.author} <${pkg.author_email}>` : pkg.author) : undefined),
      row("Kind", pkg.kind),
      row("FlowMason", pkg.flowmason_version),
      row("Homepage", extLink(pkg.homepage)),
      row("Repository", extLink(pkg.repository))
    )
  )

const listSection = (id: string, title: string, items: ReadonlyArray<Node | string>, empty: string): HTMLElement =>
  h(
    "section",
    { "aria-labelledby": id },
    h("h2", { id }, title),
    items.length > 0
      ? h("ul", { class: "chips" }, items.map((i) => h("li", null, i)))
      : h("p", { class: "muted" }, empty)
  )

const dependencies = (pkg: Pkg): HTMLElement => {
  const deps = Object.entries(pkg.dependencies ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const py = pkg.python_requirements ?? []
  return h(
    "section",
    { "aria-labelledby": "deps-heading" },
    h("h2", { id: "deps-heading" }, "Dependencies"),
    deps.length > 0
      ? h(
        "ul",
        { class: "deps" },
        deps.map(([n, range]) => h("li", null, h("a", { href: pkgHref(n) }, n), " ", h("code", null, range)))
      )
      : h("p", { class: "muted" }, "No registry dependencies."),
    py.length > 0
      ? [
        h("h3", null, "Python requirements"),
        h("ul", { class: "chips" }, py.map((r) => h("li", null, h("code", null, r))))
      ]
      : null
  )
}

const versionsTable = (name: string, releases: ReadonlyArray<Release>, current: string): HTMLElement => {
  const sorted = [...releases].sort((a, b) => compareVersions(b.version, a.version))
  return h(
    "section",
    { "aria-labelledby": "versions-heading" },
    h("h2", { id: "versions-heading" }, `Versions (${sorted.length})`),
    h(
      "div",
      { class: "table-wrap", role: "region", "aria-labelledby": "versions-heading", tabindex: "0" },
      h(
        "table",
        { class: "versions" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["Version", "Published", "Size", "Downloads", "Status"].map((c) => h("th", { scope: "col" }, c))
          )
        ),
        h(
          "tbody",
          null,
          sorted.map((r) =>
            h(
              "tr",
              { class: r.version === current ? "current" : null, "data-version": r.version },
              h(
                "th",
                { scope: "row" },
                h(
                  "a",
                  { href: pkgHref(name, r.version), "aria-current": r.version === current ? "page" : null },
                  r.version
                )
              ),
              h("td", null, timeEl(r.published_at)),
              h("td", null, r.size_bytes !== undefined ? formatBytes(r.size_bytes) : ""),
              h("td", null, formatCount(r.downloads)),
              h(
                "td",
                null,
                r.yanked
                  ? [h("span", { class: "badge yanked" }, "Yanked"), r.yank_reason ? ` ${r.yank_reason}` : ""]
                  : r.version === current
                  ? h("span", { class: "muted" }, "viewing")
                  : ""
              )
            )
          )
        )
      )
    )
  )
}

const downloadCounts = (pkg: Pkg, releases: ReadonlyArray<Release>, listed: boolean): DownloadCounts => {
  const own = releases.find((r) => r.version === pkg.version)
  if (!listed || own?.downloads === undefined) return { version: pkg.downloads ?? 0, total: undefined }
  return { version: own.downloads, total: releases.reduce((n, r) => n + (r.downloads ?? 0), 0) }
}

/** Renders the page of `name` (latest) or `name@version`. @since 0.1.0 */
export const renderPackage = async (ctx: Ctx, name: string, version: string | undefined): Promise<Rendered> => {
  const [pkg, versions] = await Promise.all([
    api.info(name, version, ctx.signal),
    api.versions(name, ctx.signal).catch((e: unknown): Versions | undefined => {
      // Older registries answer 404 here: fall back to the package's own version list.
      if (e instanceof ApiError && e.status === 404) return undefined
      throw e
    })
  ])
  const releases: ReadonlyArray<Release> = versions?.releases && versions.releases.length > 0
    ? versions.releases
    : (versions?.versions ?? pkg.available_versions ?? [pkg.version]).map((v) => ({ version: v }))
  const latest = versions?.latest_version ?? pkg.latest_version ?? null
  const isLatest = latest === pkg.version
  const h1 = heading(
    pkg.name,
    " ",
    h("span", { class: "ver" }, pkg.version),
    isLatest ? h("span", { class: "badge" }, "latest") : "",
    pkg.yanked ? h("span", { class: "badge yanked" }, "yanked") : ""
  )
  const comps = (pkg.components ?? []).filter((c) => c !== "")
  replace(
    ctx.main,
    h("nav", { "aria-label": "Breadcrumb", class: "crumbs" }, h("a", { href: "/" }, "Packages"), " / ", pkg.name),
    h1,
    pkg.description ? h("p", { class: "lead" }, pkg.description) : h("p", { class: "muted" }, "No description."),
    pkg.yanked
      ? h(
        "p",
        { class: "alert", role: "note" },
        `Version ${pkg.version} was yanked${pkg.yank_reason ? `: ${pkg.yank_reason}` : "."}`,
        latest && !isLatest ? [" ", h("a", { href: pkgHref(pkg.name, latest) }, `See ${latest}`)] : ""
      )
      : null,
    !isLatest && latest && !pkg.yanked
      ? h("p", { class: "note" }, "A newer version exists: ", h("a", { href: pkgHref(pkg.name, latest) }, latest))
      : null,
    h(
      "div",
      { class: "grid" },
      installBlock(pkg, version !== undefined || !isLatest),
      h("section", { "aria-label": "Download" }, h("h2", null, "Download"), downloadBlock(pkg))
    ),
    details(pkg, downloadCounts(pkg, releases, versions !== undefined)),
    listSection(
      "components-heading",
      `Components (${comps.length || pkg.component_count || 0})`,
      comps.map((c) => h("code", null, c)),
      pkg.component_count ? `${pkg.component_count} components (names not listed).` : "No components."
    ),
    dependencies(pkg),
    versionsTable(pkg.name, releases, pkg.version)
  )
  return { title: `${pkg.name} ${pkg.version}`, focus: h1 }
}
