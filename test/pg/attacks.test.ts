/**
 * The attacks of issue #11 against `fm studio start` on PostgreSQL (the suite:
 * test/helpers/attacks.ts); skipped when PostgreSQL is unreachable, unless FM_REQUIRE_POSTGRES.
 */
import { describe } from "@effect/vitest"
import { attackSuite } from "../helpers/attacks.js"
import { pgEnabled } from "../helpers/pg.js"

describe.skipIf(!(await pgEnabled()))("PostgreSQL", () => {
  attackSuite("postgres")
})
