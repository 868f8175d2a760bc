/**
 * The categories and stats page (`/categories`).
 * @since 0.1.0
 */
import { api, type Category } from "../api.js"
import { h } from "../dom.js"
import { formatBytes, formatCount } from "../format.js"
import { type Ctx, heading, type Rendered } from "./common.js"
import { searchHref } from "./search.js"

/** Renders the registry's stats and every category with its package count. @since 0.1.0 */
export const renderCategories = async (ctx: Ctx): Promise<Rendered> => {
  const [stats, names] = await Promise.all([api.stats(ctx.signal), api.categories(ctx.signal)])
  const counts = new Map<string, number | undefined>((stats.categories ?? []).map((c: Category) => [c.name, c.count]))
  for (const n of names) if (!counts.has(n)) counts.set(n, undefined)
  const cats = [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const h1 = heading("Categories and stats")
  const stat = (label: string, value: string) => h("div", { class: "stat" }, h("dt", null, label), h("dd", null, value))
  ctx.main.replaceChildren(
    h1,
    h(
      "section",
      { "aria-labelledby": "stats-heading" },
      h("h2", { id: "stats-heading" }, "Registry"),
      h(
        "dl",
        { class: "stats" },
        stat("Packages", formatCount(stats.packages)),
        stat("Versions", formatCount(stats.versions)),
        stat("Components", formatCount(stats.components)),
        stat("Downloads", formatCount(stats.total_downloads)),
        stat("Stored", formatBytes(stats.total_size_bytes))
      )
    ),
    h(
      "section",
      { "aria-labelledby": "cats-heading" },
      h("h2", { id: "cats-heading" }, `Categories (${cats.length})`),
      cats.length > 0
        ? h(
          "ul",
          { class: "categories" },
          cats.map(([name, count]) =>
            h(
              "li",
              null,
              h("a", { href: searchHref("", name, 1) }, name),
              count !== undefined
                ? h("span", { class: "count" }, ` ${formatCount(count)} ${count === 1 ? "package" : "packages"}`)
                : null
            )
          )
        )
        : h("p", { class: "muted" }, "No categories yet.")
    )
  )
  return { title: "Categories and stats", focus: h1 }
}
