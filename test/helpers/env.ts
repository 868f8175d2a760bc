/**
 * Environment flags of the test suite. `FM_REQUIRE_POSTGRES` and `FM_REQUIRE_BROWSER` (both set
 * by `.ci/run`) turn "not available here, skipped" into a failure.
 */

/** Whether a flag is set: any value but empty, `0` or `false`. */
export const flagSet = (name: string, env: NodeJS.ProcessEnv = process.env): boolean => {
  const v = env[name]
  return v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false"
}
