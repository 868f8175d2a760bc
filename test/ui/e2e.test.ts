/**
 * The web UI end to end, in Debian's Chromium (playwright-core) against real registry servers
 * holding packages published through the upload endpoint. Screenshots land in `screenshots/`.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { gzipSync } from "node:zlib"
import type { Browser, BrowserContext, Page } from "playwright-core"
import {
  acquireChromium,
  acquireUiBuild,
  acquireUiServer,
  browserEnabled,
  publish,
  SCREENSHOTS,
  sha256File,
  type UiServer,
  yank
} from "./harness.js"

const FIRST_PAGE_BUDGET = 100 * 1024

/** What a page is opened with. */
interface PageOptions {
  readonly viewport?: { width: number; height: number }
  readonly isMobile?: boolean
  readonly colorScheme?: "light" | "dark"
}

/** The file's fixture: Chromium, a public and a private registry with packages, and the checksums published. */
class Ui extends Context.Tag("test/ui/Ui")<Ui, {
  readonly browser: Browser
  readonly pub: UiServer
  readonly priv: UiServer
  /** `name@version` -> SHA-256 of what was published. */
  readonly sums: Readonly<Record<string, string>>
}>() {}

const fixture = Layer.scoped(
  Ui,
  Effect.gen(function*() {
    fs.mkdirSync(SCREENSHOTS, { recursive: true })
    const uiDir = yield* acquireUiBuild
    const browser = yield* acquireChromium
    const [pub, priv] = yield* Effect.all([
      acquireUiServer({ uiDir, private: false }),
      acquireUiServer({ uiDir, private: true })
    ], { concurrency: 2 })
    const sums: Record<string, string> = {}
    yield* Effect.promise(async () => {
      const common = { license: "MIT", homepage: "https://example.com/text-tools", tags: ["nlp", "text"] }
      sums["text-tools@1.0.0"] = await publish(pub, {
        name: "text-tools",
        version: "1.0.0",
        manifest: { ...common, description: "Summarize and translate text", category: "transformers" },
        components: ["summarize"]
      })
      sums["text-tools@1.1.0"] = await publish(pub, {
        name: "text-tools",
        version: "1.1.0",
        manifest: { ...common, description: "Summarize and translate text", category: "transformers" },
        components: ["summarize", "translate"]
      })
      sums["text-tools@2.0.0"] = await publish(pub, {
        name: "text-tools",
        version: "2.0.0",
        manifest: {
          ...common,
          description: "Summarize, translate and classify text",
          category: "transformers",
          dependencies: { "http-utils": "^1.0.0" }
        },
        components: ["summarize", "translate", "classify"]
      })
      await yank(pub, "text-tools", "1.1.0", "broken tokenizer, use 2.0.0")
      sums["http-utils@1.0.0"] = await publish(pub, {
        name: "http-utils",
        version: "1.0.0",
        manifest: { description: "HTTP helpers for pipelines", category: "connectors" },
        components: ["fetch"]
      })
      for (let i = 0; i < 22; i++) {
        const name = `loader-${String(i).padStart(2, "0")}`
        await publish(pub, {
          name,
          version: "0.1.0",
          manifest: { description: `Loads source ${i}`, category: "loaders" }
        })
      }
      sums["secret-pkg@1.0.0"] = await publish(priv, {
        name: "secret-pkg",
        version: "1.0.0",
        manifest: { description: "Only for token holders", category: "internal" },
        components: ["vault"]
      })
    })
    return { browser, pub, priv, sums }
  })
)

const shot = async (page: Page, name: string, fullPage = true): Promise<void> => {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage })
}

const text = async (page: Page, selector: string): Promise<string> => ((await page.textContent(selector)) ?? "").trim()

/** The fixture and this test's browser contexts: each closed when the test ends. */
interface Session {
  readonly pub: UiServer
  readonly priv: UiServer
  readonly sums: Readonly<Record<string, string>>
  readonly newContext: (options: PageOptions) => Promise<BrowserContext>
  /** A page in a new context; its uncaught errors fail the test. */
  readonly newPage: (options?: PageOptions) => Promise<Page>
}

/**
 * A test body in the browser: its contexts are closed when it ends, and it fails if any of its
 * pages had an uncaught error.
 */
const inBrowser = (body: (session: Session) => Promise<void>) =>
  Effect.flatMap(Ui, ({ browser, priv, pub, sums }) =>
    Effect.scoped(Effect.gen(function*() {
      const contexts: Array<BrowserContext> = []
      /** Uncaught errors in the test's pages; it must end with none. */
      const pageErrors: Array<string> = []
      yield* Effect.addFinalizer(() =>
        Effect.promise(() => Promise.all(contexts.map((c) => c.close().catch(() => undefined))))
      )
      const newContext = async (options: PageOptions) => {
        const context = await browser.newContext({
          viewport: options.viewport ?? { width: 1200, height: 900 },
          isMobile: options.isMobile ?? false,
          colorScheme: options.colorScheme ?? "light"
        })
        contexts.push(context)
        return context
      }
      const newPage = async (options: PageOptions = {}) => {
        const page = await (await newContext(options)).newPage()
        page.setDefaultTimeout(15_000)
        page.on("pageerror", (e) => pageErrors.push(`${page.url()}: ${e.message}`))
        return page
      }
      yield* Effect.promise(() => body({ pub, priv, sums, newContext, newPage }))
      assert.deepStrictEqual(pageErrors, [], "uncaught errors in the page")
    })))

/** Chromium is installed (else one line says why these tests skip; FM_REQUIRE_BROWSER fails instead). */
const enabled = browserEnabled()

describe.skipIf(!enabled)("web UI in Chromium", () => {
  layer(fixture, { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("loads under 100 KiB of gzipped JavaScript and CSS on the first page", () =>
      inBrowser(async ({ newPage, pub }) => {
        const page = await newPage()
        const bodies: Array<{ url: string; bytes: Buffer }> = []
        const pending: Array<Promise<void>> = []
        page.on("response", (res) => {
          const type = res.request().resourceType()
          if (type === "script" || type === "stylesheet") {
            pending.push(res.body().then((b) => void bodies.push({ url: res.url(), bytes: b })))
          }
        })
        await page.goto(pub.url + "/")
        await page.waitForSelector("ol.results li")
        await Promise.all(pending)
        assert.isAtLeast(bodies.filter((b) => b.url.endsWith(".js")).length, 1)
        assert.isAtLeast(bodies.filter((b) => b.url.endsWith(".css")).length, 1)
        const raw = bodies.reduce((n, b) => n + b.bytes.length, 0)
        const gz = bodies.reduce((n, b) => n + gzipSync(b.bytes).length, 0)
        console.log(
          `first page JS+CSS: ${bodies.length} files, ${raw} bytes raw, ${gz} bytes gzipped (${
            (gz / 1024).toFixed(1)
          } KiB; budget 100 KiB)`
        )
        assert.isBelow(gz, FIRST_PAGE_BUDGET)
      }))

    it.effect("searches, filters by category and pages through results", () =>
      inBrowser(async ({ newPage, pub }) => {
        const page = await newPage()
        await page.goto(pub.url + "/")
        await page.waitForSelector("ol.results li")
        assert.match(await text(page, "#result-status"), /^24 packages, page 1 of 2\.$/)
        await shot(page, "search")

        await page.fill("#q", "text")
        await page.click("form[role=search] button[type=submit]")
        await page.waitForFunction(() => document.querySelector("#result-status")?.textContent?.startsWith("1 package"))
        assert.strictEqual(await text(page, "#result-status"), "1 package matching “text”.")
        assert.deepStrictEqual(await page.$$eval("ol.results h3 a", (as) => as.map((a) => a.textContent)), [
          "text-tools"
        ])
        assert.include(new URL(page.url()).search, "q=text")

        await page.fill("#q", "")
        await page.selectOption("#category", "loaders")
        await page.click("form[role=search] button[type=submit]")
        await page.waitForFunction(() => document.querySelector("#result-status")?.textContent?.includes("in loaders"))
        assert.strictEqual(await text(page, "#result-status"), "22 packages in loaders, page 1 of 2.")
        assert.strictEqual((await page.$$("ol.results li")).length, 20)
        await page.click("nav.pager a[rel=next]")
        await page.waitForFunction(() => document.querySelector("#result-status")?.textContent?.includes("page 2 of 2"))
        assert.strictEqual((await page.$$("ol.results li")).length, 2)
        assert.strictEqual(await text(page, "nav.pager [aria-current=page]"), "Page 2 of 2")
        await shot(page, "search-category-page-2")
        // Back/forward work through history.
        await page.goBack()
        await page.waitForFunction(() => document.querySelector("#result-status")?.textContent?.includes("page 1 of 2"))
        assert.strictEqual(await page.inputValue("#category"), "loaders")
      }))

    it.effect("opens a package, shows its details, switches versions and marks the yanked one", () =>
      inBrowser(async ({ newPage, pub, sums }) => {
        const page = await newPage()
        await page.goto(pub.url + "/?q=text")
        await page.click("ol.results a:text-is('text-tools')")
        await page.waitForSelector("#checksum")
        assert.strictEqual(new URL(page.url()).pathname, "/packages/text-tools")
        assert.match(await text(page, "h1"), /^text-tools\s+2\.0\.0\s*latest$/)
        assert.strictEqual(await text(page, "p.lead"), "Summarize, translate and classify text")
        assert.strictEqual(await text(page, "#install-cmd"), "fm install text-tools")
        assert.strictEqual(await text(page, "#checksum"), sums["text-tools@2.0.0"])
        assert.deepStrictEqual(await page.$$eval("ul.deps li a", (as) => as.map((a) => a.textContent)), ["http-utils"])
        assert.include(await text(page, "ul.deps li"), "^1.0.0")
        const comps = await page.$$eval(
          "section[aria-labelledby=components-heading] li",
          (li) => li.map((l) => l.textContent)
        )
        assert.sameMembers(comps, ["summarize", "translate", "classify"])
        const rows = await page.$$eval(
          "table.versions tbody tr",
          (trs) => trs.map((tr) => Array.from(tr.children, (c) => (c.textContent ?? "").trim()))
        )
        assert.deepStrictEqual(rows.map((r) => r[0]), ["2.0.0", "1.1.0", "1.0.0"])
        for (const r of rows) assert.match(r[1]!, /^\d{4}-\d\d-\d\d$/)
        assert.strictEqual(rows[1]![4], "Yanked broken tokenizer, use 2.0.0")
        assert.strictEqual(rows[0]![4], "viewing")
        await shot(page, "package")

        await page.click("table.versions a:text-is('1.0.0')")
        await page.waitForFunction(() => document.querySelector("h1")?.textContent?.includes("1.0.0"))
        assert.strictEqual(new URL(page.url()).pathname, "/packages/text-tools/1.0.0")
        assert.strictEqual(await text(page, "#install-cmd"), "fm install text-tools --version 1.0.0")
        assert.strictEqual(await text(page, "#checksum"), sums["text-tools@1.0.0"])
        assert.strictEqual(
          await page.getAttribute("table.versions a[aria-current=page]", "href"),
          "/packages/text-tools/1.0.0"
        )
        assert.include(await text(page, "p.note"), "A newer version exists: 2.0.0")
        // Focus moved to the new page's heading.
        assert.strictEqual(await page.evaluate(() => document.activeElement?.tagName), "H1")

        await page.click("table.versions a:text-is('1.1.0')")
        await page.waitForFunction(() => document.querySelector("h1")?.textContent?.includes("1.1.0"))
        assert.include(await text(page, "h1"), "yanked")
        assert.strictEqual(
          await text(page, "p.alert"),
          "Version 1.1.0 was yanked: broken tokenizer, use 2.0.0 See 2.0.0"
        )
        await shot(page, "package-yanked-version")

        // A dependency link leads to that package.
        await page.goto(pub.url + "/packages/text-tools")
        await page.click("ul.deps a:text-is('http-utils')")
        await page.waitForFunction(() => document.querySelector("h1")?.textContent?.startsWith("http-utils"))
        assert.strictEqual(await text(page, "#checksum"), sums["http-utils@1.0.0"])
      }))

    it.effect("downloads the archive through the download link; its SHA-256 is the checksum shown", () =>
      inBrowser(async ({ newPage, pub, sums }) => {
        const page = await newPage()
        await page.goto(pub.url + "/packages/text-tools/1.0.0")
        await page.waitForSelector("#download")
        const shown = await text(page, "#checksum")
        const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")])
        assert.strictEqual(download.suggestedFilename(), "text-tools-1.0.0.fmpkg")
        const file = await download.path()
        assert.strictEqual(sha256File(file), shown)
        assert.strictEqual(shown, sums["text-tools@1.0.0"])
        // The download is counted, per version and in total.
        await page.reload()
        await page.waitForSelector("#checksum")
        const downloads = await page.$$eval(
          "dl.details dt",
          (dts) => dts.find((d) => d.textContent === "Downloads")?.nextElementSibling?.textContent
        )
        assert.strictEqual(downloads, "1 of this version, 1 of all versions")
      }))

    it.effect("copies the install line", () =>
      inBrowser(async ({ newContext, pub }) => {
        const context = await newContext({ viewport: { width: 1200, height: 900 } })
        await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: pub.url })
        const page = await context.newPage()
        await page.goto(pub.url + "/packages/http-utils")
        await page.click("button[aria-label='Copy install command']")
        await page.waitForFunction(() => document.querySelector(".copy-status")?.textContent === "Copied")
        assert.strictEqual(await page.evaluate(() => navigator.clipboard.readText()), "fm install http-utils")
      }))

    it.effect("shows categories and stats", () =>
      inBrowser(async ({ newPage, pub }) => {
        const page = await newPage()
        await page.goto(pub.url + "/")
        await page.click("header nav a:text-is('Categories & stats')")
        await page.waitForSelector("dl.stats")
        const stats = await page.$$eval(
          "dl.stats .stat",
          (s) => s.map((d) => [d.querySelector("dt")?.textContent, d.querySelector("dd")?.textContent])
        )
        assert.deepStrictEqual(stats.slice(0, 2), [["Packages", "24"], ["Versions", "26"]])
        const cats = await page.$$eval("ul.categories li", (li) => li.map((l) => (l.textContent ?? "").trim()))
        assert.deepStrictEqual(cats, ["connectors 1 package", "loaders 22 packages", "transformers 1 package"])
        assert.strictEqual(
          await page.getAttribute("header nav a:text-is('Categories & stats')", "aria-current"),
          "page"
        )
        await shot(page, "categories")
        await page.click("ul.categories a:text-is('connectors')")
        await page.waitForFunction(() =>
          document.querySelector("#result-status")?.textContent?.includes("in connectors")
        )
        assert.strictEqual(await page.inputValue("#category"), "connectors")
        assert.deepStrictEqual(await page.$$eval("ol.results h3 a", (as) => as.map((a) => a.textContent)), [
          "http-utils"
        ])
      }))

    it.effect("asks once for a token on a private registry, keeps it for the session, never in a URL, and downloads with it", () =>
      inBrowser(async ({ newPage, priv, sums }) => {
        const page = await newPage()
        const urls: Array<string> = []
        page.on("request", (r) => urls.push(r.url()))
        await page.goto(priv.url + "/")
        await page.waitForSelector("#token")
        assert.strictEqual(await text(page, "h1"), "This registry is private")
        assert.strictEqual(await page.evaluate(() => document.activeElement?.id), "token")
        await shot(page, "private-token-prompt")

        await page.fill("#token", "fmr_wrong-token")
        await page.keyboard.press("Enter")
        await page.waitForSelector("#token-error")
        assert.match(await text(page, "#token-error"), /^The registry refused that token: /)
        assert.isNull(await page.evaluate(() => sessionStorage.getItem("fm.registry.token")))

        await page.fill("#token", priv.readToken)
        await page.keyboard.press("Enter")
        await page.waitForSelector("ol.results li")
        assert.strictEqual(await text(page, "#result-status"), "1 package.")
        assert.strictEqual(await page.evaluate(() => sessionStorage.getItem("fm.registry.token")), priv.readToken)

        // Still known after a reload (same session): no prompt.
        await page.reload()
        await page.waitForSelector("ol.results li")
        assert.isNull(await page.$("#token"))

        await page.click("ol.results a:text-is('secret-pkg')")
        await page.waitForSelector("#checksum")
        const shown = await text(page, "#checksum")
        const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")])
        assert.strictEqual(download.suggestedFilename(), "secret-pkg-1.0.0.fmpkg")
        assert.strictEqual(sha256File(await download.path()), shown)
        assert.strictEqual(shown, sums["secret-pkg@1.0.0"])
        await page.waitForFunction(() => document.querySelector(".download-status")?.textContent?.includes("verified"))
        assert.strictEqual(await text(page, ".download-status"), "Saved secret-pkg-1.0.0.fmpkg (SHA-256 verified).")
        await shot(page, "private-package")

        for (const u of urls) assert.notInclude(u, priv.readToken, `token leaked into ${u}`)

        // The plain link alone is refused: the token really is needed for the download.
        const direct = await fetch(`${priv.url}/api/v1/registry/packages/secret-pkg/1.0.0/download`)
        assert.strictEqual(direct.status, 401)

        // "Forget token" drops it and asks again.
        await page.click("#session button:text-is('Forget token')")
        await page.waitForSelector("#token")
        assert.isNull(await page.evaluate(() => sessionStorage.getItem("fm.registry.token")))

        // A new browser session asks again.
        const other = await newPage()
        await other.goto(priv.url + "/packages/secret-pkg")
        await other.waitForSelector("#token")
      }))

    it.effect("fits a 375 px wide phone screen", () =>
      inBrowser(async ({ newPage, pub }) => {
        const page = await newPage({ viewport: { width: 375, height: 812 }, isMobile: true })
        await page.goto(pub.url + "/")
        await page.waitForSelector("ol.results li")
        const overflow = () => page.evaluate(() => document.documentElement.scrollWidth)
        assert.isAtMost(await overflow(), 375)
        await shot(page, "phone-search", false)
        await page.goto(pub.url + "/packages/text-tools")
        await page.waitForSelector("#checksum")
        assert.isAtMost(await overflow(), 375)
        // The checksum wraps inside the screen instead of overflowing.
        const box = await page.locator("#checksum").boundingBox()
        assert.isAtMost((box?.x ?? 0) + (box?.width ?? 0), 375)
        // Touch targets are at least 44 px tall.
        const buttonHeights = await page.$$eval(
          "main button, main .button",
          (els) => els.map((e) => e.getBoundingClientRect().height)
        )
        for (const hgt of buttonHeights) assert.isAtLeast(hgt, 44)
        await shot(page, "phone-package", false)
        await shot(page, "phone-package-full")
        await page.goto(pub.url + "/categories")
        await page.waitForSelector("dl.stats")
        assert.isAtMost(await overflow(), 375)
        await shot(page, "phone-categories", false)
      }))

    it.effect("is usable with the keyboard alone, with visible focus", () =>
      inBrowser(async ({ newPage, pub }) => {
        const page = await newPage()
        await page.goto(pub.url + "/")
        await page.waitForSelector("ol.results li")

        const active = () =>
          page.evaluate(() => {
            const el = document.activeElement as HTMLElement | null
            const cs = el ? getComputedStyle(el) : undefined
            return {
              tag: el?.tagName ?? "",
              id: el?.id ?? "",
              text: (el?.textContent ?? "").trim(),
              href: el?.getAttribute("href") ?? "",
              outline: cs ? `${cs.outlineStyle} ${cs.outlineWidth}` : "",
              top: el?.getBoundingClientRect().top ?? -1
            }
          })
        const tabTo = async (pred: (a: Awaited<ReturnType<typeof active>>) => boolean, max = 80) => {
          for (let i = 0; i < max; i++) {
            await page.keyboard.press("Tab")
            const a = await active()
            if (pred(a)) return a
          }
          throw new Error("never reached the element with Tab")
        }

        // First Tab: the skip link, visible when focused; it jumps to the main content.
        await page.keyboard.press("Tab")
        let a = await active()
        assert.strictEqual(a.text, "Skip to content")
        assert.isAtLeast(a.top, 0)
        assert.match(a.outline, /^solid [1-9]/)
        await page.keyboard.press("Enter")
        assert.strictEqual((await active()).id, "main")

        // Search by keyboard.
        a = await tabTo((x) => x.id === "q")
        assert.match(a.outline, /^solid [1-9]/)
        await page.keyboard.type("text")
        await page.keyboard.press("Enter")
        await page.waitForFunction(() => document.querySelector("#result-status")?.textContent?.startsWith("1 package"))
        assert.strictEqual((await active()).id, "q", "focus stays in the search box after searching")

        // Tab to the result and open it.
        a = await tabTo((x) => x.tag === "A" && x.text === "text-tools")
        assert.match(a.outline, /^solid [1-9]/)
        await shot(page, "keyboard-focus-result", false)
        await page.keyboard.press("Enter")
        await page.waitForSelector("#checksum")
        a = await active()
        assert.strictEqual(a.tag, "H1")

        // Copy button and version links are reachable; Enter on a version switches to it.
        a = await tabTo((x) => x.tag === "BUTTON" && x.text === "Copy")
        assert.match(a.outline, /^solid [1-9]/)
        a = await tabTo((x) => x.tag === "A" && x.id === "download")
        a = await tabTo((x) => x.tag === "A" && x.text === "1.0.0")
        await shot(page, "keyboard-focus-version", false)
        await page.keyboard.press("Enter")
        await page.waitForFunction(() => document.querySelector("h1")?.textContent?.includes("1.0.0"))
        assert.strictEqual((await active()).tag, "H1")
      }))

    it.effect.each(["light", "dark"] as const)(
      "has landmarks, labelled controls, a live results region and readable contrast (%s)",
      (scheme) =>
        inBrowser(async ({ newPage, pub }) => {
          const page = await newPage({ colorScheme: scheme })
          await page.goto(pub.url + "/")
          await page.waitForSelector("ol.results li")
          const report = await page.evaluate(() => {
            const lum = (c: string) => {
              const m = c.match(/[\d.]+/g)!.map(Number)
              const ch = m.slice(0, 3).map((v) => {
                const s = v / 255
                return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
              })
              return 0.2126 * ch[0]! + 0.7152 * ch[1]! + 0.0722 * ch[2]!
            }
            const bgOf = (el: Element | null): string => {
              for (let e = el; e; e = e.parentElement) {
                const b = getComputedStyle(e).backgroundColor
                if (b && !b.startsWith("rgba(0, 0, 0, 0)") && b !== "transparent") return b
              }
              return "rgb(255, 255, 255)"
            }
            const ratio = (el: Element | null) => {
              if (!el) return 0
              const l1 = lum(getComputedStyle(el).color)
              const l2 = lum(bgOf(el))
              return (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05)
            }
            return {
              banner: !!document.querySelector("header"),
              nav: !!document.querySelector("nav[aria-label=Main]"),
              main: !!document.querySelector("main#main"),
              footer: !!document.querySelector("footer"),
              lang: document.documentElement.lang,
              unlabelled: Array.from(document.querySelectorAll("input, select")).filter((e) =>
                (e as HTMLInputElement).labels?.length === 0
              ).length,
              live: document.querySelector("#result-status")?.getAttribute("aria-live"),
              contrast: {
                body: ratio(document.querySelector("p.lead, ol.results p")),
                link: ratio(document.querySelector("ol.results a")),
                muted: ratio(document.querySelector(".meta")),
                button: ratio(document.querySelector("form button")),
                status: ratio(document.querySelector("#result-status"))
              }
            }
          })
          assert.isTrue(report.banner && report.nav && report.main && report.footer)
          assert.strictEqual(report.lang, "en")
          assert.strictEqual(report.unlabelled, 0)
          assert.strictEqual(report.live, "polite")
          for (const [what, r] of Object.entries(report.contrast)) {
            assert.isAtLeast(r, 4.5, `${what} contrast ${r.toFixed(2)}`)
          }
          if (scheme === "dark") {
            await shot(page, "search-dark")
          }
        })
    )

    it.effect("shows a not-found page for an unknown package and an unknown route", () =>
      inBrowser(async ({ newPage, pub }) => {
        const page = await newPage()
        await page.goto(pub.url + "/packages/no-such-package")
        await page.waitForSelector("p.alert")
        assert.strictEqual(await text(page, "h1"), "Not found")
        assert.include(await text(page, "p.alert"), "no-such-package")
        await page.goto(pub.url + "/nowhere")
        await page.waitForSelector("h1")
        assert.strictEqual(await text(page, "h1"), "Page not found")
      }))
  })
})
