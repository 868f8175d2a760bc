/**
 * `fm tree`: the project's resolved dependency graph (from `fm.lock.json` when it satisfies the
 * project file, else resolved now without installing).
 * @since 0.1.0
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { normalizeName } from "../../domain/PackageName.js"
import { ProjectInstall, type ProjectTree } from "../../resolver/ProjectInstall.js"
import { HttpClientLive } from "../HttpClientLayer.js"
import { json, printJson, projectDirOption } from "../Output.js"

/**
 * Renders a tree with box-drawing lines; a package already shown is printed once more with
 * `(*)` and not expanded again.
 * @since 0.1.0
 */
export const renderTree = (tree: ProjectTree, maxDepth = Number.POSITIVE_INFINITY): string => {
  const byName = new Map(tree.packages.map((p) => [normalizeName(p.name), p]))
  const lines = [tree.fromLock ? tree.project : `${tree.project} (resolved now; no up-to-date fm.lock.json)`]
  const shown = new Set<string>()
  const walk = (
    deps: ProjectTree["dependencies"],
    prefix: string,
    depth: number
  ) => {
    deps.forEach((d, i) => {
      const last = i === deps.length - 1
      const node = byName.get(normalizeName(d.name))
      const key = normalizeName(d.name)
      const again = shown.has(key)
      const label = node === undefined
        ? `${d.name} ${d.range} (missing)`
        : `${node.name} ${node.version}${depth === 0 ? ` (${node.registry})` : ""}${
          again && node.dependencies.length > 0 ? " (*)" : ""
        }`
      lines.push(`${prefix}${last ? "└── " : "├── "}${label}`)
      if (node === undefined || again || depth + 1 >= maxDepth) return
      shown.add(key)
      walk(node.dependencies, `${prefix}${last ? "    " : "│   "}`, depth + 1)
    })
  }
  walk(tree.dependencies, "", 0)
  return lines.join("\n")
}

/**
 * `fm tree [--depth N] [--dir DIR] [--json]`.
 * @since 0.1.0
 * @category commands
 */
export const tree = Command.make(
  "tree",
  {
    dir: projectDirOption,
    depth: Options.integer("depth").pipe(
      Options.withDescription("Show only this many levels"),
      Options.optional
    ),
    json
  },
  ({ depth, dir, json }) =>
    Effect.gen(function*() {
      const project = yield* ProjectInstall
      const t = yield* project.tree({ dir })
      if (json) return yield* printJson(t)
      yield* Console.log(renderTree(t, depth._tag === "Some" ? Math.max(1, depth.value) : Number.POSITIVE_INFINITY))
    })
).pipe(
  Command.withDescription(
    "Print the project's dependency graph. It comes from fm.lock.json, or is resolved now when the lock is " +
      "missing or out of date. A package shown before is marked (*) and not expanded again."
  ),
  Command.provide(ProjectInstall.Default),
  Command.provide(HttpClientLive) // undici: loaded with this command only
)
