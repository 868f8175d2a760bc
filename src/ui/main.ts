/**
 * The web UI entry: a history-routed single-page app over the registry API. Routes: `/` (search),
 * `/packages/{name}[/{version}]`, `/categories`. Links are real hrefs; clicks on same-origin links
 * are routed here without a page load.
 * @since 0.1.0
 */
import "./styles.css"
import { api, ApiError, getToken, setToken } from "./api.js"
import { h, replace } from "./dom.js"
import { formatCount } from "./format.js"
import { renderCategories } from "./views/categories.js"
import { type Ctx, heading, type Rendered, renderError } from "./views/common.js"
import { renderPackage } from "./views/package.js"
import { renderSearch } from "./views/search.js"
import { renderTokenPrompt } from "./views/token.js"

/** An element index.html always has. */
const byId = (id: string): HTMLElement => {
  const element = document.getElementById(id)
  if (element === null) throw new Error(`index.html has no #${id}`)
  return element
}

const main = byId("main")
const announcer = byId("announcer")
const session = byId("session")
const footerInfo = byId("registry-info")

const announce = (message: string): void => {
  announcer.textContent = ""
  // A change after a tick is announced even when the text repeats.
  setTimeout(() => (announcer.textContent = message), 50)
}

let inflight: AbortController | undefined

const route = (ctx: Ctx, fromNavigation: boolean): Promise<Rendered> => {
  const path = ctx.url.pathname.replace(/\/+$/, "") || "/"
  if (path === "/" || path === "/index.html" || path === "/search") return renderSearch(ctx, navigate, fromNavigation)
  if (path === "/categories") return renderCategories(ctx)
  const m = /^\/packages\/([^/]+)(?:\/([^/]+))?$/.exec(path)
  if (m) {
    const name = decodeURIComponent(m[1])
    const version = m[2] === undefined ? undefined : decodeURIComponent(m[2])
    return renderPackage(ctx, name, version)
  }
  const h1 = heading("Page not found")
  ctx.main.replaceChildren(
    h1,
    h("p", null, "There is no page at ", h("code", null, path), ". ", h("a", { href: "/" }, "Search packages"))
  )
  return Promise.resolve({ title: "Not found", focus: h1 })
}

const renderSession = (): void => {
  replace(
    session,
    getToken() !== undefined
      ? h(
        "button",
        {
          type: "button",
          class: "secondary small",
          onclick: () => {
            setToken(undefined)
            void render(true)
          }
        },
        "Forget token"
      )
      : null
  )
}

const markNav = (path: string): void => {
  for (const a of document.querySelectorAll<HTMLAnchorElement>("header nav a")) {
    const here = a.pathname === "/" ? path === "/" || path.startsWith("/packages") : path.startsWith(a.pathname)
    if (here) a.setAttribute("aria-current", "page")
    else a.removeAttribute("aria-current")
  }
}

/** Renders the current URL; `fromNavigation` moves focus to the new page's heading. */
const render = async (fromNavigation: boolean): Promise<void> => {
  inflight?.abort()
  const ctl = new AbortController()
  inflight = ctl
  const url = new URL(location.href)
  const ctx: Ctx = { main, url, signal: ctl.signal, announce }
  main.setAttribute("aria-busy", "true")
  markNav(url.pathname)
  let rendered: Rendered
  try {
    rendered = await route(ctx, fromNavigation)
  } catch (e) {
    if (ctl.signal.aborted) return
    rendered = e instanceof ApiError && e.status === 401
      ? renderTokenPrompt(ctx, e, () => void render(true))
      : renderError(ctx, e, url.pathname === "/" ? "the search" : url.pathname)
  }
  if (ctl.signal.aborted) return
  main.removeAttribute("aria-busy")
  document.title = `${rendered.title} · fm registry`
  renderSession()
  if ((fromNavigation || rendered.forceFocus) && rendered.focus) rendered.focus.focus()
  if (fromNavigation && !main.querySelector("#result-status")) announce(rendered.title)
}

/** Goes to `href` (same origin) without a page load. */
const navigate = (href: string): void => {
  const url = new URL(href, location.href)
  if (url.href !== location.href) history.pushState(null, "", url)
  void render(true)
}

document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
  const a = e.target instanceof Element ? e.target.closest("a") : null
  if (!a || a.hasAttribute("download") || (a.target && a.target !== "_self")) return
  const url = new URL(a.href, location.href)
  if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return
  // In-page anchors (the skip link) keep the browser's own behaviour.
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return
  e.preventDefault()
  navigate(url.href)
})

addEventListener("popstate", () => void render(true))

api.health().then(
  (hl) =>
    replace(
      footerInfo,
      `${hl.registry_name || "fm registry"} · server ${hl.version || "?"} · ${formatCount(hl.packages_count)} ${
        hl.packages_count === 1 ? "package" : "packages"
      } · `,
      h("a", { href: "/api/v1/registry/health" }, "API health")
    ),
  () => replace(footerInfo, "Registry health unavailable.")
)

void render(false)
