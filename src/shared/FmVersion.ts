/**
 * The version of fm itself (kept equal to package.json's; a test checks).
 * @since 0.1.0
 */

/**
 * fm's own version.
 * @since 0.1.0
 */
export const FM_VERSION = "0.1.0"

/**
 * The `User-Agent` fm sends.
 * @since 0.1.0
 */
export const USER_AGENT = `fm/${FM_VERSION}`
