/**
 * A transfer progress bar on stderr (bytes, total, rate, time left), only for transfers over
 * 1 MiB, only when stderr is a terminal, and never with `--json`. The label is terminal-safe text;
 * the bar is cleared when the transfer ends, however it ends (success, failure, Ctrl-C).
 * @since 0.1.0
 */
import { terminalLine } from "../shared/TerminalText.js"
import { formatBytes } from "./Output.js"

/** Transfers at or below this size get no bar. @since 0.1.0 */
export const PROGRESS_THRESHOLD = 1024 * 1024

/**
 * A progress reporter: `update(received, total)` as bytes arrive, `done()` at the end (clears the bar).
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  readonly update: (received: number, total: number | undefined) => void
  readonly done: () => void
}

const noop: Progress = { update: () => {}, done: () => {} }

/**
 * Whether a bar may be drawn: stderr is a TTY, `--json` is off, `NO_COLOR`/`CI` do not matter.
 * @since 0.1.0
 */
export const progressEnabled = (json: boolean): boolean => !json && process.stderr.isTTY === true

/**
 * Renders one line of the bar (exported for tests).
 * @since 0.1.0
 */
export const renderProgress = (
  label: string,
  received: number,
  total: number | undefined,
  elapsedMs: number
): string => {
  const rate = elapsedMs > 0 ? received / (elapsedMs / 1000) : 0
  const width = 24
  const known = total !== undefined && total > 0
  const bar = known
    ? `[${"#".repeat(Math.min(width, Math.floor((received / total) * width))).padEnd(width, ".")}] `
    : ""
  const of = known ? ` / ${formatBytes(total)}` : ""
  const left = known && rate > 0 && received < total ? `  ETA ${formatDuration((total - received) / rate)}` : ""
  return `${terminalLine(label)} ${bar}${formatBytes(received)}${of}  ${formatBytes(Math.round(rate))}/s${left}`
}

/**
 * A short duration: `42s`, `3m05s`, `1h02m`.
 * @since 0.1.0
 */
export const formatDuration = (seconds: number): string => {
  const s = Math.max(0, Math.ceil(seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
}

/**
 * A progress bar for one transfer labelled `label`, or a no-op when {@link progressEnabled} is
 * false. Redraws at most 10 times a second; the bar appears only once more than 1 MiB is
 * expected (or has arrived).
 * @since 0.1.0
 * @category constructors
 */
export const makeProgress = (label: string, options: { readonly json: boolean }): Progress => {
  if (!progressEnabled(options.json)) return noop
  const started = Date.now()
  let last = 0
  let drawn = false
  const draw = (received: number, total: number | undefined) => {
    process.stderr.write(`\r\u001b[2K${renderProgress(label, received, total, Date.now() - started)}`)
    drawn = true
  }
  return {
    update: (received, total) => {
      if ((total ?? received) <= PROGRESS_THRESHOLD) return
      const now = Date.now()
      if (now - last < 100) return
      last = now
      draw(received, total)
    },
    done: () => {
      // erase the bar: what follows (the result, an error, the shell prompt after Ctrl-C) starts on a clean line
      if (drawn) process.stderr.write("\r\u001b[2K")
      drawn = false
    }
  }
}
