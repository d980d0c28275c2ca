/**
 * CyberDict on every engine ({@link ENGINES}): every method, the values that
 * must read back exactly, and the errors with their codes. The suites are in
 * `tests/suites/dict_ops.ts` and `tests/suites/dict_values.ts`.
 *
 * @module
 */
import { ENGINES } from "./_engines.ts";
import { engineSuite } from "./_suite.ts";
import { dictOpsSuite } from "./suites/dict_ops.ts";
import { dictValuesSuite } from "./suites/dict_values.ts";

for (const harness of ENGINES) {
  engineSuite(harness, "CyberDict methods", dictOpsSuite);
  engineSuite(harness, "CyberDict values and keys", dictValuesSuite);
}
