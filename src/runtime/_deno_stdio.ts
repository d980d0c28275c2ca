/**
 * Standard input and output for the Deno runtime: lines in, text out.
 *
 * @module
 */

/** The lines of standard input, without their line endings, until it closes. */
export async function* readLines(): AsyncIterable<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of Deno.stdin.readable) {
    pending += decoder.decode(chunk, { stream: true });
    for (let end = pending.indexOf("\n"); end >= 0; end = pending.indexOf("\n")) {
      yield pending.slice(0, end).replace(/\r$/, "");
      pending = pending.slice(end + 1);
    }
  }
  pending += decoder.decode();
  if (pending !== "") yield pending;
}

const encoder = new TextEncoder();

/** Writes `text` to standard output as it is; resolves once written. */
export async function print(text: string): Promise<void> {
  const data = encoder.encode(text);
  let at = 0;
  while (at < data.length) at += await Deno.stdout.write(data.subarray(at));
}
