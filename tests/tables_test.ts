/**
 * Tables and proxies on every engine ({@link ENGINES}): creating, getting,
 * deleting and listing tables, closed proxies, and the order of pipelined
 * requests. The suite is in `tests/suites/tables.ts`.
 *
 * @module
 */
import { ENGINES } from "./_engines.ts";
import { engineSuite } from "./_suite.ts";
import { tablesSuite } from "./suites/tables.ts";

for (const harness of ENGINES) engineSuite(harness, "tables and proxies", tablesSuite);
