/**
 * What fm's help adds to the command definitions: the groups `fm --help` lists commands in, and
 * two or three examples per command (keyed by the command's path, `"registry add"`). Kept apart
 * from the commands so the help of one command does not load the others.
 * @since 0.1.0
 */

/**
 * The top-level help's groups, in order, with the subcommands each lists.
 * @since 0.1.0
 */
export const COMMAND_GROUPS: ReadonlyArray<readonly [title: string, names: ReadonlyArray<string>]> = [
  ["Packages", ["install", "search", "info", "versions"]],
  ["Projects", ["tree", "outdated", "update"]],
  ["Publishing", ["pack", "publish", "login"]],
  ["Registries", ["registry", "studio"]]
]

/**
 * Examples for each command, by path below `fm` (`""` is `fm` itself).
 * @since 0.1.0
 */
export const EXAMPLES: Readonly<Record<string, ReadonlyArray<string>>> = {
  "": ["fm install text-utils", "fm search summarizer", "fm help registry add"],
  install: [
    "fm install text-utils",
    "fm install text-utils@^1.2 --registry company",
    "fm install ./text-utils-1.0.0.fmpkg --dir ./packages"
  ],
  search: ["fm search summarizer", "fm search filter --category transformers", "fm search summarizer --json"],
  info: ["fm info text-utils", "fm info text-utils@1.0.0", "fm info text-utils@^1.0 --registry company"],
  versions: [
    "fm versions text-utils",
    "fm versions text-utils@^1.0",
    "fm versions text-utils --registry company --json"
  ],
  tree: ["fm tree", "fm tree --depth 1", "fm tree --project ./my-flow --json"],
  outdated: ["fm outdated", "fm outdated --project ./my-flow --json"],
  update: ["fm update", "fm update text-utils", "fm update --project ./my-flow"],
  pack: ["fm pack", "fm pack ./text-utils -o dist/text-utils.fmpkg", "fm pack --format tar"],
  publish: [
    "fm publish ./text-utils",
    "fm publish text-utils-1.0.0.fmpkg --registry company",
    "fm publish ./text-utils --dry-run"
  ],
  login: ["fm login", "fm login company", "echo \"$TOKEN\" | fm login company"],
  registry: [
    "fm registry list",
    "fm registry add company https://registry.example.com --publish",
    "fm registry set company --priority 10"
  ],
  "registry list": ["fm registry list", "fm registry list --all --json"],
  "registry add": [
    "fm registry add company https://registry.example.com",
    "fm registry add company https://registry.example.com --publish --default",
    "fm registry add private https://registry.example.com --token $TOKEN"
  ],
  "registry set": [
    "fm registry set company --priority 10",
    "fm registry set company --publish --requires-auth",
    "fm registry set company --description \"Team packages\""
  ],
  "registry remove": ["fm registry remove company", "fm registry remove company --yes"],
  "registry set-default": ["fm registry set-default company"],
  "registry enable": ["fm registry enable company"],
  "registry disable": ["fm registry disable company"],
  "registry verify": [
    "fm registry verify company",
    "fm registry verify --gossip",
    "fm registry verify --gossip --checkpoint witness/checkpoint.txt --json"
  ],
  "registry cache": ["fm registry cache", "fm registry cache --clear", "fm registry cache --clear --older-than 30"],
  studio: ["fm studio start", "fm studio token create --scope publish --name ci", "fm studio token list"],
  "studio start": [
    "fm studio start",
    "fm studio start --port 8080 --private",
    "fm studio start --data-dir /srv/fm --quiet"
  ],
  "studio token": [
    "fm studio token create --scope publish --name ci",
    "fm studio token list",
    "fm studio token revoke ci"
  ],
  "studio token create": [
    "fm studio token create --scope publish --name ci",
    "fm studio token create --scope read --expires-in 30d"
  ],
  "studio token list": ["fm studio token list", "fm studio token list --json"],
  "studio token revoke": ["fm studio token revoke 3", "fm studio token revoke ci"],
  "studio migrate": ["fm studio migrate --database-url postgres://fm@db/fm"]
}
