/**
 * Test helper: the code samples of README.md, as printed, for the tests
 * that run them.
 *
 * @module
 */
import { readFile } from "node:fs/promises";

/** What the "Use it" sample's `console.log` comments say it prints. */
export const SAMPLE_OUTPUT = "Hello CyberDB!\n1\n[ { id: 1 }, { id: 2 }, { id: 3 } ]\n";

/**
 * The code blocks of `lang` under a `## heading` of a Markdown file, in order.
 *
 * @param path the Markdown file
 * @param heading the text of the `##` heading
 * @param lang the info string of the fences (`ts`, `js`)
 * @returns the code of each block, without its fences
 */
export async function samples(path: string, heading: string, lang: string): Promise<string[]> {
  const text = await readFile(path, "utf8");
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`${path} has no section "## ${heading}"`);
  const end = text.indexOf("\n## ", start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```$", "gm"))].map((match) => match[1]);
}
