/**
 * A tiny DOM builder: `h("a", { href }, "text")`. Text is always inserted as text nodes, never as
 * HTML, so registry data cannot inject markup.
 * @since 0.1.0
 */

/** Anything that can be a child of {@link h}. @since 0.1.0 */
export type Child = Node | string | number | null | undefined | false | ReadonlyArray<Child>

/** Attributes and `on<event>` listeners accepted by {@link h}. @since 0.1.0 */
export type Props = Record<string, string | number | boolean | null | undefined | EventListener>

/** `Array.isArray` narrows to `any[]`; this keeps the element type. */
const isChildList = (child: Child): child is ReadonlyArray<Child> => Array.isArray(child)

const append = (parent: Node, child: Child): void => {
  if (child === null || child === undefined || child === false) return
  if (isChildList(child)) {
    for (const c of child) append(parent, c)
  } else if (child instanceof Node) {
    parent.appendChild(child)
  } else {
    parent.appendChild(document.createTextNode(String(child)))
  }
}

/**
 * Creates an element with attributes (`false`/`null`/`undefined` omit it, `true` sets it empty),
 * listeners (`onclick`, ...) and children.
 * @since 0.1.0
 */
export const h = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Array<Child>
): HTMLElementTagNameMap[K] => {
  const el = document.createElement(tag)
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue
      if (typeof value === "function") {
        el.addEventListener(key.slice(2), value)
      } else {
        el.setAttribute(key, value === true ? "" : String(value))
      }
    }
  }
  append(el, children)
  return el
}

/** Replaces all children of `el`. @since 0.1.0 */
export const replace = (el: Element, ...children: Array<Child>): void => {
  el.textContent = ""
  append(el, children)
}

/** Only `http:` and `https:` URLs may become links (no `javascript:` from registry data). @since 0.1.0 */
export const safeHref = (url: string | null | undefined): string | undefined => {
  if (!url) return undefined
  try {
    const u = new URL(url)
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : undefined
  } catch {
    return undefined
  }
}
