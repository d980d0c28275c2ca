/**
 * The cyberdb version; `scripts/` keep it equal to `deno.json`'s.
 *
 * @module
 */

/** The version of this cyberdb build. */
export const VERSION = "0.1.0";
