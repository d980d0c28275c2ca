/**
 * The store's clock, in epoch milliseconds: what expiry times are measured
 * against. It is the wall clock, except while a journaled change is replayed
 * (or applied under its recorded time): then it is the time the change was
 * first made, so a replay decides exactly as the original did whatever the
 * hour it runs at.
 *
 * Requests are applied synchronously, one at a time, so one module-level
 * clock serves every store in the process.
 *
 * @module
 */

let fixed: number | undefined;

/**
 * The store's current time in epoch milliseconds.
 *
 * @returns the recorded time while {@link atTime} runs, else `Date.now()`
 * @example
 * ```ts
 * import { atTime, now } from "./clock.ts";
 * console.log(atTime(1000, () => now())); // 1000
 * ```
 */
export function now(): number {
  return fixed ?? Date.now();
}

/**
 * Runs `apply` with the clock fixed at `time`.
 *
 * @param time epoch milliseconds
 * @param apply a synchronous step
 * @returns what `apply` returns
 * @throws what `apply` throws (the clock is restored either way)
 * @example
 * ```ts
 * import { atTime, now } from "./clock.ts";
 * console.log(atTime(0, () => now() + 1)); // 1
 * ```
 */
export function atTime<T>(time: number, apply: () => T): T {
  const before = fixed;
  fixed = time;
  try {
    return apply();
  } finally {
    fixed = before;
  }
}
