/**
 * The large data set of the memory and snapshot benchmarks: `count` entries
 * with 16-byte keys and 32-byte values in one dict ("big") or one Redis hash.
 *
 * @module
 */
import { connect } from "../mod.ts";

/** The i-th key: 16 bytes. */
export function key(i: number): string {
  return `key:${String(i).padStart(12, "0")}`;
}

/** The i-th value: 32 bytes. */
export function value(i: number): string {
  return `value:${String(i).padStart(26, "0")}`;
}

/** Loads `count` entries into the dict "big" of a cyberdb server, 10,000 per request, 8 requests in flight. */
export async function fillCyberdb(port: number, count: number, password?: string): Promise<void> {
  const client = await connect({ port, password });
  try {
    await using proxy = await client.getProxy().connect();
    const dict = await proxy.createCyberDict("big");
    const pending: Promise<void>[] = [];
    for (let start = 0; start < count; start += 10_000) {
      const entries: [string, string][] = [];
      for (let i = start; i < Math.min(count, start + 10_000); i++) entries.push([key(i), value(i)]);
      pending.push(dict.update(entries));
      if (pending.length >= 8) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
  } finally {
    await client.close();
  }
}

/** Loads the same entries into the hash "big" of a Redis server, through `redis-cli --pipe`. */
export async function fillRedis(port: number, count: number): Promise<void> {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const k = key(i), v = value(i);
    lines.push(`*4\r\n$4\r\nHSET\r\n$3\r\nbig\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`);
  }
  const pipe = new Deno.Command("redis-cli", { args: ["-p", String(port), "--pipe"], stdin: "piped", stdout: "null" })
    .spawn();
  const writer = pipe.stdin.getWriter();
  await writer.write(new TextEncoder().encode(lines.join("")));
  await writer.close();
  await pipe.status;
}
