/**
 * The attacks of issue #11 against `fm studio start` on SQLite (the suite: test/helpers/attacks.ts).
 */
import { attackSuite } from "../helpers/attacks.js"

attackSuite("sqlite")
