/**
 * The private-registry prompt: asks once for a read token and keeps it in sessionStorage.
 * @since 0.1.0
 */
import { type ApiError, getToken, setToken } from "../api.js"
import { h } from "../dom.js"
import { type Ctx, heading, type Rendered } from "./common.js"

/**
 * Renders the token form after a 401; `onToken` re-renders the page that asked. A refused token
 * is forgotten and the prompt says so.
 * @since 0.1.0
 */
export const renderTokenPrompt = (ctx: Ctx, error: ApiError, onToken: () => void): Rendered => {
  const refused = getToken() !== undefined
  setToken(undefined)
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "token-help" + (refused ? " token-error" : "")
  })
  const form = h(
    "form",
    {
      class: "panel",
      "aria-labelledby": "token-title",
      onsubmit: (e: Event) => {
        e.preventDefault()
        const value = input.value.trim()
        if (!value) return
        setToken(value)
        onToken()
      }
    },
    h("label", { for: "token" }, "Read token"),
    input,
    h(
      "p",
      { id: "token-help", class: "hint" },
      "Kept for this browser session only (sessionStorage) and sent as an Authorization header; never put in a URL."
    ),
    refused
      ? h("p", { id: "token-error", class: "alert", role: "alert" }, `The registry refused that token: ${error.detail}`)
      : null,
    h("button", { type: "submit" }, "Continue")
  )
  const h1 = heading("This registry is private")
  h1.id = "token-title"
  ctx.main.replaceChildren(h1, h("p", null, "Enter a token with read access to browse its packages."), form)
  return { title: "Token needed", focus: input, forceFocus: true }
}
