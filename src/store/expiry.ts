/**
 * Expiry of CyberDict entries, store-wide: the `{ expireIn }` option of the
 * ops, which requests depend on the clock (so the journal records the time
 * they were applied at), and the active expiry cycle that reclaims expired
 * entries no client touches.
 *
 * The cycle is Redis's activeExpireCycle in spirit: it runs often, works for
 * a bounded time (about 1 ms by default) and goes on next time from where it
 * stopped, so it never stalls clients; when it stops at its time limit with
 * more to do, the next cycle comes sooner. Once tables gave back 8 MiB or
 * more (a compaction's old pages, a cleared table) and the cycle has nothing
 * left to do, it asks the C allocator to return that memory to the system
 * (`runtime.trimMemory`), which would otherwise keep it resident.
 *
 * @module
 */
import { BadRequestError } from "../errors.ts";
import { runtime, type TimerId } from "../runtime/mod.ts";
import { now } from "./clock.ts";
import { takeReleased } from "./typed_arrays.ts";

/** Bytes given back by tables (compactions, clears) after which a cycle asks the allocator to return them. */
const TRIM_AFTER = 8 * 2 ** 20;

/** The options of `set`, `setDefault` and `update` on the wire. */
export interface ExpiryOptions {
  /** Milliseconds from now until the entry expires. */
  expireIn?: number;
}

/**
 * The absolute expiry time an op's options ask for.
 *
 * @param op the op, for the error message
 * @param options `{ expireIn }`, or `undefined` / `null` for none
 * @returns epoch milliseconds by the store's clock, 0 for no expiry
 * @throws {BadRequestError} for options that are not `{ expireIn: ms ≥ 0 }`
 */
export function expiryOf(op: string, options: unknown): number {
  if (options === undefined || options === null) return 0;
  const { expireIn, ...rest } = options as ExpiryOptions;
  if (typeof options !== "object" || Array.isArray(options) || Object.keys(rest).length > 0) {
    throw new BadRequestError(`${op}: options must be { expireIn?: milliseconds }`);
  }
  return expireIn === undefined ? 0 : expiresAt(op, expireIn);
}

/**
 * `now + ms`, checked.
 *
 * @throws {BadRequestError} unless `ms` is a finite number ≥ 0
 */
export function expiresAt(op: string, ms: unknown): number {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    throw new BadRequestError(`${op}: the expiry must be a finite number of milliseconds ≥ 0`);
  }
  return now() + ms;
}

/**
 * Ops whose request gives a time relative to now, and the argument count from
 * which it does (`d.set(key, value, { expireIn })` has 3).
 */
const RELATIVE: Record<string, number> = { "d.set": 3, "d.setDefault": 3, "d.update": 2, "d.expire": 2 };

/**
 * Whether an op's arguments give a time relative to now.
 *
 * @returns `true` when the journal must record when it was applied
 */
export function givesRelativeTime(op: string, args: readonly unknown[]): boolean {
  const from = RELATIVE[op];
  return from !== undefined && args.length >= from && args[from - 1] != null;
}

/** Settings of {@link ActiveExpiry}. */
export interface ActiveExpiryOptions {
  /** Milliseconds between cycles when the last one finished its work. Default 100. */
  interval?: number;
  /** Milliseconds of work per cycle at most. Default 1. */
  budget?: number;
  /** Milliseconds until the next cycle when the last one stopped at its budget. Default 2. */
  busyInterval?: number;
}

/** What the active expiry runs over: a store. */
export interface Expirable {
  /** Removes expired entries until `performance.now()` reaches `deadline`; returns whether more may be left. */
  expireSome(deadline: number): boolean;
}

/**
 * Runs the active expiry cycle of a store on a timer that does not keep the
 * process alive.
 *
 * @example
 * ```ts
 * import { ActiveExpiry } from "./expiry.ts";
 * import { Store } from "./store.ts";
 * const expiry = new ActiveExpiry(new Store());
 * expiry.start();
 * expiry.stop();
 * ```
 */
export class ActiveExpiry {
  #store: Expirable;
  #timer: TimerId | undefined;
  #interval: number;
  #budget: number;
  #busyInterval: number;
  #released = 0;

  /**
   * @param store what to expire
   * @param options how often and for how long
   */
  constructor(store: Expirable, options: ActiveExpiryOptions = {}) {
    this.#store = store;
    this.#interval = options.interval ?? 100;
    this.#budget = options.budget ?? 1;
    this.#busyInterval = options.busyInterval ?? 2;
  }

  /** Starts the cycles (again). */
  start(): void {
    this.stop();
    this.#schedule(this.#interval);
  }

  /** Stops the cycles. Idempotent. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(delay: number): void {
    this.#timer = setTimeout(() => {
      const busy = this.#store.expireSome(performance.now() + this.#budget);
      this.#released += takeReleased();
      if (this.#released >= TRIM_AFTER && !busy) {
        // Freed buffers stay in the C allocator's arenas (resident) until it is asked to return them.
        this.#released = 0;
        runtime.trimMemory();
      }
      this.#schedule(busy ? this.#busyInterval : this.#interval);
    }, delay);
    runtime.unrefTimer(this.#timer);
  }
}
