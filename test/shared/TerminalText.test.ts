import { assert, describe, it } from "vitest"
import { terminalBlock, terminalJson, terminalLine, terminalText } from "../../src/shared/TerminalText.js"

const ESC = "\u001b"

describe("terminalText", () => {
  it.each([
    ["CSI: clear screen, home, conceal, colours", `a${ESC}[2J${ESC}[H${ESC}[8mb${ESC}[0;31;1mc${ESC}[0m`, "abc"],
    ["CSI with private parameters and intermediates", `a${ESC}[?25l${ESC}[?1049h${ESC}[1 qb`, "ab"],
    ["OSC ended by BEL (window title)", `a${ESC}]0;title\u0007b`, "ab"],
    ["OSC ended by ST (hyperlink)", `a${ESC}]8;;http://x${ESC}\\link${ESC}]8;;${ESC}\\b`, "alinkb"],
    ["OSC never ended: the rest is swallowed, as a terminal would", `a${ESC}]0;title and more`, "a"],
    [
      "DCS, APC, PM, SOS strings",
      `a${ESC}Pq#0${ESC}\\b${ESC}_apc${ESC}\\c${ESC}^pm${ESC}\\d${ESC}Xsos${ESC}\\e`,
      "abcde"
    ],
    ["8-bit C1: CSI, OSC, DCS, ST", "a\u009b31mb\u009d0;t\u0007c\u0090dcs\u009cd", "abcd"],
    ["two-byte escapes: RIS, save/restore cursor, charset", `a${ESC}cb${ESC}7c${ESC}8d${ESC}(0e`, "abcde"],
    ["a lone ESC at the end", `ab${ESC}`, "ab"],
    ["C0: CR, BEL, backspace, NUL; DEL", "a\rb\u0007c\bd\u0000e\u007f", "abcde"],
    ["bidi overrides and isolates", "a\u202eb\u2066c\u2069d", "abcd"],
    ["line breaks and tabs stay", "a\n\tb", "a\n\tb"],
    ["plain text, accents and emoji are untouched", "Grüße — 日本 🎉", "Grüße — 日本 🎉"]
  ])("%s", (_, input, expected) => {
    assert.strictEqual(terminalText(input), expected)
  })

  it("terminalLine puts everything on one line", () => {
    assert.strictEqual(terminalLine(`a\nhint: fake\tb${ESC}[2J`), "a hint: fake b")
  })

  it("terminalBlock indents every line after the first unless it already is", () => {
    assert.strictEqual(terminalBlock("first\nhint: fake\n  - kept\n\nlast"), "first\n  hint: fake\n  - kept\n\n  last")
  })

  it("terminalJson is the same JSON value with nothing a terminal obeys", () => {
    const value = { s: `a${ESC}[2J\u009b31m\u007f\u202eb\n`, n: 1 }
    const text = terminalJson(value, 2)
    assert.deepStrictEqual(JSON.parse(text), value)
    assert.strictEqual(terminalText(text), text)
    // eslint-disable-next-line no-control-regex
    assert.notMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/)
  })
})
