/** A `NewRelease` for store tests: empty metadata, a fixed checksum, `extra` on top. */
import type { NewRelease } from "../../src/server/storage/PackageStore.js"

/** A release of `name@version` as `PackageStore.publish` takes it. */
export const newRelease = (name: string, version: string, extra: Partial<NewRelease> = {}): NewRelease => ({
  name,
  version,
  description: "",
  author: null,
  authorEmail: null,
  license: null,
  category: null,
  homepage: null,
  repository: null,
  tags: [],
  components: [],
  pythonRequirements: [],
  flowmasonVersion: null,
  kind: "project",
  dependencies: {},
  checksum: "0".repeat(64),
  sizeBytes: 10,
  ...extra
})
