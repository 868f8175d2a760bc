/**
 * `fm search QUERY [--registry/-r R] [--category/-c C] [--page N] [--page-size N] [--json]`.
 * @since 0.1.0
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Data, Effect, Option } from "effect"
import { ClientServicesLive } from "../../client/ClientLayers.js"
import { Registries } from "../../client/Registries.js"
import { HttpClientLive } from "../HttpClientLayer.js"
import { json, printJson, printTable, registryOption, warn } from "../Output.js"

/**
 * Every registry asked failed to answer a search.
 * @since 0.1.0
 * @category errors
 */
export class SearchFailed extends Data.TaggedError("SearchFailed")<{
  readonly query: string
  readonly registries: ReadonlyArray<string>
}> {
  /** Names the query and the registries. */
  override get message(): string {
    return `search for '${this.query}' failed: no registry answered (${this.registries.join(", ")})`
  }
}

const truncate = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s)

/**
 * The `search` command.
 * @since 0.1.0
 * @category commands
 */
export const search = Command.make(
  "search",
  {
    query: Args.text({ name: "query" }).pipe(Args.withDescription("Words to look for in names and descriptions")),
    registry: registryOption("Search only this registry"),
    category: Options.text("category").pipe(
      Options.withAlias("c"),
      Options.withDescription("Only packages of this category"),
      Options.optional
    ),
    page: Options.integer("page").pipe(Options.withDescription("Page number (from 1)"), Options.optional),
    pageSize: Options.integer("page-size").pipe(
      Options.withDescription("Results per page (max 100)"),
      Options.optional
    ),
    json
  },
  (args) =>
    Effect.gen(function*() {
      const registries = yield* Registries
      const res = yield* registries.search(args.query, {
        registry: Option.getOrUndefined(args.registry),
        category: Option.getOrUndefined(args.category),
        page: Option.getOrUndefined(args.page),
        pageSize: Option.getOrUndefined(args.pageSize)
      })
      for (const e of res.errors) yield* warn(e.error.message)
      if (res.registries.length > 0 && res.errors.length === res.registries.length) {
        return yield* new SearchFailed({ query: args.query, registries: res.registries })
      }
      if (args.json) {
        return yield* printJson({
          query: args.query,
          total_count: res.totalCount,
          packages: res.packages.map((h) => ({ registry: h.registry, ...h.package })),
          errors: res.errors.map((e) => ({ registry: e.registry, error: e.error._tag, message: e.error.message }))
        })
      }
      if (res.packages.length === 0) return yield* Console.log(`No packages match '${args.query}'.`)
      yield* printTable(
        ["NAME", "VERSION", "REGISTRY", "CATEGORY", "DESCRIPTION"],
        res.packages.map((h) => [
          h.package.name,
          h.package.version,
          h.registry,
          h.package.category ?? "",
          truncate(h.package.description, 60)
        ])
      )
    })
).pipe(
  Command.withDescription(
    "Search every enabled registry at once. Results are merged: a package found in several registries is shown " +
      "once, from the highest-priority one. Registries that fail are listed as warnings."
  ),
  Command.provide(ClientServicesLive),
  Command.provide(HttpClientLive) // undici: loaded with this command only
)
