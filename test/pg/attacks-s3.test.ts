/**
 * The attacks of issue #11 against `fm studio start` with its archives in S3 (s3rver, started by
 * the suite): on PostgreSQL when it is enabled, else on SQLite (the suite: test/helpers/attacks.ts).
 */
import { attackSuite } from "../helpers/attacks.js"
import { pgEnabled } from "../helpers/pg.js"

attackSuite((await pgEnabled()) ? "postgres+s3" : "sqlite+s3")
