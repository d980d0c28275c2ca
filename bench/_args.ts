/**
 * The command line of a benchmark script: its flags parsed with
 * `node:util`'s `parseArgs`, `--help` printing the usage (exit 0), and a
 * wrong flag printing what is wrong and the usage (exit 2) instead of a stack
 * trace.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses `Deno.args` for a benchmark.
 *
 * @param usage the text `--help` prints
 * @param options the flags, as `parseArgs` takes them (`--help` is added)
 * @returns the flags' values
 */
export function benchArgs<T extends Options>(
  usage: string,
  options: T,
): ReturnType<typeof parseArgs<{ options: T; args: string[]; strict: true; allowPositionals: false }>>["values"] {
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
    if ((values as { help?: boolean }).help) {
      console.log(usage.trim());
      Deno.exit(0);
    }
    return values as never;
  } catch (error) {
    console.error(`error: ${(error as Error).message}\n\n${usage.trim()}`);
    Deno.exit(2);
  }
}
