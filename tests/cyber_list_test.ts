/**
 * CyberList on every engine ({@link ENGINES}): every method, sorting, and
 * the errors with their codes. The suites are in `tests/suites/list_ops.ts`
 * and `tests/suites/list_whole.ts`.
 *
 * @module
 */
import { ENGINES } from "./_engines.ts";
import { engineSuite } from "./_suite.ts";
import { listOpsSuite } from "./suites/list_ops.ts";
import { listWholeSuite } from "./suites/list_whole.ts";

for (const harness of ENGINES) {
  engineSuite(harness, "CyberList items", listOpsSuite);
  engineSuite(harness, "CyberList as a whole", listWholeSuite);
}
