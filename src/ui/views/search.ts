/**
 * The search page (`/?q=&category=&page=`): a search form with a category filter, the results
 * (announced politely) and pagination. The form survives re-renders so focus stays where it is.
 * @since 0.1.0
 */
import { api, type Pkg } from "../api.js"
import { h, replace } from "../dom.js"
import { formatCount, formatDate } from "../format.js"
import type { Ctx, Rendered } from "./common.js"

/** Results per page. @since 0.1.0 */
export const PAGE_SIZE = 20

interface SearchPage {
  readonly root: HTMLElement
  readonly h1: HTMLHeadingElement
  readonly q: HTMLInputElement
  readonly category: HTMLSelectElement
  readonly status: HTMLElement
  readonly resultsHeading: HTMLHeadingElement
  readonly list: HTMLElement
  readonly pager: HTMLElement
  categoriesLoaded: boolean
}

let page: SearchPage | undefined

const build = (navigate: (href: string) => void): SearchPage => {
  const q = h("input", {
    id: "q",
    name: "q",
    type: "search",
    autocomplete: "off",
    enterkeyhint: "search",
    placeholder: "name, description, tag"
  })
  const category = h("select", { id: "category", name: "category" }, h("option", { value: "" }, "All categories"))
  const form = h(
    "form",
    {
      role: "search",
      class: "search",
      "aria-label": "Packages",
      onsubmit: (e: Event) => {
        e.preventDefault()
        navigate(searchHref(q.value.trim(), category.value, 1))
      }
    },
    h("div", { class: "field grow" }, h("label", { for: "q" }, "Search packages"), q),
    h("div", { class: "field" }, h("label", { for: "category" }, "Category"), category),
    h("button", { type: "submit" }, "Search")
  )
  const h1 = h("h1", { tabindex: "-1" }, "Find packages")
  const status = h("p", { id: "result-status", role: "status", "aria-live": "polite", "aria-atomic": "true" })
  const resultsHeading = h("h2", { id: "results-heading", tabindex: "-1", class: "sr-only" }, "Results")
  const list = h("ol", { class: "results", "aria-labelledby": "results-heading" })
  const pager = h("nav", { class: "pager", "aria-label": "Result pages" })
  const root = h(
    "div",
    { class: "search-page" },
    h1,
    form,
    h("section", { "aria-labelledby": "results-heading" }, resultsHeading, status, list, pager)
  )
  return { root, h1, q, category, status, resultsHeading, list, pager, categoriesLoaded: false }
}

/** The URL of a search. @since 0.1.0 */
export const searchHref = (q: string, category: string, pageNo: number): string => {
  const p = new URLSearchParams()
  if (q) p.set("q", q)
  if (category) p.set("category", category)
  if (pageNo > 1) p.set("page", String(pageNo))
  const s = p.toString()
  return s ? `/?${s}` : "/"
}

const card = (pkg: Pkg): HTMLElement =>
  h(
    "li",
    { class: "card" },
    h(
      "h3",
      null,
      h("a", { href: `/packages/${encodeURIComponent(pkg.name)}` }, pkg.name),
      " ",
      h("span", { class: "ver" }, pkg.version)
    ),
    pkg.description ? h("p", null, pkg.description) : h("p", { class: "muted" }, "No description."),
    h(
      "p",
      { class: "meta" },
      pkg.category ? h("span", null, pkg.category) : null,
      h("span", null, `${formatCount(pkg.component_count ?? pkg.components?.length ?? 0)} components`),
      h("span", null, `${formatCount(pkg.downloads)} downloads`),
      h("span", null, `published ${formatDate(pkg.published_at)}`)
    )
  )

/** Renders (or updates) the search page for the current URL. @since 0.1.0 */
export const renderSearch = async (
  ctx: Ctx,
  navigate: (href: string) => void,
  fromNavigation: boolean
): Promise<Rendered> => {
  const params = ctx.url.searchParams
  const q = (params.get("q") ?? "").trim()
  const category = params.get("category") ?? ""
  const pageNo = Math.min(Math.max(Number.parseInt(params.get("page") ?? "1", 10) || 1, 1), 100_000)
  const p = page ?? (page = build(navigate))
  const fresh = !ctx.main.contains(p.root)
  if (fresh) ctx.main.replaceChildren(p.root)
  p.q.value = q
  if (!p.categoriesLoaded) {
    const cats = await api.categories(ctx.signal)
    for (const c of [...cats].sort()) p.category.append(h("option", { value: c }, c))
    p.categoriesLoaded = true
  }
  if (category && ![...p.category.options].some((o) => o.value === category)) {
    p.category.append(h("option", { value: category }, category))
  }
  p.category.value = category
  p.status.textContent = "Searching…"
  p.list.setAttribute("aria-busy", "true")
  const res = await api.search(q, category, pageNo, PAGE_SIZE, ctx.signal)
  p.list.removeAttribute("aria-busy")
  replace(p.list, res.packages.map(card))
  const total = res.total_count ?? res.packages.length
  const pages = Math.max(1, Math.ceil(total / (res.page_size ?? PAGE_SIZE)))
  const what = [q ? `matching “${q}”` : "", category ? `in ${category}` : ""].filter(Boolean).join(" ")
  const count = `${formatCount(total)} ${total === 1 ? "package" : "packages"}${what ? " " + what : ""}`
  p.status.textContent = total === 0
    ? `No packages${what ? " " + what : ""}.`
    : pages > 1
    ? `${count}, page ${pageNo} of ${pages}.`
    : `${count}.`
  replace(
    p.pager,
    pageNo > 1 ? h("a", { href: searchHref(q, category, pageNo - 1), rel: "prev" }, "← Previous") : null,
    pages > 1 ? h("span", { "aria-current": "page" }, `Page ${pageNo} of ${pages}`) : null,
    pageNo < pages ? h("a", { href: searchHref(q, category, pageNo + 1), rel: "next" }, "Next →") : null
  )
  const title = q || category ? `Search: ${[q, category].filter(Boolean).join(", ")}` : "Packages"
  // After a page change the clicked pager link is gone: put focus at the start of the results.
  const lost = document.activeElement === document.body || document.activeElement === null
  return { title, focus: fresh ? p.h1 : lost && fromNavigation ? p.resultsHeading : undefined }
}
