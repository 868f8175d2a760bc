/**
 * What every page shares: the render context, headings and error pages.
 * @since 0.1.0
 */
import { ApiError } from "../api.js"
import { h } from "../dom.js"

/**
 * What a page gets to render itself into `main`: an abort signal (a newer navigation cancels an
 * older one), whether this render came from a user navigation (then focus moves), and the
 * polite announcer for screen readers.
 * @since 0.1.0
 */
export interface Ctx {
  readonly main: HTMLElement
  readonly url: URL
  readonly signal: AbortSignal
  readonly announce: (message: string) => void
}

/** What a page reports back: its title and the element to focus after a navigation. @since 0.1.0 */
export interface Rendered {
  readonly title: string
  readonly focus?: HTMLElement | null | undefined
  /** Move focus even on the first load (the token prompt). */
  readonly forceFocus?: boolean | undefined
}

/** A page heading that can receive focus after a navigation. @since 0.1.0 */
export const heading = (text: string, ...rest: Array<Node | string>): HTMLHeadingElement =>
  h("h1", { tabindex: "-1" }, text, ...rest)

/** The page shown for an error that is not a 401. @since 0.1.0 */
export const renderError = (ctx: Ctx, error: unknown, what: string): Rendered => {
  const notFound = error instanceof ApiError && error.status === 404
  const h1 = heading(notFound ? "Not found" : "Something went wrong")
  const detail = error instanceof ApiError ? error.message : error instanceof Error ? error.message : String(error)
  ctx.main.replaceChildren(
    h1,
    h("p", { class: "alert", role: "alert" }, `Could not load ${what}: ${detail}`),
    h("p", null, h("a", { href: "/" }, "Back to search"))
  )
  return { title: notFound ? "Not found" : "Error", focus: h1 }
}
