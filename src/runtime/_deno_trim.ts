/**
 * Giving freed memory back to the system under Deno: glibc keeps the memory
 * of freed buffers (a compacted table's pages, say) in its arenas, so a
 * server's resident size stays at its peak long after the data went. Its
 * `malloc_trim` returns it; called through FFI on a worker thread
 * (`nonblocking`), it takes ~50 ms there and none on the event loop.
 *
 * Only on Linux, and only with the FFI permission already granted
 * (`--allow-ffi` or `-A`): never prompted for; elsewhere it does nothing.
 *
 * @module
 */

type Trim = () => Promise<unknown>;
let trim: Trim | null | undefined;
let running = false;

/**
 * Asks glibc to give freed memory back, unless a trim is already under way or it cannot here.
 *
 * @example
 * ```ts
 * import { trimMemory } from "./_deno_trim.ts";
 * trimMemory();
 * ```
 */
export function trimMemory(): void {
  if (trim === undefined) trim = openTrim();
  if (trim === null || running) return;
  running = true;
  trim().catch(() => {}).finally(() => running = false);
}

function openTrim(): Trim | null {
  try {
    if (Deno.build.os !== "linux" || Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
    const libc = Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32", nonblocking: true },
    });
    return () => libc.symbols.malloc_trim(0n);
  } catch {
    return null; // not glibc (musl has no malloc_trim), or no libc.so.6
  }
}
