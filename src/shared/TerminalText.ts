/**
 * Terminal-safe text: what a registry or an archive sends is shown as text, never obeyed as
 * control. Removes escape sequences (CSI, OSC ended by BEL or ST, DCS/SOS/PM/APC strings, the
 * two-byte ESC forms, and their 8-bit C1 spellings), every other C0 and C1 control character
 * and DEL, and the Unicode bidirectional overrides and isolates that reorder what is displayed.
 * Used by the CLI's output layer (see `src/cli/Output.ts`) and its error printer; `--json` output
 * goes through {@link terminalJson}, which escapes the same characters so the JSON stays exact.
 * @since 0.1.0
 */

/* eslint-disable no-control-regex */

/** Control strings: OSC, DCS, SOS, PM, APC (7-bit `ESC ] P X ^ _` or 8-bit) up to BEL or ST (or the end). */
const CONTROL_STRING = /(?:\u001b[\]PX^_]|[\u0090\u0098\u009d\u009e\u009f])[\s\S]*?(?:\u0007|\u001b\\|\u009c|$)/g
/** CSI sequences (7-bit `ESC [` or 8-bit), parameters, intermediates and the final byte (if any). */
const CSI = /(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]?/g
/** Other escape sequences: ESC, intermediates, a final byte (RIS, cursor save/restore, charsets ...). */
const ESCAPE = /\u001b[ -/]*[0-~]?/g
/** What is left to remove: C0 except TAB and LF, DEL, C1, bidi embeddings/overrides/isolates. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g
/** SGR sequences (colours, bold ...) as @effect/cli writes them. */
const SGR = /\u001b\[[0-9;]*m/g
/** Line breaks and tabs, for single-line text. */
const BREAKS = /[\t\n]+/g

/**
 * `text` without its colours (SGR sequences); fm's own text, such as @effect/cli's help and
 * messages, shown where colours do not belong (not a terminal, or inside another message).
 * @since 0.1.0
 */
export const withoutColours = (text: string): string => text.replace(SGR, "")

/**
 * `text` with every escape sequence and control character removed; line breaks and tabs are kept.
 * @since 0.1.0
 */
export const terminalText = (text: string): string =>
  text.replace(CONTROL_STRING, "").replace(CSI, "").replace(ESCAPE, "").replace(CONTROL, "")

/**
 * {@link terminalText} on one line: line breaks and tabs become a space (a table cell, a field, a
 * reason quoted from a registry cannot start a line of its own).
 * @since 0.1.0
 */
export const terminalLine = (text: string): string => terminalText(text).replace(BREAKS, " ")

/**
 * {@link terminalText} for a message printed after a label (`error: `, `warning: `): every line
 * after the first is indented, so text quoted inside the message (a registry's reason, say)
 * cannot pose as a line of its own, such as a fake `hint:`.
 * @since 0.1.0
 */
export const terminalBlock = (text: string): string => terminalText(text).replace(/\n(?=[^\s])/g, "\n  ")

/** Characters JSON.stringify leaves raw that {@link terminalText} would remove (only ever inside strings). */
const JSON_RAW = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

/**
 * `JSON.stringify(value, null, space)` with the control characters JSON leaves raw (DEL, C1, bidi
 * controls) written as `\u` escapes (`\u009b`): the same JSON value, and nothing a terminal obeys.
 * @since 0.1.0
 */
export const terminalJson = (value: unknown, space?: number): string =>
  JSON.stringify(value, null, space).replace(JSON_RAW, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
