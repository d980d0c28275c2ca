/**
 * Many clients at once on one table, on every engine ({@link ENGINES}):
 * every command is atomic, so no update is lost or applied twice however the
 * requests of 50 clients interleave. The suite is in `tests/suites/concurrency.ts`.
 *
 * @module
 */
import { ENGINES } from "./_engines.ts";
import { engineSuite } from "./_suite.ts";
import { concurrencySuite } from "./suites/concurrency.ts";

for (const harness of ENGINES) engineSuite(harness, "50 clients at once", concurrencySuite);
