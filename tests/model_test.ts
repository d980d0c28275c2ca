/**
 * Model-based tests on every engine ({@link ENGINES}): a seeded stream of
 * random operations is applied both to a local model (a `Map` with Python
 * `dict` rules, an `Array` with Python `list` rules) and to a CyberDict /
 * CyberList, and every result and the whole table are compared after every
 * step. The full state is fetched with the same round trip as the operation
 * (pipelined on one proxy), so comparing after every step stays fast. The
 * suites are in `tests/suites/model_dict.ts` and `tests/suites/model_list.ts`.
 *
 * A failure names its seed and step; rerun one seed with
 * `MODEL_SEED=<seed> deno test -A tests/model_test.ts`.
 *
 * @module
 */
import { ENGINES } from "./_engines.ts";
import { engineSuite } from "./_suite.ts";
import { BASE_SEED } from "./suites/_model.ts";
import { modelDictSuite } from "./suites/model_dict.ts";
import { modelListSuite } from "./suites/model_list.ts";

for (const [i, harness] of ENGINES.entries()) {
  engineSuite(harness, "model", (suite) => {
    modelDictSuite(suite, BASE_SEED + i);
    modelListSuite(suite, BASE_SEED + 100 + i);
  });
}
